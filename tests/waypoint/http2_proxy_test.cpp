// The waypoint with HTTP/2 clients and endpoints (proxy_fixture.h): h2c from the client,
// translated to HTTP/1.1 for the Service's HTTP port and carried as HTTP/2 to its GRPC port, and
// HTTP/1.1 clients reaching the GRPC port over HTTP/2.
#include <thread>

#include "tests/waypoint/proxy_fixture.h"

namespace ambit::waypoint {
namespace {

namespace pb = ambit::v1;
using ambit::testing::StreamCollector;
using testing::H2TestClient;
using testing::kHost;
using Http2ProxyTest = testing::WaypointProxyFixture;

HttpRequest grpc_call(std::string method) {
  HttpRequest r;
  r.method = "POST";
  r.authority = "shop:9090";
  r.path = std::move(method);
  r.headers = {{"content-type", "application/grpc"}, {"te", "trailers"}, {"grpc-timeout", "5S"}};
  return r;
}

// A gRPC message: uncompressed, 4-byte big-endian length, payload.
std::string grpc_frame(std::string_view payload) {
  std::string out(5, '\0');
  out[4] = static_cast<char>(payload.size());
  out += payload;
  return out;
}

TEST_F(Http2ProxyTest, AnHttp2ClientIsRoutedToHttp1Pods) {
  start_waypoint({testing::debug_and_canary()}, {});
  auto replies = h2_exchange([](H2TestClient& c) {
    c.request(H2TestClient::get("/items", {{"end-user", "debug"}}));
    c.request(H2TestClient::get("/items?page=2"));
  });
  ASSERT_EQ(replies.size(), 2u);
  const auto& debug = replies.begin()->second;
  const auto& plain = std::next(replies.begin())->second;
  ASSERT_EQ(debug.status, 200);
  EXPECT_EQ(debug.served_by(), "shop-v2");
  EXPECT_EQ(debug.header("x-route"), "debug");
  EXPECT_EQ(debug.reset, 0u);
  ASSERT_EQ(plain.status, 200);
  EXPECT_EQ(plain.served_by(), "shop-v1");
  // The pod got HTTP/1.1: Host from :authority, and the body's length as a header.
  EXPECT_NE(plain.body.find("GET /items?page=2 HTTP/1.1\r\nhost: shop\r\n"), std::string::npos)
      << plain.body;
  EXPECT_EQ(plain.header("content-length"), std::to_string(plain.body.size()));
  EXPECT_EQ(stats_->requests(), 2u);
}

TEST_F(Http2ProxyTest, ManyStreamsAtOnceAreAllAnswered) {
  start_waypoint({}, {});
  constexpr int kStreams = 40;
  auto replies = h2_exchange([](H2TestClient& c) {
    for (int i = 0; i < kStreams; ++i) c.request(H2TestClient::get("/n/" + std::to_string(i)));
  });
  ASSERT_EQ(replies.size(), static_cast<size_t>(kStreams));
  int i = 0;
  for (const auto& [id, r] : replies) {
    EXPECT_EQ(r.status, 200) << "stream " << id;
    EXPECT_NE(r.body.find("GET /n/" + std::to_string(i++) + " HTTP/1.1"), std::string::npos);
  }
}

TEST_F(Http2ProxyTest, OneRequestAfterAnotherReusesOneHttp1Connection) {
  auto vs = testing::virtual_service();
  *vs.add_http()->add_route() = testing::to(kHost, "v1");
  start_waypoint({vs}, {});
  H2TestClient client;
  over_connect("10.96.0.30:80", [&](ztunnel::HboneConnection& conn, StreamCollector& sink) {
    for (int i = 0; i < 5; ++i) {
      int32_t id = client.request(H2TestClient::get("/seq/" + std::to_string(i)));
      ambit::testing::run_loop_until(*loop_, [&] {
        client.pump(conn, sink.stream, sink.data);
        return client.replies[id].closed || sink.closed;
      });
      ASSERT_EQ(client.replies[id].status, 200) << i;
    }
  });
  EXPECT_EQ(v1_.seen().size(), 5u);
  EXPECT_EQ(v1_.connections(), 1u);  // each request went on the connection the last one used
}

TEST_F(Http2ProxyTest, RequestBodiesReachAnHttp1PodFramedAsTheClientSentThem) {
  start_waypoint({}, {});
  HttpRequest sized = H2TestClient::get("/sized", {{"content-length", "5"}});
  sized.method = "POST";
  HttpRequest streamed = H2TestClient::get("/streamed");
  streamed.method = "POST";
  auto replies = h2_exchange([&](H2TestClient& c) {
    c.request(sized, "hello");
    c.request(streamed, "abcdef");
  });
  ASSERT_EQ(replies.size(), 2u);
  const auto& a = replies.begin()->second;
  const auto& b = std::next(replies.begin())->second;
  ASSERT_EQ(a.status, 200);
  EXPECT_NE(a.body.find("content-length: 5\r\n\r\nhello"), std::string::npos) << a.body;
  ASSERT_EQ(b.status, 200);
  EXPECT_NE(b.body.find("transfer-encoding: chunked\r\n\r\n6\r\nabcdef\r\n0\r\n\r\n"),
            std::string::npos)
      << b.body;
}

TEST_F(Http2ProxyTest, GrpcReachesAnHttp2PodWithItsTrailersAndDeadline) {
  start_waypoint({}, {});
  auto replies = h2_exchange(
      [](H2TestClient& c) { c.request(grpc_call("/shop.Cart/Add"), grpc_frame("item-7")); },
      "10.96.0.30:9090");
  ASSERT_EQ(replies.size(), 1u);
  const auto& r = replies.begin()->second;
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/grpc");
  EXPECT_EQ(r.trailer("grpc-status"), "0");
  EXPECT_EQ(r.trailer("grpc-message"), "served");
  EXPECT_NE(r.body.find("item-7"), std::string::npos);
  // The pod saw the call as HTTP/2, with the deadline and te: trailers passed on.
  auto seen = g1_.seen();
  for (const auto& s : g2_->seen()) seen.push_back(s);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].request.path, "/shop.Cart/Add");
  EXPECT_EQ(testing::header_of(seen[0].request.headers, "grpc-timeout"), "5S");
  EXPECT_EQ(testing::header_of(seen[0].request.headers, "te"), "trailers");
  EXPECT_EQ(seen[0].body, grpc_frame("item-7"));
}

TEST_F(Http2ProxyTest, StreamsToAnHttp2PodShareOneConnection) {
  start_waypoint({}, {});
  auto replies = h2_exchange(
      [](H2TestClient& c) {
        for (int i = 0; i < 10; ++i) c.request(grpc_call("/shop.Cart/Get"), grpc_frame("x"));
      },
      "10.96.0.30:9090");
  ASSERT_EQ(replies.size(), 10u);
  for (const auto& [id, r] : replies) EXPECT_EQ(r.trailer("grpc-status"), "0") << id;
  EXPECT_EQ(g1_.seen().size() + g2_->seen().size(), 10u);
}

TEST_F(Http2ProxyTest, AnHttp1ClientReachesAnHttp2Pod) {
  start_waypoint({}, {});
  auto rs = exchange(
      "POST /legacy HTTP/1.1\r\nHost: shop\r\nContent-Length: 3\r\n\r\nabc"
      "GET /again HTTP/1.1\r\nHost: shop\r\n\r\n",
      2, "10.96.0.30:9090");
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].status, 200);
  EXPECT_NE(rs[0].body.find("POST /legacy\nabc"), std::string::npos) << rs[0].body;
  EXPECT_NE(rs[1].body.find("GET /again"), std::string::npos) << rs[1].body;
  auto seen = g1_.seen();
  for (const auto& s : g2_->seen()) seen.push_back(s);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].request.authority, "shop");
}

TEST_F(Http2ProxyTest, TheWaypointAnswersGrpcCallsWithGrpcStatuses) {
  start_waypoint({}, {testing::get_only()});
  HttpRequest post = H2TestClient::get("/api");
  post.method = "POST";
  auto replies = h2_exchange(
      [&](H2TestClient& c) {
        c.request(grpc_call("/shop.Cart/Add"), grpc_frame("x"));  // POST: denied
        c.request(post, "body");
      },
      "10.96.0.30:9090");
  ASSERT_EQ(replies.size(), 2u);
  const auto& grpc = replies.begin()->second;
  const auto& plain = std::next(replies.begin())->second;
  // Envoy's local reply to gRPC: HTTP 200, trailers-only, PERMISSION_DENIED.
  EXPECT_EQ(grpc.status, 200);
  EXPECT_EQ(grpc.header("grpc-status"), "7");
  EXPECT_EQ(grpc.header("grpc-message"), "RBAC: access denied");
  EXPECT_EQ(plain.status, 403);
  EXPECT_EQ(plain.body, "RBAC: access denied");
  EXPECT_TRUE(g1_.seen().empty());
  EXPECT_TRUE(g2_->seen().empty());
}

TEST_F(Http2ProxyTest, AMirroredUploadReachesTheShadowWithItsBody) {
  auto vs = testing::virtual_service();
  auto* r = vs.add_http();
  *r->add_route() = testing::to(kHost, "v1");
  r->mutable_mirror()->set_host(kHost);
  r->mutable_mirror()->set_subset("v2");
  start_waypoint({vs}, {});
  HttpRequest post = H2TestClient::get("/upload");
  post.method = "POST";
  auto replies = h2_exchange([&](H2TestClient& c) { c.request(post, "payload"); });
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies.begin()->second.served_by(), "shop-v1");
  bool copied = false;
  for (int i = 0; i < 200 && !copied; ++i) {  // up to 2 s
    for (const auto& seen : v2_->seen()) {
      copied |= seen.find("POST /upload HTTP/1.1\r\nhost: shop-shadow\r\n") != std::string::npos &&
                seen.find("7\r\npayload\r\n0\r\n\r\n") != std::string::npos;
    }
    if (!copied) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(copied);
}

TEST_F(Http2ProxyTest, NoRouteIs404ForHttp2Too) {
  auto vs = testing::virtual_service();
  auto* api = vs.add_http();
  *api->add_match()->mutable_uri() = testing::prefix("/api");
  *api->add_route() = testing::to(kHost, "v1");
  start_waypoint({vs}, {});
  auto replies = h2_exchange([](H2TestClient& c) { c.request(H2TestClient::get("/web")); });
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies.begin()->second.status, 404);
  EXPECT_NE(stats_->render_prometheus().find("response_flags=\"NR\""), std::string::npos);
}

}  // namespace
}  // namespace ambit::waypoint
