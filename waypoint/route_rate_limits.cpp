// The view's local rate limits (ambit.v1.LocalRateLimit, from an EnvoyFilter's local_ratelimit or
// ambit's LocalRateLimit kind), compiled into buckets and rules, and their check per request.
#include <fmt/format.h>

#include <algorithm>

#include "core/http_text.h"
#include "waypoint/chance.h"
#include "waypoint/route_table.h"

namespace ambit::waypoint {

namespace pb = ambit::v1;

namespace {

Result<TokenBucketSpec> bucket_spec(const pb::TokenBucket& b, const std::string& where) {
  TokenBucketSpec spec;
  if (b.max_tokens() == 0) return Error::format("{}.max_tokens: must be at least 1", where);
  spec.max_tokens = b.max_tokens();
  spec.tokens_per_fill = b.tokens_per_fill() == 0 ? 1 : b.tokens_per_fill();
  auto interval = parse_duration(b.fill_interval());
  if (!interval) return Error::format("{}.fill_interval: {}", where, interval.error().message);
  spec.fill_interval = std::chrono::duration_cast<std::chrono::milliseconds>(*interval);
  if (spec.fill_interval.count() < 1) {
    return Error::format("{}.fill_interval: {} is shorter than 1ms", where, b.fill_interval());
  }
  return spec;
}

Result<double> percent(double value, const std::string& where) {
  if (value < 0 || value > 100) return Error::format("{}: {} is not within 0 to 100", where, value);
  return value;
}

}  // namespace

Status RouteTable::build_rate_limits(const std::vector<pb::LocalRateLimit>& rate_limits,
                                     TokenBuckets& buckets) {
  std::vector<const pb::LocalRateLimit*> sorted;
  for (const auto& rl : rate_limits) sorted.push_back(&rl);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->uid() < b->uid(); });
  auto compile_settings = [&](const pb::RateLimitSettings& in, const std::string& where,
                              const std::string& key) -> Result<RateLimit> {
    RateLimit out;
    if (in.has_bucket()) {
      auto spec = bucket_spec(in.bucket(), where + ".token_bucket");
      if (!spec) return spec.error();
      out.bucket = buckets.get(key, *spec);
    }
    auto enabled = percent(in.enabled_percent(), where + ".filter_enabled");
    if (!enabled) return enabled.error();
    auto enforced = percent(in.enforced_percent(), where + ".filter_enforced");
    if (!enforced) return enforced.error();
    out.enabled_percent = *enabled;
    out.enforced_percent = *enforced;
    out.status = in.status() == 0 ? 429 : static_cast<int>(in.status());
    if (out.status < 200 || out.status > 599) {
      return Error::format("{}.status: {} is not an HTTP status", where, in.status());
    }
    for (const auto& [name, value] : in.response_headers_to_add()) {
      out.headers.push_back({ascii_lower(name), value});
    }
    std::sort(out.headers.begin(), out.headers.end(),
              [](const Header& a, const Header& b) { return a.name < b.name; });
    for (int i = 0; i < in.rules_size(); ++i) {
      std::string at = fmt::format("{}.descriptors[{}]", where, i);
      auto m = compile(in.rules(i).match(), at);
      if (!m) return m.error();
      auto spec = bucket_spec(in.rules(i).bucket(), at + ".token_bucket");
      if (!spec) return spec.error();
      out.rules.push_back({std::move(*m), buckets.get(fmt::format("{}#{}", key, i), *spec)});
    }
    out.always_consume_default = in.always_consume_default();
    return out;
  };
  for (const auto* in : sorted) {
    RateLimitPolicy policy;
    policy.uid = in->uid();
    std::string where = fmt::format("LocalRateLimit {}", in->uid());
    if (in->has_settings()) {
      auto s = compile_settings(in->settings(), where, in->uid());
      if (!s) return s.error();
      policy.settings = std::move(*s);
    }
    for (int i = 0; i < in->routes_size(); ++i) {
      const auto& r = in->routes(i);
      auto s = compile_settings(r.settings(), fmt::format("{}: routes[{}]", where, i),
                                fmt::format("{}|{}", in->uid(), r.route()));
      if (!s) return s.error();
      policy.routes.emplace_back(r.route(), std::move(*s));
    }
    rate_limits_.push_back(std::move(policy));
  }
  for (size_t i = 0; i < sorted.size(); ++i) {
    for (const auto& host : sorted[i]->hosts()) {
      rate_limits_by_host_[ascii_lower(host)].push_back(&rate_limits_[i]);
    }
  }
  return {};
}

const RouteTable::RateLimit* RouteTable::RateLimitPolicy::for_route(std::string_view route) const {
  if (!route.empty()) {
    for (const auto& [name, limit] : routes) {
      if (name == route) return &limit;
    }
  }
  return settings ? &*settings : nullptr;
}

bool RouteTable::take_tokens(const RateLimit& limit, const HttpRequest& request,
                             const Downstream& downstream) const {
  for (const auto& rule : limit.rules) {
    if (!matches(rule.match, request, downstream, nullptr)) continue;
    if (!rule.bucket->try_take()) return false;
    return !limit.always_consume_default || limit.bucket == nullptr || limit.bucket->try_take();
  }
  return limit.bucket == nullptr || limit.bucket->try_take();
}

bool RouteTable::admit(const HttpRequest& request, const Downstream& downstream, const Route* route,
                       uint64_t entropy, RouteResult& out) const {
  if (rate_limits_by_host_.empty() || downstream.service == nullptr) return true;
  auto it = rate_limits_by_host_.find(downstream.service->hostname());  // FQDNs are lowercase
  if (it == rate_limits_by_host_.end()) return true;
  for (const RateLimitPolicy* policy : it->second) {
    const RateLimit* limit = policy->for_route(route != nullptr ? route->written_name : "");
    if (limit == nullptr ||
        !happens(draw(entropy, kSaltRateLimitEnabled), limit->enabled_percent)) {
      continue;
    }
    if (take_tokens(*limit, request, downstream)) continue;
    out.rate_limited_by = &policy->uid;
    if (!happens(draw(entropy, kSaltRateLimitEnforced), limit->enforced_percent)) continue;
    out.kind = RouteResult::Kind::kRateLimited;
    out.status = limit->status;
    out.rate_limit_headers = limit->headers;
    return false;
  }
  return true;
}

}  // namespace ambit::waypoint
