#include "waypoint/outlier_detector.h"

#include <algorithm>

#include "waypoint/retry_policy.h"

namespace ambit::waypoint {

Result<OutlierPolicy> OutlierPolicy::parse(const ambit::v1::OutlierDetection& in,
                                           std::string_view where) {
  OutlierPolicy p;
  p.enabled = true;
  if (in.consecutive_5xx_errors() > 0) p.consecutive_5xx = in.consecutive_5xx_errors();
  p.consecutive_gateway = in.consecutive_gateway_errors();
  for (auto [text, field, out] :
       {std::tuple{&in.interval(), "interval", &p.interval},
        std::tuple{&in.base_ejection_time(), "baseEjectionTime", &p.base_ejection}}) {
    if (text->empty()) continue;
    auto d = parse_duration(*text);
    if (!d) return Error::format("{}.{}: {}", where, field, d.error().message);
    *out = std::chrono::ceil<std::chrono::milliseconds>(*d);
  }
  if (in.max_ejection_percent() < 0 || in.max_ejection_percent() > 100 ||
      in.min_health_percent() < 0 || in.min_health_percent() > 100) {
    return Error::format("{}: maxEjectionPercent and minHealthPercent are percentages (0-100)",
                         where);
  }
  if (in.max_ejection_percent() > 0) p.max_ejection_percent = in.max_ejection_percent();
  p.min_health_percent = static_cast<uint32_t>(in.min_health_percent());
  return p;
}

bool OutlierDetector::report(const std::string& cluster_key, const OutlierPolicy& policy,
                             size_t cluster_size, const SocketAddress& endpoint, int status,
                             Clock::time_point now) {
  bool error_5xx = status == 0 || status >= 500;
  bool gateway = status == 0 || (status >= 502 && status <= 504);
  std::lock_guard lock(mu_);
  auto& hosts = clusters_[cluster_key];
  Host& h = hosts[endpoint];
  if (h.ejected_until > now) return false;  // a try that began before the ejection
  if (h.multiplier > 0 && h.quiet_since != Clock::time_point{} && policy.interval.count() > 0) {
    // Each quiet interval since the last ejection forgives one.
    auto quiet = (now - h.quiet_since) / policy.interval;
    if (quiet > 0) {
      h.multiplier -= std::min<uint32_t>(h.multiplier, static_cast<uint32_t>(quiet));
      h.quiet_since = now;
    }
  }
  h.consecutive_5xx = error_5xx ? h.consecutive_5xx + 1 : 0;
  h.consecutive_gateway = gateway ? h.consecutive_gateway + 1 : 0;
  bool trip =
      (policy.consecutive_5xx > 0 && h.consecutive_5xx >= policy.consecutive_5xx) ||
      (policy.consecutive_gateway > 0 && h.consecutive_gateway >= policy.consecutive_gateway);
  if (!trip) return false;
  size_t out = 0;
  for (const auto& [addr, other] : hosts) out += other.ejected_until > now;
  size_t allowed = std::max<size_t>(1, cluster_size * policy.max_ejection_percent / 100);
  if (out >= allowed) return false;  // the counters stay: it goes when another comes back
  ++h.multiplier;
  auto length = std::min<Clock::duration>(policy.base_ejection * h.multiplier, kMaxEjection);
  h.ejected_until = now + length;
  h.quiet_since = h.ejected_until;
  h.consecutive_5xx = h.consecutive_gateway = 0;
  ejections_total_.fetch_add(1, std::memory_order_relaxed);
  int64_t until = h.ejected_until.time_since_epoch().count();
  int64_t seen = latest_until_.load(std::memory_order_relaxed);
  while (seen < until && !latest_until_.compare_exchange_weak(seen, until)) {
  }
  return true;
}

bool OutlierDetector::ejected(const std::string& cluster_key, const SocketAddress& endpoint,
                              Clock::time_point now) const {
  if (!any_ejected(now)) return false;
  std::lock_guard lock(mu_);
  auto c = clusters_.find(cluster_key);
  if (c == clusters_.end()) return false;
  auto h = c->second.find(endpoint);
  return h != c->second.end() && h->second.ejected_until > now;
}

}  // namespace ambit::waypoint
