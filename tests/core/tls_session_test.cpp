// TlsSession over memory BIOs: the same path the data plane drives through io_uring.
#include "core/tls_session.h"

#include <gtest/gtest.h>

#include "tests/support/test_pki.h"

namespace ambit {
namespace {

// Hands everything `from` wrote to `to`, as a socket would.
void deliver(std::vector<uint8_t>& wire, TlsSession& to) {
  to.feed(wire);
  if (!to.established()) (void)to.handshake();
  to.retain_unread();
  wire.clear();
}

struct Pair {
  Pair(SSL_CTX* client_ctx, SSL_CTX* server_ctx)
      : client(client_ctx, TlsSession::Role::kClient, &to_server),
        server(server_ctx, TlsSession::Role::kServer, &to_client) {}
  // Moves ciphertext both ways until neither side has anything to say (bounded).
  void pump() {
    for (int i = 0; i < 32; ++i) {
      bool moved = !to_server.empty() || !to_client.empty();
      if (!to_server.empty()) deliver(to_server, server);
      if (!to_client.empty()) deliver(to_client, client);
      if (!moved) return;
    }
  }
  std::vector<uint8_t> to_server;
  std::vector<uint8_t> to_client;
  TlsSession client;
  TlsSession server;
};

TEST(TlsSession, HandshakesAndCarriesDataBothWays) {
  testing::TestPki pki;
  auto client_id = Identity("cluster.local", "default", "sleep");
  auto server_id = Identity("cluster.local", "default", "echo");
  auto client_ctx = TlsContext::client(pki.issue(client_id), pki.bundle());
  auto server_ctx = TlsContext::server(pki.issue(server_id), pki.bundle());
  ASSERT_TRUE(client_ctx.ok() && server_ctx.ok());
  Pair p((*client_ctx)->get(), (*server_ctx)->get());
  ASSERT_TRUE(p.client.handshake().ok());
  p.pump();
  ASSERT_TRUE(p.client.established());
  ASSERT_TRUE(p.server.established());
  EXPECT_EQ(p.client.alpn(), "h2");
  EXPECT_TRUE(verify_peer_identity(p.client.ssl(), server_id).ok());
  auto seen = peer_identity(p.server.ssl());
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(*seen, client_id);

  std::vector<uint8_t> big(100'000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i);
  ASSERT_TRUE(p.client.write(big).ok());
  // Feed the ciphertext in odd-sized pieces: records split across receives must reassemble.
  std::vector<uint8_t> wire = std::move(p.to_server);
  p.to_server.clear();
  std::vector<uint8_t> got;
  for (size_t off = 0; off < wire.size(); off += 7777) {
    std::vector<uint8_t> piece(wire.begin() + static_cast<long>(off),
                               wire.begin() + static_cast<long>(std::min(wire.size(), off + 7777)));
    p.server.feed(piece);
    auto ok = p.server.read([&](std::span<const uint8_t> d) { got.insert(got.end(), d.begin(), d.end()); });
    ASSERT_TRUE(ok.ok());
    p.server.retain_unread();
  }
  EXPECT_EQ(got, big);

  p.server.send_close_notify();
  p.client.feed(p.to_client);
  auto open = p.client.read([](std::span<const uint8_t>) {});
  ASSERT_TRUE(open.ok());
  EXPECT_FALSE(*open) << "close_notify must read as end of session";
}

TEST(TlsSession, HandshakeFailureSaysWhy) {
  testing::TestPki pki;
  testing::TestPki other;
  auto client_ctx =
      TlsContext::client(other.issue(Identity("cluster.local", "x", "y")), other.bundle());
  auto server_ctx = TlsContext::server(pki.issue(Identity("cluster.local", "a", "b")), pki.bundle());
  Pair p((*client_ctx)->get(), (*server_ctx)->get());
  (void)p.client.handshake();
  deliver(p.to_server, p.server);
  p.client.feed(p.to_client);
  auto r = p.client.handshake();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("certificate verify failed"), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace ambit
