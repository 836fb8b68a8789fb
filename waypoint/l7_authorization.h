// AuthorizationPolicy at L7, where the waypoint sees each request. Istio's semantics:
//   - which policies apply to a request: those whose targetRefs name this waypoint's Gateway (or
//     its GatewayClass) or the Service the client dialled; and the selector forms of the
//     Service's namespace (a selector applies when the Service selects only pods it matches,
//     i.e. the Service's selector contains it) and of the root namespace;
//   - CUSTOM first (no ext_authz provider here: an applying CUSTOM policy denies, fail closed),
//     then DENY (any matching rule denies), then ALLOW (if any applies, one rule must match);
//     AUDIT changes no decision;
//   - a rule's `from` sources, `to` operations and `when` conditions as in Istio: the L4 parts
//     are the node agents' own matcher (ztunnel/authorization.h), the L7 parts (hosts, methods,
//     paths, request.headers[...]) are added here. No JWT is validated, so requestPrincipals and
//     request.auth.* never match (their `not` forms always hold).
// Paths: exact, "prefix*", "*suffix", "*", and Istio's templates "{*}" (one segment) and "{**}"
// (any number); a "*" that stands for a whole inner segment ("/api/orders/*/status") is read as
// "{*}" (Istio would compare it literally and never match a real path; docs/waypoint.md).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ambit/v1/mesh.pb.h"
#include "core/result.h"
#include "waypoint/http_request.h"
#include "ztunnel/authorization.h"

namespace ambit::waypoint {

struct L7Decision {
  bool allowed = true;
  std::string reason;  // "allowed by shop/orders-authz", "denied by DENY policy ...", ...
};

class L7Authorizer {
 public:
  // The error names the policy and field.
  static Result<std::shared_ptr<const L7Authorizer>> build(
      const std::vector<ambit::v1::AuthorizationPolicy>& policies, std::string waypoint_uid,
      std::string root_namespace);

  L7Decision check(const HttpRequest& request, const Downstream& downstream) const;
  // Whether any policy (not AUDIT) applies to what the client dialled: then traffic the
  // waypoint cannot read as HTTP cannot be checked, and is refused.
  bool applies(const Downstream& downstream) const;

 private:
  struct Operation {
    ztunnel::AuthzOperation l4;  // ports
    std::vector<std::string> hosts, not_hosts, methods, not_methods, paths, not_paths;
  };
  struct Condition {     // an L7 `when` key
    std::string header;  // request.headers[<name>], lowercase; "" for the JWT keys
    std::vector<std::string> values, not_values;
  };
  struct Rule {
    std::vector<ztunnel::AuthzSource> from;
    std::vector<bool> needs_request_principal;  // per source: requestPrincipals present
    std::vector<Operation> to;
    std::vector<ztunnel::AuthzCondition> l4_when;
    std::vector<Condition> l7_when;
  };
  struct Policy {
    std::string uid;
    ambit::v1::AuthorizationPolicy::Action action;
    std::string ns;
    ztunnel::Labels selector;
    bool whole_waypoint = false;            // targetRefs: this Gateway or a GatewayClass
    std::vector<std::string> service_uids;  // targetRefs: Services
    bool targeted = false;                  // has targetRefs
    std::vector<Rule> rules;
  };

  L7Authorizer() = default;
  bool applies(const Policy& p, const Downstream& downstream) const;
  // `authority`: the request's, lowercase.
  static bool matches(const Rule& r, const HttpRequest& request, std::string_view authority,
                      const ztunnel::ConnectionAttributes& connection);

  std::vector<Policy> policies_;
  std::string waypoint_uid_;
  std::string root_namespace_;
};

// Istio's AuthorizationPolicy path patterns, with the templates (above).
bool authz_path_matches(std::string_view pattern, std::string_view path);

}  // namespace ambit::waypoint
