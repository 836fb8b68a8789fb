// What the waypoint does with one request, whichever codec read it: L7 authorization first, then
// the route, then the endpoint the load balancer picks, or the answer the waypoint gives itself.
// The two fronts (HTTP/1.1 and HTTP/2 clients) differ only in how they write what this decides.
#pragma once

#include <string>
#include <vector>

#include "waypoint/load_balancer.h"
#include "waypoint/request_stats.h"
#include "waypoint/waypoint_state.h"

namespace ambit::waypoint {

struct Dispatch {
  enum class Kind { kAnswer, kForward };
  Kind kind = Kind::kAnswer;
  // kAnswer: the local response (its flags and details go to the record).
  int status = 0;
  std::string body;
  std::vector<Header> extra;
  // kForward: the endpoint (its request is counted as started on the load balancer), the
  // response edits of the route, and where a shadow copy may go.
  const RouteTable::Endpoint* endpoint = nullptr;
  HeaderEdits response_edits;
  const RouteTable::Endpoint* mirror = nullptr;
  // kForward: the cluster (a retry picks another of its endpoints), the route's timeout and
  // retries.
  Cluster cluster;
  const RouteTable::ClusterInfo* cluster_info = nullptr;
  const Resilience* resilience = &Resilience::istio_default();
  std::chrono::milliseconds delay{0};  // an injected delay before the first try (flag DI)
};

// Decides for `request` (rewritten in place by the route) and fills the record's route, flags
// and details; counts rate-limit events on the worker's `shard`.
Dispatch dispatch(const WaypointState& state, LoadBalancer& lb, unsigned shard,
                  HttpRequest& request, const Downstream& downstream, uint64_t entropy,
                  RequestRecord& record);

// Whether to speak HTTP/2 to `endpoint` for a client that spoke it (`client_http2`) or not;
// a protocol switch (Upgrade) needs HTTP/1.1.
bool upstream_http2(const RouteTable::Endpoint& endpoint, bool client_http2, bool upgrade);

}  // namespace ambit::waypoint
