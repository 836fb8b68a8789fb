// Local rate limits: Istio EnvoyFilters' local_ratelimit patches (the filter, per-route
// settings, descriptors through rate_limits actions) and ambit's LocalRateLimit kind, read into
// the model, checked, and given to the waypoint serving the Services they limit.
#include <gtest/gtest.h>

#include "config_fixtures.h"
#include "controller/config/views.h"

namespace ambit::controller::config {
namespace {

using namespace std::chrono_literals;
namespace pb = ambit::v1;

// shop/waypoint serves the namespace: Services orders (pods app=orders) and web (app=web).
constexpr const char* kCluster = R"(apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {ambit.io/dataplane-mode: ambient, ambit.io/use-waypoint: waypoint}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop}
spec: {gatewayClassName: ambit-waypoint}
---
apiVersion: v1
kind: Pod
metadata: {name: orders-1, namespace: shop, labels: {app: orders}}
spec: {nodeName: node-a, serviceAccountName: orders}
status: {podIP: 10.1.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec: {nodeName: node-a, serviceAccountName: web}
status: {podIP: 10.1.0.2}
---
apiVersion: v1
kind: Service
metadata: {name: orders, namespace: shop}
spec: {clusterIP: 10.96.0.10, ports: [{port: 80}], selector: {app: orders}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {clusterIP: 10.96.0.11, ports: [{port: 80}], selector: {app: web}}
)";

ConfigSnapshot load(const std::string& limits) {
  return testing::load_texts({{"cluster.yaml", kCluster}, {"limits.yaml", limits}});
}

// The waypoint's LocalRateLimit resources.
std::vector<pb::LocalRateLimit> waypoint_limits(const ConfigModel& model) {
  std::vector<pb::LocalRateLimit> out;
  for (const auto& r : waypoint_view(model, "shop/waypoint")) {
    if (r.has_local_rate_limit()) out.push_back(r.local_rate_limit());
  }
  return out;
}

// Istio's documented per-route form: the filter inserted without a bucket, then an HTTP_ROUTE
// patch giving the bucket, a descriptor for /productpage and the action that produces it.
constexpr const char* kPerRouteDescriptors = R"(apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: orders-limit, namespace: shop}
spec:
  workloadSelector:
    labels: {app: orders}
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener:
        filterChain:
          filter:
            name: envoy.filters.network.http_connection_manager
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/udpa.type.v1.TypedStruct
          type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          value:
            stat_prefix: http_local_rate_limiter
  - applyTo: HTTP_ROUTE
    match:
      context: SIDECAR_INBOUND
      routeConfiguration:
        vhost:
          name: "inbound|http|80"
          route:
            action: ANY
    patch:
      operation: MERGE
      value:
        route:
          rate_limits:
          - actions:
            - request_headers:
                header_name: ":path"
                descriptor_key: path
        typed_per_filter_config:
          envoy.filters.http.local_ratelimit:
            "@type": type.googleapis.com/udpa.type.v1.TypedStruct
            type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
            value:
              stat_prefix: http_local_rate_limiter
              token_bucket: {max_tokens: 10, tokens_per_fill: 10, fill_interval: 60s}
              filter_enabled:
                runtime_key: local_rate_limit_enabled
                default_value: {numerator: 100, denominator: HUNDRED}
              filter_enforced:
                runtime_key: local_rate_limit_enforced
                default_value: {numerator: 5000, denominator: TEN_THOUSAND}
              response_headers_to_add:
              - append_action: OVERWRITE_IF_EXISTS_OR_ADD
                header: {key: X-Local-Rate-Limit, value: "true"}
              descriptors:
              - entries:
                - key: path
                  value: /productpage
                token_bucket: {max_tokens: 2, tokens_per_fill: 2, fill_interval: 60s}
)";

TEST(LocalRateLimitTest, PerRouteDescriptorsBecomeConditionsOnTheRequest) {
  auto snapshot = load(kPerRouteDescriptors);
  EXPECT_TRUE(snapshot.diagnostics.empty()) << testing::dump(snapshot.diagnostics);
  ASSERT_EQ(snapshot.model.local_rate_limits.size(), 1u);
  const auto& rl = snapshot.model.local_rate_limits[0];
  EXPECT_EQ(rl.limit_uid(), "envoyfilter/shop/orders-limit");
  ASSERT_TRUE(rl.settings);
  const RateLimitSettings& s = *rl.settings;
  ASSERT_TRUE(s.bucket);
  EXPECT_EQ(s.bucket->max_tokens, 10);
  EXPECT_EQ(s.bucket->fill_interval.value, 60s);
  EXPECT_EQ(s.enabled_percent, 100);
  EXPECT_EQ(s.enforced_percent, 50);
  EXPECT_EQ(s.response_headers, (StringMap{{"x-local-rate-limit", "true"}}));
  ASSERT_EQ(s.rules.size(), 1u);
  ASSERT_TRUE(s.rules[0].match.uri);
  EXPECT_EQ(s.rules[0].match.uri->kind, StringMatch::Kind::kExact);
  EXPECT_EQ(s.rules[0].match.uri->value, "/productpage");
  EXPECT_EQ(s.rules[0].bucket.max_tokens, 2);

  // The orders Service's waypoint gets it, for orders only (the selector picks its pods).
  auto limits = waypoint_limits(snapshot.model);
  ASSERT_EQ(limits.size(), 1u);
  ASSERT_EQ(limits[0].hosts_size(), 1);
  EXPECT_EQ(limits[0].hosts(0), "orders.shop.svc.cluster.local");
  EXPECT_EQ(limits[0].settings().bucket().fill_interval(), "60s");
  EXPECT_EQ(limits[0].settings().rules(0).match().uri().exact(), "/productpage");
  EXPECT_EQ(limits[0].settings().rules(0).bucket().max_tokens(), 2u);
}

TEST(LocalRateLimitTest, ANamedRouteGetsItsOwnSettingsAndHeaderValueMatchDescriptors) {
  auto snapshot = load(R"(apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: limits, namespace: shop}
spec:
  configPatches:
  - applyTo: HTTP_FILTER
    patch:
      operation: INSERT_FIRST
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          stat_prefix: rl
          token_bucket: {max_tokens: 50, tokens_per_fill: 5, fill_interval: 1s}
          filter_enabled: {default_value: {numerator: 100}}
          filter_enforced: {default_value: {numerator: 100}}
          always_consume_default_token_bucket: false
          status: {code: 503}
          descriptors:
          - entries: [{key: premium, value: "yes"}]
            token_bucket: {max_tokens: 500, tokens_per_fill: 50, fill_interval: 1s}
  - applyTo: VIRTUAL_HOST
    match: {routeConfiguration: {vhost: {name: "inbound|http|80"}}}
    patch:
      operation: MERGE
      value:
        rate_limits:
        - actions:
          - header_value_match:
              descriptor_key: premium
              descriptor_value: "yes"
              headers: [{name: x-plan, string_match: {exact: gold}}]
  - applyTo: HTTP_ROUTE
    match: {routeConfiguration: {vhost: {route: {name: reports}}}}
    patch:
      operation: MERGE
      value:
        typed_per_filter_config:
          envoy.filters.http.local_ratelimit:
            "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
            stat_prefix: rl
            token_bucket: {max_tokens: 1, tokens_per_fill: 1, fill_interval: 10s}
            filter_enabled: {default_value: {numerator: 100}}
            filter_enforced: {default_value: {numerator: 100}}
  - applyTo: CLUSTER
    patch: {operation: ADD, value: {name: extra}}
)");
  // The CLUSTER patch is reported, not applied; the rest is read.
  ASSERT_EQ(snapshot.diagnostics.size(), 1u) << testing::dump(snapshot.diagnostics);
  EXPECT_EQ(snapshot.diagnostics[0].code, "AMB0005");
  EXPECT_NE(snapshot.diagnostics[0].message.find("ADD CLUSTER is not applied"), std::string::npos);
  const auto& rl = snapshot.model.local_rate_limits.at(0);
  EXPECT_FALSE(rl.selector);  // every Service of the namespace
  const RateLimitSettings& s = *rl.settings;
  EXPECT_EQ(s.status, 503u);
  EXPECT_FALSE(s.always_consume_default);
  ASSERT_EQ(s.rules.size(), 1u);
  EXPECT_EQ(s.rules[0].match.headers.at("x-plan").value, "gold");
  ASSERT_EQ(rl.routes.size(), 1u);
  EXPECT_EQ(rl.routes[0].name, "reports");
  EXPECT_EQ(rl.routes[0].settings.bucket->max_tokens, 1);
  EXPECT_TRUE(rl.routes[0].settings.rules.empty());  // its config has no descriptors
  auto limits = waypoint_limits(snapshot.model);
  ASSERT_EQ(limits.size(), 1u);
  EXPECT_EQ(limits[0].hosts_size(), 2);  // orders and web
  EXPECT_EQ(limits[0].routes(0).route(), "reports");
}

TEST(LocalRateLimitTest, TheAmbitKindTargetsServicesWithRules) {
  auto snapshot = load(R"(apiVersion: ambit.io/v1alpha1
kind: LocalRateLimit
metadata: {name: web, namespace: shop}
spec:
  targetRefs: [{kind: Service, name: web}]
  limit: {requests: 20, per: 1s, burst: 40}
  enforcedPercent: 100
  responseHeaders: {x-limited: "yes"}
  rules:
  - match: {uri: {prefix: /checkout}, method: {exact: POST}}
    limit: {requests: 2, per: 1s}
)");
  EXPECT_TRUE(snapshot.diagnostics.empty()) << testing::dump(snapshot.diagnostics);
  auto limits = waypoint_limits(snapshot.model);
  ASSERT_EQ(limits.size(), 1u);
  const auto& l = limits[0];
  EXPECT_EQ(l.uid(), "localratelimit/shop/web");
  ASSERT_EQ(l.hosts_size(), 1);
  EXPECT_EQ(l.hosts(0), "web.shop.svc.cluster.local");
  EXPECT_EQ(l.settings().bucket().max_tokens(), 40u);
  EXPECT_EQ(l.settings().bucket().tokens_per_fill(), 20u);
  EXPECT_EQ(l.settings().bucket().fill_interval(), "1s");
  EXPECT_EQ(l.settings().enabled_percent(), 100);
  EXPECT_FALSE(l.settings().always_consume_default());
  ASSERT_EQ(l.settings().rules_size(), 1);
  EXPECT_EQ(l.settings().rules(0).match().uri().prefix(), "/checkout");
  EXPECT_EQ(l.settings().rules(0).match().method().exact(), "POST");
  EXPECT_EQ(l.settings().rules(0).bucket().max_tokens(), 2u);
  EXPECT_EQ(l.settings().response_headers_to_add().at("x-limited"), "yes");
}

TEST(LocalRateLimitTest, BadValuesAreErrorsNamingTheField) {
  auto snapshot = load(R"(apiVersion: ambit.io/v1alpha1
kind: LocalRateLimit
metadata: {name: web, namespace: shop}
spec:
  targetRefs: [{kind: Deployment, name: web}]
  limit: {requests: 0, per: 10ms}
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: bad, namespace: shop}
spec:
  configPatches:
  - applyTo: HTTP_FILTER
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          token_bucket: {max_tokens: 10, fill_interval: 1s}
          filter_enabled: {default_value: {numerator: 1, denominator: THOUSAND}}
)");
  std::vector<std::string> fields;
  for (const auto& d : snapshot.diagnostics) {
    EXPECT_EQ(d.severity, Severity::kError) << d.format();
    fields.push_back(d.field);
  }
  EXPECT_EQ(fields, (std::vector<std::string>{
                        "spec.targetRefs[0]", "spec.limit.per", "spec.limit.requests",
                        "spec.configPatches[0].patch.value.typed_config.filter_enabled."
                        "default_value.denominator"}))
      << testing::dump(snapshot.diagnostics);
  EXPECT_TRUE(has_blocking_errors(snapshot.diagnostics));
}

TEST(LocalRateLimitTest, ADescriptorNoActionProducesIsReportedAndLeftOut) {
  auto snapshot = load(R"(apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: lonely, namespace: shop}
spec:
  workloadSelector: {labels: {app: web}}
  configPatches:
  - applyTo: HTTP_FILTER
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          token_bucket: {max_tokens: 10, fill_interval: 1s}
          descriptors:
          - entries: [{key: client, value: batch}]
            token_bucket: {max_tokens: 1, fill_interval: 1s}
)");
  ASSERT_EQ(snapshot.diagnostics.size(), 1u) << testing::dump(snapshot.diagnostics);
  EXPECT_EQ(snapshot.diagnostics[0].code, "AMB0015");
  EXPECT_TRUE(snapshot.model.local_rate_limits.at(0).settings->rules.empty());
  auto limits = waypoint_limits(snapshot.model);
  ASSERT_EQ(limits.size(), 1u);
  EXPECT_EQ(limits[0].hosts(0), "web.shop.svc.cluster.local");
  // Envoy's default for filter_enabled left out: 0 %, the filter checks nothing.
  EXPECT_EQ(limits[0].settings().enabled_percent(), 0);
}

}  // namespace
}  // namespace ambit::controller::config
