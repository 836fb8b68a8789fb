// Problems found in the configuration, as `ambitctl analyze` prints them:
//   Error [AMB0022] (VirtualService shop/reviews reviews.yaml:14)
//   spec.http[0].route[0].destination.subset: ...
// Codes are stable (tests and users match on them); docs/configuration.md lists them all.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ambit::controller::config {

// kInfo: nothing wrong, but behaviour worth knowing about (istioctl analyze's Info level).
enum class Severity { kError, kWarning, kInfo };

std::string_view to_string(Severity s);  // "Error" | "Warning" | "Info"

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string code;  // "AMB0022"
  std::string file;
  int line = 0;        // 1-based; 0 when unknown
  std::string object;  // "VirtualService shop/reviews"; empty when no object is known
  std::string field;   // "spec.http[0].route[0].destination.subset"; empty for the object
  std::string message;

  // `Error [AMB0022] (VirtualService shop/reviews reviews.yaml:14) <field>: <message>`
  std::string format() const;
};

// Sorted by file, line, code, then message: the order analyze prints them in.
void sort_diagnostics(std::vector<Diagnostic>& diagnostics);
bool has_errors(const std::vector<Diagnostic>& diagnostics);
// Errors that keep the controller from serving a change (DiagnosticCode::blocks): most do;
// those about a reference to an object that does not exist (yet) do not, as in Istio, where
// objects arrive in any order and a route to a missing host answers 503.
bool has_blocking_errors(const std::vector<Diagnostic>& diagnostics);

// Every code, with its severity and a one-line title (for docs and --help).
struct DiagnosticCode {
  std::string_view code;
  Severity severity;
  std::string_view title;
  std::string_view istio = {};  // the matching istioctl analyze code (IST0101...), if any
  bool blocks = true;           // an error that refuses the change (has_blocking_errors)
};

namespace codes {
// Reading
inline constexpr std::string_view kYamlSyntax = "AMB0001";
inline constexpr std::string_view kInvalidObject = "AMB0002";
inline constexpr std::string_view kUnknownField = "AMB0003";
inline constexpr std::string_view kUnknownKind = "AMB0004";
inline constexpr std::string_view kIgnoredKind = "AMB0005";
inline constexpr std::string_view kInvalidValue = "AMB0006";
inline constexpr std::string_view kUnreadablePath = "AMB0007";
// Values within one object
inline constexpr std::string_view kBadDuration = "AMB0010";
inline constexpr std::string_view kBadRegex = "AMB0011";
inline constexpr std::string_view kBadPrincipal = "AMB0012";
inline constexpr std::string_view kRouteWeights = "AMB0013";
inline constexpr std::string_view kTrafficSplitWeights = "AMB0014";
inline constexpr std::string_view kUnsupportedField = "AMB0015";
// Across objects
inline constexpr std::string_view kDuplicateObject = "AMB0020";
inline constexpr std::string_view kUnknownHost = "AMB0021";
inline constexpr std::string_view kUnknownSubset = "AMB0022";
inline constexpr std::string_view kUnknownDestination = "AMB0023";
inline constexpr std::string_view kSelectorMatchesNothing = "AMB0024";
inline constexpr std::string_view kConflictingPeerAuth = "AMB0025";
inline constexpr std::string_view kRootNamespaceSelector = "AMB0026";
inline constexpr std::string_view kL7PolicyWithoutWaypoint = "AMB0027";
inline constexpr std::string_view kUnknownWaypoint = "AMB0028";
inline constexpr std::string_view kUnknownServiceProfileService = "AMB0029";
inline constexpr std::string_view kUnknownTrafficSplitService = "AMB0030";
inline constexpr std::string_view kUnknownNamespace = "AMB0031";
// Gateway API routes
inline constexpr std::string_view kUnknownParentRef = "AMB0032";
inline constexpr std::string_view kRouteConflict = "AMB0033";
inline constexpr std::string_view kUnknownBackend = "AMB0034";
inline constexpr std::string_view kUnknownTargetPort = "AMB0035";
// Analyzer parity with istioctl analyze: 0040 onwards.
inline constexpr std::string_view kPolicyTargetNotFound = "AMB0040";
inline constexpr std::string_view kDestinationPortNotFound = "AMB0041";
inline constexpr std::string_view kDestinationPortRequired = "AMB0042";
inline constexpr std::string_view kUnknownGateway = "AMB0043";
inline constexpr std::string_view kConflictingVirtualServiceHosts = "AMB0044";
inline constexpr std::string_view kSubsetMatchesNothing = "AMB0045";
inline constexpr std::string_view kPolicySourceMatchesNothing = "AMB0046";
inline constexpr std::string_view kServiceEntryAddressesRequired = "AMB0047";
inline constexpr std::string_view kUnreachableRule = "AMB0048";
// Waypoints
inline constexpr std::string_view kWaypointPodServiceAccount = "AMB0050";
inline constexpr std::string_view kWaypointGuard = "AMB0051";
}  // namespace codes

const std::vector<DiagnosticCode>& all_diagnostic_codes();

}  // namespace ambit::controller::config
