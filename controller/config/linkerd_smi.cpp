// Linkerd ServiceProfile (per-route timeouts and retryability) and SMI TrafficSplit (weighted
// backends of an apex service).
#include <fmt/format.h>

#include <charconv>

#include "controller/config/parse_context.h"

namespace ambit::controller::config {

void read_service_profile(const YamlObject& root, ObjectMeta meta, ParseContext& ctx,
                          ConfigModel& m) {
  ServiceProfile sp;
  sp.meta = std::move(meta);
  auto spec =
      root.required("spec").object({"routes", "retryBudget", "dstOverrides", "opaquePorts"});
  if (auto routes = spec.optional("routes")) {
    for (const auto& item : routes->items()) {
      auto o = item.object(
          {"name", "condition", "responseClasses", "isRetryable", "timeout", "retries"});
      ServiceProfile::Route route;
      route.at = origin_of(item);
      route.name = o.required("name").string();
      auto condition = o.required("condition").object({"method", "pathRegex", "all", "any", "not"});
      route.method = condition.string_or("method", "");
      if (auto regex = condition.optional("pathRegex")) {
        route.path_regex = regex->string();
        ctx.check_regex(*regex, route.path_regex);
      }
      for (const char* key : {"all", "any", "not"}) {
        if (auto v = condition.optional(key)) {
          ctx.warning(codes::kUnsupportedField, *v,
                      fmt::format("condition.{} is not supported yet; ignored", key));
        }
      }
      route.timeout = ctx.duration(o, "timeout");
      route.is_retryable = o.boolean_or("isRetryable", false);
      if (auto retries = o.optional("retries")) {
        auto r = retries->object({"limit", "timeout"});
        ServiceProfile::RouteRetries rr;
        rr.limit = integer_or_none(r, "limit").value_or(0);
        rr.timeout = ctx.duration(r, "timeout");
        ctx.warning(codes::kUnsupportedField, *retries,
                    "per-route retries are not in Linkerd's schema (Linkerd uses isRetryable and "
                    "retryBudget); ambit applies them as the route's retry limit and per-try "
                    "timeout");
        sp.route_retries[route.name] = rr;
        route.is_retryable = route.is_retryable || rr.limit > 0;
      }
      if (auto classes = o.optional("responseClasses")) {
        ctx.warning(codes::kUnsupportedField, *classes,
                    "responseClasses are not supported yet; ignored");
      }
      sp.routes.push_back(std::move(route));
    }
  }
  if (auto budget = spec.optional("retryBudget")) {
    auto b = budget->object({"retryRatio", "minRetriesPerSecond", "ttl"});
    ServiceProfile::RetryBudget rb;
    if (auto ratio = b.optional("retryRatio")) rb.retry_ratio = ratio->number();
    rb.min_retries_per_second = integer_or_none(b, "minRetriesPerSecond").value_or(10);
    if (auto ttl = ctx.duration(b, "ttl")) rb.ttl = *ttl;
    sp.retry_budget = rb;
  }
  for (const char* key : {"dstOverrides", "opaquePorts"}) {
    if (auto v = spec.optional(key)) {
      ctx.warning(codes::kUnsupportedField, *v,
                  fmt::format("{} is not supported yet; ignored", key));
    }
  }
  m.service_profiles.push_back(std::move(sp));
}

namespace {

// An integer, or a Kubernetes quantity in thousandths ("500m"), as SMI weights are written.
// Returns thousandths so "1" and "1000m" compare equal.
int64_t read_weight(const YamlValue& value, ParseContext& ctx) {
  std::string text = value.string();
  bool milli = !text.empty() && text.back() == 'm';
  std::string_view digits(text.data(), text.size() - (milli ? 1 : 0));
  int64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size() || n < 0 || digits.empty()) {
    ctx.error(codes::kInvalidValue, value,
              fmt::format("'{}' is not a weight (a whole number, or thousandths like 500m)", text));
    return 0;
  }
  return milli ? n : n * 1000;
}

}  // namespace

void read_traffic_split(const YamlObject& root, ObjectMeta meta, ParseContext& ctx,
                        ConfigModel& m) {
  TrafficSplit ts;
  ts.meta = std::move(meta);
  auto spec = root.required("spec").object({"service", "backends", "matches"});
  auto service = spec.required("service");
  ts.service = service.kubernetes_name();
  ts.service_at = origin_of(service);
  auto backends = spec.required("backends");
  int64_t sum = 0;
  for (const auto& item : backends.items()) {
    auto o = item.object({"service", "weight"});
    TrafficSplit::Backend b;
    b.service = o.required("service").kubernetes_name();
    b.weight = read_weight(o.required("weight"), ctx);
    b.at = origin_of(item);
    sum += b.weight;
    ts.backends.push_back(std::move(b));
  }
  if (ts.backends.empty()) backends.fail("at least one backend is required");
  if (sum == 0) {
    ctx.error(codes::kTrafficSplitWeights, backends,
              "the backends' weights sum to 0: no traffic could be sent");
  }
  if (auto matches = spec.optional("matches")) {
    ctx.warning(codes::kUnsupportedField, *matches, "matches are not supported yet; ignored");
  }
  m.traffic_splits.push_back(std::move(ts));
}

}  // namespace ambit::controller::config
