// What one view of the mesh compiles to for the waypoint, beside the engine's own tables: the
// routes, the L7 policies, and who this waypoint is. Immutable; a new view makes a new one,
// swapped into every worker with the engine's config (EngineConfig::extension).
#pragma once

#include <memory>
#include <string>

#include "waypoint/l7_authorization.h"
#include "waypoint/request_stats.h"
#include "waypoint/route_table.h"
#include "ztunnel/engine_config.h"

namespace ambit::waypoint {

struct WaypointState final : ztunnel::EngineExtension {
  std::string waypoint_uid;  // "<ns>/<name>" of the Gateway this waypoint runs
  // The waypoint's own workload (its pod): the credentials it presents both ways, and the
  // network namespace its sockets are made in.
  std::string workload_uid;
  std::shared_ptr<const RouteTable> routes;
  std::shared_ptr<const L7Authorizer> authorizer;
  // Shared by every version: counters outlive views.
  std::shared_ptr<RequestStats> stats;

  Result<std::unique_ptr<ztunnel::ListenerHandler>> create_listener(
      ztunnel::Worker& worker, const ztunnel::ListenerSpec& spec) const override;
};

// The state of the config snapshot a worker runs now (never null on a waypoint's engine).
inline const WaypointState& waypoint_state(const ztunnel::EngineConfig& config) {
  return static_cast<const WaypointState&>(*config.extension);
}

}  // namespace ambit::waypoint
