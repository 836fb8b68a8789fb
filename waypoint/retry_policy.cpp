#include "waypoint/retry_policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "core/grpc_status.h"
#include "core/http_text.h"

namespace ambit::waypoint {
namespace {

constexpr std::pair<std::string_view, int> kGrpcConditions[] = {
    {"cancelled", 1},
    {"deadline-exceeded", 4},
    {"resource-exhausted", 8},
    {"internal", 13},
    {"unavailable", 14},
};

// Sets the condition `name`; false when Envoy has no such condition.
bool set_condition(RetryPolicy& p, std::string_view name) {
  if (name == "5xx") return p.on_5xx = true;
  if (name == "gateway-error") return p.on_gateway_error = true;
  if (name == "reset") return p.on_reset = true;
  if (name == "connect-failure") return p.on_connect_failure = true;
  if (name == "refused-stream") return p.on_refused_stream = true;
  if (name == "retriable-4xx") return p.on_retriable_4xx = true;
  if (name == "envoy-ratelimited") return p.on_ratelimited = true;
  if (name == "reset-before-request") return p.on_connect_failure = true;  // nothing was sent
  // Accepted as Envoy does, and never true here: Istio configures no retriable headers, and
  // the waypoint speaks no HTTP/3.
  if (name == "retriable-headers" || name == "http3-post-connect-failure") return true;
  // The codes come as numbers in the same list (Istio's form).
  if (name == "retriable-status-codes") return true;
  for (auto [grpc, code] : kGrpcConditions) {
    if (name == grpc) {
      p.grpc_statuses.push_back(code);
      return true;
    }
  }
  return false;
}

RetryPolicy make_istio_default() {
  RetryPolicy p;
  p.retries = 2;
  for (auto c : {"connect-failure", "refused-stream", "unavailable", "cancelled"})
    set_condition(p, c);
  p.status_codes = {503};
  return p;
}

}  // namespace

const RetryPolicy& RetryPolicy::istio_default() {
  static const RetryPolicy p = make_istio_default();
  return p;
}

const Resilience& Resilience::istio_default() {
  static const Resilience r;
  return r;
}

Result<RetryPolicy> RetryPolicy::parse(const ambit::v1::HTTPRetry& in, std::string_view where) {
  RetryPolicy p;
  if (in.attempts() < 0) {
    return Error::format("{}.retries.attempts: {} is negative", where, in.attempts());
  }
  p.retries = static_cast<uint32_t>(in.attempts());
  if (!in.per_try_timeout().empty()) {
    auto d = parse_duration(in.per_try_timeout());
    if (!d) return Error::format("{}.retries.perTryTimeout: {}", where, d.error().message);
    p.per_try_timeout = std::chrono::ceil<std::chrono::milliseconds>(*d);
  }
  if (in.has_budget()) {
    RetryBudgetPolicy b;
    b.ratio = in.budget().retry_ratio();
    b.min_per_second = in.budget().min_retries_per_second();
    if (!in.budget().ttl().empty()) {
      auto ttl = parse_duration(in.budget().ttl());
      if (!ttl) return Error::format("{}.retries.budget.ttl: {}", where, ttl.error().message);
      b.ttl = std::max(std::chrono::seconds(1), std::chrono::ceil<std::chrono::seconds>(*ttl));
    }
    if (b.ratio < 0) return Error::format("{}.retries.budget.retryRatio: negative", where);
    p.budget = b;
  }
  std::string_view list = in.retry_on();
  if (trim_ows(list).empty()) {
    // Attempts without conditions: Istio fills in its default conditions.
    RetryPolicy d = istio_default();
    d.retries = p.retries;
    d.per_try_timeout = p.per_try_timeout;
    d.budget = p.budget;
    return d;
  }
  while (!list.empty()) {
    auto comma = list.find(',');
    std::string_view item = trim_ows(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (item.empty()) continue;
    int code = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), code);
    if (ec == std::errc() && end == item.data() + item.size()) {
      if (code < 100 || code > 599) {
        return Error::format("{}.retries.retryOn: {} is not an HTTP status", where, code);
      }
      p.status_codes.push_back(code);
      continue;
    }
    if (!set_condition(p, item)) {
      return Error::format("{}.retries.retryOn: unknown condition \"{}\"", where, item);
    }
  }
  return p;
}

bool RetryPolicy::retry_response(int status, const std::vector<Header>& headers) const {
  if (on_5xx && status >= 500) return true;
  if (on_gateway_error && status >= 502 && status <= 504) return true;
  if (on_retriable_4xx && status == 409) return true;
  if (on_ratelimited) {
    for (const auto& h : headers) {
      if (h.name == "x-envoy-ratelimited") return true;
    }
  }
  if (std::find(status_codes.begin(), status_codes.end(), status) != status_codes.end())
    return true;
  if (!grpc_statuses.empty()) {
    for (const auto& h : headers) {
      if (h.name != "grpc-status") continue;
      auto code = decimal_value(h.value);
      return code && std::find(grpc_statuses.begin(), grpc_statuses.end(),
                               static_cast<int>(*code)) != grpc_statuses.end();
    }
  }
  return false;
}

bool RetryPolicy::retry_failure(std::string_view flags, bool refused) const {
  if (flags != "UF" && flags != "UC") return false;  // UPE: the endpoint answered, badly
  if (on_5xx || on_gateway_error || on_reset) return true;
  if (flags == "UF") return on_connect_failure;
  return refused && on_refused_stream;
}

Result<Fault> Fault::parse(const ambit::v1::HTTPFaultInjection& in, std::string_view where) {
  Fault f;
  auto percent = [](const ambit::v1::Percent& p, bool set) { return set ? p.value() : 100.0; };
  if (in.has_delay()) {
    auto d = parse_duration(in.delay().fixed_delay());
    if (!d) return Error::format("{}.fault.delay.fixedDelay: {}", where, d.error().message);
    f.delay = std::chrono::ceil<std::chrono::milliseconds>(*d);
    f.delay_percent = percent(in.delay().percentage(), in.delay().has_percentage());
  }
  if (in.has_abort()) {
    const auto& a = in.abort();
    if (!a.grpc_status().empty()) {
      auto code = grpc_status_code(a.grpc_status());
      if (!code) {
        return Error::format("{}.fault.abort.grpcStatus: \"{}\" is not a gRPC status", where,
                             a.grpc_status());
      }
      f.abort_grpc = *code;
    } else if (a.http_status() < 200 || a.http_status() > 599) {
      return Error::format("{}.fault.abort.httpStatus: {} is not an HTTP status", where,
                           a.http_status());
    } else {
      f.abort_status = a.http_status();
    }
    f.abort_percent = percent(a.percentage(), a.has_percentage());
  }
  return f;
}

Result<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  std::string_view s = trim_ows(text);
  size_t unit = s.find_first_not_of("0123456789.");
  if (unit == 0 || unit == std::string_view::npos) {
    return Error::format("\"{}\" is not a duration (a number and a unit: 1.5s, 250ms)", text);
  }
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + unit, value);
  if (ec != std::errc() || end != s.data() + unit || value < 0) {
    return Error::format("\"{}\" is not a duration", text);
  }
  std::string_view u = s.substr(unit);
  double ns_per = 0;
  if (u == "h") ns_per = 3600e9;
  else if (u == "m") ns_per = 60e9;
  else if (u == "s") ns_per = 1e9;
  else if (u == "ms") ns_per = 1e6;
  else if (u == "us" || u == "µs") ns_per = 1e3;
  else if (u == "ns") ns_per = 1;
  else return Error::format("\"{}\": unknown unit \"{}\"", text, u);
  return std::chrono::nanoseconds(static_cast<int64_t>(value * ns_per));
}

std::optional<std::chrono::milliseconds> parse_grpc_timeout(std::string_view text) {
  if (text.size() < 2 || text.size() > 9) return std::nullopt;
  uint64_t value = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  using namespace std::chrono;
  nanoseconds d;
  switch (text.back()) {
    case 'H':
      d = hours(value);
      break;
    case 'M':
      d = minutes(value);
      break;
    case 'S':
      d = seconds(value);
      break;
    case 'm':
      d = milliseconds(value);
      break;
    case 'u':
      d = microseconds(value);
      break;
    case 'n':
      d = nanoseconds(value);
      break;
    default:
      return std::nullopt;
  }
  return std::max(ceil<milliseconds>(d), milliseconds(1));
}

std::chrono::milliseconds request_timeout(std::chrono::milliseconds route_timeout,
                                          const HttpRequest& request) {
  const std::string* type = request.header("content-type");
  if (type == nullptr || !type->starts_with("application/grpc")) return route_timeout;
  const std::string* header = request.header("grpc-timeout");
  if (header == nullptr) return route_timeout;
  auto deadline = parse_grpc_timeout(*header);
  if (!deadline) return route_timeout;
  return route_timeout.count() > 0 ? std::min(route_timeout, *deadline) : *deadline;
}

}  // namespace ambit::waypoint
