#include "ztunnel/authorization.h"

#include <algorithm>

#include <fmt/format.h>

namespace ambit::ztunnel {
namespace {

// What the rules are matched against, with the principal string built at most once per check.
class Subject {
 public:
  explicit Subject(const ConnectionAttributes& c) : c_(c) {}

  const ConnectionAttributes& connection() const { return c_; }
  bool authenticated() const { return c_.source_identity.has_value(); }

  // Istio's principal form: the SPIFFE ID without its scheme. Call only when authenticated().
  const std::string& principal() const {
    if (principal_.empty()) {
      const Identity& id = *c_.source_identity;
      principal_ = id.trust_domain() + "/ns/" + id.ns() + "/sa/" + id.service_account();
    }
    return principal_;
  }
  const std::string& source_namespace() const { return c_.source_identity->ns(); }
  const std::string& trust_domain() const { return c_.source_identity->trust_domain(); }
  // "<namespace>/<service-account>", as Istio's serviceAccounts are written.
  const std::string& service_account() const {
    if (service_account_.empty()) {
      const Identity& id = *c_.source_identity;
      service_account_ = id.ns() + "/" + id.service_account();
    }
    return service_account_;
  }

 private:
  const ConnectionAttributes& c_;
  mutable std::string principal_, service_account_;
};

bool any_pattern(const std::vector<std::string>& patterns, std::string_view value) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return authz_pattern_matches(p, value); });
}

bool any_cidr(const std::vector<Cidr>& blocks, const IpAddress& ip) {
  return std::any_of(blocks.begin(), blocks.end(), [&](const Cidr& c) { return c.contains(ip); });
}

bool contains_port(const std::vector<uint16_t>& ports, uint16_t port) {
  return std::find(ports.begin(), ports.end(), port) != ports.end();
}

// Positive lists must have a hit (an unset list is no requirement); negative lists must not.
// Without an identity nothing matches a principal, namespace, service account or trust domain:
// a positive list fails, a negative one holds (so DENY notPrincipals ["*"] catches plaintext, as
// in Istio). `attribute` is what of the identity the values are compared with.
template <typename Attribute>
bool identity_matches(const std::vector<std::string>& values,
                      const std::vector<std::string>& not_values, const Subject& s,
                      Attribute attribute) {
  if (!values.empty() && !(s.authenticated() && any_pattern(values, attribute(s)))) return false;
  if (!not_values.empty() && s.authenticated() && any_pattern(not_values, attribute(s))) {
    return false;
  }
  return true;
}

const std::string& principal_of(const Subject& s) { return s.principal(); }
const std::string& namespace_of(const Subject& s) { return s.source_namespace(); }
const std::string& trust_domain_of(const Subject& s) { return s.trust_domain(); }
const std::string& service_account_of(const Subject& s) { return s.service_account(); }

bool ip_matches(const std::vector<Cidr>& values, const std::vector<Cidr>& not_values,
                const IpAddress& ip) {
  if (!values.empty() && !any_cidr(values, ip)) return false;
  return !any_cidr(not_values, ip);
}

bool port_matches(const std::vector<uint16_t>& values, const std::vector<uint16_t>& not_values,
                  uint16_t port) {
  if (!values.empty() && !contains_port(values, port)) return false;
  return !contains_port(not_values, port);
}

bool source_matches(const AuthzSource& src, const Subject& s) {
  const IpAddress& ip = s.connection().source_ip;
  // Service account values hold no '*' (the controller refuses it), so pattern matching them is
  // an exact comparison.
  return identity_matches(src.principals, src.not_principals, s, principal_of) &&
         identity_matches(src.namespaces, src.not_namespaces, s, namespace_of) &&
         identity_matches(src.service_accounts, src.not_service_accounts, s, service_account_of) &&
         identity_matches(src.trust_domains, src.not_trust_domains, s, trust_domain_of) &&
         ip_matches(src.ip_blocks, src.not_ip_blocks, ip) &&
         ip_matches(src.remote_ip_blocks, src.not_remote_ip_blocks, ip);
}

bool operation_matches(const AuthzOperation& op, const Subject& s) {
  return port_matches(op.ports, op.not_ports, s.connection().destination_port);
}

bool destination_ip_matches(const AuthzCondition& cond, const Subject& s) {
  const ConnectionAttributes& c = s.connection();
  if (c.destination_ip) return ip_matches(cond.ip_values, cond.not_ip_values, *c.destination_ip);
  // The connection's exact destination ip is unknown: judge by the destination workload's
  // addresses, a hit on any of them counts.
  if (!c.destination) return cond.ip_values.empty();
  const auto& addrs = c.destination->addresses;
  bool hit = cond.ip_values.empty() || std::any_of(addrs.begin(), addrs.end(), [&](auto& ip) {
               return any_cidr(cond.ip_values, ip);
             });
  bool excluded = std::any_of(addrs.begin(), addrs.end(),
                              [&](auto& ip) { return any_cidr(cond.not_ip_values, ip); });
  return hit && !excluded;
}

bool condition_matches(const AuthzCondition& cond, const Subject& s) {
  switch (cond.key) {
    case AuthzCondition::Key::kSourceIp:
      return ip_matches(cond.ip_values, cond.not_ip_values, s.connection().source_ip);
    case AuthzCondition::Key::kSourcePrincipal:
      return identity_matches(cond.values, cond.not_values, s, principal_of);
    case AuthzCondition::Key::kSourceNamespace:
      return identity_matches(cond.values, cond.not_values, s, namespace_of);
    case AuthzCondition::Key::kSourceServiceAccount:
      return identity_matches(cond.values, cond.not_values, s, service_account_of);
    case AuthzCondition::Key::kSourceTrustDomain:
      return identity_matches(cond.values, cond.not_values, s, trust_domain_of);
    case AuthzCondition::Key::kDestinationIp:
      return destination_ip_matches(cond, s);
    case AuthzCondition::Key::kDestinationPort:
      return port_matches(cond.port_values, cond.not_port_values, s.connection().destination_port);
  }
  return false;
}

bool uses_l7(const AuthzRule& rule) {
  return rule.has_l7_conditions ||
         std::any_of(rule.from.begin(), rule.from.end(), [](auto& f) { return f.has_l7; }) ||
         std::any_of(rule.to.begin(), rule.to.end(), [](auto& t) { return t.has_l7; });
}

bool rule_matches(const AuthzRule& rule, AuthzAction action, const Subject& s) {
  // An ALLOW that depends on what only L7 can see must not let the connection through on the
  // strength of its L4 parts; a DENY that does must not let it slip by, so it keeps its L4 parts
  // and treats the L7 ones as matched.
  if (action == AuthzAction::kAllow && uses_l7(rule)) return false;
  bool from_ok = rule.from.empty() || std::any_of(rule.from.begin(), rule.from.end(),
                                                  [&](auto& f) { return source_matches(f, s); });
  if (!from_ok) return false;
  bool to_ok = rule.to.empty() || std::any_of(rule.to.begin(), rule.to.end(),
                                              [&](auto& t) { return operation_matches(t, s); });
  if (!to_ok) return false;
  return std::all_of(rule.when.begin(), rule.when.end(),
                     [&](auto& c) { return condition_matches(c, s); });
}

bool policy_matches(const AuthorizationPolicy& policy, const Subject& s) {
  return std::any_of(policy.rules.begin(), policy.rules.end(),
                     [&](auto& r) { return rule_matches(r, policy.action, s); });
}

std::string count_phrase(size_t n) { return fmt::format("{} appl{}", n, n == 1 ? "ies" : "y"); }

}  // namespace

std::string_view to_string(AuthzAction action) {
  return action == AuthzAction::kAllow ? "ALLOW" : "DENY";
}

bool authz_pattern_matches(std::string_view pattern, std::string_view value) {
  if (pattern == "*") return !value.empty();
  if (pattern.size() > 1 && pattern.back() == '*') {
    auto prefix = pattern.substr(0, pattern.size() - 1);
    return value.substr(0, prefix.size()) == prefix;
  }
  if (pattern.size() > 1 && pattern.front() == '*') {
    auto suffix = pattern.substr(1);
    return value.size() >= suffix.size() && value.substr(value.size() - suffix.size()) == suffix;
  }
  return pattern == value;
}

Authorizer::Authorizer(std::vector<AuthorizationPolicy> policies, std::string root_namespace)
    : policies_(std::move(policies)), root_namespace_(std::move(root_namespace)) {
  for (size_t i = 0; i < policies_.size(); ++i) {
    if (policies_[i].ns == root_namespace_) {
      root_policies_.push_back(i);
    } else {
      by_namespace_[policies_[i].ns].push_back(i);
    }
  }
}

bool Authorizer::applies_to(const AuthorizationPolicy& policy, const Workload* destination) const {
  // A destination we know nothing about has no labels: only mesh-wide, selector-less policies.
  if (!destination) return policy.ns == root_namespace_ && policy.selector.empty();
  if (policy.ns != destination->ns && policy.ns != root_namespace_) return false;
  return selector_matches(policy.selector, destination->labels);
}

AuthzDecision Authorizer::check(const ConnectionAttributes& connection) const {
  static const std::vector<size_t> kNone;
  const std::vector<size_t>* local = &kNone;
  if (connection.destination) {
    auto it = by_namespace_.find(connection.destination->ns);
    if (it != by_namespace_.end()) local = &it->second;
  }
  Subject subject(connection);
  // Walks the applicable policies of one action without building a list: this runs for every
  // connection. Stops at the first match; otherwise counts them for the reason. `selecting`:
  // only policies whose selector names workloads (not namespace- or mesh-wide ones).
  auto scan = [&](AuthzAction action, size_t& applicable,
                  bool selecting = false) -> const AuthorizationPolicy* {
    for (const auto* indexes : {local, &root_policies_}) {
      for (size_t i : *indexes) {
        const AuthorizationPolicy& p = policies_[i];
        if (p.action != action || (selecting && p.selector.empty()) ||
            !applies_to(p, connection.destination)) {
          continue;
        }
        ++applicable;
        if (policy_matches(p, subject)) return &p;
      }
    }
    return nullptr;
  };

  const Workload* destination = connection.destination;
  bool guarded = destination && destination->waypoint_guard && !destination->waypoint.empty();
  if (guarded && !connection.source_identity) {
    return {false, fmt::format("plaintext bypasses waypoint {}", destination->waypoint)};
  }
  size_t deny_count = 0;
  if (const auto* p = scan(AuthzAction::kDeny, deny_count)) {
    return {false, "denied by DENY policy " + p->uid()};
  }
  if (guarded) {
    // The waypoint enforces the workload's ALLOW policies (L7 ones included); anyone else must
    // be let past it by an L4 ALLOW written for this workload, not one for its whole namespace.
    if (*connection.source_identity == destination->waypoint_identity()) {
      return {true, "from its waypoint " + destination->waypoint};
    }
    size_t selecting = 0;
    if (const auto* p = scan(AuthzAction::kAllow, selecting, true)) {
      return {true, "allowed by " + p->uid() + " past waypoint " + destination->waypoint};
    }
    return {false, fmt::format("bypasses waypoint {}: no L4 ALLOW policy with a selector for {} "
                               "allows it ({})",
                               destination->waypoint, destination->uid(), count_phrase(selecting))};
  }
  size_t allow_count = 0;
  if (const auto* p = scan(AuthzAction::kAllow, allow_count))
    return {true, "allowed by " + p->uid()};
  if (allow_count > 0) {
    return {false, "no ALLOW policy matched (" + count_phrase(allow_count) + ")"};
  }
  if (deny_count == 0) return {true, "no policies"};
  return {true, "no DENY policy matched (" + count_phrase(deny_count) + ") and no ALLOW policy"};
}

bool authz_source_matches(const AuthzSource& source, const ConnectionAttributes& connection) {
  return source_matches(source, Subject(connection));
}

bool authz_operation_matches(const AuthzOperation& operation,
                             const ConnectionAttributes& connection) {
  return operation_matches(operation, Subject(connection));
}

bool authz_condition_matches(const AuthzCondition& condition,
                             const ConnectionAttributes& connection) {
  return condition_matches(condition, Subject(connection));
}

}  // namespace ambit::ztunnel
