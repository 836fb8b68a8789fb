#include "agent/engine_policy.h"

#include <fmt/format.h>

#include <charconv>
#include <optional>

#include "ambit/v1/condition_keys.h"

namespace ambit::agent {
namespace {

using ztunnel::AuthzAction;
using ztunnel::AuthzCondition;

Result<std::vector<Cidr>> cidrs(const google::protobuf::RepeatedPtrField<std::string>& in,
                                const std::string& what) {
  std::vector<Cidr> out;
  for (const auto& text : in) {
    auto c = Cidr::parse(text);
    if (!c) return Error::format("{}: '{}': {}", what, text, c.error().message);
    out.push_back(*c);
  }
  return out;
}

Result<std::vector<uint16_t>> ports(const google::protobuf::RepeatedPtrField<std::string>& in,
                                    const std::string& what) {
  std::vector<uint16_t> out;
  for (const auto& text : in) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
      return Error::format("{}: '{}' is not a port", what, text);
    }
    out.push_back(static_cast<uint16_t>(value));
  }
  return out;
}

std::vector<std::string> strings(const google::protobuf::RepeatedPtrField<std::string>& in) {
  return {in.begin(), in.end()};
}

// The `when` keys compared with the peer's identity as strings.
std::optional<AuthzCondition::Key> identity_key(std::string_view key) {
  using Key = AuthzCondition::Key;
  if (key == "source.principal") return Key::kSourcePrincipal;
  if (key == "source.namespace") return Key::kSourceNamespace;
  if (key == "source.serviceAccount") return Key::kSourceServiceAccount;
  if (key == "source.trustDomain") return Key::kSourceTrustDomain;
  return std::nullopt;
}

}  // namespace

Result<ztunnel::AuthorizationPolicy> engine_policy(const ambit::v1::AuthorizationPolicy& p) {
  ztunnel::AuthorizationPolicy out;
  out.name = p.name();
  out.ns = p.namespace_();
  out.selector = labels_of(p.selector());
  std::string where = "AuthorizationPolicy " + out.uid();
  if (p.target_refs_size() > 0) {
    // Enforced by waypoints; here it would apply to the whole namespace.
    return Error::format("{}: a policy with targetRefs is for waypoints, not node agents", where);
  }
  switch (p.action()) {
    case ambit::v1::AuthorizationPolicy::ALLOW:
      out.action = AuthzAction::kAllow;
      break;
    case ambit::v1::AuthorizationPolicy::DENY:
      out.action = AuthzAction::kDeny;
      break;
    default:
      return Error::format("{}: action {} is not supported (ALLOW | DENY)", where,
                           ambit::v1::AuthorizationPolicy::Action_Name(p.action()));
  }
  for (const auto& r : p.rules()) {
    ztunnel::AuthzRule rule;
    for (const auto& f : r.from()) {
      ztunnel::AuthzSource s;
      s.principals = strings(f.principals());
      s.not_principals = strings(f.not_principals());
      s.namespaces = strings(f.namespaces());
      s.not_namespaces = strings(f.not_namespaces());
      s.service_accounts = strings(f.service_accounts());
      s.not_service_accounts = strings(f.not_service_accounts());
      s.trust_domains = strings(f.trust_domains());
      s.not_trust_domains = strings(f.not_trust_domains());
      auto a = cidrs(f.ip_blocks(), where + " ipBlocks");
      auto b = cidrs(f.not_ip_blocks(), where + " notIpBlocks");
      auto c = cidrs(f.remote_ip_blocks(), where + " remoteIpBlocks");
      auto d = cidrs(f.not_remote_ip_blocks(), where + " notRemoteIpBlocks");
      for (auto* x : {&a, &b, &c, &d}) {
        if (!*x) return x->error();
      }
      s.ip_blocks = *a;
      s.not_ip_blocks = *b;
      s.remote_ip_blocks = *c;
      s.not_remote_ip_blocks = *d;
      s.has_l7 = f.request_principals_size() > 0 || f.not_request_principals_size() > 0;
      rule.from.push_back(std::move(s));
    }
    for (const auto& t : r.to()) {
      ztunnel::AuthzOperation op;
      auto a = ports(t.ports(), where + " ports");
      auto b = ports(t.not_ports(), where + " notPorts");
      if (!a) return a.error();
      if (!b) return b.error();
      op.ports = *a;
      op.not_ports = *b;
      op.has_l7 = t.hosts_size() + t.not_hosts_size() + t.methods_size() + t.not_methods_size() +
                      t.paths_size() + t.not_paths_size() >
                  0;
      rule.to.push_back(std::move(op));
    }
    for (const auto& w : r.when()) {
      using Key = AuthzCondition::Key;
      AuthzCondition c;
      const std::string& key = w.key();
      if (key == "source.ip" || key == "remote.ip" || key == "destination.ip") {
        c.key = key == "destination.ip" ? Key::kDestinationIp : Key::kSourceIp;
        auto v = cidrs(w.values(), where + " when " + key);
        auto nv = cidrs(w.not_values(), where + " when " + key);
        if (!v) return v.error();
        if (!nv) return nv.error();
        c.ip_values = *v;
        c.not_ip_values = *nv;
      } else if (key == "destination.port") {
        c.key = Key::kDestinationPort;
        auto v = ports(w.values(), where + " when " + key);
        auto nv = ports(w.not_values(), where + " when " + key);
        if (!v) return v.error();
        if (!nv) return nv.error();
        c.port_values = *v;
        c.not_port_values = *nv;
      } else if (auto string_key = identity_key(key)) {
        c.key = *string_key;
        c.values = strings(w.values());
        c.not_values = strings(w.not_values());
      } else if (ambit::v1::is_l7_condition_key(key)) {
        rule.has_l7_conditions = true;
        continue;
      } else {
        return Error::format("{}: '{}' is not a condition key", where, key);
      }
      rule.when.push_back(std::move(c));
    }
    out.rules.push_back(std::move(rule));
  }
  return out;
}

ztunnel::Labels labels_of(const google::protobuf::Map<std::string, std::string>& in) {
  return {in.begin(), in.end()};
}

}  // namespace ambit::agent
