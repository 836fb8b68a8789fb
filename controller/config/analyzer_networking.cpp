// Cross-object checks of traffic configuration: VirtualService and DestinationRule hosts,
// route destinations and subsets, Service selectors, ServiceProfile and TrafficSplit services,
// Gateway API route parents and backends, and VirtualServices that Gateway API routes override.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <set>

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

void check_backend(const Topology& topology, Findings& findings, const GatewayRoute& route,
                   const BackendRef& ref) {
  const std::string& ns = ref.ns.empty() ? route.meta.ns : ref.ns;
  if (ref.is_hostname()) {
    if (topology.host_known(ref.name, ns)) return;
    findings.add(
        codes::kUnknownBackend, Severity::kError, route.meta, ref.at,
        fmt::format("backendRef host '{}' is not a Service or ServiceEntry host", ref.name));
    return;
  }
  if (!ref.is_service()) return;  // refused when read
  const Service* service = topology.find_service(ref.name, ns);
  if (service == nullptr) {
    findings.add(codes::kUnknownBackend, Severity::kError, route.meta, ref.at,
                 fmt::format("backendRef names Service {}/{}, which does not exist", ns, ref.name));
    return;
  }
  bool has_port = std::any_of(service->ports.begin(), service->ports.end(),
                              [&](const ServicePort& p) { return ref.port == p.port; });
  if (ref.port && !has_port) {
    findings.add(codes::kUnknownBackend, Severity::kError, route.meta, ref.at,
                 fmt::format("Service {}/{} has no port {}", ns, ref.name, *ref.port));
  }
}

void check_gateway_route(const Topology& topology, Findings& findings, const GatewayRoute& route) {
  for (const auto& parent : route.parent_refs) {
    const std::string& ns = parent.ns.empty() ? route.meta.ns : parent.ns;
    if (!topology.attached_hosts(route, parent).empty()) {
      // Attached, but only a waypoint applies routes: a Service without one ignores them.
      const Service* s = parent.is_service() ? topology.find_service(parent.name, ns) : nullptr;
      if (s != nullptr && topology.waypoint_of(*s).empty()) {
        findings.add(codes::kUnknownParentRef, Severity::kWarning, route.meta, parent.at,
                     fmt::format("Service {}/{} uses no waypoint (label istio.io/use-waypoint or "
                                 "ambit.io/use-waypoint), so nothing applies this route to it",
                                 ns, parent.name));
      }
      continue;
    }
    std::string why;
    if (parent.is_service()) {
      why = fmt::format("Service {}/{} does not exist", ns, parent.name);
    } else if (!parent.is_gateway()) {
      why = fmt::format(
          "a parentRef of kind {} (group '{}') is not supported: use a Service or "
          "a waypoint Gateway",
          parent.kind, parent.group);
    } else if (topology.find_waypoint(ns + "/" + parent.name) == nullptr) {
      why = fmt::format(
          "Gateway {}/{} is not a waypoint (gatewayClassName ambit-waypoint or "
          "istio-waypoint)",
          ns, parent.name);
    } else {
      why = fmt::format("no Service {}uses waypoint {}/{}",
                        route.hostnames.empty() ? "" : "matching the route's hostnames ", ns,
                        parent.name);
    }
    // Istio reports this in the route's status (Accepted: False), not as an analyzer error.
    findings.add(codes::kUnknownParentRef, Severity::kWarning, route.meta, parent.at,
                 why + "; the route does not attach there");
  }
  for (const auto& rule : route.rules) {
    for (const auto& b : rule.backends) check_backend(topology, findings, route, b.ref);
    for (const auto& f : rule.filters) {
      if (f.mirror) check_backend(topology, findings, route, *f.mirror);
    }
  }
}

// A VirtualService host that Gateway API routes also attach to: the routes win at the waypoint.
void check_route_conflicts(const Topology& topology, Findings& findings) {
  const auto& m = topology.model();
  std::map<std::string, std::set<std::string>> routes_by_host;  // FQDN -> route uids
  for (const auto& route : m.gateway_routes) {
    for (const auto& parent : route.parent_refs) {
      for (const auto& host : topology.attached_hosts(route, parent)) {
        routes_by_host[host].insert(route.route_uid());
      }
    }
  }
  if (routes_by_host.empty()) return;
  for (const auto& vs : m.virtual_services) {
    if (!vs.binds_to_mesh()) continue;  // not the waypoints' either way
    for (size_t i = 0; i < vs.hosts.size(); ++i) {
      auto it = routes_by_host.find(expand_host(vs.hosts[i], vs.meta.ns));
      if (it == routes_by_host.end()) continue;
      findings.add(codes::kRouteConflict, Severity::kWarning, vs.meta, vs.hosts_at[i],
                   fmt::format("host '{}' also has Gateway API routes ({}); the waypoint applies "
                               "those and not this VirtualService for the host (Istio leaves "
                               "mixing the two undefined)",
                               vs.hosts[i], fmt::join(it->second, ", ")));
    }
  }
}

// A named targetPort that no selected pod declares: the port has no endpoints.
void check_named_target_ports(const Topology& topology, Findings& findings, const Service& s) {
  auto pods = topology.selected_pods(s.meta.ns, s.selector);
  if (pods.empty()) return;  // AMB0024 says so already
  for (const auto& p : s.ports) {
    if (p.target_port_name.empty()) continue;
    bool declared = std::any_of(pods.begin(), pods.end(), [&](const Pod* pod) {
      return pod->named_ports.contains(p.target_port_name);
    });
    if (declared) continue;
    findings.add(codes::kUnknownTargetPort, Severity::kWarning, s.meta, p.target_port_at,
                 fmt::format("no pod the Service selects declares a container port named '{}'; "
                             "port {} has no endpoints",
                             p.target_port_name, p.port));
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
  for (const auto& route : m.gateway_routes) check_gateway_route(topology, findings, route);
  check_route_conflicts(topology, findings);
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
    check_named_target_ports(topology, findings, s);
  }
  for (const auto& se : m.service_entries) {
    check_selector(topology, findings, se.meta, se.workload_selector, se.workload_selector_at,
                   false);
  }
}

void check_linkerd_smi(const Topology& topology, Findings& findings) {
  const auto& m = topology.model();
  for (const auto& sp : m.service_profiles) {
    bool known = std::any_of(m.services.begin(), m.services.end(), [&](const Service& s) {
      return service_fqdn(s.meta.name, s.meta.ns) == sp.meta.name;
    });
    if (!known) {
      findings.add(codes::kUnknownServiceProfileService, Severity::kWarning, sp.meta,
                   "metadata.name",
                   fmt::format("'{}' is not the FQDN of a Service (<name>.<namespace>.svc.{}); "
                               "the profile applies to nothing",
                               sp.meta.name, kClusterDomain));
    }
  }
  auto service_exists = [&](const std::string& name, const std::string& ns) {
    return std::any_of(m.services.begin(), m.services.end(),
                       [&](const Service& s) { return s.meta.name == name && s.meta.ns == ns; });
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
