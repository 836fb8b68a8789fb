// One request's tries at its endpoints, between a front (the client's exchange) and the
// upstreams: the route's timeout and retries (retry_policy.h) as Envoy's router applies them.
//   - The request body is kept as it goes up, up to kReplayLimit, so a failed try can be sent
//     again whole; past the limit, no more retries (Envoy's retry buffer limit).
//   - A response head that the policy retries is not shown to the client: the try is
//     cancelled, and after a jittered exponential back-off (25 ms base, at most 250 ms, as
//     Envoy) the next try goes to another endpoint of the cluster when there is one.
//   - A try that fails without a response (UF, UC) is retried when the policy says so; once a
//     response head went to the client, nothing is retried.
//   - The route timeout runs from the end of the request (Envoy's); when it fires before a
//     response head, the client hears UT (504 "upstream request timeout"), after one, the
//     response is cut. perTryTimeout bounds each try the same way, and is retried by 5xx,
//     gateway-error and reset. A gRPC call's grpc-timeout is its timeout, bounded by the route's.
// The cluster's circuit breakers (DestinationRule connectionPool) are taken while the request is
// on: over http2MaxRequests it is answered 503 UO at once; over maxRetries it is not retried;
// when the cluster's tcp.maxConnections are all open, a try waits for one as one of its
// http1MaxPendingRequests (polling every 5 ms, bounded by the route timeout), or past those is
// answered 503 UO at once. Overflow is never retried, as Envoy's. A try whose connection's
// CONNECT is not answered within tcp.connectTimeout (10 s) fails as UF, retried as
// connect-failure.
// Every try's outcome goes to the view's outlier detection (outlier_detector.h) when the
// cluster has a policy, and retries pick among the endpoints it has not ejected.
// An injected delay (fault.delay) holds the first try the way a back-off holds a retry.
// The load balancer's in-flight count follows the try: the endpoint left is told its request
// finished, the new one that one started.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/timer_queue.h"
#include "waypoint/dispatch.h"
#include "waypoint/upstream_pool.h"

namespace ambit::waypoint {

class Attempts final : public UpstreamRequest, public ResponseSink {
 public:
  static constexpr size_t kReplayLimit = 64 * 1024;

  struct Context {
    ztunnel::Worker& worker;
    UpstreamPool& pool;
    LoadBalancer& lb;
    const ztunnel::EngineConfig& config;
    const Downstream& downstream;
    bool client_http2;
    unsigned shard;  // the worker's, for the stats
  };
  // `request`, `record` and `endpoint` belong to the exchange, which outlives this; `endpoint`
  // is kept pointing at the try's endpoint (the one the load balancer counts).
  Attempts(Context context, ResponseSink& client, const Dispatch& dispatch,
           const HttpRequest& request, RequestRecord& record,
           const RouteTable::Endpoint*& endpoint);
  ~Attempts();

  // The first try. False when it could not start and will not be retried (the record's flags
  // say why, UF or UO: the front answers with failure_answer(flags)).
  bool start(const Framing& framing, bool end_stream);

  // UpstreamRequest, as the front drives it (send_head: start(), for the interface's sake).
  void send_head(const HttpRequest&, const Framing& framing, bool end_stream,
                 std::string_view) override {
    start(framing, end_stream);
  }
  void send_body(std::string_view data) override;
  void send_end(const std::vector<Header>& trailers) override;
  size_t backlog() const override;
  void resume_response() override;
  void release(bool complete) override;

  // ResponseSink, as the try's upstream tells it.
  void response_head(ResponseHead& head) override;
  void response_body(std::span<const uint8_t> data) override;
  void response_end(const std::vector<Header>& trailers) override;
  void response_failed(std::string_view flags, const std::string& why) override;
  bool response_room() const override { return client_.response_room(); }
  void request_writable() override { client_.request_writable(); }

 private:
  enum class Begun { kStarted, kWaiting, kFailed, kOverflow };
  // kWaiting: for a connection, as one of the cluster's pending requests; kFailed: UF;
  // kOverflow: UO (record_ says so, counted).
  Begun begin_try();
  void overflow();
  void leave_pending();
  // Another try is allowed: under the limit, the body replayable, and the budget has one
  // (taken from it). Last in any condition, so a retry it allows is a retry made.
  bool may_retry();
  // Takes one of the cluster's http2MaxRequests; false when none is left.
  bool admit();
  // Gives back what admit() and a retry took of the cluster's limits.
  void let_go();
  void retry_later();
  void next_try();
  void try_after_wait();  // a retry's back-off or the injected delay is over
  std::string flagged(std::string_view flags) const;  // DI first when a delay was injected
  // Tells outlier detection how the try at endpoint_ went: its status, 0 for no answer.
  void outcome(int status);
  void request_complete();
  void cancel_try();
  void give_up(std::string_view flags, const std::string& why);
  void on_timeout();
  void on_try_timeout();
  void on_connect_timeout();

  Context ctx_;
  ResponseSink& client_;
  const RetryPolicy& policy_;
  std::chrono::milliseconds timeout_;
  const RouteTable::ClusterInfo* cluster_info_;  // the route's cluster, in the exchange's view
  RetryBudget& budget_;                          // of the destination service
  const HttpRequest& request_;
  RequestRecord& record_;
  const RouteTable::Endpoint*& endpoint_;
  std::chrono::milliseconds delay_;  // injected before the first try (fault delay)
  Framing framing_;
  std::string body_;  // what went up so far, for another try
  std::vector<Header> trailers_;
  UpstreamRequest* current_ = nullptr;
  HboneUpstream* connecting_ = nullptr;  // the try's connection, its CONNECT not answered yet
  // backoff_timer_: a retry's back-off, the injected delay, or a pending try's next look.
  TimerQueue::Timer timeout_timer_, try_timer_, backoff_timer_, connect_timer_;
  uint32_t retries_ = 0;
  bool request_done_ = false;
  bool body_too_long_ = false;
  bool response_started_ = false;
  bool holding_request_ = false;  // counted in the cluster's requests in flight
  bool holding_retry_ = false;    // counted in its retries in flight (maxRetries)
  bool holding_pending_ = false;  // counted in its pending requests (http1MaxPendingRequests)
};

}  // namespace ambit::waypoint
