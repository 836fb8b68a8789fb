#include "waypoint/load_balancer.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "tests/waypoint/l7_fixture.h"

namespace ambit::waypoint {
namespace {

using namespace testing;  // NOLINT: the fixture's builders
namespace pb = ambit::v1;

// A table whose shop Service has v1 and `v2_pods` v2 pods, under the given loadBalancer.
std::shared_ptr<const RouteTable> with_lb(const pb::LoadBalancerSettings& lb, int v2_pods = 1) {
  auto dr = subsets_rule();
  *dr.mutable_traffic_policy()->mutable_load_balancer() = lb;
  auto rt = RouteTable::build({}, {dr}, shop_table(v2_pods));
  EXPECT_TRUE(rt.ok());
  return *rt;
}

pb::LoadBalancerSettings simple(pb::LoadBalancerSettings::SimpleLB kind) {
  pb::LoadBalancerSettings lb;
  lb.set_simple(kind);
  return lb;
}

Cluster shop(const RouteTable& rt) { return {rt.table().find_service_by_uid("shop/shop"), "", 80}; }

TEST(LoadBalancer, RoundRobinTakesEachEndpointInTurn) {
  auto rt = with_lb(simple(pb::LoadBalancerSettings::ROUND_ROBIN), 2);
  LoadBalancer lb;
  auto c = call(rt->table(), "client", "GET", "/");
  std::vector<std::string> order;
  for (int i = 0; i < 6; ++i) {
    order.push_back(lb.pick(*rt, shop(*rt), c.request, c.downstream, 0)->workload->name);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"shop-v1", "shop-v2-0", "shop-v2-1", "shop-v1",
                                             "shop-v2-0", "shop-v2-1"}));
}

TEST(LoadBalancer, RandomSpreadsByEntropy) {
  auto rt = with_lb(simple(pb::LoadBalancerSettings::RANDOM), 2);
  LoadBalancer lb;
  auto c = call(rt->table(), "client", "GET", "/");
  std::map<std::string, int> counts;
  for (uint64_t e = 0; e < 300; ++e) {
    counts[lb.pick(*rt, shop(*rt), c.request, c.downstream, e)->workload->name]++;
  }
  EXPECT_EQ(counts.size(), 3u);
  for (const auto& [name, n] : counts) EXPECT_EQ(n, 100) << name;
}

TEST(LoadBalancer, LeastRequestPrefersTheEndpointWithFewerInFlight) {
  auto rt = with_lb(simple(pb::LoadBalancerSettings::LEAST_REQUEST));
  LoadBalancer lb;
  auto c = call(rt->table(), "client", "GET", "/");
  const auto* busy = &rt->cluster(shop(*rt))->endpoints[0];
  for (int i = 0; i < 3; ++i) lb.request_started(*busy);
  EXPECT_EQ(lb.active(busy->address), 3u);
  for (uint64_t e = 0; e < 50; ++e) {
    EXPECT_NE(lb.pick(*rt, shop(*rt), c.request, c.downstream, e * 0x9e3779b97f4a7c15ULL), busy);
  }
  for (int i = 0; i < 3; ++i) lb.request_finished(*busy);
  EXPECT_EQ(lb.active(busy->address), 0u);
  std::set<const RouteTable::Endpoint*> seen;
  for (uint64_t e = 0; e < 50; ++e) {
    seen.insert(lb.pick(*rt, shop(*rt), c.request, c.downstream, e * 0x9e3779b97f4a7c15ULL));
  }
  EXPECT_EQ(seen.size(), 2u);  // idle again: both are chosen
}

TEST(LoadBalancer, ConsistentHashKeepsAKeyOnOneEndpoint) {
  pb::LoadBalancerSettings lb_settings;
  lb_settings.mutable_consistent_hash()->set_http_header_name("x-user");
  auto rt = with_lb(lb_settings, 3);
  LoadBalancer lb;
  std::map<std::string, std::string> placed;
  std::set<std::string> used;
  for (int user = 0; user < 200; ++user) {
    auto c = call(rt->table(), "client", "GET", "/");
    c.request.headers.push_back({"x-user", "user-" + std::to_string(user)});
    std::string first;
    for (uint64_t e = 0; e < 5; ++e) {
      std::string name = lb.pick(*rt, shop(*rt), c.request, c.downstream, e * 7919)->workload->name;
      if (e == 0) first = name;
      ASSERT_EQ(name, first) << "user-" << user;
    }
    placed[c.request.headers.back().value] = first;
    used.insert(first);
  }
  EXPECT_EQ(used.size(), 4u);  // keys spread over every endpoint
  // One endpoint fewer: only its keys move.
  auto smaller = with_lb(lb_settings, 2);
  int moved = 0;
  for (const auto& [user, name] : placed) {
    auto c = call(smaller->table(), "client", "GET", "/");
    c.request.headers.push_back({"x-user", user});
    std::string now = lb.pick(*smaller, shop(*smaller), c.request, c.downstream, 1)->workload->name;
    if (name != "shop-v2-2") {
      EXPECT_EQ(now, name) << user;
    }
    moved += now != name;
  }
  EXPECT_GT(moved, 0);
}

TEST(LoadBalancer, ACookieWithATtlIsSetAndThenKeepsTheClientOnItsEndpoint) {
  pb::LoadBalancerSettings lb_settings;
  auto* ch = lb_settings.mutable_consistent_hash();
  ch->set_http_cookie_name("shop-session");
  ch->set_http_cookie_ttl("3600s");
  ch->set_http_cookie_path("/cart");
  auto rt = with_lb(lb_settings, 3);
  LoadBalancer lb;
  auto c = call(rt->table(), "client", "GET", "/");
  std::string set_cookie;
  std::string first =
      lb.pick(*rt, shop(*rt), c.request, c.downstream, 1, &set_cookie)->workload->name;
  ASSERT_TRUE(set_cookie.starts_with("shop-session=\"")) << set_cookie;
  EXPECT_NE(set_cookie.find("; Max-Age=3600; Path=/cart; HttpOnly"), std::string::npos)
      << set_cookie;
  // The client's next requests carry it (quoted, as set): the same endpoint whatever the entropy.
  std::string pair = set_cookie.substr(0, set_cookie.find(';'));
  c.request.headers.push_back({"cookie", "theme=dark; " + pair});
  for (uint64_t e = 0; e < 20; ++e) {
    std::string again;
    EXPECT_EQ(lb.pick(*rt, shop(*rt), c.request, c.downstream, e * 7919, &again)->workload->name,
              first);
    EXPECT_EQ(again, "") << "a request with the cookie gets no new one";
  }
  // Without a ttl nothing is set and a request without the cookie lands anywhere.
  ch->clear_http_cookie_ttl();
  auto plain = with_lb(lb_settings, 3);
  auto bare = call(plain->table(), "client", "GET", "/");
  std::string none;
  lb.pick(*plain, shop(*plain), bare.request, bare.downstream, 1, &none);
  EXPECT_EQ(none, "");
}

TEST(LoadBalancer, HashKeysComeFromCookieSourceIpOrQuery) {
  LbPolicy cookie{LbPolicy::Kind::kConsistentHash, LbPolicy::HashOn::kCookie, "session"};
  LbPolicy source{LbPolicy::Kind::kConsistentHash, LbPolicy::HashOn::kSourceIp, ""};
  LbPolicy query{LbPolicy::Kind::kConsistentHash, LbPolicy::HashOn::kQueryParameter, "u"};
  auto table = shop_table();
  auto c = call(*table, "client", "GET", "/cart?x=1&u=alice");
  c.request.headers.push_back({"cookie", "theme=dark; session=abc123"});
  EXPECT_EQ(hash_key(cookie, c.request, c.downstream), "abc123");
  EXPECT_EQ(hash_key(source, c.request, c.downstream), "10.0.1.1");
  EXPECT_EQ(hash_key(query, c.request, c.downstream), "alice");
  auto bare = call(*table, "client", "GET", "/cart");
  EXPECT_EQ(hash_key(cookie, bare.request, bare.downstream), std::nullopt);
  EXPECT_EQ(hash_key(query, bare.request, bare.downstream), std::nullopt);
}

TEST(LoadBalancer, NoEndpointsIsNull) {
  auto rt = with_lb(simple(pb::LoadBalancerSettings::ROUND_ROBIN), 0);
  LoadBalancer lb;
  const ztunnel::Service* s = rt->table().find_service_by_uid("shop/shop");
  auto c = call(rt->table(), "client", "GET", "/");
  EXPECT_EQ(lb.pick(*rt, {s, "v2", 80}, c.request, c.downstream, 1), nullptr);
  EXPECT_NE(lb.pick(*rt, {s, "v1", 80}, c.request, c.downstream, 1), nullptr);
}

}  // namespace
}  // namespace ambit::waypoint
