// The HBONE server's handling of CONNECT requests, driven by our own client-side
// HboneConnection on a loop in the test thread against a real engine.
#include "ztunnel/hbone_connection.h"

#include <gtest/gtest.h>

#include "tests/support/net_helpers.h"
#include "tests/support/test_pki.h"
#include "ztunnel/engine.h"

namespace ambit::ztunnel {
namespace {

using namespace std::chrono_literals;

const Identity kClientId("cluster.local", "default", "sleep");
const Identity kServerId("cluster.local", "default", "echo");

struct Sink : StreamSink {
  void on_stream_response(int s) override { status = s; }
  void on_stream_data(std::span<const uint8_t> d) override {
    data.append(reinterpret_cast<const char*>(d.data()), d.size());
    conn->consume(stream, d.size());
  }
  void on_stream_end() override { ended = true; }
  void on_stream_closed(uint32_t code, const std::string& w) override {
    closed = true;
    closed_code = code;
    why = w;
  }
  void on_stream_writable() override {}
  HboneConnection* conn = nullptr;
  HboneConnection::Stream* stream = nullptr;
  int status = 0;
  std::string data;
  bool ended = false;
  bool closed = false;
  uint32_t closed_code = 0;
  std::string why;
};

struct Owner : HboneConnection::Owner {
  void on_released(HboneConnection&) override { released = true; }
  bool released = false;
};

class HboneServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EngineConfig b;
    b.node = "node-b";
    auto table = std::make_shared<WorkloadTable>();
    Workload echo;
    echo.name = "echo";
    echo.ns = "default";
    echo.service_account = "echo";
    echo.node = "node-b";
    echo.identity = kServerId;
    echo.addresses = {*IpAddress::parse("127.0.0.3")};
    ASSERT_TRUE(table->add_workload(echo).ok());
    b.table = table;
    b.authorizer = std::make_shared<Authorizer>(std::vector<AuthorizationPolicy>{});
    auto cert = pki_.issue(kServerId);
    b.credentials["default/echo"] = {kServerId, *TlsContext::client(cert, pki_.bundle()),
                                     *TlsContext::server(cert, pki_.bundle())};
    b.listeners.push_back({ListenerKind::kInbound, *SocketAddress::parse("127.0.0.2:0"),
                           "default/echo", std::nullopt});
    b.workers = 1;
    auto engine = Engine::start(std::move(b));
    ASSERT_TRUE(engine.ok()) << engine.error().message;
    engine_ = std::move(*engine);
    loop_ = std::move(*EventLoop::create());
  }

  std::unique_ptr<HboneConnection> connect(const testing::TestPki& pki, const Identity& id,
                                           Owner* owner) {
    auto ctx = TlsContext::client(pki.issue(id), pki.bundle());
    client_ctx_ = *ctx;
    auto conn = std::make_unique<HboneConnection>(
        *loop_, std::move(*TcpSocket::open_stream_socket(AF_INET)),
        HboneConnection::Role::kClient, client_ctx_->get(), owner, kServerId);
    conn->start_client(engine_->listener_addresses()[0], 2s);
    return conn;
  }

  // Runs the loop until done() or 5 s.
  template <typename F>
  void run_until(F done) {
    struct Poll : Completion {
      EventLoop* loop;
      F* done;
      int rounds = 0;
      __kernel_timespec ts = to_timespec(2ms);
      void complete(int, uint32_t) override {
        if ((*done)() || ++rounds > 2500) return loop->exit();
        loop->arm_timer(this, &ts);
      }
    } poll;
    poll.loop = loop_.get();
    poll.done = &done;
    loop_->arm_timer(&poll, &poll.ts);
    loop_->run();
  }

  testing::TestPki pki_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<EventLoop> loop_;
  std::shared_ptr<TlsContext> client_ctx_;
};

TEST_F(HboneServerTest, ConnectToWorkloadTunnelsBytes) {
  testing::EchoServer echo("127.0.0.3");
  Owner owner;
  auto conn = connect(pki_, kClientId, &owner);
  Sink sink;
  sink.conn = conn.get();
  sink.stream = conn->open_stream(&sink, "127.0.0.3:" + std::to_string(echo.address().port()),
                                  {{"forwarded", "for=127.0.0.1"}});
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

}  // namespace
}  // namespace ambit::ztunnel
