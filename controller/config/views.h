// What each client of the controller gets: the controller API objects (proto/ambit/v1) computed
// from a configuration model. Compute views only from a model whose analysis has no blocking
// errors (has_blocking_errors: a route to a missing host is fine, an unreadable object is not).
//
// Output is deterministic: resources sorted by kind (Namespace, Workload, Service,
// AuthorizationPolicy, VirtualService, DestinationRule) then uid, maps in protobuf are unordered
// but compared by content. (The push server diffs successive views: controller/push/view_diff.h.)
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ambit/v1/control.pb.h"
#include "ambit/v1/resource_kind.h"
#include "controller/config/model.h"

namespace ambit::controller::config {

class Topology;

// The view of the node agent on `node`:
// - every Namespace (declared ones, plus those that pods and services live in), with `ambient`;
// - every Workload (from Pods): uid, addresses, labels, service account, node, named container
//   ports; mesh (namespace ambient and the pod not opted out); hbone_address
//   <first address>:15008 when in the mesh;
//   peer_auth resolved workload > namespace > mesh (root namespace istio-system; PERMISSIVE when
//   nothing says otherwise); waypoint; runs_waypoint (a waypoint's own pod: in the mesh, served
//   by no waypoint); waypoint_guard (Topology::waypoint_guarded_pods: a targetRefs
//   AuthorizationPolicy reaches it through its waypoint); netns and cgroup only for pods on
//   `node`;
// - every Service (VIPs, ports (a named targetPort as target_port_name), selector, waypoint,
//   hostnames);
// - every AuthorizationPolicy (ALLOW and DENY; AUDIT/CUSTOM are not enforced and left out)
//   except those with targetRefs, which only waypoints enforce (as in Istio).
// `trust_domain` is reserved for identity-dependent fields (none yet: the caller adds the
// TrustBundle).
std::vector<ambit::v1::Resource> agent_view(const ConfigModel& model, std::string_view node,
                                            const std::string& trust_domain);
// As `node`: every pod's netns and cgroup (the full form a per-node cutter starts from).
inline constexpr std::string_view kAllNodes = "*";
// agent_view in its two parts, each sorted as agent_view sorts: the mesh (Namespaces, Workloads,
// Services: what pods, services, namespaces, waypoints and PeerAuthentications make, plus which
// pods targetRefs policies guard) and the AuthorizationPolicies (each from its own object only).
// A change to policies alone leaves the first part as it was unless it changes the guarded pods
// (Topology::waypoint_guarded_pods), so the controller usually recomputes only the second.
std::vector<ambit::v1::Resource> agent_mesh_resources(const ConfigModel& model,
                                                      std::string_view node);
// The same from a Topology of the model and its waypoint_guarded_pods() already at hand.
std::vector<ambit::v1::Resource> agent_mesh_resources(const Topology& topology,
                                                      std::string_view node,
                                                      const std::vector<std::string>& guarded);
std::vector<ambit::v1::Resource> agent_policy_resources(const ConfigModel& model);

// The view of the waypoint `waypoint_uid` ("<ns>/<name>"): the Services it serves, their
// endpoint Workloads, their Namespaces, the selector AuthorizationPolicies of those namespaces
// (and of the root namespace) and the targetRefs ones that reach it (Topology::target_reaches),
// and the L7 configuration of those Services: the VirtualServices (and
// ServiceProfiles / TrafficSplits as VirtualServices) with a host naming one of them, and the
// DestinationRules for them (see l7_resources). Agents never get L7 resources.
std::vector<ambit::v1::Resource> waypoint_view(const ConfigModel& model,
                                               std::string_view waypoint_uid);

// Every L7 resource of the model, sorted (VirtualService then DestinationRule, by uid):
// - each mesh VirtualService with http, tcp or tls routes (those bound only to ingress gateways
//   are left out), uid <ns>/<name>; tcp/tls matches as L4Match (SNI hosts lowercased);
// - each Linkerd ServiceProfile as a VirtualService, uid "serviceprofile/<ns>/<name>": its
//   routes in order (method exact, pathRegex as uri regex, timeout, per-route retries), then a
//   catch-all route to the service;
// - each SMI TrafficSplit as a VirtualService, uid "trafficsplit/<ns>/<name>": one route from
//   the apex service to the backends, weights as percentages summing to 100;
// - the Gateway API routes (HTTPRoute, GRPCRoute, TCPRoute) as VirtualServices, one per set of
//   hosts with the same attached routes, uid "httproute/<ns>/<name>[:<port>]" (several joined
//   with ","): their rules merged in Gateway API precedence order (docs/configuration.md); a
//   mesh VirtualService loses the hosts such routes attach to (and is left out with none left);
// - each DestinationRule (traffic policy, port-level settings, subsets).
// Hosts are FQDNs (expand_host relative to the object's namespace).
std::vector<ambit::v1::Resource> l7_resources(const ConfigModel& model);
// Whether an L7 resource is for one of `service_hosts` (FQDNs): a VirtualService host or the
// DestinationRule host equal to, or a wildcard covering, one of them; a LocalRateLimit's host
// equal to one. False for other kinds.
bool l7_for_hosts(const ambit::v1::Resource& resource,
                  const std::vector<std::string>& service_hosts);
// l7_for_hosts, and exported (exportTo) to the waypoint's namespace: what a waypoint gets.
bool l7_for_waypoint(const ambit::v1::Resource& resource,
                     const std::vector<std::string>& service_hosts, std::string_view waypoint_ns);
// Appends the hosts `vs` routes to (route and mirror destinations, TCP backends): a waypoint
// that keeps `vs` needs those hosts' DestinationRules too (their subsets, load balancers).
void add_route_destinations(const ambit::v1::VirtualService& vs, std::vector<std::string>& hosts);
// Whether the waypoint `waypoint_uid` (serving the Services `served_service_uids`) enforces the
// policy: a selector policy of a namespace it serves (or the root namespace), or a targetRefs one
// that names the waypoint, a Service it serves, or a GatewayClass (any: every waypoint is of a
// waypoint class here, so a policy for class istio-waypoint reaches ambit-waypoint ones too).
// ServiceEntry targets are not reached yet (the view does not say which waypoint serves an entry).
bool policy_for_waypoint(const ambit::v1::AuthorizationPolicy& policy,
                         std::string_view waypoint_uid,
                         const std::vector<std::string>& served_service_uids);
// The Services (uids) a local rate limit applies to: its targetRefs (a Service; a waypoint
// Gateway: every Service that waypoint serves), else the Services whose selector picks a pod its
// workloadSelector picks (none: every pod of its namespace, of the mesh in the root namespace).
std::vector<std::string> rate_limited_services(const Topology& topology, const LocalRateLimit& rl);
// Every LocalRateLimit that applies to a Service, with the FQDNs of those it applies to; uid
// LocalRateLimit::limit_uid(). A waypoint gets those naming a Service it serves (l7_for_hosts).
// (`limits`: the model's; the topology's pods and Services are what they select.)
std::vector<ambit::v1::Resource> rate_limit_resources(const Topology& topology,
                                                      const std::vector<LocalRateLimit>& limits);
// The AuthorizationPolicies with targetRefs (for waypoints only; agent_view leaves them out).
std::vector<ambit::v1::Resource> waypoint_policies(const ConfigModel& model);

// One AuthorizationPolicy as agents and waypoints get it; nullopt for the actions ambit does not
// enforce (AUDIT, CUSTOM) and for dry-run policies, which views leave out.
std::optional<ambit::v1::AuthorizationPolicy> authorization_policy_resource(
    const AuthorizationPolicy& policy);

using ambit::v1::resource_kind;

}  // namespace ambit::controller::config
