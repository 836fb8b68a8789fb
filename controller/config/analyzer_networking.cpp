// Cross-object checks of traffic configuration: VirtualService and DestinationRule hosts,
// route destinations and subsets, Service selectors, ServiceProfile and TrafficSplit services.
#include <fmt/format.h>

#include <algorithm>

#include "controller/config/analyzer_checks.h"

namespace ambit::controller::config {
namespace {

void check_destination(const Topology& topology, Findings& findings, const VirtualService& vs,
                       const Destination& d) {
  const std::string& ns = vs.meta.ns;
  if (!topology.host_known(d.host, ns)) {
    findings.add(
        codes::kUnknownDestination, Severity::kWarning, vs.meta, d.host_at,
        fmt::format("destination host '{}' is not a Service or ServiceEntry host", d.host));
  }
  if (d.subset.empty()) return;
  auto rules = topology.destination_rules_for_host(d.host, ns);
  bool defined = std::any_of(rules.begin(), rules.end(), [&](const DestinationRule* dr) {
    return std::any_of(dr->subsets.begin(), dr->subsets.end(),
                       [&](const Subset& s) { return s.name == d.subset; });
  });
  if (!defined) {
    findings.add(codes::kUnknownSubset, Severity::kError, vs.meta, d.subset_at,
                 fmt::format("subset '{}' is not defined by any DestinationRule for host '{}'",
                             d.subset, d.host));
  }
}

void check_virtual_service(const Topology& topology, Findings& findings, const VirtualService& vs) {
  for (size_t i = 0; i < vs.hosts.size(); ++i) {
    const std::string& host = vs.hosts[i];
    if (host == "*" || topology.host_known(host, vs.meta.ns)) continue;
    findings.add(codes::kUnknownHost, Severity::kWarning, vs.meta, vs.hosts_at[i],
                 fmt::format("host '{}' is not a Service or ServiceEntry host", host));
  }
  for (const auto& route : vs.http) {
    for (const auto& rd : route.route) check_destination(topology, findings, vs, rd.destination);
    if (route.mirror) check_destination(topology, findings, vs, *route.mirror);
  }
  for (const auto* routes : {&vs.tcp, &vs.tls}) {
    for (const auto& route : *routes) {
      for (const auto& rd : route.route) check_destination(topology, findings, vs, rd.destination);
    }
  }
}

}  // namespace

void check_selector(const Topology& topology, Findings& findings, const ObjectMeta& meta,
                    const std::optional<StringMap>& selector, const Origin& at,
                    bool root_is_mesh_wide) {
  if (!selector || selector->empty()) return;
  if (!topology.selected_pods(meta.ns, selector, root_is_mesh_wide).empty()) return;
  std::string labels;
  for (const auto& [k, v] : *selector)
    labels += fmt::format("{}{}={}", labels.empty() ? "" : ",", k, v);
  findings.add(codes::kSelectorMatchesNothing, Severity::kWarning, meta, at,
               fmt::format("selector {} matches no Pod in namespace {}", labels, meta.ns));
}

void check_networking(const Topology& topology, Findings& findings) {
  const auto& m = topology.model();
  for (const auto& vs : m.virtual_services) check_virtual_service(topology, findings, vs);
  for (const auto& dr : m.destination_rules) {
    if (!topology.host_known(dr.host, dr.meta.ns)) {
      findings.add(codes::kUnknownHost, Severity::kWarning, dr.meta, dr.host_at,
                   fmt::format("host '{}' is not a Service or ServiceEntry host", dr.host));
    }
    check_selector(topology, findings, dr.meta, dr.workload_selector, dr.workload_selector_at,
                   false);
  }
  for (const auto& s : m.services) {
    if (s.selector.empty()) continue;
    check_selector(topology, findings, s.meta, s.selector, s.selector_at, false);
  }
  for (const auto& se : m.service_entries) {
    check_selector(topology, findings, se.meta, se.workload_selector, se.workload_selector_at,
                   false);
  }
}

void check_linkerd_smi(const Topology& topology, Findings& findings) {
  const auto& m = topology.model();
  for (const auto& sp : m.service_profiles) {
    if (topology.services_with_fqdn(sp.meta.name).empty()) {
      findings.add(codes::kUnknownServiceProfileService, Severity::kWarning, sp.meta,
                   "metadata.name",
                   fmt::format("'{}' is not the FQDN of a Service (<name>.<namespace>.svc.{}); "
                               "the profile applies to nothing",
                               sp.meta.name, kClusterDomain));
    }
  }
  auto service_exists = [&](const std::string& name, const std::string& ns) {
    return !topology.services_with_fqdn(service_fqdn(name, ns)).empty();
  };
  for (const auto& ts : m.traffic_splits) {
    if (!service_exists(ts.service, ts.meta.ns)) {
      findings.add(
          codes::kUnknownTrafficSplitService, Severity::kWarning, ts.meta, ts.service_at,
          fmt::format("service '{}' is not a Service in namespace {}", ts.service, ts.meta.ns));
    }
    for (const auto& b : ts.backends) {
      if (service_exists(b.service, ts.meta.ns)) continue;
      findings.add(
          codes::kUnknownTrafficSplitService, Severity::kWarning, ts.meta,
          Origin{b.at.line, b.at.field + ".service"},
          fmt::format("backend '{}' is not a Service in namespace {}", b.service, ts.meta.ns));
    }
  }
}

}  // namespace ambit::controller::config
