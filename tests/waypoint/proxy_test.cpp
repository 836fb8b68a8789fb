// The waypoint's data path on loopback, in one process: a real waypoint engine (WaypointListener,
// HttpSession) and a destination "node agent" engine in front of two HTTP/1.1 backends (shop-v1
// at 127.0.0.3, shop-v2 at 127.0.0.4). The client is our own HBONE connection from the sleep
// identity, sending raw HTTP/1.1 in a CONNECT to the Service VIP, as a source agent steering to
// the waypoint would. Every wait is bounded (run_loop_until: 5 s).
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <mutex>
#include <thread>

#include "tests/support/net_helpers.h"
#include "tests/support/test_pki.h"
#include "tests/waypoint/l7_fixture.h"
#include "tests/ztunnel/hbone_test_client.h"
#include "tests/ztunnel/test_workload.h"
#include "waypoint/waypoint_state.h"
#include "ztunnel/engine.h"

namespace ambit::waypoint {
namespace {

using namespace std::chrono_literals;
namespace pb = ambit::v1;
using ambit::testing::StreamCollector;

const Identity kClient("cluster.local", "shop", "sleep");
const Identity kShop("cluster.local", "shop", "shop");
const Identity kWaypoint("cluster.local", "shop", "shop-waypoint");
constexpr const char* kHost = "shop.shop.svc.cluster.local";

// A keep-alive HTTP/1.1 server answering every request with its name, then the request head it
// received (so tests see what the waypoint forwarded), and `x-served-by: <name>`.
class HttpBackend {
 public:
  HttpBackend(const char* ip, uint16_t port, std::string name) : name_(std::move(name)) {
    fd_ = UniqueFd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    auto addr = SocketAddress(*IpAddress::parse(ip), port);
    sockaddr_storage ss{};
    socklen_t len = addr.to_sockaddr(&ss);
    bound_ =
        bind(fd_.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0 && listen(fd_.get(), 16) == 0;
    if (bound_) address_ = *SocketAddress::local_of(fd_.get());
    thread_ = std::thread([this] { run(); });
  }
  ~HttpBackend() {
    stop_ = true;
    thread_.join();
    for (auto& t : connections_) t.join();
  }
  bool bound() const { return bound_; }
  // The request heads it has answered, oldest first.
  std::vector<std::string> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  const SocketAddress& address() const { return address_; }

 private:
  void run() {
    while (!stop_) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      int c = accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) connections_.emplace_back([this, c] { serve(UniqueFd(c)); });
    }
  }
  void serve(UniqueFd c) {
    std::string in;
    char buf[4096];
    while (!stop_) {
      pollfd p{c.get(), POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      ssize_t n = recv(c.get(), buf, sizeof(buf), 0);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
      while (true) {
        auto end = in.find("\r\n\r\n");
        if (end == std::string::npos) break;
        std::string head = in.substr(0, end + 4);
        size_t body = 0;
        auto cl = head.find("content-length: ");
        if (cl != std::string::npos) body = std::stoul(head.substr(cl + 16));
        if (head.find("transfer-encoding: chunked") != std::string::npos) {
          auto last = in.find("\r\n0\r\n\r\n", end);  // our tests send no trailers
          if (last == std::string::npos) break;
          body = last + 7 - (end + 4);
        }
        if (in.size() < end + 4 + body) break;
        std::string request = in.substr(0, end + 4 + body);
        in.erase(0, end + 4 + body);
        {
          std::lock_guard lock(mu_);
          seen_.push_back(request);
        }
        std::string answer = name_ + "\n" + request;
        std::string response = "HTTP/1.1 200 OK\r\nx-served-by: " + name_ +
                               "\r\ncontent-length: " + std::to_string(answer.size()) + "\r\n\r\n" +
                               answer;
        if (!ambit::testing::send_all(c.get(), response.data(), response.size())) return;
      }
    }
  }

  std::string name_;
  UniqueFd fd_;
  bool bound_ = false;
  SocketAddress address_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::thread> connections_;
  mutable std::mutex mu_;
  std::vector<std::string> seen_;
};

struct Response {
  int status = 0;
  std::string head, body;
  bool closed = false;
  const std::string served_by() const { return body.substr(0, body.find('\n')); }
};

// Splits complete HTTP/1.1 responses (Content-Length framed) off `data`.
std::vector<Response> responses_in(const std::string& data) {
  std::vector<Response> out;
  size_t at = 0;
  while (true) {
    auto end = data.find("\r\n\r\n", at);
    if (end == std::string::npos) break;
    Response r;
    r.head = data.substr(at, end + 4 - at);
    r.status = std::stoi(r.head.substr(9, 3));
    size_t len = 0;
    auto cl = r.head.find("content-length: ");
    if (cl != std::string::npos) len = std::stoul(r.head.substr(cl + 16));
    if (data.size() < end + 4 + len) break;
    r.body = data.substr(end + 4, len);
    at = end + 4 + len;
    out.push_back(std::move(r));
  }
  return out;
}

class WaypointProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(v1_.bound());
    v2_ = std::make_unique<HttpBackend>("127.0.0.4", v1_.address().port(), "shop-v2");
    ASSERT_TRUE(v2_->bound()) << "port " << v1_.address().port() << " taken on 127.0.0.4";
    start_node_b();
    loop_ = std::move(*EventLoop::create());
  }

  ztunnel::Workload pod(const char* name, const Identity& id, const char* node, const char* ip,
                        ztunnel::Labels labels) {
    auto w = ambit::testing::test_workload(name, id, node, {ip});
    w.labels = std::move(labels);
    return w;
  }

  // The mesh as both engines see it; the shop pods' HBONE addresses are node B's listeners.
  std::shared_ptr<ztunnel::WorkloadTable> table(const std::vector<SocketAddress>& hbone) {
    auto t = std::make_shared<ztunnel::WorkloadTable>();
    for (auto [i, name, ip, version] : {std::tuple{0, "shop-v1", "127.0.0.3", "v1"},
                                        std::tuple{1, "shop-v2", "127.0.0.4", "v2"}}) {
      auto w = pod(name, kShop, "node-b", ip, {{"app", "shop"}, {"version", version}});
      w.hbone_address = hbone[i];
      w.waypoint = "shop/shop-waypoint";
      EXPECT_TRUE(t->add_workload(w).ok());
    }
    EXPECT_TRUE(
        t->add_workload(pod("sleep", kClient, "node-a", "10.9.9.9", {{"app", "sleep"}})).ok());
    EXPECT_TRUE(t->add_workload(pod("shop-waypoint-0", kWaypoint, "node-a", "127.0.0.5", {})).ok());
    ztunnel::Service shop;
    shop.name = "shop";
    shop.ns = "shop";
    shop.vips = {*IpAddress::parse("10.96.0.30")};
    shop.ports = {{80, v1_.address().port()}};
    shop.selector = {{"app", "shop"}};
    shop.waypoint = "shop/shop-waypoint";
    EXPECT_TRUE(t->add_service(shop).ok());
    ztunnel::Service other = shop;  // served by no waypoint: the waypoint refuses it
    other.name = "other";
    other.vips = {*IpAddress::parse("10.96.0.31")};
    other.waypoint = "";
    EXPECT_TRUE(t->add_service(other).ok());
    return t;
  }

  void start_node_b() {
    ztunnel::EngineConfig b;
    b.node = "node-b";
    b.table = table({SocketAddress(), SocketAddress()});
    b.authorizer =
        std::make_shared<ztunnel::Authorizer>(std::vector<ztunnel::AuthorizationPolicy>{});
    auto cert = pki_.issue(kShop);
    for (const char* uid : {"shop/shop-v1", "shop/shop-v2"}) {
      b.credentials[uid] = {kShop, *TlsContext::client(cert, pki_.bundle()),
                            *TlsContext::server(cert, pki_.bundle())};
    }
    // In-pod listeners, as the agent makes them: each pod's HBONE port on its own address.
    b.listeners.push_back({ztunnel::ListenerKind::kInbound,
                           SocketAddress(*IpAddress::parse("127.0.0.3"), 0), "shop/shop-v1",
                           std::nullopt});
    b.listeners.push_back({ztunnel::ListenerKind::kInbound,
                           SocketAddress(*IpAddress::parse("127.0.0.4"), 0), "shop/shop-v2",
                           std::nullopt});
    b.workers = 1;
    auto engine = ztunnel::Engine::start(std::move(b));
    ASSERT_TRUE(engine.ok()) << engine.error().message;
    node_b_ = std::move(*engine);
  }

  // The waypoint with these routes and policies.
  void start_waypoint(std::vector<pb::VirtualService> vss, std::vector<pb::AuthorizationPolicy> aps,
                      pb::DestinationRule dr = testing::subsets_rule()) {
    auto t = table(node_b_->listener_addresses());
    auto state = std::make_shared<WaypointState>();
    state->waypoint_uid = "shop/shop-waypoint";
    state->workload_uid = "shop/shop-waypoint-0";
    state->stats = stats_;
    auto routes = RouteTable::build(vss, {dr}, t);
    ASSERT_TRUE(routes.ok()) << routes.error().message;
    state->routes = *routes;
    auto authz = L7Authorizer::build(aps, state->waypoint_uid, "istio-system");
    ASSERT_TRUE(authz.ok()) << authz.error().message;
    state->authorizer = *authz;
    ztunnel::EngineConfig w;
    w.node = "shop/shop-waypoint";
    w.table = t;
    w.authorizer =
        std::make_shared<ztunnel::Authorizer>(std::vector<ztunnel::AuthorizationPolicy>{});
    w.extension = state;
    auto cert = pki_.issue(kWaypoint);
    w.credentials["shop/shop-waypoint-0"] = {kWaypoint, *TlsContext::client(cert, pki_.bundle()),
                                             *TlsContext::server(cert, pki_.bundle())};
    ztunnel::ListenerSpec spec;
    spec.kind = ztunnel::ListenerKind::kExtension;
    spec.address = SocketAddress(*IpAddress::parse("127.0.0.5"), 0);
    spec.workload = "shop/shop-waypoint-0";
    w.listeners.push_back(spec);
    w.workers = 1;
    auto engine = ztunnel::Engine::start(std::move(w));
    ASSERT_TRUE(engine.ok()) << engine.error().message;
    waypoint_ = std::move(*engine);
  }

  // Sends `bytes` in one CONNECT to the Service from sleep and collects `expect` responses (or
  // what came before the stream closed).
  std::vector<Response> exchange(const std::string& bytes, size_t expect = 1,
                                 std::string authority = "10.96.0.30:80", bool* closed = nullptr) {
    ambit::testing::ReleaseWatcher owner;
    auto ctx = TlsContext::client(pki_.issue(kClient), pki_.bundle());
    client_ctx_ = *ctx;
    auto conn = std::make_unique<ztunnel::HboneConnection>(
        *loop_, std::move(*TcpSocket::open_stream_socket(AF_INET)),
        ztunnel::HboneConnection::Role::kClient, client_ctx_->get(), &owner, kWaypoint);
    conn->start_client(waypoint_->listener_addresses()[0], 2s);
    StreamCollector sink;
    sink.conn = conn.get();
    sink.stream = conn->open_stream(&sink, authority, {{"forwarded", "for=10.9.9.9"}});
    ambit::testing::run_loop_until(*loop_, [&] { return sink.status != 0 || sink.closed; });
    if (sink.status == 200 && !bytes.empty()) {
      conn->send(sink.stream, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
    }
    ambit::testing::run_loop_until(*loop_, [&] {
      return sink.closed || sink.ended || responses_in(sink.data).size() >= expect;
    });
    connect_status_ = sink.status;
    if (closed != nullptr) *closed = sink.closed || sink.ended;
    if (!sink.closed) conn->reset_stream(sink.stream, NGHTTP2_CANCEL);
    conn->shutdown();
    ambit::testing::run_loop_until(*loop_, [&] { return owner.released; });
    return responses_in(sink.data);
  }

  Response get(std::string path, std::string extra_headers = "") {
    auto rs = exchange("GET " + path + " HTTP/1.1\r\nHost: shop\r\n" + extra_headers + "\r\n");
    return rs.empty() ? Response{} : rs.front();
  }

  HttpBackend v1_{"127.0.0.3", 0, "shop-v1"};
  std::unique_ptr<HttpBackend> v2_;
  ambit::testing::TestPki pki_;
  std::shared_ptr<RequestStats> stats_ = std::make_shared<RequestStats>(1);
  std::unique_ptr<ztunnel::Engine> node_b_, waypoint_;
  std::unique_ptr<EventLoop> loop_;
  std::shared_ptr<TlsContext> client_ctx_;
  int connect_status_ = 0;
};

pb::VirtualService debug_and_canary() {
  auto vs = testing::virtual_service();
  auto* debug = vs.add_http();
  debug->set_name("debug");
  (*debug->add_match()->mutable_headers())["end-user"] = testing::exact("debug");
  *debug->add_route() = testing::to(kHost, "v2");
  (*debug->mutable_headers()->mutable_response()->mutable_set())["x-route"] = "debug";
  auto* rest = vs.add_http();
  rest->set_name("v1");
  *rest->add_route() = testing::to(kHost, "v1");
  (*rest->mutable_headers()->mutable_request()->mutable_add())["x-canary"] = "no";
  return vs;
}

TEST_F(WaypointProxyTest, RoutesByHeaderToTheSubsetsPods) {
  start_waypoint({debug_and_canary()}, {});
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
  pb::AuthorizationPolicy p;
  p.set_uid("shop/orders-authz");
  p.set_name("orders-authz");
  p.set_namespace_("shop");
  auto* t = p.add_target_refs();
  t->set_kind("Service");
  t->set_name("shop");
  t->set_namespace_("shop");
  p.add_rules()->add_to()->add_methods("GET");
  start_waypoint({}, {p});
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
  // A request with a body is not copied.
  auto post = exchange("POST /with-body HTTP/1.1\r\nHost: shop\r\nContent-Length: 2\r\n\r\nhi");
  ASSERT_EQ(post.size(), 1u);
  std::this_thread::sleep_for(100ms);
  for (const auto& head : v2_->seen()) EXPECT_EQ(head.find("/with-body"), std::string::npos);
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
  pb::AuthorizationPolicy p;
  p.set_uid("shop/get-only");
  p.set_name("get-only");
  p.set_namespace_("shop");
  auto* t = p.add_target_refs();
  t->set_kind("Service");
  t->set_name("shop");
  t->set_namespace_("shop");
  p.add_rules()->add_to()->add_methods("GET");
  start_waypoint({}, {p});
  bool closed = false;
  auto rs = exchange("hello tunnel\r\n\r\n", 1, "10.96.0.30:80", &closed);
  EXPECT_TRUE(rs.empty());
  EXPECT_TRUE(closed);
  for (const auto& head : v1_.seen()) EXPECT_EQ(head.find("hello"), std::string::npos);
}

}  // namespace
}  // namespace ambit::waypoint
