#include "controller/config/diagnostics.h"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

namespace ambit::controller::config {

std::string_view to_string(Severity s) { return s == Severity::kError ? "Error" : "Warning"; }

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

const std::vector<DiagnosticCode>& all_diagnostic_codes() {
  using S = Severity;
  namespace c = codes;
  static const std::vector<DiagnosticCode> all = {
      {c::kYamlSyntax, S::kError, "the file is not valid YAML"},
      {c::kInvalidObject, S::kError,
       "an object cannot be read (missing or mistyped field); it is left out"},
      {c::kUnknownField, S::kWarning, "a field this kind does not have; it is ignored"},
      {c::kUnknownKind, S::kWarning, "a kind (or apiVersion) the mesh does not know; ignored"},
      {c::kIgnoredKind, S::kWarning, "a known kind the mesh does not act on; ignored"},
      {c::kInvalidValue, S::kError, "a field's value is not one the kind allows"},
      {c::kUnreadablePath, S::kError,
       "a file or directory given cannot be read (or a directory holds no YAML file)"},
      {c::kBadDuration, S::kError, "a duration that does not parse (1s, 500ms, 1m, 1h, 0.5s)"},
      {c::kBadRegex, S::kError, "a regular expression that RE2 does not compile"},
      {c::kBadPrincipal, S::kError,
       "a principal that can never match: empty, 'spiffe://'-prefixed or a misplaced '*' (an "
       "error); not <trust-domain>/ns/<ns>/sa/<sa> (a warning)"},
      {c::kRouteWeights, S::kError, "the weights of a route's destinations do not sum to 100"},
      {c::kTrafficSplitWeights, S::kError, "a TrafficSplit whose backend weights sum to 0"},
      {c::kUnsupportedField, S::kWarning,
       "a field that is read but not enforced (or enforced more strictly) by ambit"},
      {c::kDuplicateObject, S::kError, "two objects of the same kind, namespace and name"},
      {c::kUnknownHost, S::kWarning,
       "a VirtualService or DestinationRule host that no Service or ServiceEntry declares"},
      {c::kUnknownSubset, S::kError,
       "a route destination subset that no DestinationRule for its host defines"},
      {c::kUnknownDestination, S::kWarning,
       "a route destination host that no Service or ServiceEntry declares"},
      {c::kSelectorMatchesNothing, S::kWarning, "a selector that matches no Pod"},
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
  };
  return all;
}

}  // namespace ambit::controller::config
