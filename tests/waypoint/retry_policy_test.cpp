#include "waypoint/retry_policy.h"

#include <gtest/gtest.h>

#include "tests/waypoint/l7_fixture.h"
#include "waypoint/route_table.h"

namespace ambit::waypoint {
namespace {

using namespace std::chrono_literals;
namespace pb = ambit::v1;

pb::HTTPRetry retry(int attempts, std::string on, std::string per_try = "") {
  pb::HTTPRetry r;
  r.set_attempts(attempts);
  r.set_retry_on(std::move(on));
  r.set_per_try_timeout(std::move(per_try));
  return r;
}

TEST(RetryPolicy, IstiosDefaultRetries503AndConnectFailuresTwice) {
  const auto& d = RetryPolicy::istio_default();
  EXPECT_EQ(d.retries, 2u);
  EXPECT_TRUE(d.retry_response(503, {}));
  EXPECT_FALSE(d.retry_response(500, {}));
  EXPECT_FALSE(d.retry_response(502, {}));
  EXPECT_TRUE(d.retry_failure("UF", false));
  EXPECT_TRUE(d.retry_failure("UC", true));    // refused-stream
  EXPECT_FALSE(d.retry_failure("UC", false));  // a reset mid-request: not by default
  EXPECT_TRUE(d.retry_response(200, {{"grpc-status", "14"}}));  // unavailable
  EXPECT_TRUE(d.retry_response(200, {{"grpc-status", "1"}}));   // cancelled
  EXPECT_FALSE(d.retry_response(200, {{"grpc-status", "13"}}));
  EXPECT_FALSE(d.retry_timeout());
}

TEST(RetryPolicy, ConditionsAsEnvoyReadsThem) {
  auto p = RetryPolicy::parse(retry(3, "5xx"), "r");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->retry_response(500, {}));
  EXPECT_TRUE(p->retry_response(599, {}));
  EXPECT_FALSE(p->retry_response(429, {}));
  EXPECT_TRUE(p->retry_failure("UC", false));
  EXPECT_TRUE(p->retry_timeout());
  EXPECT_FALSE(p->retry_failure("UPE", false));  // the endpoint did answer

  auto g = RetryPolicy::parse(retry(1, "gateway-error"), "r");
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->retry_response(502, {}));
  EXPECT_TRUE(g->retry_response(504, {}));
  EXPECT_FALSE(g->retry_response(500, {}));

  auto c =
      RetryPolicy::parse(retry(1, "connect-failure, retriable-4xx,429 ,deadline-exceeded"), "r");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(c->retry_failure("UF", false));
  EXPECT_FALSE(c->retry_failure("UC", false));
  EXPECT_TRUE(c->retry_response(409, {}));
  EXPECT_TRUE(c->retry_response(429, {}));  // a number is a retriable status code
  EXPECT_FALSE(c->retry_response(503, {}));
  EXPECT_TRUE(c->retry_response(200, {{"grpc-status", "4"}}));
  EXPECT_FALSE(c->retry_timeout());
}

TEST(RetryPolicy, AttemptsWithoutConditionsTakeIstiosConditions) {
  auto p = RetryPolicy::parse(retry(5, "", "250ms"), "r");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->retries, 5u);
  EXPECT_EQ(p->per_try_timeout, 250ms);
  EXPECT_TRUE(p->retry_response(503, {}));
  EXPECT_TRUE(p->retry_failure("UF", false));
}

TEST(RetryPolicy, BadValuesNameTheField) {
  auto unknown = RetryPolicy::parse(retry(2, "5xx,sometimes"), "VirtualService shop/shop: http[0]");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message,
            "VirtualService shop/shop: http[0].retries.retryOn: unknown condition \"sometimes\"");
  auto code = RetryPolicy::parse(retry(2, "700"), "r");
  ASSERT_FALSE(code.ok());
  EXPECT_NE(code.error().message.find("retries.retryOn: 700 is not an HTTP status"),
            std::string::npos);
  auto per_try = RetryPolicy::parse(retry(2, "5xx", "soon"), "r");
  ASSERT_FALSE(per_try.ok());
  EXPECT_NE(per_try.error().message.find("r.retries.perTryTimeout: \"soon\""), std::string::npos);
  EXPECT_FALSE(RetryPolicy::parse(retry(-1, ""), "r").ok());
  // Every condition the controller lets through is one the waypoint takes.
  auto all = RetryPolicy::parse(
      retry(1,
            "5xx,gateway-error,reset,connect-failure,envoy-ratelimited,retriable-4xx,"
            "refused-stream,retriable-status-codes,retriable-headers,cancelled,"
            "deadline-exceeded,internal,resource-exhausted,unavailable,reset-before-request,"
            "http3-post-connect-failure"),
      "r");
  EXPECT_TRUE(all.ok()) << all.error().message;
  EXPECT_TRUE(all->retry_response(429, {{"x-envoy-ratelimited", "true"}}));
}

TEST(RetryPolicy, DurationsInIstiosUnits) {
  EXPECT_EQ(*parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(*parse_duration("250ms"), 250ms);
  EXPECT_EQ(*parse_duration("2m"), 120s);
  EXPECT_EQ(*parse_duration("0.000001s"), 1us);
  EXPECT_FALSE(parse_duration("").ok());
  EXPECT_FALSE(parse_duration("10").ok());
  EXPECT_FALSE(parse_duration("5 parsecs").ok());
}

TEST(RetryPolicy, ARouteCarriesItsTimeoutAndRetriesAndABadOneIsRefusedByName) {
  auto table = testing::shop_table();
  auto vs = testing::virtual_service();
  auto* r = vs.add_http();
  *r->add_route() = testing::to("shop.shop.svc.cluster.local");
  r->set_timeout("0.5s");
  *r->mutable_retries() = retry(4, "reset");
  auto rt = RouteTable::build({vs}, {}, table);
  ASSERT_TRUE(rt.ok()) << rt.error().message;
  auto c = testing::call(*table, "client", "GET", "/");
  auto res = (*rt)->route(c.request, c.downstream, 1);
  ASSERT_EQ(res.kind, RouteResult::Kind::kForward);
  EXPECT_EQ(res.resilience->timeout, 500ms);
  EXPECT_EQ(res.resilience->retry.retries, 4u);
  EXPECT_TRUE(res.resilience->retry.on_reset);

  r->set_timeout("forever");
  auto bad = RouteTable::build({vs}, {}, table);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("VirtualService shop/shop: http[0].timeout:"),
            std::string::npos)
      << bad.error().message;
}

TEST(RetryBudget, RetriesAreBoundedByTheRatioPlusTheFloor) {
  RetryBudget b({0.2, 0, 10s});
  auto t = RetryBudget::Clock::time_point(100s);
  for (int i = 0; i < 100; ++i) b.deposit(t);
  int allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += b.withdraw(t);
  EXPECT_EQ(allowed, 20);
  // The floor: minRetriesPerSecond times the window, with no traffic at all.
  RetryBudget floor({0.2, 2, 5s});
  int free = 0;
  for (int i = 0; i < 50; ++i) free += floor.withdraw(t);
  EXPECT_EQ(free, 10);
}

TEST(RetryBudget, TheWindowSlides) {
  RetryBudget b({0.5, 0, 2s});
  auto t = RetryBudget::Clock::time_point(1000s);
  for (int i = 0; i < 10; ++i) b.deposit(t);
  int first = 0;
  for (int i = 0; i < 10; ++i) first += b.withdraw(t);
  EXPECT_EQ(first, 5);
  EXPECT_FALSE(b.withdraw(t + 1s));  // the same window
  // Two seconds on, those requests and retries have left it.
  EXPECT_FALSE(b.withdraw(t + 2s));
  for (int i = 0; i < 4; ++i) b.deposit(t + 2s);
  EXPECT_TRUE(b.withdraw(t + 2s));
  EXPECT_TRUE(b.withdraw(t + 2s));
  EXPECT_FALSE(b.withdraw(t + 2s));
}

TEST(RetryPolicy, AServiceProfileBudgetIsCarried) {
  auto r = retry(3, "5xx");
  r.mutable_budget()->set_retry_ratio(0.5);
  r.mutable_budget()->set_min_retries_per_second(1);
  r.mutable_budget()->set_ttl("30s");
  auto p = RetryPolicy::parse(r, "x");
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(p->budget.has_value());
  EXPECT_DOUBLE_EQ(p->budget->ratio, 0.5);
  EXPECT_EQ(p->budget->min_per_second, 1u);
  EXPECT_EQ(p->budget->ttl, 30s);
  EXPECT_FALSE(RetryPolicy::parse(retry(3, "5xx"), "x")->budget.has_value());
}

TEST(GrpcTimeout, TheHeaderIsParsedAsTheGrpcSpecWritesIt) {
  using namespace std::chrono_literals;
  EXPECT_EQ(parse_grpc_timeout("200m"), 200ms);
  EXPECT_EQ(parse_grpc_timeout("5S"), 5s);
  EXPECT_EQ(parse_grpc_timeout("2M"), 2min);
  EXPECT_EQ(parse_grpc_timeout("1H"), 1h);
  EXPECT_EQ(parse_grpc_timeout("1500u"), 2ms);  // rounded up
  EXPECT_EQ(parse_grpc_timeout("10n"), 1ms);
  EXPECT_EQ(parse_grpc_timeout("99999999S"), 99999999s);
  for (const char* bad : {"", "m", "100", "100x", "-5S", "123456789S", "1.5S"}) {
    EXPECT_FALSE(parse_grpc_timeout(bad)) << bad;
  }
}

TEST(GrpcTimeout, AGrpcCallsDeadlineIsItsTimeoutBoundedByTheRoutes) {
  using namespace std::chrono_literals;
  HttpRequest grpc;
  grpc.headers = {{"content-type", "application/grpc+proto"}, {"grpc-timeout", "300m"}};
  EXPECT_EQ(request_timeout(0ms, grpc), 300ms);
  EXPECT_EQ(request_timeout(100ms, grpc), 100ms);
  EXPECT_EQ(request_timeout(5s, grpc), 300ms);
  HttpRequest plain;  // not gRPC: the header means nothing
  plain.headers = {{"grpc-timeout", "300m"}};
  EXPECT_EQ(request_timeout(0ms, plain), 0ms);
  HttpRequest no_deadline;
  no_deadline.headers = {{"content-type", "application/grpc"}};
  EXPECT_EQ(request_timeout(2s, no_deadline), 2s);
}

}  // namespace
}  // namespace ambit::waypoint
