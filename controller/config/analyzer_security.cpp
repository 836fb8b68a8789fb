// Cross-object checks of security configuration: PeerAuthentication scope conflicts and
// root-namespace selectors, policy selectors that match nothing, and L7 authorization rules
// whose workloads have no waypoint to evaluate them.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "controller/config/analyzer_checks.h"

namespace ambit::controller::config {
namespace {

void check_peer_authentications(const Topology& topology, Findings& findings) {
  const auto& m = topology.model();
  // Namespace-wide (and, in the root namespace, mesh-wide) policies: one per namespace.
  std::map<std::string, const PeerAuthentication*> namespace_wide;
  // Workload policies: one per pod.
  std::map<const Pod*, const PeerAuthentication*> per_pod;
  for (const auto& pa : m.peer_authentications) {
    if (!pa.selector) {
      auto [it, inserted] = namespace_wide.emplace(pa.meta.ns, &pa);
      if (!inserted) {
        findings.add(
            codes::kConflictingPeerAuth, Severity::kError, pa.meta, "spec",
            fmt::format("namespace {} already has a {} PeerAuthentication ({} at {}:{}); "
                        "which one applies is undefined",
                        pa.meta.ns, pa.meta.ns == kRootNamespace ? "mesh-wide" : "namespace-wide",
                        it->second->meta.name, it->second->meta.file, it->second->meta.line));
      }
      continue;
    }
    if (pa.meta.ns == kRootNamespace) {
      findings.add(codes::kRootNamespaceSelector, Severity::kWarning, pa.meta, pa.selector_at,
                   fmt::format("a PeerAuthentication in the root namespace {} with a selector "
                               "applies only to the root namespace's workloads; remove the "
                               "selector for a mesh-wide policy",
                               kRootNamespace));
    }
    auto pods = topology.selected_pods(pa.meta.ns, pa.selector);
    check_selector(topology, findings, pa.meta, pa.selector, pa.selector_at, false);
    for (const Pod* pod : pods) {
      auto [it, inserted] = per_pod.emplace(pod, &pa);
      if (!inserted) {
        findings.add(codes::kConflictingPeerAuth, Severity::kError, pa.meta, pa.selector_at,
                     fmt::format("Pod {} is also selected by PeerAuthentication {}; which one "
                                 "applies is undefined",
                                 pod->meta.uid(), it->second->meta.uid()));
      }
    }
  }
}

bool has_l7(const AuthorizationPolicy::Rule& rule) {
  for (const auto& f : rule.from) {
    if (!f.request_principals.empty() || !f.not_request_principals.empty()) return true;
  }
  for (const auto& t : rule.to) {
    if (!t.hosts.empty() || !t.not_hosts.empty() || !t.methods.empty() || !t.not_methods.empty() ||
        !t.paths.empty() || !t.not_paths.empty()) {
      return true;
    }
  }
  constexpr std::string_view kL4[] = {"source.ip",        "remote.ip",      "source.namespace",
                                      "source.principal", "destination.ip", "destination.port"};
  for (const auto& c : rule.when) {
    if (std::find(std::begin(kL4), std::end(kL4), c.key) == std::end(kL4)) return true;
  }
  return false;
}

void check_authorization_policy(const Topology& topology, Findings& findings,
                                const AuthorizationPolicy& ap) {
  auto pods = topology.selected_pods(ap.meta.ns, ap.selector, true);
  check_selector(topology, findings, ap.meta, ap.selector, ap.selector_at, true);
  using Action = AuthorizationPolicy::Action;
  if (ap.action != Action::kAllow && ap.action != Action::kDeny) return;
  auto rule = std::find_if(ap.rules.begin(), ap.rules.end(), has_l7);
  if (rule == ap.rules.end()) return;
  // Targets served by a waypoint get the L7 rules evaluated there; the others only have the
  // node agent, which can only fail safe.
  bool all_have_waypoint =
      !pods.empty() && std::all_of(pods.begin(), pods.end(),
                                   [&](const Pod* p) { return !topology.waypoint_of(*p).empty(); });
  if (all_have_waypoint) return;
  std::string consequence =
      ap.action == Action::kAllow
          ? "its ALLOW rules with L7 fields match no connection at L4, so what they would allow "
            "is denied (fail-safe)"
          : "its DENY rules with L7 fields are enforced at L4 without the L7 part, denying every "
            "connection the rest of the rule matches (fail-safe)";
  findings.add(
      codes::kL7PolicyWithoutWaypoint, Severity::kWarning, ap.meta, rule->at,
      fmt::format("uses L7 fields but {} no waypoint; {}. Give the workloads a waypoint "
                  "(label ambit.io/use-waypoint) to enforce it as written",
                  pods.empty() ? "its targets have" : "some of its workloads have", consequence));
}

}  // namespace

void check_security(const Topology& topology, Findings& findings, ConfigModel::Part part) {
  if (part == ConfigModel::Part::kMesh) return check_peer_authentications(topology, findings);
  for (const auto& ap : topology.model().authorization_policies) {
    check_authorization_policy(topology, findings, ap);
  }
}

}  // namespace ambit::controller::config
