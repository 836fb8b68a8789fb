#include "waypoint/request_stats.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iterator>

#include "ztunnel/access_log.h"

namespace ambit::waypoint {
namespace {

std::string millis(std::chrono::nanoseconds d) {
  return fmt::format("{:.3f}", std::chrono::duration<double, std::milli>(d).count());
}

// A Prometheus label value: backslash, quote and newline escaped.
std::string label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string format_request_log(const RequestRecord& r) {
  using ztunnel::append_raw;
  using ztunnel::append_string;
  std::string out = "request complete";
  out.reserve(400);
  append_string(out, "method", r.method);
  append_string(out, "authority", r.authority);
  append_string(out, "path", r.path);
  append_raw(out, "protocol", r.protocol);
  append_raw(out, "status", std::to_string(r.status));
  append_raw(out, "flags", r.flags);
  append_string(out, "route", r.route);
  append_string(out, "service", r.service);
  if (r.upstream) append_raw(out, "upstream", r.upstream->to_string());
  append_string(out, "upstream.workload", r.upstream_workload);
  if (r.attempts > 1) append_raw(out, "attempts", std::to_string(r.attempts));
  if (r.mirrored) append_raw(out, "mirror", r.mirrored->to_string());
  append_raw(out, "src.addr", r.src.to_string());
  if (r.src_identity) append_string(out, "src.identity", r.src_identity->to_string());
  append_string(out, "details", r.details);
  append_raw(out, "bytes_recv", std::to_string(r.bytes_received));
  append_raw(out, "bytes_sent", std::to_string(r.bytes_sent));
  append_raw(out, "duration_ms", millis(r.duration));
  if (r.upstream_time) append_raw(out, "upstream_ms", millis(*r.upstream_time));
  return out;
}

RequestStats::RequestStats(unsigned shards) {
  for (unsigned i = 0; i < std::max(1u, shards); ++i) shards_.push_back(std::make_unique<Shard>());
}

void RequestStats::record(unsigned shard, const RequestRecord& r) {
  Shard& s = *shards_[shard % shards_.size()];
  double ms = std::chrono::duration<double, std::milli>(r.duration).count();
  {
    std::lock_guard lock(s.mutex);
    ++s.requests[Key{r.route, r.service, r.status, r.flags}];
    Histogram& h = s.latency[r.route];
    for (size_t i = 0; i < kBucketsMs.size(); ++i) {
      if (ms <= kBucketsMs[i]) {
        ++h.buckets[i];
        break;
      }
    }
    ++h.count;
    h.sum_ms += ms;
  }
  if (spdlog::should_log(spdlog::level::info)) spdlog::info("{}", format_request_log(r));
}

void RequestStats::parse_error(unsigned shard, const std::string& reason) {
  Shard& s = *shards_[shard % shards_.size()];
  std::lock_guard lock(s.mutex);
  ++s.parse_errors[reason];
}

void RequestStats::count(unsigned shard, Event event, const std::string& label) {
  Shard& s = *shards_[shard % shards_.size()];
  std::lock_guard lock(s.mutex);
  ++s.events[{event, label}];
}

uint64_t RequestStats::requests() const {
  uint64_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mutex);
    for (const auto& [k, v] : s->requests) n += v;
  }
  return n;
}

std::string RequestStats::render_prometheus() const {
  std::map<Key, uint64_t> requests;
  std::map<std::string, Histogram> latency;
  std::map<std::string, uint64_t> errors;
  std::map<std::pair<Event, std::string>, uint64_t> events;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mutex);
    for (const auto& [k, v] : s->events) events[k] += v;
    for (const auto& [k, v] : s->requests) requests[k] += v;
    for (const auto& [route, h] : s->latency) {
      Histogram& sum = latency[route];
      for (size_t i = 0; i < h.buckets.size(); ++i) sum.buckets[i] += h.buckets[i];
      sum.count += h.count;
      sum.sum_ms += h.sum_ms;
    }
    for (const auto& [reason, v] : s->parse_errors) errors[reason] += v;
  }
  std::string out;
  auto emit = [&](std::string_view text) { out += text; };
  emit(
      "# HELP ambit_waypoint_requests_total Requests the waypoint answered, by route and "
      "outcome.\n");
  emit("# TYPE ambit_waypoint_requests_total counter\n");
  for (const auto& [k, v] : requests) {
    fmt::format_to(std::back_inserter(out),
                   "ambit_waypoint_requests_total{{route=\"{}\",destination_service=\"{}\","
                   "response_code=\"{}\",response_flags=\"{}\"}} {}\n",
                   label(k.route), label(k.service), k.status, label(k.flags), v);
  }
  emit(
      "# HELP ambit_waypoint_request_duration_milliseconds Time from a request's first byte to "
      "its response's last, by route.\n");
  emit("# TYPE ambit_waypoint_request_duration_milliseconds histogram\n");
  for (const auto& [route, h] : latency) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < h.buckets.size(); ++i) {
      cumulative += h.buckets[i];
      fmt::format_to(
          std::back_inserter(out),
          "ambit_waypoint_request_duration_milliseconds_bucket{{route=\"{}\",le=\"{}\"}} "
          "{}\n",
          label(route), kBucketsMs[i], cumulative);
    }
    fmt::format_to(
        std::back_inserter(out),
        "ambit_waypoint_request_duration_milliseconds_bucket{{route=\"{}\",le=\"+Inf\"}} "
        "{}\n"
        "ambit_waypoint_request_duration_milliseconds_sum{{route=\"{}\"}} {}\n"
        "ambit_waypoint_request_duration_milliseconds_count{{route=\"{}\"}} {}\n",
        label(route), h.count, label(route), h.sum_ms, label(route), h.count);
  }
  emit(
      "# HELP ambit_waypoint_bad_requests_total Requests refused before routing because they "
      "could not be parsed safely, by reason.\n");
  emit("# TYPE ambit_waypoint_bad_requests_total counter\n");
  for (const auto& [reason, v] : errors) {
    fmt::format_to(std::back_inserter(out),
                   "ambit_waypoint_bad_requests_total{{reason=\"{}\"}} {}\n", label(reason), v);
  }
  struct Family {
    Event event;
    const char *name, *label, *help;
  };
  for (const Family& f : {
           Family{Event::kRetry, "ambit_waypoint_retries_total", "route",
                  "Retries sent, by route."},
           Family{Event::kRetryBudgetExhausted, "ambit_waypoint_retry_budget_exhausted_total",
                  "route", "Retries the retry budget refused, by route."},
           Family{Event::kEjection, "ambit_waypoint_outlier_ejections_total", "cluster",
                  "Endpoints ejected by outlier detection, by cluster."},
           Family{Event::kOverflow, "ambit_waypoint_upstream_overflow_total", "cluster",
                  "Requests answered 503 UO: the cluster's http2MaxRequests were in flight, "
                  "or its tcp.maxConnections open and http1MaxPendingRequests waiting."},
           Family{Event::kRetryOverflow, "ambit_waypoint_retry_overflow_total", "cluster",
                  "Retries not made: the cluster's maxRetries were in flight."},
           Family{Event::kRateLimited, "ambit_waypoint_rate_limited_total", "policy",
                  "Requests over a local rate limit (answered 429 RL unless the limit is not "
                  "enforced for them), by LocalRateLimit."},
       }) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} counter\n", f.name, f.help,
                   f.name);
    for (const auto& [k, v] : events) {
      if (k.first != f.event) continue;
      fmt::format_to(std::back_inserter(out), "{}{{{}=\"{}\"}} {}\n", f.name, f.label,
                     label(k.second), v);
    }
  }
  return out;
}

}  // namespace ambit::waypoint
