// The controller's view of one waypoint, compiled into the config its engine runs: the workload
// table (services it serves and their endpoints), the routes (VirtualServices, DestinationRules),
// the L7 AuthorizationPolicies, and the waypoint's own credentials. A view that does not compile
// is an error naming the object and field; the caller nacks it and keeps what runs.
#pragma once

#include <memory>
#include <string>

#include "agent/certificates.h"
#include "agent/mesh_view.h"
#include "waypoint/waypoint_state.h"
#include "ztunnel/engine_config.h"

namespace ambit::waypoint {

struct WaypointSettings {
  std::string waypoint_uid;  // <ns>/<name> of the Gateway
  std::string workload_uid;  // <ns>/<pod> this process runs as
  SocketAddress listen;      // HBONE, normally 0.0.0.0:15008 in the pod
  std::string root_namespace = "istio-system";
  // The retry budget of routes that do not bring their own (every Istio route).
  RetryBudgetPolicy default_budget = kDefaultRouteBudget;
  // Local rate limits' buckets, kept from one view to the next (a push must not refill them).
  std::shared_ptr<TokenBuckets> rate_limit_buckets = std::make_shared<TokenBuckets>();
  // Keeps DNS ServiceEntry names resolved (null: such entries have no endpoints).
  std::shared_ptr<DnsResolver> dns;
};

// `certificates` gives the waypoint's certificate (null while the first one is on its way: the
// listener then refuses connections until it lands and the view is compiled again).
Result<ztunnel::EngineConfig> compile_view(const agent::MeshView& view,
                                           const WaypointSettings& settings,
                                           agent::CertificateSource& certificates,
                                           const std::shared_ptr<RequestStats>& stats);

// The config before any view: nothing served, the listener bound.
Result<ztunnel::EngineConfig> empty_config(const WaypointSettings& settings,
                                           const std::shared_ptr<RequestStats>& stats);

}  // namespace ambit::waypoint
