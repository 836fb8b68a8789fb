// What a cluster's circuit breakers count, and how its connections are kept: shared by the
// route table (which resolves them from DestinationRule connectionPool) and the upstreams.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace ambit::waypoint {

// What is in flight to a cluster, across the sessions and workers of a view: what its circuit
// breakers (DestinationRule connectionPool) count.
struct ClusterLoad {
  std::atomic<uint32_t> requests{0}, retries{0};
  std::atomic<uint32_t> connections{0};  // open HBONE streams to its endpoints
  std::atomic<uint32_t> pending{0};      // requests waiting for one (tcp.maxConnections)
};

// How a cluster's connections are kept (DestinationRule connectionPool, Istio's defaults).
struct ConnectionPolicy {
  uint32_t max_connections = 0;                       // tcp.maxConnections; 0: no limit
  uint32_t max_requests_per_connection = 0;           // http.maxRequestsPerConnection; 0: no limit
  std::chrono::milliseconds connect_timeout{10'000};  // tcp.connectTimeout
  std::chrono::milliseconds idle_timeout{3'600'000};  // http.idleTimeout
};

}  // namespace ambit::waypoint
