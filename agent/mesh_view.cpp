#include "agent/mesh_view.h"

#include "ambit/v1/resource_kind.h"

#include <fmt/format.h>

#include <charconv>

namespace ambit::agent {
namespace {

using ztunnel::AuthzAction;
using ztunnel::AuthzCondition;

Result<std::vector<IpAddress>> ips(const google::protobuf::RepeatedPtrField<std::string>& in,
                                   const std::string& what) {
  std::vector<IpAddress> out;
  for (const auto& text : in) {
    auto ip = IpAddress::parse(text);
    if (!ip) return Error::format("{}: address '{}': {}", what, text, ip.error().message);
    out.push_back(*ip);
  }
  return out;
}

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

ztunnel::Labels labels(const google::protobuf::Map<std::string, std::string>& in) {
  return {in.begin(), in.end()};
}

Result<ztunnel::AuthorizationPolicy> to_policy(const ambit::v1::AuthorizationPolicy& p) {
  ztunnel::AuthorizationPolicy out;
  out.name = p.name();
  out.ns = p.namespace_();
  out.selector = labels(p.selector());
  std::string where = "AuthorizationPolicy " + out.uid();
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
                      t.paths_size() + t.not_paths_size() > 0;
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
      } else if (key == "source.principal" || key == "source.namespace") {
        c.key = key == "source.principal" ? Key::kSourcePrincipal : Key::kSourceNamespace;
        c.values = strings(w.values());
        c.not_values = strings(w.not_values());
      } else if (ztunnel::is_l7_condition_key(key)) {
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

ztunnel::PeerAuthMode peer_auth(ambit::v1::PeerAuthMode mode) {
  switch (mode) {
    case ambit::v1::STRICT:
      return ztunnel::PeerAuthMode::kStrict;
    case ambit::v1::DISABLE:
      return ztunnel::PeerAuthMode::kDisable;
    default:
      return ztunnel::PeerAuthMode::kPermissive;
  }
}

// The kinds to_local_config turns into the engine's tables.
bool agent_uses(const ambit::v1::Resource& r) {
  switch (r.kind_case()) {
    case ambit::v1::Resource::kNamespace:
    case ambit::v1::Resource::kWorkload:
    case ambit::v1::Resource::kService:
    case ambit::v1::Resource::kAuthorizationPolicy:
    case ambit::v1::Resource::kTrustBundle:
      return true;
    default:
      return false;
  }
}

}  // namespace

Result<MeshView> MeshView::with(const ambit::v1::Update& update) const {
  MeshView next = update.snapshot() ? MeshView() : *this;
  for (const auto& r : update.added()) {
    std::string kind(ambit::v1::resource_kind(r));
    if (r.uid().empty()) {
      return Error::format("update {}: a {} without uid", update.version(),
                           kind.empty() ? "resource" : kind);
    }
    // Kinds the agent does not use (L7 routing is the waypoints'), or that a newer controller
    // sends and this agent does not know (no kind set once parsed): skipped, not refused.
    if (!agent_uses(r)) continue;
    next.resources_[{kind, r.uid()}] = r;
  }
  for (const auto& k : update.removed()) next.resources_.erase({k.kind(), k.uid()});
  next.version_ = update.version();
  return next;
}

Result<LocalConfig> MeshView::to_local_config(const std::string& node) const {
  LocalConfig config;
  config.node = node;
  config.source = fmt::format("controller view v{}", version_);
  for (const auto& [key, r] : resources_) {
    const std::string where = key.first + " " + key.second;
    switch (r.kind_case()) {
      case ambit::v1::Resource::kNamespace:
        config.namespaces.push_back({r.namespace_().name(), labels(r.namespace_().labels())});
        break;
      case ambit::v1::Resource::kWorkload: {
        const auto& in = r.workload();
        ztunnel::Workload w;
        w.name = in.name();
        w.ns = in.namespace_();
        w.service_account = in.service_account().empty() ? "default" : in.service_account();
        w.node = in.node();
        auto addresses = ips(in.addresses(), where);
        if (!addresses) return addresses.error();
        w.addresses = *addresses;
        w.labels = labels(in.labels());
        w.mesh = in.mesh();
        w.peer_auth = peer_auth(in.peer_auth());
        w.waypoint = in.waypoint();
        if (!in.hbone_address().empty()) {
          auto hbone = SocketAddress::parse(in.hbone_address());
          if (!hbone) return Error::format("{}: hbone address: {}", where, hbone.error().message);
          w.hbone_address = *hbone;
        }
        if (!in.netns().empty() && !in.cgroup().empty() && in.node() == node) {
          config.sandboxes[w.uid()] = SandboxPaths{in.netns(), in.cgroup()};
        }
        config.workloads.push_back(std::move(w));
        break;
      }
      case ambit::v1::Resource::kService: {
        const auto& in = r.service();
        ztunnel::Service s;
        s.name = in.name();
        s.ns = in.namespace_();
        auto vips = ips(in.vips(), where);
        if (!vips) return vips.error();
        s.vips = *vips;
        for (const auto& p : in.ports()) {
          if (p.port() == 0 || p.port() > 65535 || p.target_port() > 65535) {
            return Error::format("{}: port {} -> {} out of range", where, p.port(), p.target_port());
          }
          s.ports.push_back({static_cast<uint16_t>(p.port()), static_cast<uint16_t>(p.target_port())});
        }
        s.selector = labels(in.selector());
        config.services.push_back(std::move(s));
        break;
      }
      case ambit::v1::Resource::kAuthorizationPolicy: {
        auto policy = to_policy(r.authorization_policy());
        if (!policy) return policy.error();
        config.policies.push_back(std::move(*policy));
        break;
      }
      case ambit::v1::Resource::kTrustBundle: {
        const auto& b = r.trust_bundle();
        if (!b.trust_domain().empty()) config.trust_domain = b.trust_domain();
        for (const auto& pem : b.root_certificates_pem()) config.trust_bundle_pem += pem;
        break;
      }
      default:
        break;
    }
  }
  // Identities follow the trust domain the bundle names.
  for (auto& w : config.workloads) w.identity = Identity(config.trust_domain, w.ns, w.service_account);
  // Check what the engine will check, so a bad view is refused here (nack) with its reason.
  if (auto table = build_workload_table(config); !table) return table.error();
  return config;
}

}  // namespace ambit::agent
