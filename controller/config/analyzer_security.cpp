// Cross-object checks of security configuration: PeerAuthentication scope conflicts and
// root-namespace selectors, policy selectors, targets and sources that match nothing, and L7
// authorization rules whose workloads have no waypoint to evaluate them.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "ambit/v1/condition_keys.h"
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
  return std::any_of(rule.when.begin(), rule.when.end(),
                     [](const auto& c) { return !ambit::v1::is_l4_condition_key(c.key); });
}

// targetRefs policies are enforced only by waypoints (Istio's rule): a target that does not
// exist, or that no waypoint serves, leaves the policy enforced nowhere.
void check_target_refs(const Topology& topology, Findings& findings,
                       const AuthorizationPolicy& ap) {
  const auto& waypoints = topology.model().waypoints;
  for (const TargetRef& ref : ap.target_refs) {
    const Origin& at = ref.at;
    if (!topology.target_exists(ref)) {
      findings.add(codes::kPolicyTargetNotFound, Severity::kWarning, ap.meta, at,
                   fmt::format("{} {} is not {} in namespace {}; the policy applies to nothing "
                               "through it",
                               ref.kind, ref.name,
                               ref.kind == "Gateway" ? "a waypoint Gateway" : "declared", ref.ns));
      continue;
    }
    bool served = std::any_of(waypoints.begin(), waypoints.end(),
                              [&](const Waypoint& w) { return topology.target_reaches(ref, w); });
    if (!served) {
      findings.add(codes::kPolicyTargetNotFound, Severity::kWarning, ap.meta, at,
                   fmt::format("{} {} uses no waypoint, and a policy with targetRefs is enforced "
                               "only by waypoints (as in Istio): label it ambit.io/use-waypoint, "
                               "or use a selector for enforcement by the node agent",
                               ref.kind, ref.name));
    }
  }
}

// What the configuration has that sources name: namespaces (declared, or holding objects) and
// service accounts "<ns>/<sa>" (declared, or run by pods).
struct KnownIdentities {
  std::set<std::string> namespaces, service_accounts;
  explicit KnownIdentities(const ConfigModel& m) {
    for (const auto& n : m.namespaces) namespaces.insert(n.meta.name);
    for (const auto& p : m.pods) {
      namespaces.insert(p.meta.ns);
      service_accounts.insert(p.meta.ns + "/" + p.service_account);
    }
    // Any object's namespace exists (a policy's own included).
    auto add = [&](const auto& objects) {
      for (const auto& o : objects) namespaces.insert(o.meta.ns);
    };
    add(m.services);
    add(m.virtual_services);
    add(m.destination_rules);
    add(m.service_entries);
    add(m.peer_authentications);
    add(m.authorization_policies);
    add(m.waypoints);
    add(m.ignored);
    for (const auto& sa : m.service_accounts) {
      namespaces.insert(sa.meta.ns);
      service_accounts.insert(sa.meta.ns + "/" + sa.meta.name);
    }
  }
};

// Istio's analyzer reports source namespaces that do not exist; principals and service
// accounts that nothing runs as are the same mistake (a typo, a renamed account). Patterns and
// negative lists are left alone. Warnings: the workload may simply not be deployed yet.
// Why `value` of an identity attribute (a namespace, a service account "<ns>/<sa>", a
// principal) matches nothing in the configuration; empty when it may match, or is a pattern.
std::string why_nothing_matches(const KnownIdentities& known, std::string_view attribute,
                                const std::string& value) {
  if (value.find('*') != std::string::npos) return "";
  if (attribute == "namespace") {
    return known.namespaces.contains(value) ? "" : "no namespace of that name holds any object";
  }
  std::string account = value;
  if (attribute == "principal") {
    // <td>/ns/<ns>/sa/<sa>: the trust domain is the controller's to know, not the files'.
    auto ns_at = value.find("/ns/");
    auto sa_at = value.find("/sa/");
    if (ns_at == std::string::npos || sa_at == std::string::npos || sa_at < ns_at) return "";
    account = value.substr(ns_at + 4, sa_at - ns_at - 4) + "/" + value.substr(sa_at + 4);
  }
  return known.service_accounts.contains(account)
             ? ""
             : "no pod runs as that service account and no ServiceAccount declares it";
}

// Istio's analyzer reports source namespaces that do not exist; principals and service
// accounts that nothing runs as are the same mistake (a typo, a renamed account), in sources
// and in `when` conditions alike. Patterns and negative lists are left alone. Warnings: the
// workload may simply not be deployed yet.
void check_sources(const KnownIdentities& known, Findings& findings,
                   const AuthorizationPolicy& ap) {
  auto check = [&](const Origin& rule_at, const std::string& field, std::string_view attribute,
                   const std::vector<std::string>& values) {
    for (const auto& v : values) {
      std::string why = why_nothing_matches(known, attribute, v);
      if (why.empty()) continue;
      findings.add(
          codes::kPolicySourceMatchesNothing, Severity::kWarning, ap.meta,
          Origin{rule_at.line, rule_at.field + "." + field},
          fmt::format("{} '{}' matches nothing in the configuration: {}", attribute, v, why));
    }
  };
  for (const auto& rule : ap.rules) {
    for (size_t i = 0; i < rule.from.size(); ++i) {
      const auto& src = rule.from[i];
      std::string at = fmt::format("from[{}].source.", i);
      check(rule.at, at + "namespaces", "namespace", src.namespaces);
      check(rule.at, at + "serviceAccounts", "service account", src.service_accounts);
      check(rule.at, at + "principals", "principal", src.principals);
    }
    for (size_t i = 0; i < rule.when.size(); ++i) {
      const auto& c = rule.when[i];
      std::string at = fmt::format("when[{}].values", i);
      if (c.key == "source.namespace") check(rule.at, at, "namespace", c.values);
      if (c.key == "source.serviceAccount") check(rule.at, at, "service account", c.values);
      if (c.key == "source.principal") check(rule.at, at, "principal", c.values);
    }
  }
}

void check_authorization_policy(const Topology& topology, Findings& findings,
                                const AuthorizationPolicy& ap) {
  if (ap.dry_run) return;  // enforced nowhere
  if (!ap.target_refs.empty()) {
    // Waypoints see HTTP: the L4 fail-safe below does not concern them.
    check_target_refs(topology, findings, ap);
    return;
  }
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

// Not a problem: what enforcing a policy in a waypoint does to the pods behind it, said once per
// policy and waypoint so nobody is surprised by refused direct connections.
void explain_waypoint_guards(const Topology& topology, Findings& findings) {
  constexpr size_t kNamed = 5;
  for (const WaypointGuard& guard : topology.waypoint_guards()) {
    std::string pods;
    for (size_t i = 0; i < guard.pods.size() && i < kNamed; ++i) {
      pods += (i == 0 ? "" : ", ") + guard.pods[i]->meta.uid();
    }
    if (guard.pods.size() > kNamed) pods += fmt::format(" and {} more", guard.pods.size() - kNamed);
    findings.add(codes::kWaypointGuard, Severity::kInfo, guard.policy->meta, "spec.targetRefs",
                 fmt::format("enforced by waypoint {} for {} workload{} ({}): direct connections "
                             "to those pods that bypass waypoint {} are refused, except what "
                             "explicit L4 ALLOW policies (with a selector for them) allow. To let "
                             "them through as before, annotate the Pod, its Service or its "
                             "Namespace {}: \"allow\"",
                             guard.waypoint->meta.uid(), guard.pods.size(),
                             guard.pods.size() == 1 ? "" : "s", pods, guard.waypoint->meta.uid(),
                             kWaypointBypassAnnotation));
  }
}

}  // namespace

void check_security(const Topology& topology, Findings& findings, ConfigModel::Part part) {
  if (part == ConfigModel::Part::kMesh) return check_peer_authentications(topology, findings);
  KnownIdentities known(topology.model());
  for (const auto& ap : topology.model().authorization_policies) {
    check_sources(known, findings, ap);
    check_authorization_policy(topology, findings, ap);
  }
  explain_waypoint_guards(topology, findings);
}

}  // namespace ambit::controller::config
