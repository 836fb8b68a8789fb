// The waypoint's data path on loopback, in one process: a real waypoint engine (WaypointListener,
// HttpSession) and a destination "node agent" engine in front of two HTTP/1.1 backends (shop-v1
// at 127.0.0.3, shop-v2 at 127.0.0.4) on the Service's port 80, and two HTTP/2 ones
// (h2_peers.h) on its GRPC port 9090. The client is our own HBONE connection from the sleep
// identity, sending raw bytes in a CONNECT to the Service VIP, as a source agent steering to the
// waypoint would. Every wait is bounded (run_loop_until: 5 s).
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <thread>

#include "tests/support/net_helpers.h"
#include "tests/support/test_pki.h"
#include "tests/waypoint/h2_peers.h"
#include "tests/waypoint/l7_fixture.h"
#include "tests/waypoint/loopback_server.h"
#include "tests/ztunnel/hbone_test_client.h"
#include "tests/ztunnel/test_workload.h"
#include "waypoint/waypoint_state.h"
#include "ztunnel/engine.h"

namespace ambit::waypoint::testing {

using namespace std::chrono_literals;
namespace pb = ambit::v1;
using ambit::testing::StreamCollector;

const Identity kClient("cluster.local", "shop", "sleep");
const Identity kShop("cluster.local", "shop", "shop");
const Identity kWaypoint("cluster.local", "shop", "shop-waypoint");
constexpr const char* kHost = "shop.shop.svc.cluster.local";
constexpr uint16_t kGrpcPort = 9090;  // the Service's GRPC port, served by the H2Backends
constexpr const char* kExternalHost = "api.stripe.com";  // a ServiceEntry's (external_)

// A keep-alive HTTP/1.1 server answering every request with its name, then the request head it
// received (so tests see what the waypoint forwarded), and `x-served-by: <name>`. A test may
// make it fail or lag (set_behaviour).
class HttpBackend {
 public:
  struct Reply {
    int status = 200;
    std::chrono::milliseconds delay{0};
  };
  // Decides each answer from the request and its 0-based number on this backend.
  using Behaviour = std::function<Reply(const std::string& request, size_t n)>;
  void set_behaviour(Behaviour b) {
    std::lock_guard lock(mu_);
    behaviour_ = std::move(b);
  }

  HttpBackend(const char* ip, uint16_t port, std::string name)
      : name_(std::move(name)),
        server_(ip, port,
                [this](UniqueFd c, const std::atomic<bool>& stop) { serve(std::move(c), stop); }) {}
  bool bound() const { return server_.bound(); }
  const SocketAddress& address() const { return server_.address(); }
  size_t connections() const { return server_.accepted(); }
  // The request heads it has answered, oldest first.
  std::vector<std::string> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  void serve(UniqueFd c, const std::atomic<bool>& stop) {
    std::string in;
    char buf[4096];
    while (!stop) {
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
        Reply reply;
        {
          std::lock_guard lock(mu_);
          if (behaviour_) reply = behaviour_(request, seen_.size());
          seen_.push_back(request);
        }
        if (reply.delay.count() > 0) {
          // Bounded by the test's stop: a cancelled try's connection closes meanwhile.
          auto until = std::chrono::steady_clock::now() + reply.delay;
          while (!stop && std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
          }
        }
        std::string answer = name_ + "\n" + request;
        std::string response =
            "HTTP/1.1 " + std::to_string(reply.status) + " X\r\nx-served-by: " + name_ +
            "\r\ncontent-length: " + std::to_string(answer.size()) + "\r\n\r\n" + answer;
        if (!ambit::testing::send_all(c.get(), response.data(), response.size())) return;
      }
    }
  }

  std::string name_;
  mutable std::mutex mu_;
  std::vector<std::string> seen_;
  Behaviour behaviour_;
  LoopbackServer server_;  // last: it serves with the members above
};

struct Response {
  int status = 0;
  std::string head, body;
  bool closed = false;
  const std::string served_by() const { return body.substr(0, body.find('\n')); }
};

// Splits complete HTTP/1.1 responses (Content-Length framed) off `data`.
inline std::vector<Response> responses_in(const std::string& data) {
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

// `end-user: debug` to v2 (with x-route: debug on the response), the rest to v1 with
// x-canary: no added to the request.
inline pb::VirtualService debug_and_canary() {
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

// GET only, for the shop Service.
inline pb::AuthorizationPolicy get_only() {
  pb::AuthorizationPolicy p;
  p.set_uid("shop/get-only");
  p.set_name("get-only");
  p.set_namespace_("shop");
  auto* t = p.add_target_refs();
  t->set_kind("Service");
  t->set_name("shop");
  t->set_namespace_("shop");
  p.add_rules()->add_to()->add_methods("GET");
  return p;
}

class WaypointProxyFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(v1_.bound());
    v2_ = std::make_unique<HttpBackend>("127.0.0.4", v1_.address().port(), "shop-v2");
    ASSERT_TRUE(v2_->bound()) << "port " << v1_.address().port() << " taken on 127.0.0.4";
    ASSERT_TRUE(g1_.bound());
    g2_ = std::make_unique<H2Backend>("127.0.0.4", g1_.address().port(), "grpc-v2");
    ASSERT_TRUE(g2_->bound()) << "port " << g1_.address().port() << " taken on 127.0.0.4";
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
    shop.ports = {{80, v1_.address().port(), "", "HTTP"},
                  {kGrpcPort, g1_.address().port(), "", "GRPC"}};
    shop.selector = {{"app", "shop"}};
    shop.waypoint = "shop/shop-waypoint";
    EXPECT_TRUE(t->add_service(shop).ok());
    // An Istio ServiceEntry host outside the mesh, served by the waypoint (egress): its one
    // STATIC endpoint is the plain HTTP server `external_`, dialled on the entry port's own
    // endpoint port.
    ztunnel::Service stripe;
    stripe.name = kExternalHost;
    stripe.ns = "shop";
    stripe.entry = "shop/stripe";
    stripe.vips = {*IpAddress::parse("10.96.0.50")};
    stripe.ports = {{80, 0, "", "HTTP", "http"}};
    stripe.waypoint = "shop/shop-waypoint";
    stripe.resolution = ztunnel::Service::Resolution::kStatic;
    stripe.mesh_external = true;
    uint16_t external_port = external_port_ != 0 ? external_port_ : external_.address().port();
    stripe.endpoints = {{"127.0.0.6", {{"http", external_port}}, {}, 0}};
    EXPECT_TRUE(t->add_service(stripe).ok());
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

  // The waypoint with these routes, policies and local rate limits, on `workers` workers.
  void start_waypoint(std::vector<pb::VirtualService> vss, std::vector<pb::AuthorizationPolicy> aps,
                      pb::DestinationRule dr = testing::subsets_rule(),
                      std::vector<pb::LocalRateLimit> rate_limits = {}, unsigned workers = 1) {
    auto hbone = node_b_->listener_addresses();
    if (silent_v2_.valid()) hbone[1] = silent_v2_.address;
    auto t = table(hbone);
    auto state = std::make_shared<WaypointState>();
    state->waypoint_uid = "shop/shop-waypoint";
    state->workload_uid = "shop/shop-waypoint-0";
    if (workers > 1) stats_ = std::make_shared<RequestStats>(workers);
    state->stats = stats_;
    auto routes = RouteTable::build(vss, {dr}, t, kDefaultRouteBudget, rate_limits);
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
    w.workers = workers;
    auto engine = ztunnel::Engine::start(std::move(w));
    ASSERT_TRUE(engine.ok()) << engine.error().message;
    waypoint_ = std::move(*engine);
  }

  // Opens a CONNECT to `authority` from sleep and, when it is accepted, runs drive(conn, sink).
  template <class Drive>
  void over_connect(const std::string& authority, Drive drive) {
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
    connect_status_ = sink.status;
    if (sink.status == 200) drive(*conn, sink);
    if (!sink.closed) conn->reset_stream(sink.stream, NGHTTP2_CANCEL);
    conn->shutdown();
    ambit::testing::run_loop_until(*loop_, [&] { return owner.released; });
  }

  // Sends `bytes` in one CONNECT to the Service from sleep and collects `expect` responses (or
  // what came before the stream closed).
  std::vector<Response> exchange(const std::string& bytes, size_t expect = 1,
                                 std::string authority = "10.96.0.30:80", bool* closed = nullptr) {
    std::string data;
    bool ended = false;
    over_connect(authority, [&](ztunnel::HboneConnection& conn, StreamCollector& sink) {
      if (!bytes.empty()) {
        conn.send(sink.stream, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
      }
      ambit::testing::run_loop_until(*loop_, [&] {
        return sink.closed || sink.ended || responses_in(sink.data).size() >= expect;
      });
      data = sink.data;
      ended = sink.closed || sink.ended;
    });
    if (closed != nullptr) *closed = ended;
    return responses_in(data);
  }

  // An HTTP/2 client on one CONNECT: `submit` sends its requests; returns once every stream
  // closed (or the connection did), with the replies by stream.
  template <class Submit>
  std::map<int32_t, H2TestClient::Reply> h2_exchange(Submit submit,
                                                     std::string authority = "10.96.0.30:80") {
    H2TestClient client;
    over_connect(authority, [&](ztunnel::HboneConnection& conn, StreamCollector& sink) {
      submit(client);
      ambit::testing::run_loop_until(*loop_, [&] {
        client.pump(conn, sink.stream, sink.data);
        return client.all_closed() || sink.closed || client.broken;
      });
    });
    EXPECT_FALSE(client.broken) << client.error;
    return client.replies;
  }

  Response get(std::string path, std::string extra_headers = "") {
    auto rs = exchange("GET " + path + " HTTP/1.1\r\nHost: shop\r\n" + extra_headers + "\r\n");
    return rs.empty() ? Response{} : rs.front();
  }

  // Makes shop-v2's node one that takes TCP connections and never answers (a hung node): its
  // CONNECTs are never accepted. Before start_waypoint().
  void silence_v2() {
    silent_v2_.fd = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7f000004);  // 127.0.0.4
    socklen_t len = sizeof(a);
    ASSERT_EQ(::bind(silent_v2_.fd.get(), reinterpret_cast<sockaddr*>(&a), len), 0);
    ASSERT_EQ(::listen(silent_v2_.fd.get(), 16), 0);  // never accepted: the kernel completes
    ASSERT_EQ(::getsockname(silent_v2_.fd.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
    silent_v2_.address = SocketAddress(*IpAddress::parse("127.0.0.4"), ntohs(a.sin_port));
  }
  struct SilentNode {
    UniqueFd fd;
    SocketAddress address;
    bool valid() const { return fd.get() >= 0; }
  } silent_v2_;

  HttpBackend v1_{"127.0.0.3", 0, "shop-v1"};
  HttpBackend external_{"127.0.0.6", 0, "stripe"};  // outside the mesh: plain HTTP
  uint16_t external_port_ = 0;  // set before start_waypoint(): the endpoint's port instead
  std::unique_ptr<HttpBackend> v2_;
  H2Backend g1_{"127.0.0.3", 0, "grpc-v1"};
  std::unique_ptr<H2Backend> g2_;
  ambit::testing::TestPki pki_;
  std::shared_ptr<RequestStats> stats_ = std::make_shared<RequestStats>(1);
  std::unique_ptr<ztunnel::Engine> node_b_, waypoint_;
  std::unique_ptr<EventLoop> loop_;
  std::shared_ptr<TlsContext> client_ctx_;
  int connect_status_ = 0;
};

}  // namespace ambit::waypoint::testing
