// Questions about the model that the analyzer and the views both ask: which pods a selector
// picks, which services a host names, which waypoint serves what, who is in the mesh. Built once
// per model; holds pointers into it (the model must outlive it).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "controller/config/model.h"

namespace ambit::controller::config {

// "<name>.<ns>.svc.cluster.local"
std::string service_fqdn(std::string_view name, std::string_view ns);
// Istio's host semantics: a short name ("reviews") is relative to `from_ns`; "<svc>.<ns>" and
// "<svc>.<ns>.svc" are completed to the FQDN; anything else is taken as written.
std::string expand_host(std::string_view host, std::string_view from_ns);
// Equal, or one side a wildcard ("*", "*.example.com") covering the other.
bool hosts_match(std::string_view a, std::string_view b);

bool selector_matches(const StringMap& selector, const StringMap& labels);
// Istio's exportTo: whether an object of `owner_ns` exported to `export_to` is seen from
// `viewer_ns` (empty: everywhere; "." its own namespace; "*" all; "~" none; else those named).
bool exported_to(const std::vector<std::string>& export_to, std::string_view owner_ns,
                 std::string_view viewer_ns);
// Whether some namespace sees both objects.
bool exports_overlap(const std::vector<std::string>& a, std::string_view a_ns,
                     const std::vector<std::string>& b, std::string_view b_ns);
// Whether labels/annotation-free name lists contain a value (small helper).
std::string label_or_empty(const StringMap& labels, std::string_view key);

// A use-waypoint label found on an object: the waypoint it names, or "none".
struct WaypointReference {
  std::string uid;    // "<ns>/<name>"; empty for "none"
  std::string label;  // the label key that said it, for messages
};
std::optional<WaypointReference> waypoint_label(const ObjectMeta& meta);

// The label Gateway API implementations put on the pods of a Gateway (a waypoint's pods).
inline constexpr const char* kGatewayNameLabel = "gateway.networking.k8s.io/gateway-name";
// "allow" on a Pod, one of its Services or its Namespace: connections may bypass the pod's
// waypoint as before (no waypoint guard, Workload.waypoint_guard).
inline constexpr const char* kWaypointBypassAnnotation = "ambit.io/waypoint-bypass";

// A targetRefs AuthorizationPolicy that puts pods' L7 policy in a waypoint: the pods it reaches
// through that waypoint (its Gateway, its GatewayClass, or a Service using it that selects them),
// leaving out those that opted out (kWaypointBypassAnnotation).
struct WaypointGuard {
  const AuthorizationPolicy* policy;
  const Waypoint* waypoint;
  std::vector<const Pod*> pods;  // in model order
};

class Topology {
 public:
  explicit Topology(const ConfigModel& model);

  const ConfigModel& model() const { return model_; }
  const Namespace* find_namespace(std::string_view name) const;
  bool namespace_ambient(std::string_view ns) const;
  bool pod_in_mesh(const Pod& pod) const;

  // Pods a namespace-scoped selector picks (the root namespace's selectors pick across all
  // namespaces when `root_is_mesh_wide`). An absent selector picks the whole namespace.
  std::vector<const Pod*> selected_pods(std::string_view ns,
                                        const std::optional<StringMap>& selector,
                                        bool root_is_mesh_wide = false) const;
  // Services whose (non-empty) selector picks the pod.
  std::vector<const Service*> services_of(const Pod& pod) const;

  // The services whose FQDN ("<name>.<ns>.svc.cluster.local") is exactly `fqdn`.
  std::vector<const Service*> services_with_fqdn(std::string_view fqdn) const;
  // Services and ServiceEntries a host (written in namespace `from_ns`) refers to, among those
  // exported to `from_ns`.
  std::vector<const Service*> services_for_host(std::string_view host,
                                                std::string_view from_ns) const;
  std::vector<const ServiceEntry*> service_entries_for_host(std::string_view host,
                                                            std::string_view from_ns) const;
  bool host_known(std::string_view host, std::string_view from_ns) const;
  // DestinationRules (exported to `from_ns`) whose host refers to the same destination as
  // `host` in `from_ns`.
  std::vector<const DestinationRule*> destination_rules_for_host(std::string_view host,
                                                                 std::string_view from_ns) const;

  const Service* find_service(std::string_view name, std::string_view ns) const;
  // The Service FQDNs a Gateway API route's parentRef attaches it to: the Service it names, or
  // for a waypoint Gateway the Services that use that waypoint (those matching the route's
  // hostnames, when it has some). Empty when the parentRef names nothing we know.
  std::vector<std::string> attached_hosts(const GatewayRoute& route, const ParentRef& parent) const;

  const Waypoint* find_waypoint(std::string_view uid) const;
  // The waypoint (uid) serving a service or a pod, when one is declared: the object's own
  // label, then (pods) its services' labels, then its namespace's label. "" when none.
  std::string waypoint_of(const Service& service) const;
  std::string waypoint_of(const Pod& pod) const;
  std::string waypoint_of(const ServiceEntry& entry) const;
  // The waypoint (uid) a pod runs: its kGatewayNameLabel names a waypoint Gateway of its
  // namespace. "" when none. Such a pod is in the mesh and served by no waypoint.
  std::string runs_waypoint(const Pod& pod) const;

  // Every (policy, waypoint) whose policy guards some pods (WaypointGuard), in model order of
  // the policies (ALLOW and DENY ones, not dry-run), then of the waypoints.
  std::vector<WaypointGuard> waypoint_guards() const;
  // The uids of the pods some guard covers (Workload.waypoint_guard), sorted, no duplicates.
  std::vector<std::string> waypoint_guarded_pods() const;

  // An AuthorizationPolicy targetRef: whether the object it names exists (a Gateway that is a
  // waypoint, a waypoint GatewayClass, a Service or ServiceEntry), and whether it reaches
  // `waypoint` (the Gateway itself, every waypoint of the class, the waypoint the Service or
  // ServiceEntry uses).
  bool target_exists(const TargetRef& ref) const;
  bool target_reaches(const TargetRef& ref, const Waypoint& waypoint) const;

 private:
  std::string resolve_waypoint(const std::optional<WaypointReference>& own,
                               std::string_view ns) const;

  const ConfigModel& model_;
  // By namespace, so selector checks look at one namespace's objects, not the mesh's.
  std::unordered_map<std::string, std::vector<const Pod*>> pods_by_ns_;
  std::unordered_map<std::string, std::vector<const Service*>> services_by_ns_;
  // (name, namespace) -> services, viewing the model's strings: a host without '*' is looked up,
  // not scanned for, at no copy of every Service's FQDN.
  struct ServiceKey {
    std::string_view name, ns;
    bool operator==(const ServiceKey&) const = default;
  };
  struct ServiceKeyHash {
    size_t operator()(const ServiceKey& k) const;
  };
  std::unordered_multimap<ServiceKey, const Service*, ServiceKeyHash> services_by_name_;
  std::unordered_map<std::string, const Namespace*> namespaces_;
  // "<ns>\0<label>\0<value>" -> pods: a selector starts from its first label's pods.
  std::unordered_map<std::string, std::vector<const Pod*>> pods_by_label_;
  // Namespaces where some Service names a waypoint: elsewhere a pod's services need no look.
  std::unordered_map<std::string, bool> services_name_waypoint_;
};

}  // namespace ambit::controller::config
