#include "waypoint/l7_authorization.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/http_text.h"

#include "agent/engine_policy.h"
#include "ambit/v1/condition_keys.h"

namespace ambit::waypoint {
namespace pb = ambit::v1;
namespace {

std::vector<std::string> strings(const google::protobuf::RepeatedPtrField<std::string>& in,
                                 bool lowercase = false) {
  std::vector<std::string> out;
  for (const auto& s : in) out.push_back(lowercase ? ascii_lower(s) : s);
  return out;
}

using Matcher = bool (*)(std::string_view pattern, std::string_view value);

// Positive list: some pattern matches (an empty list is no requirement); negative: none does.
bool listed(const std::vector<std::string>& values, const std::vector<std::string>& not_values,
            std::string_view value, Matcher m = ztunnel::authz_pattern_matches) {
  auto any = [&](const std::vector<std::string>& list) {
    return std::any_of(list.begin(), list.end(), [&](const auto& p) { return m(p, value); });
  };
  return (values.empty() || any(values)) && !any(not_values);
}

// Hosts are compared without case, with or without the authority's port (Istio adds both).
bool host_pattern_matches(std::string_view pattern, std::string_view authority) {
  if (ztunnel::authz_pattern_matches(pattern, authority)) return true;
  std::string_view host = authority_host(authority);
  return host.size() != authority.size() && ztunnel::authz_pattern_matches(pattern, host);
}

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    auto slash = path.find('/', start);
    out.push_back(path.substr(start, slash - start));
    if (slash == std::string_view::npos) return out;
    start = slash + 1;
  }
}

bool segments_match(const std::vector<std::string_view>& pat, size_t i,
                    const std::vector<std::string_view>& path, size_t j) {
  if (i == pat.size()) return j == path.size();
  if (pat[i] == "{**}") {
    for (size_t k = j; k <= path.size(); ++k) {
      if (segments_match(pat, i + 1, path, k)) return true;
    }
    return false;
  }
  if (j == path.size()) return false;
  bool one = pat[i] == "{*}" || pat[i] == "*";
  if (one ? path[j].empty() : pat[i] != path[j]) return false;
  return segments_match(pat, i + 1, path, j + 1);
}

}  // namespace

bool authz_path_matches(std::string_view pattern, std::string_view path) {
  bool templated = pattern.find("{*") != std::string_view::npos;
  // A whole inner segment "*": not the leading or trailing "*" of Istio's prefix/suffix forms.
  if (!templated && pattern.size() > 2) {
    std::string_view inner = pattern.substr(1, pattern.size() - 2);
    templated = inner.find("/*/") != std::string_view::npos;
  }
  if (!templated) return ztunnel::authz_pattern_matches(pattern, path);
  return segments_match(segments(pattern), 0, segments(path), 0);
}

Result<std::shared_ptr<const L7Authorizer>> L7Authorizer::build(
    const std::vector<pb::AuthorizationPolicy>& policies, std::string waypoint_uid,
    std::string root_namespace) {
  std::shared_ptr<L7Authorizer> out(new L7Authorizer());
  out->waypoint_uid_ = std::move(waypoint_uid);
  out->root_namespace_ = std::move(root_namespace);
  std::vector<const pb::AuthorizationPolicy*> sorted;
  for (const auto& p : policies) sorted.push_back(&p);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->uid() < b->uid(); });
  for (const auto* in : sorted) {
    Policy p;
    p.uid = in->namespace_() + "/" + in->name();
    p.action = in->action();
    p.ns = in->namespace_();
    p.selector = agent::labels_of(in->selector());
    p.targeted = in->target_refs_size() > 0;
    for (const auto& t : in->target_refs()) {
      if (t.kind() == "GatewayClass" ||
          (t.kind() == "Gateway" && t.namespace_() + "/" + t.name() == out->waypoint_uid_)) {
        p.whole_waypoint = true;
      } else if (t.kind() == "Service") {
        p.service_uids.push_back(t.namespace_() + "/" + t.name());
      }
    }
    // The L4 parts, read by the node agents' reader (which takes neither targetRefs nor the
    // actions it does not enforce).
    pb::AuthorizationPolicy l4 = *in;
    l4.clear_target_refs();
    l4.set_action(pb::AuthorizationPolicy::ALLOW);
    auto compiled = agent::engine_policy(l4);
    if (!compiled) return compiled.error();
    std::string where = "AuthorizationPolicy " + p.uid;
    for (int i = 0; i < in->rules_size(); ++i) {
      const auto& r = in->rules(i);
      ztunnel::AuthzRule& base = compiled->rules[i];
      Rule rule;
      rule.from = std::move(base.from);
      for (const auto& f : r.from())
        rule.needs_request_principal.push_back(f.request_principals_size() > 0);
      for (int j = 0; j < r.to_size(); ++j) {
        const auto& t = r.to(j);
        Operation op;
        op.l4 = std::move(base.to[j]);
        op.hosts = strings(t.hosts(), true);
        op.not_hosts = strings(t.not_hosts(), true);
        op.methods = strings(t.methods());
        op.not_methods = strings(t.not_methods());
        op.paths = strings(t.paths());
        op.not_paths = strings(t.not_paths());
        rule.to.push_back(std::move(op));
      }
      rule.l4_when = std::move(base.when);
      for (const auto& w : r.when()) {
        if (!pb::is_l7_condition_key(w.key())) continue;  // an L4 key: in l4_when
        Condition c;
        std::string_view key = w.key();
        if (key.starts_with("request.headers[") && key.ends_with("]")) {
          c.header = ascii_lower(key.substr(16, key.size() - 17));
          if (c.header.empty()) {
            return Error::format("{}: rules[{}].when: '{}' names no header", where, i, key);
          }
        }
        c.values = strings(w.values());
        c.not_values = strings(w.not_values());
        rule.l7_when.push_back(std::move(c));
      }
      p.rules.push_back(std::move(rule));
    }
    out->policies_.push_back(std::move(p));
  }
  return std::shared_ptr<const L7Authorizer>(std::move(out));
}

bool L7Authorizer::applies(const Policy& p, const Downstream& downstream) const {
  const ztunnel::Service* s = downstream.service;
  if (p.targeted) {
    if (p.whole_waypoint) return true;
    return s != nullptr && std::find(p.service_uids.begin(), p.service_uids.end(), s->uid()) !=
                               p.service_uids.end();
  }
  if (s == nullptr) return false;
  if (p.ns != root_namespace_ && p.ns != s->ns) return false;
  if (p.selector.empty()) return true;
  return !s->selector.empty() && ztunnel::selector_matches(p.selector, s->selector);
}

bool L7Authorizer::applies(const Downstream& downstream) const {
  return std::any_of(policies_.begin(), policies_.end(), [&](const Policy& p) {
    return p.action != pb::AuthorizationPolicy::AUDIT && applies(p, downstream);
  });
}

bool L7Authorizer::matches(const Rule& r, const HttpRequest& request, std::string_view authority,
                           const ztunnel::ConnectionAttributes& connection) {
  bool from = r.from.empty();
  for (size_t i = 0; i < r.from.size() && !from; ++i) {
    from = !r.needs_request_principal[i] && ztunnel::authz_source_matches(r.from[i], connection);
  }
  if (!from) return false;
  std::string_view path = request.path_only();
  bool to = r.to.empty() || std::any_of(r.to.begin(), r.to.end(), [&](const Operation& op) {
              return ztunnel::authz_operation_matches(op.l4, connection) &&
                     listed(op.hosts, op.not_hosts, authority, host_pattern_matches) &&
                     listed(op.methods, op.not_methods, request.method) &&
                     listed(op.paths, op.not_paths, path, authz_path_matches);
            });
  if (!to) return false;
  for (const auto& c : r.l4_when) {
    if (!ztunnel::authz_condition_matches(c, connection)) return false;
  }
  for (const auto& c : r.l7_when) {
    const std::string* v = c.header.empty() ? nullptr : request.header(c.header);
    // Absent (a header not sent, a JWT claim never validated): no value matches, and so every
    // `notValues` holds.
    if (v == nullptr) {
      if (!c.values.empty()) return false;
      continue;
    }
    if (!listed(c.values, c.not_values, *v)) return false;
  }
  return true;
}

L7Decision L7Authorizer::check(const HttpRequest& request, const Downstream& downstream) const {
  if (policies_.empty()) return {true, "no policies"};
  std::string authority = ascii_lower(request.authority);  // hosts compare without case
  ztunnel::ConnectionAttributes connection;
  connection.source_identity = downstream.peer;
  connection.source_ip = downstream.source_ip;
  connection.destination_port = downstream.destination.port();
  connection.destination_ip = downstream.destination.ip();
  std::vector<const Policy*> allows;
  for (const auto& p : policies_) {
    if (p.action == pb::AuthorizationPolicy::AUDIT || !applies(p, downstream)) continue;
    if (p.action == pb::AuthorizationPolicy::CUSTOM) {
      return {false, fmt::format("CUSTOM policy {} has no ext_authz provider here", p.uid)};
    }
    if (p.action == pb::AuthorizationPolicy::ALLOW) {
      allows.push_back(&p);
      continue;
    }
    for (const auto& r : p.rules) {
      if (matches(r, request, authority, connection)) {
        return {false, "denied by DENY policy " + p.uid};
      }
    }
  }
  if (allows.empty()) return {true, "no policies"};
  for (const Policy* p : allows) {
    for (const auto& r : p->rules) {
      if (matches(r, request, authority, connection)) return {true, "allowed by " + p->uid};
    }
  }
  return {false, fmt::format("no ALLOW policy matched ({} apply)", allows.size())};
}

}  // namespace ambit::waypoint
