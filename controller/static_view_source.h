// A ViewSource over a fixed list of mesh objects: for tests, the benchmark, `--static-view`, and
// until the config model is wired in. It cuts views the way the model should:
//   agent (node N):  every Namespace, Workload, Service, AuthorizationPolicy and TrustBundle, with
//                    a workload's netns/cgroup only in the view of the agent on its own node;
//                    never a VirtualService or DestinationRule (L7 is the waypoints');
//                    AuthorizationPolicies with targetRefs are the waypoints' only;
//   waypoint (ns/n): Namespaces, TrustBundles, the Services whose waypoint is ns/n, the Workloads
//                    those services select, the AuthorizationPolicies it enforces
//                    (config::policy_for_waypoint), and the VirtualServices and DestinationRules
//                    whose hosts name one of those services and that its namespace sees
//                    (config::l7_for_waypoint). config::waypoint_view cuts the same way.
#pragma once

#include <map>
#include <mutex>
#include <unordered_map>

#include "controller/view_source.h"

namespace ambit::controller {

class StaticViewSource : public ViewSource {
 public:
  // `interner` carries object identity from the previous state to this one (see ResourceInterner).
  static std::shared_ptr<const StaticViewSource> create(std::vector<v1::Resource> resources,
                                                        std::string trust_domain,
                                                        ResourceInterner& interner,
                                                        std::vector<std::string> errors = {});
  // For sources that keep ViewResources themselves (one per object, full form; node-local fields
  // are stripped here for other nodes' views). Unchanged objects keep their pointers, so a new
  // state costs a sort of pointers, not a re-serialization of the mesh.
  static std::shared_ptr<const StaticViewSource> create(std::vector<ResourcePtr> resources,
                                                        std::string trust_domain,
                                                        std::vector<std::string> errors = {});

  ViewPtr view_for(const v1::Subscribe& who) const override;
  bool workload_on_node(std::string_view workload_uid, std::string_view node) const override;
  std::optional<Identity> identity_of(std::string_view workload_uid) const override;
  std::vector<std::string> config_errors() const override { return errors_; }

 private:
  ViewPtr agent_view(const std::string& node) const;
  ViewPtr waypoint_view(const std::string& waypoint) const;
  const v1::Workload* find_workload(std::string_view uid) const;

  std::string trust_domain_;
  ViewPtr base_;  // the agent view without node-local fields
  // VirtualServices, DestinationRules and AuthorizationPolicies with targetRefs: for waypoints.
  View waypoint_only_;
  std::map<std::string, std::vector<ResourcePtr>> node_local_;  // node -> full workload variants
  std::vector<std::string> errors_;

  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, ViewPtr> cache_;  // role:node -> view
};

}  // namespace ambit::controller
