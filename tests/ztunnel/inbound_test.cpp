// The inbound HBONE listener's handling of CONNECT requests, driven by our own client-side
// HboneConnection on a loop in the test thread against a real engine.
#include "ztunnel/hbone_connection.h"

#include <gtest/gtest.h>

#include "tests/support/net_helpers.h"
#include "tests/support/test_pki.h"
#include "tests/ztunnel/hbone_test_client.h"
#include "tests/ztunnel/test_workload.h"
#include "ztunnel/engine.h"

namespace ambit::ztunnel {
namespace {

using namespace std::chrono_literals;

const Identity kClientId("cluster.local", "default", "sleep");
const Identity kServerId("cluster.local", "default", "echo");

using Sink = testing::StreamCollector;
using Owner = testing::ReleaseWatcher;

const Identity kWaypointId("cluster.local", "default", "echo-waypoint");

AuthzSource from_ip_block(const char* cidr) {
  AuthzSource source;
  source.ip_blocks = {*Cidr::parse(cidr)};
  return source;
}

AuthorizationPolicy policy(std::string name, AuthzAction action, AuthzSource source) {
  AuthzRule rule;
  rule.from = {std::move(source)};
  AuthorizationPolicy p;
  p.name = std::move(name);
  p.ns = "default";
  p.action = action;
  p.rules = {rule};
  return p;
}

// Engine B hosts echo (127.0.0.3 and 127.0.0.4, behind waypoint default/echo-waypoint, the
// endpoint of service echo); sleep (kClientId) lives at 10.9.9.9 on another node.
class HboneServerTest : public ::testing::Test {
 protected:
  void SetUp() override { start("127.0.0.2"); }

  void start(const char* listen_ip, std::vector<AuthorizationPolicy> policies = {}) {
    engine_.reset();
    EngineConfig b;
    b.node = "node-b";
    auto table = std::make_shared<WorkloadTable>();
    Workload echo = testing::test_workload("echo", kServerId, "node-b", {"127.0.0.3", "127.0.0.4"});
    echo.labels = {{"app", "echo"}};
    echo.waypoint = "default/echo-waypoint";
    ASSERT_TRUE(table->add_workload(echo).ok());
    Workload sleep = testing::test_workload("sleep", kClientId, "node-a", {"10.9.9.9"});
    ASSERT_TRUE(table->add_workload(sleep).ok());
    Service svc;
    svc.name = "echo";
    svc.ns = "default";
    svc.vips = {*IpAddress::parse("10.96.0.10")};
    svc.ports = {{80, echo_.address().port()}};
    svc.selector = {{"app", "echo"}};
    ASSERT_TRUE(table->add_service(svc).ok());
    b.table = table;
    b.authorizer = std::make_shared<Authorizer>(std::move(policies));
    auto cert = pki_.issue(kServerId);
    b.credentials["default/echo"] = {kServerId, *TlsContext::client(cert, pki_.bundle()),
                                     *TlsContext::server(cert, pki_.bundle())};
    b.listeners.push_back({ListenerKind::kInbound, SocketAddress(*IpAddress::parse(listen_ip), 0),
                           "default/echo", std::nullopt});
    b.workers = 1;
    auto engine = Engine::start(std::move(b));
    ASSERT_TRUE(engine.ok()) << engine.error().message;
    engine_ = std::move(*engine);
    if (!loop_) loop_ = std::move(*EventLoop::create());
  }

  std::unique_ptr<HboneConnection> connect(const testing::TestPki& pki, const Identity& id,
                                           Owner* owner) {
    auto ctx = TlsContext::client(pki.issue(id), pki.bundle());
    client_ctx_ = *ctx;
    auto conn = std::make_unique<HboneConnection>(
        *loop_, std::move(*TcpSocket::open_stream_socket(AF_INET)), HboneConnection::Role::kClient,
        client_ctx_->get(), owner, kServerId);
    conn->start_client(engine_->listener_addresses()[0], 2s);
    return conn;
  }

  // One CONNECT from `id` with these headers; returns the answer's status (0: none).
  int connect_status(const Identity& id, const std::string& authority,
                     std::vector<std::pair<std::string, std::string>> headers = {}) {
    Owner owner;
    auto conn = connect(pki_, id, &owner);
    Sink sink;
    sink.conn = conn.get();
    sink.stream = conn->open_stream(&sink, authority, std::move(headers));
    run_until([&] { return sink.status != 0 || sink.closed; });
    if (!sink.closed) conn->reset_stream(sink.stream, NGHTTP2_CANCEL);
    // The loop runs again for the next request: nothing of this connection may be pending.
    conn->shutdown();
    run_until([&] { return owner.released; });
    EXPECT_TRUE(owner.released);
    return sink.status;
  }

  std::string echo_authority() const {
    return "127.0.0.3:" + std::to_string(echo_.address().port());
  }

  template <typename F>
  void run_until(F done) {
    testing::run_loop_until(*loop_, done);
  }

  testing::EchoServer echo_{"127.0.0.3"};
  testing::TestPki pki_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<EventLoop> loop_;
  std::shared_ptr<TlsContext> client_ctx_;
};

TEST_F(HboneServerTest, ConnectToWorkloadTunnelsBytes) {
  testing::EchoServer& echo = echo_;
  Owner owner;
  auto conn = connect(pki_, kClientId, &owner);
  Sink sink;
  sink.conn = conn.get();
  sink.stream = conn->open_stream(&sink, "127.0.0.3:" + std::to_string(echo.address().port()),
                                  {{"forwarded", "for=\"127.0.0.1:4711\""}});
  ASSERT_NE(sink.stream, nullptr);
  std::string hello = "hello over hbone";
  conn->send(sink.stream, {reinterpret_cast<const uint8_t*>(hello.data()), hello.size()});
  conn->end_stream(sink.stream);
  run_until([&] { return sink.closed; });
  EXPECT_EQ(sink.status, 200);
  EXPECT_EQ(sink.data, hello);
  EXPECT_TRUE(sink.ended);
  EXPECT_EQ(sink.closed_code, 0u);
  EXPECT_EQ(conn->peer_identity(), kServerId);
}

TEST_F(HboneServerTest, BadAuthorityIsRejectedWith400) {
  Owner owner;
  auto conn = connect(pki_, kClientId, &owner);
  Sink sink;
  sink.stream = conn->open_stream(&sink, "not-an-address", {});
  run_until([&] { return sink.closed; });
  EXPECT_EQ(sink.status, 400);
}

TEST_F(HboneServerTest, DestinationNotOnThisNodeIsRejectedWith400) {
  Owner owner;
  auto conn = connect(pki_, kClientId, &owner);
  Sink sink;
  sink.stream = conn->open_stream(&sink, "127.0.0.99:80", {});
  run_until([&] { return sink.closed; });
  EXPECT_EQ(sink.status, 400);
}

TEST_F(HboneServerTest, UnreachableDestinationIsAnswered503) {
  Owner owner;
  auto conn = connect(pki_, kClientId, &owner);
  Sink sink;
  sink.stream = conn->open_stream(&sink, "127.0.0.3:1", {});  // nothing listens on port 1
  run_until([&] { return sink.closed; });
  EXPECT_EQ(sink.status, 503);
}

TEST_F(HboneServerTest, ClientFromAnotherTrustDomainCannotHandshake) {
  testing::TestPki stranger;
  Owner owner;
  auto conn = connect(stranger, kClientId, &owner);
  Sink sink;
  sink.stream = conn->open_stream(&sink, "127.0.0.3:80", {});
  run_until([&] { return sink.closed; });
  EXPECT_EQ(sink.status, 0);
  EXPECT_EQ(sink.closed_code, HboneConnection::kConnectionLost);
  EXPECT_NE(sink.why.find("certificate verify failed"), std::string::npos) << sink.why;
}

TEST_F(HboneServerTest, ClientOfAnotherTrustDomainUnderTheSameRootIsRefused) {
  Owner owner;
  auto conn = connect(pki_, Identity("evil.example", "default", "sleep"), &owner);
  Sink sink;
  sink.stream = conn->open_stream(&sink, echo_authority(), {});
  run_until([&] { return sink.closed; });
  EXPECT_EQ(sink.status, 0) << "refused at the handshake, before any CONNECT is answered";
  EXPECT_EQ(sink.closed_code, HboneConnection::kConnectionLost);
}

// Forwarded is the peer's word: a claim the peer may not make is ignored, both ways.
TEST_F(HboneServerTest, ForgedForwardedCannotPassAnIpBlocksAllow) {
  start("127.0.0.2", {policy("from-10", AuthzAction::kAllow, from_ip_block("10.0.0.0/8"))});
  EXPECT_EQ(connect_status(kClientId, echo_authority(), {{"forwarded", "for=\"10.1.2.3:5555\""}}),
            401);
  EXPECT_EQ(connect_status(kClientId, echo_authority(), {{"forwarded", "for=10.1.2.3"}}), 401);
}

TEST_F(HboneServerTest, ForgedForwardedCannotDodgeAnIpBlocksDeny) {
  start("127.0.0.2", {policy("no-loopback", AuthzAction::kDeny, from_ip_block("127.0.0.0/8"))});
  EXPECT_EQ(connect_status(kClientId, echo_authority(), {{"forwarded", "for=\"10.1.2.3:5555\""}}),
            401);
  EXPECT_EQ(connect_status(kClientId, echo_authority()), 401);
}

TEST_F(HboneServerTest, ForwardedForAWorkloadWithThePeersIdentityIsBelieved) {
  start("127.0.0.2", {policy("from-sleep-ip", AuthzAction::kAllow, from_ip_block("10.9.9.9/32"))});
  EXPECT_EQ(connect_status(kClientId, echo_authority(), {{"forwarded", "for=\"10.9.9.9:4000\""}}),
            200);
  // The same claim from an identity that is not sleep's is not.
  EXPECT_EQ(connect_status(Identity("cluster.local", "default", "other"), echo_authority(),
                           {{"forwarded", "for=\"10.9.9.9:4000\""}}),
            401);
}

TEST_F(HboneServerTest, TheDestinationsWaypointSpeaksForItsClients) {
  start("127.0.0.2", {policy("from-10-1", AuthzAction::kAllow, from_ip_block("10.1.2.3/32"))});
  EXPECT_EQ(connect_status(kWaypointId, echo_authority(), {{"forwarded", "for=\"10.1.2.3:1\""}}),
            200);
  EXPECT_EQ(connect_status(kClientId, echo_authority(), {{"forwarded", "for=\"10.1.2.3:1\""}}),
            401);
}

TEST_F(HboneServerTest, ServiceHostnameAuthorityReachesTheLocalEndpoint) {
  Owner owner;
  auto conn = connect(pki_, kClientId, &owner);
  Sink sink;
  sink.conn = conn.get();
  sink.stream = conn->open_stream(&sink, "echo.default.svc.cluster.local:80", {});
  std::string hello = "by name";
  conn->send(sink.stream, {reinterpret_cast<const uint8_t*>(hello.data()), hello.size()});
  conn->end_stream(sink.stream);
  run_until([&] { return sink.closed; });
  EXPECT_EQ(sink.status, 200);
  EXPECT_EQ(sink.data, hello);
  EXPECT_EQ(connect_status(kClientId, "echo.default.svc:80"), 200);
  EXPECT_EQ(connect_status(kClientId, "echo.default.svc.cluster.local:81"), 400) << "no such port";
  EXPECT_EQ(connect_status(kClientId, "nope.default.svc.cluster.local:80"), 400);
  EXPECT_EQ(connect_status(kClientId, "echo.default.svc.other.domain:80"), 400);
}

// In-pod, the listener sits at the workload's own address: the CONNECT must name that address.
TEST_F(HboneServerTest, ConnectMustNameTheAddressItArrivedOn) {
  start("127.0.0.3");
  EXPECT_EQ(connect_status(kClientId, echo_authority()), 200);
  EXPECT_EQ(connect_status(kClientId, "127.0.0.4:" + std::to_string(echo_.address().port())), 400);
}

TEST_F(HboneServerTest, DestinationNotServedByThisListenerIsRejectedWith400) {
  // sleep is a workload, but not one this listener (echo's) serves.
  EXPECT_EQ(connect_status(kClientId, "10.9.9.9:80"), 400);
  EXPECT_EQ(connect_status(kClientId, "127.0.0.3:0"), 400) << "port 0 (found by the fuzzer)";
}

}  // namespace
}  // namespace ambit::ztunnel
