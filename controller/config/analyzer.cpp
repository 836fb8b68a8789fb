#include "controller/config/analyzer.h"

#include <fmt/format.h>

#include <map>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "controller/config/analyzer_checks.h"

namespace ambit::controller::config {

void Findings::add(std::string_view code, Severity severity, const ObjectMeta& meta,
                   const Origin& at, std::string message) {
  Diagnostic d;
  d.severity = severity;
  d.code = std::string(code);
  d.file = meta.file;
  d.line = at.line > 0 ? at.line : meta.line;
  d.object = meta.describe();
  d.field = at.field;
  d.message = std::move(message);
  out_.push_back(std::move(d));
}

void Findings::add(std::string_view code, Severity severity, const ObjectMeta& meta,
                   std::string field, std::string message) {
  add(code, severity, meta, Origin{meta.line, std::move(field)}, std::move(message));
}

namespace {

// The metadata of every object of `part`'s kinds, for checks that are the same for all kinds.
std::vector<const ObjectMeta*> all_objects(const ConfigModel& m, ConfigModel::Part part) {
  std::vector<const ObjectMeta*> out;
  auto add = [&](const auto& list) {
    for (const auto& o : list) out.push_back(&o.meta);
  };
  if (part == ConfigModel::Part::kMesh) {
    add(m.namespaces);
    add(m.service_accounts);
    add(m.pods);
    add(m.services);
    add(m.waypoints);
    add(m.peer_authentications);
  } else {
    add(m.virtual_services);
    add(m.destination_rules);
    add(m.service_entries);
    add(m.authorization_policies);
    add(m.service_profiles);
    add(m.traffic_splits);
    add(m.gateway_routes);
  }
  return out;
}

// kind, namespace, name: views into the model's objects (no copies of 100,000 pods' names).
using ObjectKey = std::tuple<std::string_view, std::string_view, std::string_view>;
struct ObjectKeyHash {
  size_t operator()(const ObjectKey& k) const {
    std::hash<std::string_view> h;
    return h(std::get<0>(k)) ^ (h(std::get<1>(k)) * 31) ^ (h(std::get<2>(k)) * 1000003);
  }
};

// Duplicates are of one kind, so each part's are found among its own objects.
void check_duplicates(const ConfigModel& m, Findings& findings, ConfigModel::Part part) {
  auto objects = all_objects(m, part);
  std::unordered_map<ObjectKey, const ObjectMeta*, ObjectKeyHash> seen;
  seen.reserve(objects.size());
  for (const ObjectMeta* meta : objects) {
    // apiVersion groups differ between Istio versions of one kind; the kind + uid is the key.
    ObjectKey key{meta->kind, meta->ns, meta->name};
    auto [it, inserted] = seen.emplace(key, meta);
    if (!inserted) {
      findings.add(codes::kDuplicateObject, Severity::kError, *meta, "metadata.name",
                   fmt::format("{} is already defined at {}:{}", meta->describe(), it->second->file,
                               it->second->line));
    }
  }
}

void check_namespaces(const ConfigModel& m, Findings& findings, ConfigModel::Part part) {
  if (m.namespaces.empty()) return;  // nothing declared: every namespace is implicit
  std::unordered_set<std::string_view> declared;  // asked of every object: hashed, not compared
  for (const auto& ns : m.namespaces) declared.insert(ns.meta.name);
  for (const ObjectMeta* meta : all_objects(m, part)) {
    if (meta->ns.empty() || meta->ns == "default" || meta->ns == kRootNamespace) continue;
    if (declared.count(meta->ns) == 0) {
      findings.add(
          codes::kUnknownNamespace, Severity::kWarning, *meta, "metadata.namespace",
          fmt::format("namespace '{}' is not declared; its pods are not in the mesh", meta->ns));
    }
  }
}

void check_waypoint_labels(const Topology& topology, Findings& findings) {
  auto check = [&](const ObjectMeta& meta) {
    auto ref = waypoint_label(meta);
    if (!ref || ref->uid.empty() || topology.find_waypoint(ref->uid) != nullptr) return;
    findings.add(codes::kUnknownWaypoint, Severity::kWarning, meta, "metadata.labels." + ref->label,
                 fmt::format("waypoint '{}' is not declared (a Gateway with gatewayClassName "
                             "ambit-waypoint); traffic is not sent to a waypoint",
                             ref->uid));
  };
  const auto& m = topology.model();
  for (const auto& o : m.namespaces) check(o.meta);
  for (const auto& o : m.services) check(o.meta);
  for (const auto& o : m.pods) check(o.meta);
}

// A waypoint's pod must run as its Gateway's service account: peers take the Gateway's name for
// the waypoint's identity (Workload::waypoint_identity), as with Istio's waypoints.
void check_waypoint_pods(const Topology& topology, Findings& findings) {
  for (const auto& pod : topology.model().pods) {
    std::string waypoint = topology.runs_waypoint(pod);
    if (waypoint.empty()) continue;
    std::string gateway = waypoint.substr(waypoint.find('/') + 1);
    if (pod.service_account == gateway) continue;
    findings.add(codes::kWaypointPodServiceAccount, Severity::kError, pod.meta,
                 "spec.serviceAccountName",
                 fmt::format("the pod runs waypoint {} (label {}) as service account '{}'; a "
                             "waypoint's pods must run as '{}', the identity its peers expect: "
                             "connections it forwards are refused as bypassing it",
                             waypoint, kGatewayNameLabel, pod.service_account, gateway));
  }
}

void check_part(const Topology& topology, ConfigModel::Part part, Findings& findings) {
  const ConfigModel& model = topology.model();
  check_duplicates(model, findings, part);
  check_namespaces(model, findings, part);
  if (part == ConfigModel::Part::kMesh) {
    check_waypoint_labels(topology, findings);
    check_waypoint_pods(topology, findings);
  }
  check_networking(topology, findings, part);
  check_security(topology, findings, part);
  if (part == ConfigModel::Part::kRest) check_linkerd_smi(topology, findings);
}

}  // namespace

AnalysisReport analyze(const ConfigModel& model) {
  AnalysisReport report;
  Findings findings(report.diagnostics);
  Topology topology(model);
  check_part(topology, ConfigModel::Part::kMesh, findings);
  check_part(topology, ConfigModel::Part::kRest, findings);
  sort_diagnostics(report.diagnostics);
  return report;
}

AnalysisReport analyze(const ConfigModel& model, ConfigModel::Part part) {
  return analyze(Topology(model), part);
}

AnalysisReport analyze(const Topology& topology, ConfigModel::Part part) {
  AnalysisReport report;
  Findings findings(report.diagnostics);
  check_part(topology, part, findings);
  sort_diagnostics(report.diagnostics);
  return report;
}

AnalysisReport analyze(const ConfigSnapshot& snapshot) {
  AnalysisReport report = analyze(snapshot.model);
  report.diagnostics.insert(report.diagnostics.end(), snapshot.diagnostics.begin(),
                            snapshot.diagnostics.end());
  sort_diagnostics(report.diagnostics);
  return report;
}

}  // namespace ambit::controller::config
