// Two real engines on loopback: client -> engine A (outbound) -> HBONE mTLS -> engine B
// (inbound) -> echo server. Everything goes through real sockets and real TLS.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <future>
#include <thread>

#include "tests/support/net_helpers.h"
#include "tests/support/test_pki.h"
#include "tests/ztunnel/test_workload.h"
#include "ztunnel/engine.h"
#include "ztunnel/metrics.h"

namespace ambit::ztunnel {
namespace {

using namespace std::chrono_literals;
using testing::EchoServer;

const Identity kClientId("cluster.local", "default", "sleep");
const Identity kServerId("cluster.local", "default", "echo");

Workload make_workload(std::string name, const Identity& id, std::string node, const char* ip,
                       SocketAddress hbone, PeerAuthMode mode) {
  Workload w = testing::test_workload(std::move(name), id, std::move(node), {ip});
  w.hbone_address = hbone;
  w.peer_auth = mode;
  return w;
}

struct MeshOptions {
  PeerAuthMode server_mode = PeerAuthMode::kStrict;
  std::vector<AuthorizationPolicy> policies;
  // The identity engine A expects engine B to present.
  Identity expected_server = kServerId;
  EchoServer::Mode echo_mode = EchoServer::Mode::kEcho;
  unsigned workers = 1;
  std::chrono::milliseconds idle_timeout{3'600'000};
  std::chrono::milliseconds pool_idle_timeout{60'000};
};

class Mesh {
 public:
  explicit Mesh(MeshOptions o = {}) : options_(o), echo_("127.0.0.3", o.echo_mode) {
    start_b(*SocketAddress::parse("127.0.0.2:0"), *SocketAddress::parse("127.0.0.2:0"));
    hbone_ = b_->listener_addresses()[0];
    plaintext_ = b_->listener_addresses()[1];

    // Engine A: hosts the client workload; its outbound listener stands for the capture.
    EngineConfig a;
    a.node = "node-a";
    auto table_a = std::make_shared<WorkloadTable>();
    EXPECT_TRUE(table_a->add_workload(make_workload("sleep", kClientId, "node-a", "127.0.0.1",
                                                    SocketAddress(), PeerAuthMode::kStrict)).ok());
    EXPECT_TRUE(table_a->add_workload(make_workload("echo", o.expected_server, "node-b",
                                                    "127.0.0.3", hbone_, o.server_mode)).ok());
    a.table = table_a;
    a.authorizer = std::make_shared<Authorizer>(std::vector<AuthorizationPolicy>{});
    a.credentials["default/sleep"] = credentials(kClientId);
    a.listeners.push_back({ListenerKind::kOutbound, *SocketAddress::parse("127.0.0.1:0"),
                           "default/sleep", echo_.address()});
    a.workers = o.workers;
    a.connect_timeout = 2s;
    a.connection_idle_timeout = o.idle_timeout;
    a.pool_idle_timeout = o.pool_idle_timeout;
    auto engine_a = Engine::start(std::move(a));
    if (!engine_a) throw std::runtime_error(engine_a.error().message);
    a_ = std::move(*engine_a);
    outbound_ = a_->listener_addresses()[0];
  }

  // Engine B: hosts the echo workload; HBONE in, plaintext in.
  void start_b(const SocketAddress& hbone, const SocketAddress& plaintext) {
    EngineConfig b;
    b.node = "node-b";
    auto table_b = std::make_shared<WorkloadTable>();
    EXPECT_TRUE(table_b->add_workload(make_workload("sleep", kClientId, "node-a", "127.0.0.1",
                                                    SocketAddress(), PeerAuthMode::kStrict)).ok());
    EXPECT_TRUE(table_b->add_workload(make_workload("echo", kServerId, "node-b", "127.0.0.3",
                                                    SocketAddress(), options_.server_mode)).ok());
    b.table = table_b;
    b.authorizer = std::make_shared<Authorizer>(options_.policies);
    b.credentials["default/echo"] = credentials(kServerId);
    b.listeners.push_back({ListenerKind::kInbound, hbone,
                           "default/echo", std::nullopt});
    b.listeners.push_back({ListenerKind::kInboundPlaintext, plaintext,
                           "default/echo", echo_.address()});
    b.workers = options_.workers;
    b.connect_timeout = 2s;
    auto engine_b = Engine::start(std::move(b));
    if (!engine_b) throw std::runtime_error(engine_b.error().message);
    b_ = std::move(*engine_b);
  }

  // Engine B goes away and comes back on the same addresses, as a restarted node agent would.
  void restart_b() {
    b_.reset();
    start_b(hbone_, plaintext_);
  }

  WorkloadCredentials credentials(const Identity& id) {
    auto cert = pki_.issue(id);
    return {id, *TlsContext::client(cert, pki_.bundle()), *TlsContext::server(cert, pki_.bundle())};
  }

  Engine& a() { return *a_; }
  Engine& b() { return *b_; }
  EchoServer& echo() { return echo_; }
  const SocketAddress& outbound() const { return outbound_; }
  const SocketAddress& hbone() const { return hbone_; }
  const SocketAddress& plaintext() const { return plaintext_; }

 private:
  MeshOptions options_;
  testing::TestPki pki_;
  EchoServer echo_;
  std::unique_ptr<Engine> b_;
  std::unique_ptr<Engine> a_;
  SocketAddress outbound_, hbone_, plaintext_;
};

// One request/response through the mesh; returns what came back.
std::string round_trip(const SocketAddress& to, const std::string& msg, int* err = nullptr) {
  auto fd = testing::connect_to(to, 5000);
  if (!fd.valid()) {
    if (err) *err = -errno;
    return {};
  }
  if (!testing::send_all(fd.get(), msg.data(), msg.size())) {
    if (err) *err = -errno;
    return {};
  }
  ::shutdown(fd.get(), SHUT_WR);
  return testing::read_all(fd.get(), msg.size() + 1024, err);
}

// An ALLOW policy in namespace default admitting one principal.
AuthorizationPolicy allow_only(std::string name, std::string principal) {
  AuthzSource source;
  source.principals = {std::move(principal)};
  AuthzRule rule;
  rule.from = {source};
  AuthorizationPolicy policy;
  policy.name = std::move(name);
  policy.ns = "default";
  policy.action = AuthzAction::kAllow;
  policy.rules = {rule};
  return policy;
}

// Connects to `at` until it refuses, for at most `timeout`: whether it stopped accepting.
bool refuses_connections_within(const SocketAddress& at, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (testing::connect_to(at, 1000).valid()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

uint64_t pattern_byte(uint64_t i) { return (i * 2654435761u) >> 13; }

TEST(Tunnel, RequestResponseCarriesIdentityBothWays) {
  Mesh mesh;
  int err = 1;
  EXPECT_EQ(round_trip(mesh.outbound(), "hello mesh", &err), "hello mesh");
  EXPECT_EQ(err, 0);
  EXPECT_EQ(mesh.echo().accepted(), 1u);
  // The relay is logged and counted once both ends closed; give it a moment.
  for (int i = 0; i < 200 && mesh.a().stats().active_connections.load() != 0; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  auto metrics = render_prometheus(mesh.a().stats());
  EXPECT_NE(metrics.find("ambit_tcp_connections_opened_total{direction=\"outbound\"} 1\n"),
            std::string::npos) << metrics;
  EXPECT_NE(metrics.find("ambit_tcp_sent_bytes_total 10\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("ambit_hbone_connections_opened_total 1\n"), std::string::npos);
}

TEST(Tunnel, OneGibTransferArrivesByteIdenticalBothWays) {
  MeshOptions o;
  o.workers = 2;
  Mesh mesh(o);
  constexpr uint64_t kBytes = 1ull << 30;
  auto fd = testing::connect_to(mesh.outbound(), 30'000);
  ASSERT_TRUE(fd.valid());
  // The sender writes a pattern and half-closes; the echo comes back on the same connection.
  std::thread sender([&] {
    std::vector<uint8_t> chunk(256 * 1024);
    for (uint64_t off = 0; off < kBytes; off += chunk.size()) {
      for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<uint8_t>(pattern_byte(off + i));
      if (!testing::send_all(fd.get(), chunk.data(), chunk.size())) return;
    }
    ::shutdown(fd.get(), SHUT_WR);
  });
  uint64_t received = 0;
  uint64_t mismatches = 0;
  std::vector<uint8_t> buf(256 * 1024);
  auto started = std::chrono::steady_clock::now();
  while (true) {
    ssize_t n = testing::recv_some(fd.get(), buf.data(), buf.size());
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[static_cast<size_t>(i)] != static_cast<uint8_t>(pattern_byte(received + static_cast<uint64_t>(i)))) ++mismatches;
    }
    received += static_cast<uint64_t>(n);
    if (std::chrono::steady_clock::now() - started > 300s) break;
  }
  sender.join();
  EXPECT_EQ(received, kBytes);
  EXPECT_EQ(mismatches, 0u);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("1 GiB echoed through the tunnel in %.2f s (%.2f Gbit/s each way)\n", secs,
              kBytes * 8 / secs / 1e9);
}

TEST(Tunnel, HalfClosePropagates) {
  MeshOptions o;
  o.echo_mode = EchoServer::Mode::kReplyAfterEof;
  Mesh mesh(o);
  // The server answers only after it has seen our FIN: that FIN must cross both engines.
  int err = 1;
  EXPECT_EQ(round_trip(mesh.outbound(), std::string(5000, 'x'), &err), "bye:5000");
  EXPECT_EQ(err, 0) << "the server's FIN must arrive as a clean EOF";
}

TEST(Tunnel, DestinationResetArrivesAsReset) {
  MeshOptions o;
  o.echo_mode = EchoServer::Mode::kReset;
  Mesh mesh(o);
  auto fd = testing::connect_to(mesh.outbound(), 5000);
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(testing::send_all(fd.get(), "boom", 4));
  int err = 0;
  auto got = testing::read_all(fd.get(), 100, &err);
  EXPECT_EQ(got, "");
  EXPECT_EQ(err, -ECONNRESET);
}

TEST(Tunnel, SourceResetArrivesAsReset) {
  Mesh mesh;
  auto fd = testing::connect_to(mesh.outbound(), 5000);
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(testing::send_all(fd.get(), "ping", 4));
  EXPECT_EQ(testing::read_all(fd.get(), 4), "ping");
  testing::reset_connection(fd);
  // The echo server must see the reset, not a FIN.
  for (int i = 0; i < 200 && mesh.echo().resets_seen() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(mesh.echo().resets_seen(), 1u);
}

TEST(Tunnel, ThousandConcurrentConnectionsShareTenPooledConnections) {
  Mesh mesh;
  constexpr int kConns = 1000;
  std::vector<UniqueFd> fds;
  for (int i = 0; i < kConns; ++i) {
    fds.push_back(testing::connect_to(mesh.outbound(), 10'000));
    ASSERT_TRUE(fds.back().valid()) << "connection " << i;
  }
  // All open at once: each sends a tagged message, then every one reads its own echo.
  for (int i = 0; i < kConns; ++i) {
    std::string msg = "conn-" + std::to_string(i) + std::string(1000, 'y');
    ASSERT_TRUE(testing::send_all(fds[i].get(), msg.data(), msg.size()));
  }
  int ok = 0;
  for (int i = 0; i < kConns; ++i) {
    std::string expect = "conn-" + std::to_string(i) + std::string(1000, 'y');
    std::string got;
    while (got.size() < expect.size()) {
      char buf[4096];
      ssize_t n = testing::recv_some(fds[i].get(), buf, sizeof(buf));
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    if (got == expect) ++ok;
  }
  EXPECT_EQ(ok, kConns);
  EXPECT_EQ(mesh.a().stats().hbone_connections_opened.load(), 10u)
      << "100 streams per pooled connection";
  EXPECT_EQ(mesh.echo().accepted(), static_cast<uint64_t>(kConns));
}

TEST(Tunnel, PlaintextClientIsRefusedByStrictDestination) {
  Mesh mesh;  // STRICT
  int err = 0;
  auto got = round_trip(mesh.plaintext(), "let me in", &err);
  EXPECT_EQ(got, "");
  EXPECT_NE(err, 0);
  // A client that speaks plaintext straight at the HBONE port gets nothing through either.
  auto direct = round_trip(mesh.hbone(), "GET / HTTP/1.1\r\n\r\n", &err);
  EXPECT_EQ(direct.find("GET"), std::string::npos);
  EXPECT_EQ(mesh.echo().accepted(), 0u);
  EXPECT_GE(mesh.b().stats().refused_connections.load(), 1u);
}

TEST(Tunnel, PlaintextClientIsAllowedByPermissiveDestination) {
  MeshOptions o;
  o.server_mode = PeerAuthMode::kPermissive;
  Mesh mesh(o);
  EXPECT_EQ(round_trip(mesh.plaintext(), "plain is fine"), "plain is fine");
}

TEST(Tunnel, UnauthorizedPrincipalIsRefused) {
  MeshOptions o;
  o.policies = {allow_only("only-admin", "cluster.local/ns/default/sa/admin")};
  Mesh mesh(o);
  int err = 0;
  EXPECT_EQ(round_trip(mesh.outbound(), "may I?", &err), "");
  EXPECT_EQ(err, -ECONNRESET);
  EXPECT_EQ(mesh.echo().accepted(), 0u);
}

TEST(Tunnel, AuthorizedPrincipalIsAllowed) {
  MeshOptions o;
  o.policies = {allow_only("allow-sleep", "cluster.local/ns/default/sa/sleep")};
  Mesh mesh(o);
  EXPECT_EQ(round_trip(mesh.outbound(), "may I?"), "may I?");
}

// Sends msg on an open connection and reads the echo back.
std::string echo_on(int fd, const std::string& msg) {
  if (!testing::send_all(fd, msg.data(), msg.size())) return {};
  std::string got;
  char buf[256];
  while (got.size() < msg.size()) {
    ssize_t n = testing::recv_some(fd, buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

// A live connection a new policy refuses is cut (ztunnel does this); one it still admits goes on.
TEST(Tunnel, PolicyUpdateClosesLiveConnectionsItNoLongerAdmits) {
  MeshOptions o;
  o.workers = 2;
  Mesh mesh(o);
  auto live = testing::connect_to(mesh.outbound(), 5000);
  ASSERT_TRUE(live.valid());
  ASSERT_EQ(echo_on(live.get(), "before"), "before");

  // A policy that still admits sleep leaves the connection alone.
  EngineConfig still = *mesh.b().config();
  still.authorizer = std::make_shared<Authorizer>(
      std::vector<AuthorizationPolicy>{allow_only("allow-sleep", "cluster.local/ns/default/sa/sleep")});
  EXPECT_EQ(mesh.b().update(still).failed(), 0u);
  EXPECT_EQ(echo_on(live.get(), "still admitted"), "still admitted");
  EXPECT_EQ(mesh.b().stats().connections_closed_by_policy.load(), 0u);

  EngineConfig deny = *mesh.b().config();
  deny.authorizer = std::make_shared<Authorizer>(
      std::vector<AuthorizationPolicy>{allow_only("only-admin", "cluster.local/ns/default/sa/admin")});
  auto report = mesh.b().update(deny);
  EXPECT_EQ(report.failed(), 0u);
  // update() returns once every worker applied it, so the cut is already on its way.
  int err = 0;
  EXPECT_EQ(testing::read_all(live.get(), 100, &err), "");
  EXPECT_EQ(err, -ECONNRESET) << "the live connection is reset, not ended cleanly";
  EXPECT_EQ(mesh.b().stats().connections_closed_by_policy.load(), 1u);
  EXPECT_EQ(round_trip(mesh.outbound(), "now denied", &err), "");
  EXPECT_EQ(err, -ECONNRESET);

  EngineConfig allow = *mesh.b().config();
  allow.authorizer = std::make_shared<Authorizer>(std::vector<AuthorizationPolicy>{});
  EXPECT_EQ(mesh.b().update(allow).failed(), 0u);
  EXPECT_EQ(round_trip(mesh.outbound(), "allowed again"), "allowed again");
}

// PeerAuthentication turned STRICT cuts live plaintext connections to the workload.
TEST(Tunnel, StrictModeUpdateClosesLivePlaintextConnections) {
  MeshOptions o;
  o.server_mode = PeerAuthMode::kPermissive;
  Mesh mesh(o);
  auto plain = testing::connect_to(mesh.plaintext(), 5000);
  ASSERT_TRUE(plain.valid());
  ASSERT_EQ(echo_on(plain.get(), "plain"), "plain");
  auto tunnelled = testing::connect_to(mesh.outbound(), 5000);
  ASSERT_TRUE(tunnelled.valid());
  ASSERT_EQ(echo_on(tunnelled.get(), "mtls"), "mtls");

  EngineConfig strict = *mesh.b().config();
  auto table = std::make_shared<WorkloadTable>();
  for (const Workload* w : strict.table->workloads()) {
    Workload copy = *w;
    if (copy.name == "echo") copy.peer_auth = PeerAuthMode::kStrict;
    ASSERT_TRUE(table->add_workload(copy).ok());
  }
  strict.table = table;
  EXPECT_EQ(mesh.b().update(strict).failed(), 0u);
  int err = 0;
  EXPECT_EQ(testing::read_all(plain.get(), 100, &err), "");
  EXPECT_EQ(err, -ECONNRESET);
  EXPECT_EQ(echo_on(tunnelled.get(), "mtls goes on"), "mtls goes on");
  EXPECT_EQ(mesh.b().stats().connections_closed_by_policy.load(), 1u);
}

// The inbound listener of a workload goes away (unenrolled, or rebound by an update) while it
// carries a transfer: the live stream finishes on its HBONE connection, whose memory stays
// until the relay is done with it (ASan catches the old use-after-free here).
TEST(Tunnel, RemovingTheInboundListenerLetsLiveStreamsFinish) {
  Mesh mesh;
  auto fd = testing::connect_to(mesh.outbound(), 10'000);
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(testing::send_all(fd.get(), "start", 5));
  ASSERT_EQ(testing::read_all(fd.get(), 5), "start");

  EngineConfig without = *mesh.b().config();
  std::erase_if(without.listeners,
                [](const ListenerSpec& l) { return l.kind == ListenerKind::kInbound; });
  ASSERT_EQ(mesh.b().update(without).failed(), 0u);

  // 4 MiB more each way: well past what sits in buffers when the listener went.
  std::string tail(4 << 20, 'q');
  std::string got;
  int err = 1;
  std::thread reader([&] { got = testing::read_all(fd.get(), tail.size() + 10, &err); });
  ASSERT_TRUE(testing::send_all(fd.get(), tail.data(), tail.size()));
  ::shutdown(fd.get(), SHUT_WR);
  reader.join();
  EXPECT_EQ(got.size(), tail.size());
  EXPECT_EQ(got, tail);
  EXPECT_EQ(err, 0);
  // New connections have nowhere to go now.
  EXPECT_EQ(round_trip(mesh.outbound(), "after", &err), "");
}

TEST(Tunnel, UpdateOpensNewListenersAndClosesDroppedOnes) {
  MeshOptions o;
  o.workers = 2;
  Mesh mesh(o);
  EngineConfig more = *mesh.a().config();
  more.listeners.push_back({ListenerKind::kOutbound, *SocketAddress::parse("127.0.0.1:0"),
                            "default/sleep", mesh.echo().address()});
  auto report = mesh.a().update(more);
  ASSERT_EQ(report.listeners.size(), 2u);
  ASSERT_TRUE(report.listeners[1].ok()) << report.listeners[1].error().message;
  SocketAddress added = *report.listeners[1];
  EXPECT_NE(added.port(), 0);
  EXPECT_EQ(mesh.a().listener_addresses()[0], mesh.outbound());
  // Every worker serves it: several connections in a row all get through.
  for (int i = 0; i < 8; ++i) EXPECT_EQ(round_trip(added, "via the new one"), "via the new one");

  // A listener for a workload the table does not know is reported, and the rest applies.
  EngineConfig bad = more;
  bad.listeners.push_back({ListenerKind::kOutbound, *SocketAddress::parse("127.0.0.1:0"),
                           "default/nobody", mesh.echo().address()});
  auto bad_report = mesh.a().update(bad);
  EXPECT_EQ(bad_report.failed(), 1u);
  ASSERT_FALSE(bad_report.listeners[2].ok());
  EXPECT_NE(bad_report.listeners[2].error().message.find("default/nobody"), std::string::npos);

  EngineConfig fewer = *mesh.a().config();
  fewer.listeners.resize(1);
  EXPECT_EQ(mesh.a().update(fewer).failed(), 0u);
  int err = 0;
  EXPECT_TRUE(refuses_connections_within(added, 5s));
  EXPECT_EQ(round_trip(mesh.outbound(), "old one still works", &err), "old one still works");
}

TEST(Tunnel, ServerWithUnexpectedIdentityIsRefused) {
  MeshOptions o;
  o.expected_server = Identity("cluster.local", "default", "someone-else");
  Mesh mesh(o);
  int err = 0;
  EXPECT_EQ(round_trip(mesh.outbound(), "secret", &err), "");
  EXPECT_EQ(err, -ECONNRESET);
  EXPECT_EQ(mesh.echo().accepted(), 0u);
}

TEST(Tunnel, IdleConnectionIsClosedAfterIdleTimeout) {
  MeshOptions o;
  o.idle_timeout = 300ms;
  Mesh mesh(o);
  auto fd = testing::connect_to(mesh.outbound(), 10'000);
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(testing::send_all(fd.get(), "ping", 4));
  ASSERT_EQ(testing::read_all(fd.get(), 4), "ping");
  auto quiet = std::chrono::steady_clock::now();
  int err = 0;
  EXPECT_EQ(testing::read_all(fd.get(), 10, &err), "");
  EXPECT_EQ(err, -ECONNRESET);
  auto waited = std::chrono::steady_clock::now() - quiet;
  EXPECT_GE(waited, 300ms);
  EXPECT_LT(waited, 5s);
}

TEST(Tunnel, IdlePooledConnectionIsClosedAndReopenedOnDemand) {
  MeshOptions o;
  o.pool_idle_timeout = 200ms;
  Mesh mesh(o);
  EXPECT_EQ(round_trip(mesh.outbound(), "first"), "first");
  EXPECT_EQ(mesh.a().stats().hbone_connections_open.load(), 1u);
  for (int i = 0; i < 400 && mesh.a().stats().hbone_connections_open.load() != 0; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(mesh.a().stats().hbone_connections_open.load(), 0u) << "idle pool connection closed";
  EXPECT_EQ(round_trip(mesh.outbound(), "second"), "second");
  EXPECT_EQ(mesh.a().stats().hbone_connections_opened.load(), 2u);
}

TEST(Tunnel, RestartedPeerNodeIsReachedThroughANewPooledConnection) {
  Mesh mesh;
  EXPECT_EQ(round_trip(mesh.outbound(), "before"), "before");
  mesh.restart_b();
  // The pooled connection to the old engine B is dead; the next connection must not fail on it.
  int err = 1;
  EXPECT_EQ(round_trip(mesh.outbound(), "after", &err), "after");
  EXPECT_EQ(err, 0);
  // Whether A noticed the dead connection before the request or only through it, a new one
  // carried the request.
  EXPECT_GE(mesh.a().stats().hbone_connections_opened.load(), 2u);
}

TEST(Tunnel, DrainLetsLiveTransferFinish) {
  Mesh mesh;
  auto fd = testing::connect_to(mesh.outbound(), 10'000);
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(testing::send_all(fd.get(), "start", 5));
  ASSERT_EQ(testing::read_all(fd.get(), 5), "start");
  // Drain engine A while the connection is live; it must keep carrying data.
  auto drained = std::async(std::launch::async, [&] { mesh.a().drain(10s); });
  EXPECT_TRUE(refuses_connections_within(mesh.outbound(), 5s))
      << "new connections are refused once draining started";
  std::string tail(1 << 20, 'z');
  ASSERT_TRUE(testing::send_all(fd.get(), tail.data(), tail.size()));
  ::shutdown(fd.get(), SHUT_WR);
  int err = 1;
  auto got = testing::read_all(fd.get(), tail.size() + 10, &err);
  EXPECT_EQ(got.size(), tail.size());
  EXPECT_EQ(err, 0);
  EXPECT_EQ(drained.wait_for(5s), std::future_status::ready) << "drain ends once the transfer does";
}

}  // namespace
}  // namespace ambit::ztunnel
