// Cross-object checks of traffic configuration: VirtualService and DestinationRule hosts,
// route destinations (host, port, subset), gateways, VirtualServices claiming one host, subsets
// that select no pod, Service selectors and named target ports, ServiceProfile and TrafficSplit
// services, Gateway API route parents and backends, and VirtualServices that Gateway API routes
// override.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <set>

#include "controller/config/analyzer_checks.h"

namespace ambit::controller::config {
namespace {

std::string port_list(const std::vector<uint32_t>& ports) {
  std::string out;
  for (uint32_t p : ports) out += fmt::format("{}{}", out.empty() ? "" : ", ", p);
  return out;
}

// As istioctl's destination host analysis: the host must name a Service or ServiceEntry seen
// from the route's namespace, the port one it has, and a host with several ports needs one.
void check_destination(const Topology& topology, Findings& findings, const VirtualService& vs,
                       const Destination& d) {
  const std::string& ns = vs.meta.ns;
  std::vector<uint32_t> ports;
  auto entries = topology.service_entries_for_host(d.host, ns);
  auto services = topology.services_for_host(d.host, ns);
  if (!entries.empty()) {
    for (const auto& p : entries.front()->ports) ports.push_back(p.number);
  } else if (!services.empty()) {
    for (const auto& p : services.front()->ports) ports.push_back(p.port);
  } else {
    findings.add(codes::kUnknownDestination, Severity::kError, vs.meta, d.host_at,
                 fmt::format("destination host '{}' is not a Service or ServiceEntry host seen "
                             "from namespace {}; requests routed to it fail (503)",
                             d.host, ns));
  }
  if (!entries.empty() || !services.empty()) {
    if (d.port && std::find(ports.begin(), ports.end(), *d.port) == ports.end()) {
      findings.add(
          codes::kDestinationPortNotFound, Severity::kError, vs.meta,
          Origin{d.at.line, d.at.field + ".port"},
          fmt::format("'{}' has no port {} (its ports: {})", d.host, *d.port, port_list(ports)));
    } else if (!d.port && ports.size() > 1) {
      findings.add(codes::kDestinationPortRequired, Severity::kError, vs.meta, d.at,
                   fmt::format("'{}' has several ports ({}): the destination must say which "
                               "(port.number)",
                               d.host, port_list(ports)));
    }
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

// networking.istio.io Gateways are read but not used: they are among the ignored objects.
void check_gateways(const Topology& topology, Findings& findings, const VirtualService& vs) {
  const auto& ignored = topology.model().ignored;
  for (size_t i = 0; i < vs.gateways.size(); ++i) {
    const std::string& g = vs.gateways[i];
    if (g == "mesh") continue;
    auto slash = g.find('/');
    std::string ns = slash == std::string::npos ? vs.meta.ns : g.substr(0, slash);
    std::string name = slash == std::string::npos ? g : g.substr(slash + 1);
    bool found = std::any_of(ignored.begin(), ignored.end(), [&](const IgnoredObject& o) {
      return o.meta.kind == "Gateway" && o.meta.api_version.starts_with("networking.istio.io/") &&
             o.meta.ns == ns && o.meta.name == name;
    });
    if (found) continue;
    findings.add(
        codes::kUnknownGateway, Severity::kError, vs.meta, vs.gateways_at[i],
        fmt::format("gateway '{}' is not a networking.istio.io Gateway in namespace {}", name, ns));
  }
}

// IST0130: an http rule is never used when an earlier rule takes every request (no match), or
// when each of its matches is a match of earlier rules.
void check_unreachable_rules(Findings& findings, const VirtualService& vs) {
  for (size_t j = 1; j < vs.http.size(); ++j) {
    std::string why;
    for (size_t i = 0; i < j && why.empty(); ++i) {
      if (vs.http[i].match.empty()) {
        why = fmt::format("rule {} before it has no match, so it takes every request", i);
      }
    }
    const auto& matches = vs.http[j].match;
    if (why.empty() && !matches.empty()) {
      std::set<size_t> by;
      bool all_shadowed = std::all_of(matches.begin(), matches.end(), [&](const auto& m) {
        for (size_t i = 0; i < j; ++i) {
          for (const auto& earlier : vs.http[i].match) {
            if (m.same_conditions(earlier)) {
              by.insert(i);
              return true;
            }
          }
        }
        return false;
      });
      if (all_shadowed) {
        why = fmt::format("each of its matches is a match of rule{} {} before it",
                          by.size() > 1 ? "s" : "", fmt::join(by, ", "));
      }
    }
    if (why.empty()) continue;
    findings.add(codes::kUnreachableRule, Severity::kWarning, vs.meta, vs.http[j].at,
                 fmt::format("rule {} is never used: {}", j, why));
  }
}

void check_virtual_service(const Topology& topology, Findings& findings, const VirtualService& vs) {
  for (size_t i = 0; i < vs.hosts.size(); ++i) {
    const std::string& host = vs.hosts[i];
    if (host == "*" || topology.host_known(host, vs.meta.ns)) continue;
    findings.add(codes::kUnknownHost, Severity::kWarning, vs.meta, vs.hosts_at[i],
                 fmt::format("host '{}' is not a Service or ServiceEntry host", host));
  }
  check_gateways(topology, findings, vs);
  check_unreachable_rules(findings, vs);
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

// IST0109: two VirtualServices bound to the mesh with the same host, which some namespace sees
// both of: which one applies is undefined. Reported on each of them.
void check_conflicting_hosts(const ConfigModel& m, Findings& findings) {
  struct Claim {
    const VirtualService* vs;
    size_t host;
  };
  std::map<std::string, std::vector<Claim>> by_host;
  for (const auto& vs : m.virtual_services) {
    if (!vs.binds_to_mesh()) continue;
    for (size_t i = 0; i < vs.hosts.size(); ++i) {
      by_host[expand_host(vs.hosts[i], vs.meta.ns)].push_back({&vs, i});
    }
  }
  for (const auto& [host, claims] : by_host) {
    for (const auto& claim : claims) {
      std::string others;
      for (const auto& other : claims) {
        if (other.vs == claim.vs || !exports_overlap(claim.vs->export_to, claim.vs->meta.ns,
                                                     other.vs->export_to, other.vs->meta.ns)) {
          continue;
        }
        others += fmt::format("{}{}", others.empty() ? "" : ", ", other.vs->meta.uid());
      }
      if (others.empty()) continue;
      findings.add(codes::kConflictingVirtualServiceHosts, Severity::kError, claim.vs->meta,
                   claim.vs->hosts_at[claim.host],
                   fmt::format("host {} is also claimed by VirtualService {} for the mesh; which "
                               "one applies is undefined: merge them into one VirtualService",
                               host, others));
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

// A subset whose labels select none of the pods behind its host's Services.
void check_subsets(const Topology& topology, Findings& findings, const DestinationRule& dr) {
  auto services = topology.services_for_host(dr.host, dr.meta.ns);
  if (services.empty()) return;  // a ServiceEntry host, or unknown (AMB0021)
  for (const auto& subset : dr.subsets) {
    if (subset.labels.empty()) continue;
    bool selects = std::any_of(services.begin(), services.end(), [&](const Service* s) {
      if (s->selector.empty()) return true;  // endpoints not from pods: cannot tell
      StringMap both = s->selector;
      both.insert(subset.labels.begin(), subset.labels.end());
      return !topology.selected_pods(s->meta.ns, both).empty();
    });
    if (selects) continue;
    std::string labels;
    for (const auto& [k, v] : subset.labels) {
      labels += fmt::format("{}{}={}", labels.empty() ? "" : ",", k, v);
    }
    findings.add(codes::kSubsetMatchesNothing, Severity::kWarning, dr.meta,
                 Origin{subset.at.line, subset.at.field + ".labels"},
                 fmt::format("subset '{}' ({}) selects none of the pods of '{}'; routes to it "
                             "fail (503)",
                             subset.name, labels, dr.host));
  }
}

// IST0134: a TCP (or unnamed-protocol) port of an entry without addresses can only be told
// apart by address, so the entry needs some (Istio can auto-allocate them; ambit does not).
void check_addresses_required(Findings& findings, const ServiceEntry& se) {
  if (!se.addresses.empty()) return;
  for (const auto& p : se.ports) {
    std::string protocol = p.protocol_upper();
    if (!protocol.empty() && protocol != "TCP") continue;
    findings.add(codes::kServiceEntryAddressesRequired, Severity::kWarning, se.meta, "spec.ports",
                 fmt::format("port {} is {}: without addresses its traffic cannot be told apart "
                             "from other TCP traffic; give the entry addresses",
                             p.number, protocol.empty() ? "of no protocol" : "TCP"));
    return;
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

void check_networking(const Topology& topology, Findings& findings, ConfigModel::Part part) {
  const auto& m = topology.model();
  if (part == ConfigModel::Part::kMesh) {
    for (const auto& s : m.services) {
      if (s.selector.empty()) continue;
      check_selector(topology, findings, s.meta, s.selector, s.selector_at, false);
      check_named_target_ports(topology, findings, s);
    }
    return;
  }
  for (const auto& vs : m.virtual_services) check_virtual_service(topology, findings, vs);
  check_conflicting_hosts(m, findings);
  for (const auto& route : m.gateway_routes) check_gateway_route(topology, findings, route);
  check_route_conflicts(topology, findings);
  for (const auto& dr : m.destination_rules) {
    check_subsets(topology, findings, dr);
    if (!topology.host_known(dr.host, dr.meta.ns)) {
      findings.add(codes::kUnknownHost, Severity::kWarning, dr.meta, dr.host_at,
                   fmt::format("host '{}' is not a Service or ServiceEntry host", dr.host));
    }
    check_selector(topology, findings, dr.meta, dr.workload_selector, dr.workload_selector_at,
                   false);
  }
  for (const auto& se : m.service_entries) {
    // WorkloadEntries are read but not modelled: a selector may pick them rather than pods.
    bool entries = std::any_of(m.ignored.begin(), m.ignored.end(), [&](const IgnoredObject& o) {
      return o.meta.kind == "WorkloadEntry" && o.meta.ns == se.meta.ns;
    });
    if (!entries) {
      check_selector(topology, findings, se.meta, se.workload_selector, se.workload_selector_at,
                     false);
    }
    check_addresses_required(findings, se);
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
