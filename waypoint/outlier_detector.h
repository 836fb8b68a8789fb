// Passive health checking, as Istio's DestinationRule outlierDetection and Envoy apply it: each
// try's outcome at an endpoint is reported; consecutive5xxErrors 5xx answers in a row (a try
// that got no answer at all counts as one: Envoy does not split local-origin errors by default)
// or consecutiveGatewayErrors 502/503/504 in a row eject the endpoint for baseEjectionTime
// times the number of times it has been ejected (at most 300 s, Envoy's max_ejection_time); a
// quiet `interval` without ejection takes one off that number. At most maxEjectionPercent of a
// cluster's endpoints are out at once (at least one may be); while fewer than
// minHealthPercent are in (or none), the load balancer uses them all (Envoy's panic mode).
// Shared by the workers of one view (a mutex, taken only for clusters that have the policy).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "ambit/v1/mesh.pb.h"
#include "core/net_address.h"
#include "core/result.h"

namespace ambit::waypoint {

struct OutlierPolicy {
  bool enabled = false;  // the cluster's DestinationRule has outlierDetection
  uint32_t consecutive_5xx = 5;
  uint32_t consecutive_gateway = 0;  // 0: off
  std::chrono::milliseconds interval{10'000};
  std::chrono::milliseconds base_ejection{30'000};
  uint32_t max_ejection_percent = 10;
  uint32_t min_health_percent = 0;
  // `where` names the field in the error ("DestinationRule shop/web:
  // trafficPolicy.outlierDetection").
  static Result<OutlierPolicy> parse(const ambit::v1::OutlierDetection& in, std::string_view where);
};

class OutlierDetector {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kMaxEjection{300};

  // A try's outcome at `endpoint` of the cluster `cluster_key` (of `cluster_size` endpoints):
  // its response status, or 0 when it got none (connect failure, reset, timeout).
  // True when this report ejected the endpoint.
  bool report(const std::string& cluster_key, const OutlierPolicy& policy, size_t cluster_size,
              const SocketAddress& endpoint, int status, Clock::time_point now = Clock::now());
  bool ejected(const std::string& cluster_key, const SocketAddress& endpoint,
               Clock::time_point now = Clock::now()) const;
  // False when no endpoint of any cluster can be ejected at `now`: the load balancer's fast path.
  bool any_ejected(Clock::time_point now = Clock::now()) const {
    return now.time_since_epoch().count() < latest_until_.load(std::memory_order_relaxed);
  }
  uint64_t ejections_total() const { return ejections_total_.load(std::memory_order_relaxed); }

 private:
  struct Host {
    uint32_t consecutive_5xx = 0, consecutive_gateway = 0;
    uint32_t multiplier = 0;  // ejections not yet forgiven
    Clock::time_point ejected_until{}, quiet_since{};
  };
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::unordered_map<SocketAddress, Host>> clusters_;
  std::atomic<int64_t> latest_until_{0};
  std::atomic<uint64_t> ejections_total_{0};
};

}  // namespace ambit::waypoint
