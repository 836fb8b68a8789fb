// Route timeouts and retries through the waypoint (proxy_fixture.h), with backends that fail
// or lag on purpose. Every request loop is bounded in count; every wait by the fixture's 5 s.
#include <atomic>
#include <set>
#include <thread>

#include "tests/waypoint/proxy_fixture.h"

namespace ambit::waypoint {
namespace {

using namespace std::chrono_literals;
namespace pb = ambit::v1;
using testing::HttpBackend;
using testing::kHost;
using testing::Response;
class WaypointResilienceTest : public testing::WaypointProxyFixture {
 protected:
  // Sends GETs one by one until done(), at most `limit` of them.
  template <class Done>
  void get_until(Done done, int limit = 200) {
    for (int n = 0; n < limit && !done(); ++n) get("/o/" + std::to_string(n));
  }
  // Six requests at once on one HTTP/2 connection: how many were answered 200, and how many
  // 503 for overflow.
  std::pair<int, int> six_at_once() {
    auto replies = h2_exchange([](testing::H2TestClient& c) {
      for (int i = 0; i < 6; ++i) c.request(testing::H2TestClient::get("/q/" + std::to_string(i)));
    });
    EXPECT_EQ(replies.size(), 6u);
    int ok = 0, overflow = 0;
    for (const auto& [id, r] : replies) {
      if (r.status == 200) ++ok;
      if (r.status == 503) {
        ++overflow;
        EXPECT_NE(r.body.find("reset reason: overflow"), std::string::npos) << r.body;
      }
    }
    return {ok, overflow};
  }
};

// One route to the whole Service (both pods) with these retries and timeout.
pb::VirtualService resilient(int attempts, std::string retry_on, std::string per_try = "",
                             std::string timeout = "") {
  auto vs = testing::virtual_service();
  auto* r = vs.add_http();
  r->set_name("all");
  *r->add_route() = testing::to(kHost);
  if (attempts >= 0) {
    r->mutable_retries()->set_attempts(attempts);
    r->mutable_retries()->set_retry_on(std::move(retry_on));
    r->mutable_retries()->set_per_try_timeout(std::move(per_try));
  }
  r->set_timeout(std::move(timeout));
  return vs;
}

std::string gets(int n) {
  std::string out;
  for (int i = 0; i < n; ++i)
    out += "GET /r/" + std::to_string(i) + " HTTP/1.1\r\nHost: shop\r\n\r\n";
  return out;
}

HttpBackend::Behaviour every_other_fails() {
  return [](const std::string&, size_t n) { return HttpBackend::Reply{n % 2 == 1 ? 503 : 200}; };
}

HttpBackend::Behaviour always(int status, std::chrono::milliseconds delay = 0ms) {
  return [=](const std::string&, size_t) { return HttpBackend::Reply{status, delay}; };
}

TEST_F(WaypointResilienceTest, PodsFailingHalfTheirRequestsAreRetriedToSuccess) {
  v1_.set_behaviour(every_other_fails());
  v2_->set_behaviour(every_other_fails());
  start_waypoint({resilient(3, "5xx")}, {});
  constexpr int kRequests = 100;  // one keep-alive connection, back-offs included: ~2 s
  auto rs = exchange(gets(kRequests), kRequests);
  ASSERT_EQ(rs.size(), static_cast<size_t>(kRequests));
  int ok = 0;
  for (const auto& r : rs) ok += r.status == 200;
  EXPECT_GE(ok, kRequests * 99 / 100);
  EXPECT_EQ(ok, kRequests) << stats_->render_prometheus();
  // The failures were there, and retried: the pods answered more tries than the client sent.
  size_t tries = v1_.seen().size() + v2_->seen().size();
  EXPECT_GT(tries, static_cast<size_t>(kRequests) + kRequests / 4) << tries;
  EXPECT_NE(stats_->render_prometheus().find("response_code=\"200\""), std::string::npos);
}

TEST_F(WaypointResilienceTest, RetriesStopAtTheirLimitAndTheLastAnswerStands) {
  v1_.set_behaviour(always(503));
  v2_->set_behaviour(always(503));
  start_waypoint({resilient(2, "gateway-error")}, {});
  Response r = get("/down");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(v1_.seen().size() + v2_->seen().size(), 3u);  // the try and two retries
  EXPECT_NE(stats_->render_prometheus().find("response_flags=\"URX\""), std::string::npos)
      << stats_->render_prometheus();
}

TEST_F(WaypointResilienceTest, TheRetryBudgetStopsRetriesFromMultiplyingAnOutage) {
  v1_.set_behaviour(always(503));
  v2_->set_behaviour(always(503));
  auto vs = resilient(3, "5xx");
  auto* budget = vs.mutable_http(0)->mutable_retries()->mutable_budget();
  budget->set_retry_ratio(0.2);
  budget->set_min_retries_per_second(0);
  start_waypoint({vs}, {});
  constexpr int kRequests = 100;
  auto rs = exchange(gets(kRequests), kRequests);
  ASSERT_EQ(rs.size(), static_cast<size_t>(kRequests));
  size_t tries = v1_.seen().size() + v2_->seen().size();
  // Without the budget: 400 tries. With it: the requests and about a fifth more.
  EXPECT_GT(tries, static_cast<size_t>(kRequests));
  EXPECT_LE(tries, static_cast<size_t>(kRequests + kRequests / 5 + 1));
  EXPECT_NE(stats_->render_prometheus().find("ambit_waypoint_retry_budget_exhausted_total{route="),
            std::string::npos);
}

TEST_F(WaypointResilienceTest, NoRetryForAStatusThePolicyDoesNotName) {
  v1_.set_behaviour(always(500));
  v2_->set_behaviour(always(500));
  start_waypoint({resilient(3, "gateway-error")}, {});
  EXPECT_EQ(get("/x").status, 500);
  EXPECT_EQ(v1_.seen().size() + v2_->seen().size(), 1u);
}

TEST_F(WaypointResilienceTest, IstiosDefaultRetriesA503OnTheOtherPod) {
  // No VirtualService at all: Istio's default policy (2 retries on 503, connect failures...).
  v1_.set_behaviour(always(503));
  start_waypoint({}, {});
  for (int i = 0; i < 10; ++i) {
    Response r = get("/d/" + std::to_string(i));
    ASSERT_EQ(r.status, 200) << i << r.head;
    EXPECT_EQ(r.served_by(), "shop-v2");
  }
  EXPECT_GT(v1_.seen().size(), 0u);  // it was tried, and passed over
}

TEST_F(WaypointResilienceTest, ARetriedRequestCarriesItsWholeBodyAgain) {
  v1_.set_behaviour(always(503));
  start_waypoint({resilient(2, "5xx")}, {});
  for (int i = 0; i < 6; ++i) {
    auto rs =
        exchange("POST /orders HTTP/1.1\r\nHost: shop\r\nContent-Length: 11\r\n\r\nhello world");
    ASSERT_EQ(rs.size(), 1u);
    ASSERT_EQ(rs[0].status, 200) << rs[0].head;
    EXPECT_EQ(rs[0].served_by(), "shop-v2");
    EXPECT_NE(rs[0].body.find("content-length: 11\r\n\r\nhello world"), std::string::npos)
        << rs[0].body;
  }
}

TEST_F(WaypointResilienceTest, TheRouteTimeoutAnswers504UT) {
  v1_.set_behaviour(always(200, 2000ms));
  v2_->set_behaviour(always(200, 2000ms));
  start_waypoint({resilient(-1, "", "", "0.2s")}, {});
  auto begin = std::chrono::steady_clock::now();
  Response r = get("/slow");
  auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(r.body, "upstream request timeout");
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 1500ms);
  EXPECT_NE(stats_->render_prometheus().find("response_flags=\"UT\""), std::string::npos);
}

TEST_F(WaypointResilienceTest, APerTryTimeoutMovesOnFromASlowPod) {
  v1_.set_behaviour(always(200, 2000ms));
  start_waypoint({resilient(2, "5xx", "0.1s", "1s")}, {});
  for (int i = 0; i < 8; ++i) {
    auto begin = std::chrono::steady_clock::now();
    Response r = get("/p/" + std::to_string(i));
    auto took = std::chrono::steady_clock::now() - begin;
    ASSERT_EQ(r.status, 200) << i << r.head;
    EXPECT_EQ(r.served_by(), "shop-v2");
    EXPECT_LT(took, 800ms) << i;
  }
}

TEST_F(WaypointResilienceTest, AnHttp2ClientsRequestIsRetriedToo) {
  v1_.set_behaviour(always(503));
  start_waypoint({resilient(2, "5xx")}, {});
  auto replies = h2_exchange([](testing::H2TestClient& c) {
    for (int i = 0; i < 4; ++i) c.request(testing::H2TestClient::get("/h2/" + std::to_string(i)));
  });
  ASSERT_EQ(replies.size(), 4u);
  for (auto& [id, r] : replies) {
    EXPECT_EQ(r.status, 200) << id;
    EXPECT_EQ(r.served_by(), "shop-v2") << id;
  }
}

// The count of requests the stats recorded with `flags` (any route, status): only
// ambit_waypoint_requests_total has the label.
uint64_t count_with_flags(const RequestStats& stats, const std::string& flags) {
  std::string text = stats.render_prometheus();
  uint64_t n = 0;
  std::string key = "response_flags=\"" + flags + "\"} ";
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + 1)) {
    n += std::stoull(text.substr(at + key.size()));
  }
  return n;
}

pb::VirtualService faulty(double abort_percent, int abort_status, double delay_percent,
                          std::string delay = "", std::string grpc = "") {
  auto vs = resilient(-1, "");
  auto* f = vs.mutable_http(0)->mutable_fault();
  if (abort_percent > 0) {
    f->mutable_abort()->set_http_status(abort_status);
    f->mutable_abort()->set_grpc_status(grpc);
    f->mutable_abort()->mutable_percentage()->set_value(abort_percent);
  }
  if (delay_percent > 0) {
    f->mutable_delay()->set_fixed_delay(delay);
    f->mutable_delay()->mutable_percentage()->set_value(delay_percent);
  }
  return vs;
}

TEST_F(WaypointResilienceTest, AnInjectedAbortIsAnsweredByTheWaypointAndNotRetried) {
  start_waypoint({faulty(100, 503, 0)}, {});
  Response r = get("/f");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "fault filter abort");
  EXPECT_EQ(v1_.seen().size() + v2_->seen().size(), 0u);  // Istio's default retries: not used
  EXPECT_EQ(count_with_flags(*stats_, "FI"), 1u);
}

TEST_F(WaypointResilienceTest, AnAbortOnFivePercentHitsAboutFivePercent) {
  start_waypoint({faulty(5, 500, 0)}, {});
  constexpr int kRequests = 2000;  // 5 % is 100, sigma ~9.7: +-4 sigma below
  auto rs = exchange(gets(kRequests), kRequests);
  ASSERT_EQ(rs.size(), static_cast<size_t>(kRequests));
  int aborted = 0;
  for (const auto& r : rs) aborted += r.status == 500;
  EXPECT_GE(aborted, 61);
  EXPECT_LE(aborted, 139);
  EXPECT_EQ(count_with_flags(*stats_, "FI"), static_cast<uint64_t>(aborted));
}

TEST_F(WaypointResilienceTest, AnInjectedDelayHoldsTheRequestThenForwardsIt) {
  start_waypoint({faulty(0, 0, 100, "0.2s")}, {});
  auto begin = std::chrono::steady_clock::now();
  Response r = get("/slowly");
  EXPECT_EQ(r.status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 190ms);
  EXPECT_EQ(count_with_flags(*stats_, "DI"), 1u);
  // A POST's body waits with it and arrives whole.
  auto rs = exchange("POST /o HTTP/1.1\r\nHost: shop\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_NE(rs[0].body.find("content-length: 5\r\n\r\nhello"), std::string::npos) << rs[0].body;
}

TEST_F(WaypointResilienceTest, ADelayOnTenPercentDelaysAboutTenPercent) {
  start_waypoint({faulty(0, 0, 10, "0.01s")}, {});
  constexpr int kRequests = 300;  // 10 % is 30, sigma ~5.2: 4 sigma either side
  auto rs = exchange(gets(kRequests), kRequests);
  ASSERT_EQ(rs.size(), static_cast<size_t>(kRequests));
  for (const auto& r : rs) EXPECT_EQ(r.status, 200);
  uint64_t delayed = count_with_flags(*stats_, "DI");
  EXPECT_GE(delayed, 10u);
  EXPECT_LE(delayed, 51u);
}

TEST_F(WaypointResilienceTest, AGrpcAbortIsAGrpcStatus) {
  start_waypoint({faulty(100, 0, 0, "", "UNAVAILABLE")}, {});
  auto replies = h2_exchange([](testing::H2TestClient& c) {
    auto req = testing::H2TestClient::get("/shop.Shop/Get", {{"content-type", "application/grpc"}});
    req.method = "POST";
    c.request(req);
  });
  ASSERT_EQ(replies.size(), 1u);
  const auto& r = replies.begin()->second;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("grpc-status"), "14");
  EXPECT_EQ(r.header("grpc-message"), "fault filter abort");
}

// The subsets rule with outlier detection: `errors` 5xx in a row eject for `base`.
pb::DestinationRule ejecting(uint32_t errors, std::string base, int max_percent) {
  auto dr = testing::subsets_rule();
  auto* od = dr.mutable_traffic_policy()->mutable_outlier_detection();
  od->set_consecutive_5xx_errors(errors);
  od->set_interval("10s");
  od->set_base_ejection_time(std::move(base));
  od->set_max_ejection_percent(max_percent);
  return dr;
}

TEST_F(WaypointResilienceTest, AFailingPodIsEjectedAndComesBackLaterEachTime) {
  // Times leave room for a slow build (ThreadSanitizer: ~80 ms per request here): each check
  // that a pod is out ends well inside its ejection.
  v1_.set_behaviour(always(503));
  start_waypoint({resilient(0, "")}, {}, ejecting(3, "1.5s", 50));
  // v1 fails three times in a row, then is out: only v2 answers.
  get_until([&] { return v1_.seen().size() >= 3; });
  ASSERT_EQ(v1_.seen().size(), 3u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(get("/after").served_by(), "shop-v2") << i;
  EXPECT_EQ(v1_.seen().size(), 3u);
  // Back after the base ejection time; three more failures eject it for twice as long.
  std::this_thread::sleep_for(1600ms);
  get_until([&] { return v1_.seen().size() >= 6; });
  ASSERT_EQ(v1_.seen().size(), 6u);
  std::this_thread::sleep_for(1700ms);  // past one base time, within two
  for (int i = 0; i < 5; ++i) EXPECT_EQ(get("/still").served_by(), "shop-v2") << i;
  EXPECT_EQ(v1_.seen().size(), 6u);
  std::this_thread::sleep_for(1400ms);
  get_until([&] { return v1_.seen().size() > 6; }, 40);
  EXPECT_GT(v1_.seen().size(), 6u);
}

TEST_F(WaypointResilienceTest, NoMoreThanMaxEjectionPercentAreOutAtOnce) {
  // Both pods fail; 50 % of two is one: one is ejected, the other keeps every request (were
  // both out, the load balancer would panic and use both again).
  v1_.set_behaviour(always(503));
  v2_->set_behaviour(always(503));
  start_waypoint({resilient(0, "")}, {}, ejecting(2, "30s", 50));
  for (int i = 0; i < 12; ++i) get("/w/" + std::to_string(i));
  size_t v1_before = v1_.seen().size(), v2_before = v2_->seen().size();
  std::set<std::string> served;
  for (int i = 0; i < 10; ++i) served.insert(get("/x/" + std::to_string(i)).served_by());
  EXPECT_EQ(served.size(), 1u);
  EXPECT_EQ(v1_.seen().size() + v2_->seen().size(), v1_before + v2_before + 10);
}

TEST_F(WaypointResilienceTest, RetriesAvoidAnEjectedPod) {
  v1_.set_behaviour(every_other_fails());
  start_waypoint({resilient(2, "5xx")}, {}, ejecting(1, "30s", 50));
  // v1's first failure ejects it; every later request is v2's, and succeeds.
  get_until([&] { return v1_.seen().size() >= 2; });
  size_t v1_seen = v1_.seen().size();
  for (int i = 0; i < 10; ++i) {
    Response r = get("/r/" + std::to_string(i));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.served_by(), "shop-v2");
  }
  EXPECT_EQ(v1_.seen().size(), v1_seen);
}

// The subsets rule with connectionPool.http limits.
pb::DestinationRule limited(int max_requests, int max_retries) {
  auto dr = testing::subsets_rule();
  auto* http = dr.mutable_traffic_policy()->mutable_connection_pool()->mutable_http();
  http->set_http2_max_requests(max_requests);
  http->set_max_retries(max_retries);
  return dr;
}

TEST_F(WaypointResilienceTest, OverTheClustersMaxRequestsIsAnswered503UOAtOnce) {
  v1_.set_behaviour(always(200, 300ms));
  v2_->set_behaviour(always(200, 300ms));
  start_waypoint({resilient(0, "")}, {}, limited(2, 0));
  auto begin = std::chrono::steady_clock::now();
  auto [ok, overflow] = six_at_once();
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(overflow, 4);
  EXPECT_EQ(count_with_flags(*stats_, "UO"), 4u);
  // The two in flight went back: the next requests are let in.
  EXPECT_EQ(get("/after").status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 3s);
}

TEST_F(WaypointResilienceTest, MaxRetriesBoundsTheRetriesInFlight) {
  v1_.set_behaviour(always(503, 100ms));
  v2_->set_behaviour(always(503, 100ms));
  start_waypoint({resilient(3, "5xx")}, {}, limited(0, 1));
  auto replies = h2_exchange([](testing::H2TestClient& c) {
    for (int i = 0; i < 6; ++i) c.request(testing::H2TestClient::get("/m/" + std::to_string(i)));
  });
  ASSERT_EQ(replies.size(), 6u);
  for (const auto& [id, r] : replies) EXPECT_EQ(r.status, 503) << id;
  // Without the limit: 6 x 4 tries. With one retry in flight at a time, fewer.
  EXPECT_LT(v1_.seen().size() + v2_->seen().size(), 24u);
  EXPECT_NE(stats_->render_prometheus().find("ambit_waypoint_retry_overflow_total{cluster="),
            std::string::npos);
}

// Routes everything to shop-v1, under the subsets rule with this connectionPool.
pb::VirtualService only_v1() {
  auto vs = testing::virtual_service();
  auto* r = vs.add_http();
  r->set_name("v1");
  *r->add_route() = testing::to(kHost, "v1");
  return vs;
}
pb::DestinationRule pooled(int max_connections, int max_pending, int per_connection = 0,
                           std::string idle_timeout = "", std::string connect_timeout = "") {
  auto dr = testing::subsets_rule();
  auto* pool = dr.mutable_traffic_policy()->mutable_connection_pool();
  pool->mutable_tcp()->set_max_connections(max_connections);
  pool->mutable_tcp()->set_connect_timeout(std::move(connect_timeout));
  pool->mutable_http()->set_http1_max_pending_requests(max_pending);
  pool->mutable_http()->set_max_requests_per_connection(per_connection);
  pool->mutable_http()->set_idle_timeout(std::move(idle_timeout));
  return dr;
}

TEST_F(WaypointResilienceTest, PastMaxConnectionsAndPendingRequestsIsAnswered503UOAtOnce) {
  // Istio's circuit-breaking task: one connection, one request waiting for it, the rest refused.
  v1_.set_behaviour(always(200, 300ms));
  start_waypoint({only_v1()}, {}, pooled(1, 1));
  auto begin = std::chrono::steady_clock::now();
  auto [ok, overflow] = six_at_once();
  // The one on the connection, then the one that waited for it (the first's connection closed
  // for it rather than stay idle).
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(overflow, 4);
  EXPECT_EQ(count_with_flags(*stats_, "UO"), 4u);
  EXPECT_EQ(v1_.connections(), 2u);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 3s);
  EXPECT_NE(stats_->render_prometheus().find("ambit_waypoint_upstream_overflow_total{cluster="),
            std::string::npos)
      << stats_->render_prometheus();
}

TEST_F(WaypointResilienceTest, RequestsWaitForTheOneConnectionTheyMayHave) {
  v1_.set_behaviour(always(200, 100ms));
  start_waypoint({only_v1()}, {}, pooled(1, 0));  // no bound on those waiting
  auto begin = std::chrono::steady_clock::now();
  auto replies = h2_exchange([](testing::H2TestClient& c) {
    for (int i = 0; i < 4; ++i) c.request(testing::H2TestClient::get("/w/" + std::to_string(i)));
  });
  ASSERT_EQ(replies.size(), 4u);
  for (const auto& [id, r] : replies) EXPECT_EQ(r.status, 200) << id;
  // One at a time: never two connections open to the cluster at once.
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 400ms);
  EXPECT_EQ(count_with_flags(*stats_, "UO"), 0u);
}

TEST_F(WaypointResilienceTest, AConnectionTakesAtMostMaxRequestsPerConnection) {
  start_waypoint({only_v1()}, {}, pooled(0, 0, 2));
  auto rs = exchange(gets(5), 5);
  ASSERT_EQ(rs.size(), 5u);
  for (const auto& r : rs) EXPECT_EQ(r.status, 200);
  EXPECT_EQ(v1_.seen().size(), 5u);
  EXPECT_EQ(v1_.connections(), 3u);  // 2 + 2 + 1
}

TEST_F(WaypointResilienceTest, WithoutALimitOneConnectionServesThemAll) {
  start_waypoint({only_v1()}, {}, pooled(0, 0));
  ASSERT_EQ(exchange(gets(5), 5).size(), 5u);
  EXPECT_EQ(v1_.connections(), 1u);
}

TEST_F(WaypointResilienceTest, AConnectionIdlePastIdleTimeoutIsClosed) {
  auto two_gets_apart = [&](std::chrono::milliseconds apart) {
    size_t got = 0;
    over_connect("10.96.0.30:80", [&](ztunnel::HboneConnection& conn,
                                      ambit::testing::StreamCollector& sink) {
      using testing::responses_in;
      std::string get = "GET /i HTTP/1.1\r\nHost: shop\r\n\r\n";
      conn.send(sink.stream, {reinterpret_cast<const uint8_t*>(get.data()), get.size()});
      ambit::testing::run_loop_until(*loop_, [&] { return responses_in(sink.data).size() >= 1; });
      auto until = std::chrono::steady_clock::now() + apart;
      ambit::testing::run_loop_until(*loop_,
                                     [&] { return std::chrono::steady_clock::now() > until; });
      conn.send(sink.stream, {reinterpret_cast<const uint8_t*>(get.data()), get.size()});
      ambit::testing::run_loop_until(*loop_, [&] { return responses_in(sink.data).size() >= 2; });
      got = responses_in(sink.data).size();
    });
    return got;
  };
  start_waypoint({only_v1()}, {}, pooled(0, 0, 0, "0.200s"));
  ASSERT_EQ(two_gets_apart(50ms), 2u);
  EXPECT_EQ(v1_.connections(), 1u);  // reused within the idle timeout
  ASSERT_EQ(two_gets_apart(700ms), 2u);
  EXPECT_EQ(v1_.connections(), 3u);  // a new session's, then one after its idle one closed
}

TEST_F(WaypointResilienceTest, ACONNECTNotAnsweredInConnectTimeoutIsRetriedElsewhere) {
  silence_v2();
  auto vs = resilient(2, "connect-failure");
  start_waypoint({vs}, {}, pooled(0, 0, 0, "", "0.200s"));
  auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < 8; ++i) {
    auto r = get("/c/" + std::to_string(i));
    EXPECT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.served_by(), "shop-v1");
  }
  // Some went to the hung node first (retried), and each of those waited only its connect
  // timeout.
  EXPECT_NE(stats_->render_prometheus().find("ambit_waypoint_retries_total{route="),
            std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 8 * 200ms + 2s);
  EXPECT_EQ(v1_.seen().size(), 8u);
}

TEST_F(WaypointResilienceTest, WithoutRetriesAConnectTimeoutIsAnswered503UF) {
  silence_v2();
  auto vs = testing::virtual_service();
  auto* r = vs.add_http();
  r->set_name("v2");
  *r->add_route() = testing::to(kHost, "v2");
  r->mutable_retries()->set_attempts(0);
  start_waypoint({vs}, {}, pooled(0, 0, 0, "", "0.300s"));
  auto begin = std::chrono::steady_clock::now();
  auto got = get("/t");
  auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_EQ(got.status, 503);
  EXPECT_NE(got.body.find("reset reason: connection failure"), std::string::npos) << got.body;
  EXPECT_EQ(count_with_flags(*stats_, "UF"), 1u);
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
}

TEST_F(WaypointResilienceTest, AGrpcCallsDeadlineCancelsItsTryWhenItPasses) {
  v1_.set_behaviour(always(200, 2000ms));
  v2_->set_behaviour(always(200, 2000ms));
  start_waypoint({resilient(0, "")}, {});
  auto begin = std::chrono::steady_clock::now();
  auto replies = h2_exchange([](testing::H2TestClient& c) {
    c.request(testing::H2TestClient::get(
        "/shop.Cart/Slow", {{"content-type", "application/grpc"}, {"grpc-timeout", "200m"}}));
  });
  auto took = std::chrono::steady_clock::now() - begin;
  ASSERT_EQ(replies.size(), 1u);
  const auto& r = replies.begin()->second;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("grpc-status"), "14") << "UT answered as Envoy maps 504 for gRPC";
  EXPECT_LT(took, 1500ms) << "the 200 ms deadline, not the backend's 2 s";
  EXPECT_EQ(count_with_flags(*stats_, "UT"), 1u) << stats_->render_prometheus();
}

// A local rate limit of `tokens` for the shop Service (no refill within a test).
pb::LocalRateLimit shop_limit(uint32_t tokens) {
  pb::LocalRateLimit rl;
  rl.set_uid("localratelimit/shop/burst");
  rl.add_hosts("shop.shop.svc.cluster.local");
  auto* s = rl.mutable_settings();
  s->mutable_bucket()->set_max_tokens(tokens);
  s->mutable_bucket()->set_tokens_per_fill(tokens);
  s->mutable_bucket()->set_fill_interval("3600s");
  s->set_enabled_percent(100);
  s->set_enforced_percent(100);
  (*s->mutable_response_headers_to_add())["x-local-rate-limit"] = "true";
  return rl;
}

class WaypointRateLimitTest : public WaypointResilienceTest,
                              public ::testing::WithParamInterface<unsigned> {};

TEST_P(WaypointRateLimitTest, ABurstAboveTheBucketGetsExactly429sWhateverTheWorkers) {
  const unsigned workers = GetParam();
  start_waypoint({resilient(-1, "")}, {}, testing::subsets_rule(), {shop_limit(12)}, workers);
  // 8 connections (their ports spread them over the workers) of 5 requests each.
  int ok = 0, limited = 0;
  for (int c = 0; c < 8; ++c) {
    for (const auto& r : exchange(gets(5), 5)) {
      if (r.status == 200) ++ok;
      if (r.status != 429) continue;
      ++limited;
      EXPECT_EQ(r.body, "local_rate_limited");
      EXPECT_NE(r.head.find("x-envoy-ratelimited: true"), std::string::npos) << r.head;
      EXPECT_NE(r.head.find("x-local-rate-limit: true"), std::string::npos) << r.head;
    }
  }
  EXPECT_EQ(ok, 12) << "the bucket's 12 tokens, whatever the worker count";
  EXPECT_EQ(limited, 28);
  EXPECT_EQ(count_with_flags(*stats_, "RL"), 28u);
  EXPECT_NE(stats_->render_prometheus().find(
                "ambit_waypoint_rate_limited_total{policy=\"localratelimit/shop/burst\"} 28"),
            std::string::npos)
      << stats_->render_prometheus();
  EXPECT_EQ(v1_.seen().size() + v2_->seen().size(), 12u) << "refused requests never go upstream";
}

INSTANTIATE_TEST_SUITE_P(Workers, WaypointRateLimitTest, ::testing::Values(1u, 2u));

}  // namespace
}  // namespace ambit::waypoint
