// The agent's copy of the mesh as the controller pushed it: applies snapshots and deltas, and
// turns the objects into the configuration the enrollment and the engine run from. An update
// that does not convert is refused (nack) and the previous view stays in force. Resources of
// kinds the agent does not use (VirtualService, DestinationRule: L7 is the waypoints') or does
// not know (sent by a newer controller) are skipped, not refused.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "agent/local_config.h"
#include "ambit/v1/control.pb.h"

namespace ambit::agent {

class MeshView {
 public:
  // A waypoint's view also keeps the L7 kinds (VirtualService, DestinationRule), and its
  // AuthorizationPolicies are L7 ones: to_local_config leaves them to the waypoint.
  enum class Role { kAgent, kWaypoint };
  explicit MeshView(Role role = Role::kAgent) : role_(role) {}

  // The view with `update` applied (snapshot: replaces everything; else adds/changes/removes),
  // or why it cannot be applied. This view is unchanged either way; commit with operator=.
  Result<MeshView> with(const ambit::v1::Update& update) const;

  // The configuration for node's agent: namespaces, workloads (with the sandboxes of this
  // node's pods), services, L4 policies, trust bundle.
  Result<LocalConfig> to_local_config(const std::string& node) const;

  // The resources of one kind, in uid order.
  std::vector<const ambit::v1::Resource*> resources_of(ambit::v1::Resource::KindCase kind) const;

  uint64_t version() const { return version_; }
  size_t size() const { return resources_.size(); }

 private:
  using Key = std::pair<std::string, std::string>;  // kind, uid
  std::map<Key, ambit::v1::Resource> resources_;
  uint64_t version_ = 0;
  Role role_ = Role::kAgent;
};

}  // namespace ambit::agent
