// What the waypoint records per request: one access-log line (Envoy's fields and response flags,
// in ztunnel's key=value shape) and per-route counters with a latency histogram, rendered as
// Prometheus text. Each worker writes only its own shard; a scrape reads all of them.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/identity.h"
#include "core/net_address.h"

namespace ambit::waypoint {

struct RequestRecord {
  std::string method, authority, path, protocol = "HTTP/1.1";
  int status = 0;
  // Envoy's response flags: "-" none, NR no route, NC no cluster, UH no healthy upstream, UF
  // upstream connection failure, UC upstream connection termination, UPE upstream protocol
  // error, UT upstream request timeout, URX retries exhausted (the last try's failure stands),
  // DC downstream connection termination; policy denials are told by their status.
  std::string flags = "-";
  std::string route;                            // "<vs uid>#<route>", "default"
  std::string service;                          // destination service uid
  std::optional<SocketAddress> upstream;        // the endpoint (of the last try)
  uint32_t attempts = 0;                        // tries sent upstream (Envoy's attempt count)
  std::string upstream_workload;                // its uid
  std::optional<SocketAddress> mirrored;        // where a shadow copy went, if one did
  std::optional<Identity> src_identity;         // the client (HBONE peer)
  SocketAddress src;                            // the client's address
  std::string details;                          // why a local answer was given ("rbac: ...")
  uint64_t bytes_received = 0, bytes_sent = 0;  // request / response body bytes
  std::chrono::nanoseconds duration{};          // first byte of the request to the last out
  std::optional<std::chrono::nanoseconds> upstream_time;  // request sent to response head
};

std::string format_request_log(const RequestRecord& r);

class RequestStats {
 public:
  // Istio's istio_request_duration_milliseconds buckets.
  static constexpr std::array<double, 19> kBucketsMs = {
      0.5,  1,    5,     10,    25,    50,     100,    250,     500,    1000,
      2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000};

  explicit RequestStats(unsigned shards);
  // From worker `shard`: count the request and log it (at info, when on).
  void record(unsigned shard, const RequestRecord& r);
  // Parse failures before a request existed, by reason.
  void parse_error(unsigned shard, const std::string& reason);
  // Resilience events: a retry sent, a retry the budget refused (by route), an endpoint
  // ejected by outlier detection (by cluster).
  // Overflows (a circuit breaker's limit reached: UO, or a retry not made) by cluster. Requests
  // over a local rate limit, refused or not (shadow mode), by its uid.
  enum class Event {
    kRetry,
    kRetryBudgetExhausted,
    kEjection,
    kOverflow,
    kRetryOverflow,
    kRateLimited
  };
  void count(unsigned shard, Event event, const std::string& label);

  std::string render_prometheus() const;
  uint64_t requests() const;

 private:
  struct Key {
    std::string route, service;
    int status;
    std::string flags;
    auto operator<=>(const Key&) const = default;
  };
  struct Histogram {
    std::array<uint64_t, kBucketsMs.size()> buckets{};
    uint64_t count = 0;
    double sum_ms = 0;
  };
  struct Shard {
    mutable std::mutex mutex;  // taken by its own worker and by a scrape only
    std::map<Key, uint64_t> requests;
    std::map<std::string, Histogram> latency;  // by route
    std::map<std::string, uint64_t> parse_errors;
    std::map<std::pair<Event, std::string>, uint64_t> events;
  };
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace ambit::waypoint
