// L4 AuthorizationPolicy, evaluated where the connection arrives (the destination's node), with
// Istio's semantics as ztunnel enforces them:
//   - a policy applies to a workload of its own namespace whose labels match its selector (empty
//     selector: the whole namespace), or to matching workloads everywhere when it lives in the
//     root namespace;
//   - DENY policies first: any matching rule denies;
//   - then, if any ALLOW policy applies, some rule of one of them must match; else allowed.
// HTTP attributes cannot be seen here, so they fail safe: an ALLOW rule that uses them never
// matches, a DENY rule that uses them matches on its L4 parts alone.
//
// A destination with Workload::waypoint_guard (its L7 policy lives in its waypoint) is guarded
// against connections that bypass the waypoint: plaintext is refused; the waypoint's identity is
// admitted unless a DENY matches (the waypoint enforced the ALLOWs); any other peer must pass
// the DENYs and match an ALLOW policy with a non-empty selector that selects the workload (a
// namespace- or mesh-wide ALLOW does not let a peer past the waypoint).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/identity.h"
#include "core/net_address.h"
#include "ztunnel/workload.h"

namespace ambit::ztunnel {

enum class AuthzAction { kAllow, kDeny };
std::string_view to_string(AuthzAction action);  // "ALLOW" | "DENY"

// Principals are written as Istio writes them, the SPIFFE ID without "spiffe://"
// ("cluster.local/ns/default/sa/sleep"). Principal and namespace values may be "*" (any, but
// something must be there), "prefix*" or "*suffix".
struct AuthzSource {
  std::vector<std::string> principals, not_principals, namespaces, not_namespaces;
  // "<namespace>/<service-account>", compared exactly, whatever the trust domain (Istio's
  // serviceAccounts); trust domains as patterns.
  std::vector<std::string> service_accounts, not_service_accounts;
  std::vector<std::string> trust_domains, not_trust_domains;
  std::vector<Cidr> ip_blocks, not_ip_blocks;
  // remoteIpBlocks: at L4 there is no X-Forwarded-For, so the remote ip is the source ip.
  std::vector<Cidr> remote_ip_blocks, not_remote_ip_blocks;
  bool has_l7 = false;  // requestPrincipals / notRequestPrincipals present (JWT, L7 only)
};

struct AuthzOperation {
  std::vector<uint16_t> ports, not_ports;
  bool has_l7 = false;  // methods, paths, hosts... present
};

// A `when` condition on an attribute visible at L4. Only the value lists of the key's type are
// used; values OR together, not_values must all miss.
struct AuthzCondition {
  enum class Key {
    kSourceIp,
    kSourcePrincipal,
    kSourceNamespace,
    kSourceServiceAccount,
    kSourceTrustDomain,
    kDestinationIp,
    kDestinationPort
  };
  Key key = Key::kSourceIp;
  std::vector<std::string> values, not_values;         // the kSource* string keys
  std::vector<Cidr> ip_values, not_ip_values;          // kSourceIp, kDestinationIp
  std::vector<uint16_t> port_values, not_port_values;  // kDestinationPort
};

struct AuthzRule {
  std::vector<AuthzSource> from;
  std::vector<AuthzOperation> to;
  std::vector<AuthzCondition> when;  // L4 conditions, all must hold
  bool has_l7_conditions = false;    // `when` keys that aren't L4
};

struct AuthorizationPolicy {
  std::string name, ns;
  Labels selector;
  AuthzAction action = AuthzAction::kAllow;
  std::vector<AuthzRule> rules;  // none: an ALLOW matches nothing (deny all), a DENY nothing

  std::string uid() const { return ns + "/" + name; }
};

struct ConnectionAttributes {
  std::optional<Identity> source_identity;  // absent for plaintext
  IpAddress source_ip;
  const Workload* destination = nullptr;  // null: only mesh-wide, selector-less policies apply
  uint16_t destination_port = 0;
  // For destination.ip conditions; when unset, any address of `destination` counts.
  std::optional<IpAddress> destination_ip;
};

struct AuthzDecision {
  bool allowed;
  // Which policy decided: "denied by DENY policy default/deny-sleep", "allowed by
  // default/allow-sleep", "no ALLOW policy matched (2 apply)", "no policies", ...
  std::string reason;
};

class Authorizer {
 public:
  explicit Authorizer(std::vector<AuthorizationPolicy> policies,
                      std::string root_namespace = "istio-system");

  AuthzDecision check(const ConnectionAttributes& connection) const;

  size_t policy_count() const { return policies_.size(); }
  const std::string& root_namespace() const { return root_namespace_; }

 private:
  bool applies_to(const AuthorizationPolicy& policy, const Workload* destination) const;

  std::vector<AuthorizationPolicy> policies_;
  std::string root_namespace_;
  // Indexes into policies_, so check() looks only at the destination's namespace and the root.
  std::unordered_map<std::string, std::vector<size_t>> by_namespace_;
  std::vector<size_t> root_policies_;
};

// Matches an Istio string pattern: exact, "*" (non-empty), "prefix*" or "*suffix".
bool authz_pattern_matches(std::string_view pattern, std::string_view value);

// The L4 parts of a rule, for the waypoint, which adds its L7 attributes to the same rules.
bool authz_source_matches(const AuthzSource& source, const ConnectionAttributes& connection);
bool authz_operation_matches(const AuthzOperation& operation,
                             const ConnectionAttributes& connection);
bool authz_condition_matches(const AuthzCondition& condition,
                             const ConnectionAttributes& connection);

}  // namespace ambit::ztunnel
