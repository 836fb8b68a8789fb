#include "controller/config/diagnostics.h"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

namespace ambit::controller::config {

std::string_view to_string(Severity s) {
  switch (s) {
    case Severity::kError:
      return "Error";
    case Severity::kWarning:
      return "Warning";
    case Severity::kInfo:
      return "Info";
  }
  return "Error";
}

std::string Diagnostic::format() const {
  std::string where = file;
  if (line > 0) where += fmt::format(":{}", line);
  std::string context = object.empty() ? where : object + " " + where;
  std::string out = fmt::format("{} [{}] ({})", to_string(severity), code, context);
  if (!field.empty()) out += " " + field + ":";
  out += " " + message;
  return out;
}

void sort_diagnostics(std::vector<Diagnostic>& diagnostics) {
  std::stable_sort(diagnostics.begin(), diagnostics.end(), [](const auto& a, const auto& b) {
    return std::tie(a.file, a.line, a.code, a.field, a.message) <
           std::tie(b.file, b.line, b.code, b.field, b.message);
  });
}

bool has_errors(const std::vector<Diagnostic>& diagnostics) {
  return std::any_of(diagnostics.begin(), diagnostics.end(),
                     [](const auto& d) { return d.severity == Severity::kError; });
}

bool has_blocking_errors(const std::vector<Diagnostic>& diagnostics) {
  const auto& all = all_diagnostic_codes();
  return std::any_of(diagnostics.begin(), diagnostics.end(), [&](const Diagnostic& d) {
    if (d.severity != Severity::kError) return false;
    auto code = std::find_if(all.begin(), all.end(),
                             [&](const DiagnosticCode& c) { return c.code == d.code; });
    return code == all.end() || code->blocks;
  });
}

const std::vector<DiagnosticCode>& all_diagnostic_codes() {
  using S = Severity;
  namespace c = codes;
  constexpr bool kServed = false;  // an error the controller serves the change with
  static const std::vector<DiagnosticCode> all = {
      {c::kYamlSyntax, S::kError, "the file is not valid YAML", "IST0106"},
      {c::kInvalidObject, S::kError,
       "an object cannot be read (missing or mistyped field); it is left out", "IST0106"},
      {c::kUnknownField, S::kWarning, "a field this kind does not have; it is ignored", "IST0133"},
      {c::kUnknownKind, S::kWarning, "a kind (or apiVersion) the mesh does not know; ignored"},
      {c::kIgnoredKind, S::kWarning, "a known kind the mesh does not act on; ignored"},
      {c::kInvalidValue, S::kError, "a field's value is not one the kind allows", "IST0106"},
      {c::kUnreadablePath, S::kError,
       "a file or directory given cannot be read (or a directory holds no YAML file)"},
      {c::kBadDuration, S::kError, "a duration that does not parse (1s, 500ms, 1m, 1h, 0.5s)",
       "IST0106"},
      {c::kBadRegex, S::kError, "a regular expression that RE2 does not compile", "IST0122"},
      {c::kBadPrincipal, S::kError,
       "a principal that can never match: empty, 'spiffe://'-prefixed or a misplaced '*' (an "
       "error); not <trust-domain>/ns/<ns>/sa/<sa> (a warning)"},
      {c::kRouteWeights, S::kError, "a route's several destinations have weights summing to 0",
       "IST0106"},
      {c::kTrafficSplitWeights, S::kError, "a TrafficSplit whose backend weights sum to 0"},
      {c::kUnsupportedField, S::kWarning,
       "a field that is read but not enforced (or enforced more strictly) by ambit"},
      {c::kDuplicateObject, S::kError, "two objects of the same kind, namespace and name"},
      {c::kUnknownHost, S::kWarning,
       "a VirtualService or DestinationRule host that no Service or ServiceEntry declares"},
      {c::kUnknownSubset, S::kError,
       "a route destination subset that no DestinationRule for its host defines", "IST0101",
       kServed},
      {c::kUnknownDestination, S::kError,
       "a route destination host that no Service or ServiceEntry (exported to the route's "
       "namespace) declares",
       "IST0101", kServed},
      {c::kSelectorMatchesNothing, S::kWarning, "a selector that matches no Pod", "IST0127"},
      {c::kConflictingPeerAuth, S::kError,
       "two PeerAuthentications for the same namespace or the same workload"},
      {c::kRootNamespaceSelector, S::kWarning,
       "a PeerAuthentication in the root namespace with a selector is not mesh-wide"},
      {c::kL7PolicyWithoutWaypoint, S::kWarning,
       "an AuthorizationPolicy with L7 fields whose targets have no waypoint (L4 fail-safe)"},
      {c::kUnknownWaypoint, S::kWarning, "a use-waypoint label naming no waypoint Gateway"},
      {c::kUnknownServiceProfileService, S::kWarning,
       "a ServiceProfile whose name is not the FQDN of a known Service"},
      {c::kUnknownTrafficSplitService, S::kWarning,
       "a TrafficSplit service or backend that no Service declares"},
      {c::kUnknownNamespace, S::kWarning,
       "an object in a namespace that is not declared while other namespaces are"},
      {c::kUnknownParentRef, S::kWarning,
       "a Gateway API route parentRef naming no Service or waypoint Gateway"},
      {c::kRouteConflict, S::kWarning,
       "a VirtualService and a Gateway API route for the same host; the route wins"},
      {c::kUnknownBackend, S::kError,
       "a Gateway API backendRef to no Service (or ServiceEntry host), or to a port the Service "
       "does not have",
       "", kServed},
      {c::kUnknownTargetPort, S::kWarning,
       "a named targetPort that no pod selected by the Service declares"},
      {c::kPolicyTargetNotFound, S::kWarning,
       "an AuthorizationPolicy targetRef naming nothing, or a target no waypoint serves (the "
       "policy is enforced nowhere)"},
      {c::kDestinationPortNotFound, S::kError,
       "a route destination port that its Service or ServiceEntry does not have", "IST0101",
       kServed},
      {c::kDestinationPortRequired, S::kError,
       "a route destination without a port to a Service or ServiceEntry with several", "IST0112",
       kServed},
      {c::kUnknownGateway, S::kError,
       "a VirtualService gateways entry naming no networking.istio.io Gateway", "IST0101", kServed},
      {c::kConflictingVirtualServiceHosts, S::kError,
       "two mesh VirtualServices (seen from a common namespace) claim the same host", "IST0109",
       kServed},
      {c::kSubsetMatchesNothing, S::kWarning,
       "a DestinationRule subset whose labels select none of its host's pods"},
      {c::kServiceEntryAddressesRequired, S::kWarning,
       "a ServiceEntry with a TCP (or protocol-less) port and no addresses", "IST0134"},
      {c::kUnreachableRule, S::kWarning,
       "a VirtualService http rule that is never used (after a rule without match, or all its "
       "matches those of earlier rules)",
       "IST0130"},
      {c::kPolicySourceMatchesNothing, S::kWarning,
       "an AuthorizationPolicy namespace, principal or service account that no object of the "
       "configuration has",
       "IST0101"},
      {c::kWaypointPodServiceAccount, S::kError,
       "a waypoint's pod whose service account is not its Gateway's name (peers expect that "
       "identity)",
       "", kServed},
      {c::kWaypointGuard, S::kInfo,
       "workloads whose L7 policy lives in their waypoint refuse connections that bypass it"},
  };
  return all;
}

}  // namespace ambit::controller::config
