// A route's timeout and retries, as Istio writes them (VirtualService http[].timeout and
// .retries) and Envoy applies them:
//   - timeout: the whole request, every try included; when it fires before a response, 504
//     with flag UT. Unset or 0: none (Istio's default).
//   - retries.attempts: how many times a failed try is tried again (Envoy's num_retries);
//     0: never. retries.perTryTimeout bounds each try (its expiry is a failure that 5xx,
//     gateway-error and reset retry).
//   - retries.retryOn: Envoy's conditions, comma-separated; a number is a retriable status
//     code; the gRPC names match the response's grpc-status.
//   - a route without `retries` gets Istio's default: 2 retries on connect-failure,
//     refused-stream, unavailable, cancelled, retriable-status-codes (503).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "ambit/v1/mesh.pb.h"
#include "core/result.h"
#include "waypoint/http_request.h"
#include "waypoint/retry_budget.h"

namespace ambit::waypoint {

struct RetryPolicy {
  uint32_t retries = 0;
  std::chrono::milliseconds per_try_timeout{0};  // 0: none
  bool on_5xx = false;
  bool on_gateway_error = false;  // 502, 503, 504
  bool on_reset = false;          // the endpoint answered nothing: reset, disconnect, timeout
  bool on_connect_failure = false;
  bool on_refused_stream = false;
  bool on_retriable_4xx = false;  // 409
  bool on_ratelimited = false;    // a response with x-envoy-ratelimited
  std::vector<int> status_codes;  // retriable-status-codes
  // Linkerd's retryBudget when the route came from a ServiceProfile; else the waypoint's default.
  std::optional<RetryBudgetPolicy> budget;
  std::vector<int> grpc_statuses;  // cancelled 1, deadline-exceeded 4, resource-exhausted 8,
                                   // internal 13, unavailable 14

  static const RetryPolicy& istio_default();
  // `where` names the route ("VirtualService ns/name: http[2]") in the error.
  static Result<RetryPolicy> parse(const ambit::v1::HTTPRetry& retry, std::string_view where);

  // A response worth another try: by status, or by the grpc-status of a trailers-only answer.
  bool retry_response(int status, const std::vector<Header>& headers) const;
  // A try that got no response: `flags` UF (never connected) or UC (reset or disconnect;
  // `refused`: the HTTP/2 endpoint refused the stream, REFUSED_STREAM).
  bool retry_failure(std::string_view flags, bool refused) const;
  bool retry_timeout() const { return on_5xx || on_gateway_error || on_reset; }
};

// Istio's fault injection of a route (Envoy's fault filter, before the router): an abort is
// the waypoint's own answer (flag FI), a delay holds the request before its first try (DI);
// neither is retried away.
struct Fault {
  std::chrono::milliseconds delay{0};
  double delay_percent = 0;
  int abort_status = 0;  // HTTP status; 0: none (or a gRPC abort)
  int abort_grpc = -1;   // gRPC status; -1: none
  double abort_percent = 0;
  bool any() const { return delay.count() > 0 || abort_status != 0 || abort_grpc >= 0; }
  static Result<Fault> parse(const ambit::v1::HTTPFaultInjection& fault, std::string_view where);
};

struct Resilience {
  std::chrono::milliseconds timeout{0};  // 0: none
  RetryPolicy retry = RetryPolicy::istio_default();
  Fault fault;
  // Whose retry budget the route's retries draw on (its VirtualService); null: the
  // destination Service's.
  const void* budget_owner = nullptr;
  static const Resilience& istio_default();
};

// "1.5s", "250ms", "2m", "1h", "100us": Istio's duration text (the controller writes "<s>.<frac>s").
Result<std::chrono::nanoseconds> parse_duration(std::string_view text);

// A gRPC call's grpc-timeout header ("200m", "5S": 1 to 8 digits and a unit of H M S m u n),
// rounded up to whole milliseconds; nullopt when it is not one.
std::optional<std::chrono::milliseconds> parse_grpc_timeout(std::string_view text);

// The timeout of a request: the route's, or for a gRPC call with a grpc-timeout, that deadline
// bounded by the route's (Istio sets Envoy's max_grpc_timeout to the route timeout, 0 =
// unbounded). 0: none.
std::chrono::milliseconds request_timeout(std::chrono::milliseconds route_timeout,
                                          const HttpRequest& request);

}  // namespace ambit::waypoint
