// Local rate limiting: the token bucket (Envoy's fills, exact across threads) and the route
// table's use of it (per Service, per route, descriptors, sampling, shadow mode, errors).
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "tests/waypoint/l7_fixture.h"
#include "waypoint/route_table.h"
#include "waypoint/token_bucket.h"

namespace ambit::waypoint {
namespace {

using namespace testing;  // NOLINT: the fixture's builders
namespace pb = ambit::v1;
using namespace std::chrono_literals;
constexpr const char* kShop = "shop.shop.svc.cluster.local";

TEST(TokenBucket, StartsFullThenGainsWholeFillsUpToTheMaximum) {
  auto t0 = TokenBucket::Clock::now();
  TokenBucket b({.max_tokens = 5, .tokens_per_fill = 2, .fill_interval = 100ms}, t0);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(b.try_take(t0)) << i;
  EXPECT_FALSE(b.try_take(t0));
  EXPECT_FALSE(b.try_take(t0 + 99ms));  // no trickle: the fill is whole or nothing
  EXPECT_TRUE(b.try_take(t0 + 100ms));
  EXPECT_TRUE(b.try_take(t0 + 150ms));
  EXPECT_FALSE(b.try_take(t0 + 199ms));
  EXPECT_EQ(b.tokens(t0 + 10s), 5u);  // capped at max_tokens however long it waited
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(b.try_take(t0 + 10s));
  EXPECT_FALSE(b.try_take(t0 + 10s));
  // A reading older than the last fill applied (another worker's clock) gets no new fill.
  EXPECT_FALSE(b.try_take(t0 + 5s));
}

TEST(TokenBucket, ThreadsTogetherTakeExactlyTheBucket) {
  auto t0 = TokenBucket::Clock::now();
  TokenBucket b({.max_tokens = 1000, .tokens_per_fill = 100, .fill_interval = 1ms}, t0);
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) {
        if (b.try_take(t0 + std::chrono::microseconds(i))) granted.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  // 1000 to start, then 100 at each of the 4 whole milliseconds the clock readings reach.
  EXPECT_EQ(granted.load(), 1000 + 4 * 100);
}

TEST(TokenBuckets, AnUnchangedPolicyKeepsItsBucketAcrossViews) {
  TokenBuckets registry;
  TokenBucketSpec spec{.max_tokens = 2, .tokens_per_fill = 1, .fill_interval = 1h};
  auto first = registry.get("shop/limit", spec);
  ASSERT_TRUE(first->try_take());
  auto again = registry.get("shop/limit", spec);
  EXPECT_EQ(again.get(), first.get());
  EXPECT_EQ(again->tokens(), 1u);
  spec.max_tokens = 3;
  auto changed = registry.get("shop/limit", spec);
  EXPECT_NE(changed.get(), first.get());
  EXPECT_EQ(changed->tokens(), 3u);
}

pb::TokenBucket bucket(uint32_t max, uint32_t per_fill, const char* interval) {
  pb::TokenBucket b;
  b.set_max_tokens(max);
  b.set_tokens_per_fill(per_fill);
  b.set_fill_interval(interval);
  return b;
}

pb::LocalRateLimit limit(uint32_t max, double enabled = 100, double enforced = 100) {
  pb::LocalRateLimit rl;
  rl.set_uid("localratelimit/shop/limit");
  rl.add_hosts(kShop);
  auto* s = rl.mutable_settings();
  *s->mutable_bucket() = bucket(max, max, "3600s");
  s->set_enabled_percent(enabled);
  s->set_enforced_percent(enforced);
  return rl;
}

std::shared_ptr<const RouteTable> build(std::vector<pb::LocalRateLimit> limits,
                                        std::vector<pb::VirtualService> vss = {}) {
  auto rt = RouteTable::build(vss, {}, shop_table(), kDefaultRouteBudget, limits);
  EXPECT_TRUE(rt.ok()) << rt.error().message;
  return rt.ok() ? *rt : nullptr;
}

// How many of `n` requests to the shop (path `path`) are refused.
int refused(const RouteTable& rt, int n, const std::string& path = "/") {
  int count = 0;
  for (int i = 0; i < n; ++i) {
    auto c = call(rt.table(), "client", "GET", path);
    RouteResult r = rt.route(c.request, c.downstream, static_cast<uint64_t>(i) * 7919);
    if (r.kind == RouteResult::Kind::kRateLimited) {
      ++count;
      EXPECT_EQ(r.status, 429);
      EXPECT_EQ(*r.rate_limited_by, "localratelimit/shop/limit");
    }
  }
  return count;
}

TEST(RouteTableRateLimit, ABurstAboveTheBucketIsRefusedBeyondIt) {
  auto rt = build({limit(10)});
  EXPECT_EQ(refused(*rt, 25), 15);
}

TEST(RouteTableRateLimit, OtherServicesAreNotLimited) {
  auto rl = limit(1);
  rl.clear_hosts();
  rl.add_hosts("other.shop.svc.cluster.local");
  auto rt = build({rl});
  EXPECT_EQ(refused(*rt, 10), 0);
}

TEST(RouteTableRateLimit, EnabledAndEnforcedPercentagesSample) {
  // Checked for half the requests: of 2000, about 1000 draw on the bucket of 100.
  auto rt = build({limit(100, 50)});
  int n = refused(*rt, 2000);
  EXPECT_GT(n, 800);
  EXPECT_LT(n, 1000);
  // Shadow mode: over the limit but never refused; the verdict still names the limit.
  auto shadow = build({limit(1, 100, 0)});
  auto c = call(shadow->table(), "client", "GET", "/");
  shadow->route(c.request, c.downstream, 1);
  RouteResult r = shadow->route(c.request, c.downstream, 2);
  EXPECT_EQ(r.kind, RouteResult::Kind::kForward);
  ASSERT_NE(r.rate_limited_by, nullptr);
  EXPECT_EQ(*r.rate_limited_by, "localratelimit/shop/limit");
}

TEST(RouteTableRateLimit, DescriptorRulesUseTheirOwnBucketAndTheDefaultToo) {
  auto rl = limit(100);
  auto* rule = rl.mutable_settings()->add_rules();
  rule->mutable_match()->mutable_uri()->set_exact("/checkout");
  *rule->mutable_bucket() = bucket(3, 3, "3600s");
  auto rt = build({rl});
  EXPECT_EQ(refused(*rt, 10, "/checkout"), 7);
  EXPECT_EQ(refused(*rt, 10, "/"), 0);
  // always_consume_default: the matching requests drew on the default bucket as well.
  rl.mutable_settings()->set_always_consume_default(true);
  rl.mutable_settings()->mutable_bucket()->set_max_tokens(5);
  auto both = build({rl});
  EXPECT_EQ(refused(*both, 3, "/checkout"), 0);
  EXPECT_EQ(refused(*both, 5, "/"), 3);  // 5 - 3 left
}

TEST(RouteTableRateLimit, APerRouteSettingReplacesThePolicysForThatRoute) {
  auto vs = virtual_service();
  auto* slow = vs.add_http();
  slow->set_name("reports");
  slow->add_match()->mutable_uri()->set_prefix("/reports");
  *slow->add_route() = to(kShop, "");
  auto* rest = vs.add_http();
  *rest->add_route() = to(kShop, "");
  auto rl = limit(50);
  auto* route = rl.add_routes();
  route->set_route("reports");
  *route->mutable_settings()->mutable_bucket() = bucket(2, 1, "3600s");
  route->mutable_settings()->set_enabled_percent(100);
  route->mutable_settings()->set_enforced_percent(100);
  auto rt = build({rl}, {vs});
  EXPECT_EQ(refused(*rt, 5, "/reports/q1"), 3);
  EXPECT_EQ(refused(*rt, 5, "/"), 0);
}

TEST(RouteTableRateLimit, BadSettingsAreErrorsNamingTheObjectAndField) {
  auto rl = limit(10);
  rl.mutable_settings()->mutable_bucket()->set_fill_interval("soon");
  auto rt = RouteTable::build({}, {}, shop_table(), kDefaultRouteBudget, {rl});
  ASSERT_FALSE(rt.ok());
  EXPECT_NE(rt.error().message.find("LocalRateLimit localratelimit/shop/limit"), std::string::npos)
      << rt.error().message;
  EXPECT_NE(rt.error().message.find("token_bucket.fill_interval"), std::string::npos);
  rl = limit(10);
  rl.mutable_settings()->set_enforced_percent(120);
  rt = RouteTable::build({}, {}, shop_table(), kDefaultRouteBudget, {rl});
  ASSERT_FALSE(rt.ok());
  EXPECT_NE(rt.error().message.find("filter_enforced"), std::string::npos);
}

}  // namespace
}  // namespace ambit::waypoint
