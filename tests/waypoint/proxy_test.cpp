// The waypoint with HTTP/1.1 clients (proxy_fixture.h).
#include <thread>

#include "tests/waypoint/proxy_fixture.h"
#include "tests/waypoint/tls_hello.h"

namespace ambit::waypoint {
namespace {

using namespace std::chrono_literals;
namespace pb = ambit::v1;
using testing::kHost;
using testing::Response;
using WaypointProxyTest = testing::WaypointProxyFixture;
using ambit::testing::StreamCollector;

TEST_F(WaypointProxyTest, RoutesByHeaderToTheSubsetsPods) {
  start_waypoint({testing::debug_and_canary()}, {});
  Response debug = get("/items", "end-user: debug\r\n");
  EXPECT_EQ(connect_status_, 200);
  ASSERT_EQ(debug.status, 200) << debug.head;
  EXPECT_EQ(debug.served_by(), "shop-v2");
  EXPECT_NE(debug.head.find("x-route: debug"), std::string::npos) << debug.head;
  Response plain = get("/items");
  ASSERT_EQ(plain.status, 200);
  EXPECT_EQ(plain.served_by(), "shop-v1");
  // What the backend received: the rebuilt head, with the route's header added.
  EXPECT_NE(plain.body.find("GET /items HTTP/1.1\r\n"), std::string::npos) << plain.body;
  EXPECT_NE(plain.body.find("x-canary: no\r\n"), std::string::npos) << plain.body;
  EXPECT_EQ(stats_->requests(), 2u);
}

TEST_F(WaypointProxyTest, KeepAliveCarriesSeveralRequestsAndBodies) {
  start_waypoint({}, {});
  std::string two =
      "POST /orders HTTP/1.1\r\nHost: shop\r\nContent-Length: 5\r\n\r\nhello"
      "GET /second HTTP/1.1\r\nHost: shop\r\n\r\n";
  auto rs = exchange(two, 2);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].status, 200);
  EXPECT_NE(rs[0].body.find("content-length: 5\r\n\r\nhello"), std::string::npos) << rs[0].body;
  EXPECT_EQ(rs[1].status, 200);
  EXPECT_NE(rs[1].body.find("GET /second"), std::string::npos);
}

TEST_F(WaypointProxyTest, ChunkedRequestBodiesArriveWhole) {
  start_waypoint({}, {});
  auto rs = exchange(
      "POST /upload HTTP/1.1\r\nHost: shop\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, 200);
  EXPECT_NE(rs[0].body.find("transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
            std::string::npos)
      << rs[0].body;
}

TEST_F(WaypointProxyTest, AuthorizationDeniesWith403AndAllowsTheRightRequest) {
  start_waypoint({}, {testing::get_only()});
  Response ok = get("/api/orders/1/status");
  EXPECT_EQ(ok.status, 200);
  auto denied = exchange("DELETE /api/orders/1 HTTP/1.1\r\nHost: shop\r\n\r\n");
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_EQ(denied[0].status, 403);
  EXPECT_EQ(denied[0].body, "RBAC: access denied");
  std::string metrics = stats_->render_prometheus();
  EXPECT_NE(metrics.find("response_code=\"403\""), std::string::npos) << metrics;
}

TEST_F(WaypointProxyTest, NoRouteIs404AndAnUnknownSubsetIs503) {
  auto vs = testing::virtual_service();
  auto* api = vs.add_http();
  *api->add_match()->mutable_uri() = testing::prefix("/api");
  *api->add_route() = testing::to(kHost, "v1");
  auto* gone = vs.add_http();
  *gone->add_match()->mutable_uri() = testing::prefix("/v9");
  *gone->add_route() = testing::to(kHost, "v9");
  start_waypoint({vs}, {});
  EXPECT_EQ(get("/web").status, 404);
  EXPECT_EQ(get("/v9/x").status, 503);
  EXPECT_EQ(get("/api/x").status, 200);
  std::string metrics = stats_->render_prometheus();
  EXPECT_NE(metrics.find("response_flags=\"NR\""), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("response_flags=\"NC\""), std::string::npos) << metrics;
}

TEST_F(WaypointProxyTest, ASmugglingAttemptIsRefusedAndNeverForwarded) {
  start_waypoint({}, {});
  bool closed = false;
  auto rs = exchange(
      "POST / HTTP/1.1\r\nHost: shop\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: shop\r\n\r\n",
      1, "10.96.0.30:80", &closed);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, 400);
  EXPECT_EQ(rs[0].body.find("smuggled"), std::string::npos);
  EXPECT_EQ(stats_->requests(), 0u);
  EXPECT_NE(stats_->render_prometheus().find("ambit_waypoint_bad_requests_total{reason="),
            std::string::npos);
}

TEST_F(WaypointProxyTest, AConnectForSomethingNotServedIsRefused) {
  start_waypoint({}, {});
  exchange("", 0, "10.96.0.99:80");
  EXPECT_EQ(connect_status_, 400);
  exchange("", 0, "10.96.0.31:80");  // a Service of the mesh, but not this waypoint's
  EXPECT_EQ(connect_status_, 400);
}

TEST_F(WaypointProxyTest, AMirroredRequestReachesTheShadowAsWell) {
  auto vs = testing::virtual_service();
  auto* r = vs.add_http();
  *r->add_route() = testing::to(kHost, "v1");
  r->mutable_mirror()->set_host(kHost);
  r->mutable_mirror()->set_subset("v2");
  start_waypoint({vs}, {});
  Response answer = get("/shadowed");
  ASSERT_EQ(answer.status, 200);
  EXPECT_EQ(answer.served_by(), "shop-v1");  // the client gets the primary's answer
  bool copied = false;
  for (int i = 0; i < 200 && !copied; ++i) {  // up to 2 s
    for (const auto& head : v2_->seen()) copied |= head.find("GET /shadowed") != std::string::npos;
    if (!copied) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(copied);
  EXPECT_NE(v2_->seen().front().find("host: shop-shadow\r\n"), std::string::npos)
      << v2_->seen().front();
  // A request with a body is copied with its body, chunked ones re-framed as they arrive.
  auto post = exchange("POST /with-body HTTP/1.1\r\nHost: shop\r\nContent-Length: 2\r\n\r\nhi");
  ASSERT_EQ(post.size(), 1u);
  EXPECT_EQ(post[0].served_by(), "shop-v1");
  auto chunked = exchange(
      "POST /chunked HTTP/1.1\r\nHost: shop\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\n\r\n");
  ASSERT_EQ(chunked.size(), 1u);
  bool sized = false, streamed = false;
  for (int i = 0; i < 200 && !(sized && streamed); ++i) {  // up to 2 s
    for (const auto& r : v2_->seen()) {
      sized |= r.find("POST /with-body") != std::string::npos &&
               r.find("content-length: 2\r\n\r\nhi") != std::string::npos;
      streamed |= r.find("POST /chunked") != std::string::npos &&
                  r.find("\r\n\r\n3\r\nabc\r\n0\r\n\r\n") != std::string::npos;
    }
    if (!(sized && streamed)) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(sized);
  EXPECT_TRUE(streamed);
}

TEST_F(WaypointProxyTest, BytesThatAreNotHttpFollowTheTcpRoute) {
  auto vs = testing::virtual_service();
  auto* tcp = vs.add_tcp();
  *tcp->add_route() = testing::to(kHost, "v2");
  start_waypoint({vs}, {});
  // Not a request line (lowercase): a TCP tunnel to the route's backend, bytes as they are.
  auto rs = exchange("hello tunnel\r\n\r\n");
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].served_by(), "shop-v2");
  EXPECT_NE(rs[0].body.find("hello tunnel"), std::string::npos) << rs[0].body;
}

TEST_F(WaypointProxyTest, ATunnelIsRefusedWhenL7PolicyApplies) {
  start_waypoint({}, {testing::get_only()});
  bool closed = false;
  auto rs = exchange("hello tunnel\r\n\r\n", 1, "10.96.0.30:80", &closed);
  EXPECT_TRUE(rs.empty());
  EXPECT_TRUE(closed);
  for (const auto& head : v1_.seen()) EXPECT_EQ(head.find("hello"), std::string::npos);
}

TEST_F(WaypointProxyTest, TlsFollowsTheRouteOfItsServerName) {
  auto vs = testing::virtual_service();
  auto* tls = vs.add_tls();
  tls->add_match()->add_sni_hosts("v2.shop.example");
  *tls->add_route() = testing::to(kHost, "v2");
  *vs.add_tcp()->add_route() = testing::to(kHost, "v1");  // everything else
  start_waypoint({vs}, {});
  auto send_hello = [&](const char* name) {
    std::string hello = testing::client_hello(name);
    size_t before = v1_.connections() + v2_->connections();
    over_connect("10.96.0.30:80", [&](ztunnel::HboneConnection& conn, StreamCollector& sink) {
      conn.send(sink.stream, {reinterpret_cast<const uint8_t*>(hello.data()), hello.size()});
      ambit::testing::run_loop_until(
          *loop_, [&] { return sink.closed || v1_.connections() + v2_->connections() > before; });
    });
  };
  send_hello("v2.shop.example");
  EXPECT_EQ(v2_->connections(), 1u);
  EXPECT_EQ(v1_.connections(), 0u);
  send_hello("www.shop.example");  // no tls route names it: the tcp route
  EXPECT_EQ(v1_.connections(), 1u);
  EXPECT_EQ(v2_->connections(), 1u);
}

TEST_F(WaypointProxyTest, AStickyCookieIsSetOnceAndKeepsTheClientOnItsPod) {
  auto dr = testing::subsets_rule();
  auto* ch = dr.mutable_traffic_policy()->mutable_load_balancer()->mutable_consistent_hash();
  ch->set_http_cookie_name("shop-session");
  ch->set_http_cookie_ttl("600s");
  start_waypoint({}, {}, dr);
  Response first = get("/cart");
  ASSERT_EQ(first.status, 200);
  auto at = first.head.find("set-cookie: shop-session=\"");
  ASSERT_NE(at, std::string::npos) << first.head;
  std::string line = first.head.substr(at, first.head.find("\r\n", at) - at);
  EXPECT_NE(line.find("; Max-Age=600; HttpOnly"), std::string::npos) << line;
  std::string pair = line.substr(12, line.find(';') - 12);  // after "set-cookie: "
  for (int i = 0; i < 10; ++i) {
    Response again = get("/cart", "Cookie: " + pair + "\r\n");
    ASSERT_EQ(again.status, 200);
    EXPECT_EQ(again.served_by(), first.served_by());
    EXPECT_EQ(again.head.find("set-cookie"), std::string::npos) << again.head;
  }
}

}  // namespace
}  // namespace ambit::waypoint
