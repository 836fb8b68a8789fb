#include "waypoint/attempts.h"

#include <algorithm>

namespace ambit::waypoint {
namespace {

constexpr std::chrono::milliseconds kBackoffBase{25};
constexpr std::chrono::milliseconds kBackoffMax{250};
constexpr std::chrono::milliseconds kPendingPoll{5};

}  // namespace

Attempts::Attempts(Context context, ResponseSink& client, const Dispatch& dispatch,
                   const HttpRequest& request, RequestRecord& record,
                   const RouteTable::Endpoint*& endpoint)
    : ctx_(context),
      client_(client),
      policy_(dispatch.resilience->retry),
      timeout_(request_timeout(dispatch.resilience->timeout, request)),
      cluster_info_(dispatch.cluster_info),
      budget_(waypoint_state(context.config)
                  .routes->budgets()
                  .get(dispatch.resilience->budget_owner != nullptr
                           ? dispatch.resilience->budget_owner
                           : dispatch.cluster.service,
                       policy_.budget.value_or(
                           waypoint_state(context.config).routes->default_budget()))),
      request_(request),
      record_(record),
      endpoint_(endpoint),
      delay_(dispatch.delay),
      timeout_timer_(context.worker.timers()),
      try_timer_(context.worker.timers()),
      backoff_timer_(context.worker.timers()),
      connect_timer_(context.worker.timers()) {
  endpoint_ = dispatch.endpoint;
  budget_.deposit();
}

Attempts::~Attempts() {
  cancel_try();
  let_go();
}

void Attempts::let_go() {
  if (cluster_info_ == nullptr) return;
  leave_pending();
  if (std::exchange(holding_request_, false)) cluster_info_->load->requests.fetch_sub(1);
  if (std::exchange(holding_retry_, false)) cluster_info_->load->retries.fetch_sub(1);
}

void Attempts::leave_pending() {
  if (std::exchange(holding_pending_, false)) cluster_info_->load->pending.fetch_sub(1);
}

void Attempts::overflow() {
  record_.flags = flagged("UO");
  record_.details = "upstream_overflow";
  waypoint_state(ctx_.config)
      .stats->count(ctx_.shard, RequestStats::Event::kOverflow, cluster_info_->key);
}

bool Attempts::admit() {
  if (cluster_info_ == nullptr || cluster_info_->limits.max_requests == 0) return true;
  if (cluster_info_->load->requests.fetch_add(1) >= cluster_info_->limits.max_requests) {
    cluster_info_->load->requests.fetch_sub(1);
    return false;
  }
  holding_request_ = true;
  return true;
}

void Attempts::outcome(int status) {
  if (cluster_info_ == nullptr || !cluster_info_->outlier.enabled) return;
  const auto& state = waypoint_state(ctx_.config);
  if (state.routes->outliers().report(cluster_info_->key, cluster_info_->outlier,
                                      cluster_info_->endpoints.size(), endpoint_->address,
                                      status)) {
    state.stats->count(ctx_.shard, RequestStats::Event::kEjection, cluster_info_->key);
  }
}

std::string Attempts::flagged(std::string_view flags) const {
  if (delay_.count() == 0) return std::string(flags);
  return flags == "-" ? "DI" : "DI," + std::string(flags);
}

bool Attempts::start(const Framing& framing, bool end_stream) {
  framing_ = framing;
  if (!admit()) {
    // The cluster's http2MaxRequests are all in flight: Envoy's overflow, answered at once.
    overflow();
    return false;
  }
  if (end_stream) request_complete();
  if (delay_.count() > 0) {
    // The injected delay: the first try waits, as every retry waits for its back-off.
    backoff_timer_.arm(delay_, [this] { try_after_wait(); });
    return true;
  }
  switch (begin_try()) {
    case Begun::kStarted:
    case Begun::kWaiting:
      return true;
    case Begun::kFailed:
      if (policy_.retry_failure("UF", false) && may_retry()) {
        retry_later();
        return true;
      }
      break;
    case Begun::kOverflow:
      break;
  }
  timeout_timer_.cancel();
  return false;
}

Attempts::Begun Attempts::begin_try() {
  bool http2 = upstream_http2(*endpoint_, ctx_.client_http2, false);
  auto got = ctx_.pool.acquire(ctx_.config, *endpoint_, http2, this);
  if (got.full) {
    // Every connection the cluster may have is open: wait for one, as one of its pending
    // requests, when http1MaxPendingRequests leaves room.
    if (!holding_pending_) {
      auto& pending = cluster_info_->load->pending;
      uint32_t max = cluster_info_->limits.max_pending;
      if (pending.fetch_add(1) >= max && max != 0) {
        pending.fetch_sub(1);
        overflow();
        return Begun::kOverflow;
      }
      holding_pending_ = true;
    }
    backoff_timer_.arm(kPendingPoll, [this] { try_after_wait(); });
    return Begun::kWaiting;
  }
  leave_pending();
  ++record_.attempts;
  if (got.request == nullptr) {
    outcome(0);
    record_.flags = flagged("UF");
    record_.details = "upstream_connect_failed";
    return Begun::kFailed;
  }
  current_ = got.request;
  record_.flags = flagged("-");
  record_.details.clear();
  if (policy_.per_try_timeout.count() > 0) {
    try_timer_.arm(policy_.per_try_timeout, [this] { on_try_timeout(); });
  }
  if (got.connection != nullptr && !got.connection->answered()) {
    connecting_ = got.connection;
    connect_timer_.arm(connecting_->policy().connect_timeout, [this] { on_connect_timeout(); });
  }
  // What the client sent before this try began (a retry's, or a delayed first try's) goes up
  // now; the rest follows as it comes.
  bool head_ends = request_done_ && body_.empty() && trailers_.empty();
  current_->send_head(request_, framing_, head_ends, "");
  if (!head_ends) {
    if (!body_.empty()) current_->send_body(body_);
    if (request_done_) current_->send_end(trailers_);
  }
  return Begun::kStarted;
}

void Attempts::send_body(std::string_view data) {
  if (!body_too_long_) {
    if (current_ != nullptr && body_.size() + data.size() > kReplayLimit) {
      body_too_long_ = true;  // this try is the last
      body_.clear();
      body_.shrink_to_fit();
    } else {
      // Between tries the front stops at backlog(), so what comes meanwhile stays bounded.
      body_.append(data);
    }
  }
  if (current_ != nullptr) current_->send_body(data);
}

void Attempts::send_end(const std::vector<Header>& trailers) {
  trailers_ = trailers;
  request_complete();
  if (current_ != nullptr) current_->send_end(trailers);
}

void Attempts::request_complete() {
  request_done_ = true;
  if (timeout_.count() > 0 && !timeout_timer_.armed()) {
    timeout_timer_.arm(timeout_, [this] { on_timeout(); });
  }
}

size_t Attempts::backlog() const {
  return current_ != nullptr ? current_->backlog() : body_.size();
}

void Attempts::resume_response() {
  if (current_ != nullptr) current_->resume_response();
}

void Attempts::release(bool complete) {
  timeout_timer_.cancel();
  backoff_timer_.cancel();
  try_timer_.cancel();
  connect_timer_.cancel();
  if (current_ != nullptr) std::exchange(current_, nullptr)->release(complete);
  let_go();
}

void Attempts::cancel_try() {
  try_timer_.cancel();
  connect_timer_.cancel();
  connecting_ = nullptr;
  if (current_ != nullptr) std::exchange(current_, nullptr)->release(false);
}

bool Attempts::may_retry() {
  if (retries_ >= policy_.retries || body_too_long_) return false;
  const auto& state = waypoint_state(ctx_.config);
  uint32_t max_retries = cluster_info_ != nullptr ? cluster_info_->limits.max_retries : 0;
  if (max_retries > 0 && !holding_retry_ && cluster_info_->load->retries.load() >= max_retries) {
    // The cluster's maxRetries are all in flight (Envoy's retry overflow).
    state.stats->count(ctx_.shard, RequestStats::Event::kRetryOverflow, cluster_info_->key);
    return false;
  }
  if (!budget_.withdraw()) {
    state.stats->count(ctx_.shard, RequestStats::Event::kRetryBudgetExhausted, record_.route);
    return false;
  }
  if (max_retries > 0 && !holding_retry_) {
    cluster_info_->load->retries.fetch_add(1);
    holding_retry_ = true;
  }
  return true;
}

void Attempts::retry_later() {
  ++retries_;
  waypoint_state(ctx_.config).stats->count(ctx_.shard, RequestStats::Event::kRetry, record_.route);
  // Envoy's back-off: uniformly random up to base * 2^(retry - 1), capped.
  auto ceiling = std::min(kBackoffMax, kBackoffBase * (1u << std::min(retries_ - 1, 4u)));
  auto wait = std::chrono::microseconds(
      ctx_.worker.entropy() %
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(ceiling).count() + 1));
  backoff_timer_.arm(wait, [this] { next_try(); });
}

void Attempts::next_try() {
  // Another endpoint than the last, when the cluster has one (Istio's previous-hosts
  // predicate, with its 5 picks).
  const RouteTable& routes = *waypoint_state(ctx_.config).routes;
  const RouteTable::Endpoint* next = endpoint_;
  for (int i = 0; i < 5; ++i) {
    const RouteTable::Endpoint* ep =
        ctx_.lb.pick(routes, cluster_info_, request_, ctx_.downstream, ctx_.worker.entropy());
    if (ep == nullptr) break;
    next = ep;
    if (ep->address != endpoint_->address) break;
  }
  ctx_.lb.request_finished(*endpoint_);
  endpoint_ = next;
  ctx_.lb.request_started(*endpoint_);
  record_.upstream = endpoint_->address;
  record_.upstream_workload = endpoint_->workload->uid();
  try_after_wait();
}

void Attempts::try_after_wait() {
  switch (begin_try()) {
    case Begun::kStarted:
      // A front that stopped reading the body while no try was on reads on.
      if (!request_done_) client_.request_writable();
      return;
    case Begun::kWaiting:
      return;
    case Begun::kOverflow:
      return give_up("UO", "upstream_overflow");
    case Begun::kFailed:
      break;
  }
  if (policy_.retry_failure("UF", false) && may_retry()) return retry_later();
  give_up(retries_ > 0 ? "UF,URX" : "UF", "upstream_connect_failed");
}

void Attempts::give_up(std::string_view flags, const std::string& why) {
  timeout_timer_.cancel();
  backoff_timer_.cancel();
  cancel_try();
  client_.response_failed(flagged(flags), why);  // may end the exchange, and this with it
}

void Attempts::response_head(ResponseHead& head) {
  connect_timer_.cancel();
  connecting_ = nullptr;
  bool interim = head.status >= 100 && head.status < 200 && head.status != 101;
  if (!interim) outcome(head.status);
  if (!interim && !response_started_ && policy_.retry_response(head.status, head.headers)) {
    if (may_retry()) {
      cancel_try();  // its answer is dropped with its connection
      return retry_later();
    }
    if (retries_ > 0) record_.flags = flagged("URX");
  }
  if (!interim) response_started_ = true;
  client_.response_head(head);
}

void Attempts::response_body(std::span<const uint8_t> data) { client_.response_body(data); }

void Attempts::response_end(const std::vector<Header>& trailers) {
  timeout_timer_.cancel();
  try_timer_.cancel();
  client_.response_end(trailers);
}

void Attempts::response_failed(std::string_view flags, const std::string& why) {
  if (!response_started_) outcome(0);
  cancel_try();  // the upstream heard its last; released here as the front would
  bool refused = why.find("REFUSED_STREAM") != std::string::npos;
  bool retriable = !response_started_ && policy_.retry_failure(flags, refused);
  if (retriable && may_retry()) {
    record_.flags = flagged(flags);
    record_.details = why;
    return retry_later();
  }
  // Retried and still failing: Envoy adds URX to the last try's flag.
  give_up(retriable && retries_ > 0 ? std::string(flags) + ",URX" : std::string(flags), why);
}

void Attempts::on_timeout() {
  if (!response_started_ && current_ != nullptr) outcome(0);
  give_up("UT", "upstream_response_timeout");
}

void Attempts::on_connect_timeout() {
  if (connecting_ == nullptr) return;
  if (std::exchange(connecting_, nullptr)->answered()) return;  // connected meanwhile
  // Envoy's connect timeout: the endpoint was never reached (UF), retried as connect-failure.
  outcome(0);
  cancel_try();
  if (policy_.retry_failure("UF", false) && may_retry()) {
    record_.flags = flagged("UF");
    record_.details = "upstream_connect_timeout";
    return retry_later();
  }
  give_up(retries_ > 0 && policy_.retry_failure("UF", false) ? "UF,URX" : "UF",
          "upstream_connect_timeout");
}

void Attempts::on_try_timeout() {
  if (!response_started_) outcome(0);
  if (!response_started_ && policy_.retry_timeout() && may_retry()) {
    cancel_try();
    record_.flags = flagged("UT");
    record_.details = "upstream_per_try_timeout";
    return retry_later();
  }
  give_up("UT", "upstream_per_try_timeout");
}

}  // namespace ambit::waypoint
