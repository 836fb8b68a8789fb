// Real TLS 1.3 handshakes between a client SSL and a server SSL, carried over memory BIOs that the
// test pumps by hand: no sockets, deterministic, and both ends' errors are visible.
#include "core/tls_context.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>

#include "tests/core/error_assertions.h"

namespace ambit {
namespace {

using std::chrono::hours;
using std::chrono::system_clock;

// One end of a connection: an SSL whose network side is a pair of memory BIOs.
struct TlsEnd {
  explicit TlsEnd(SslPtr s) : ssl(std::move(s)) {
    from_peer = BIO_new(BIO_s_mem());
    to_peer = BIO_new(BIO_s_mem());
    // Empty means "no data yet", like a non-blocking socket, not end of stream.
    BIO_set_mem_eof_return(from_peer, -1);
    SSL_set_bio(ssl.get(), from_peer, to_peer);  // the SSL owns both
  }

  // Advances the handshake; once it is done, reads, because in TLS 1.3 the client finishes before
  // the server has checked the client's certificate and learns of a refusal only as an alert.
  void step() {
    if (!failure.empty()) return;
    if (!handshake_done) {
      int rc = SSL_do_handshake(ssl.get());
      if (rc != 1) {
        record_unless_retry(rc);
        return;
      }
      handshake_done = true;
    }
    char buf[256];
    int rc;
    while ((rc = SSL_read(ssl.get(), buf, sizeof(buf))) > 0) received.append(buf, rc);
    record_unless_retry(rc);
  }

  void record_unless_retry(int rc) {
    int error = SSL_get_error(ssl.get(), rc);
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
      failure = describe_handshake_failure(ssl.get(), error);
    }
  }

  bool ok() const { return handshake_done && failure.empty(); }
  // Nothing more will happen without new bytes from the peer. A failed end is settled even with
  // unread input: it stops reading at the message it refused.
  bool settled() const {
    return !failure.empty() || (handshake_done && BIO_ctrl_pending(from_peer) == 0);
  }

  SslPtr ssl;
  BIO* from_peer;
  BIO* to_peer;
  bool handshake_done = false;
  std::string failure;
  std::string received;
};

void transfer(BIO* from, BIO* to) {
  char buf[4096];
  int n;
  while ((n = BIO_read(from, buf, sizeof(buf))) > 0) ASSERT_EQ(BIO_write(to, buf, n), n);
}

struct Connection {
  Connection(SslPtr client_ssl, SslPtr server_ssl)
      : client(std::move(client_ssl)), server(std::move(server_ssl)) {}

  // Bounded: a TLS 1.3 handshake needs two round trips; anything more is a bug to report, not to
  // wait for.
  void pump() {
    for (int round = 0; round < 16; ++round) {
      client.step();
      transfer(client.to_peer, server.from_peer);
      server.step();
      transfer(server.to_peer, client.from_peer);
      if (client.settled() && server.settled()) return;
    }
    ADD_FAILURE() << "handshake did not settle";
  }

  bool ok() const { return client.ok() && server.ok(); }

  TlsEnd client;
  TlsEnd server;
};

struct Authority {
  EvpPkeyPtr key;
  X509Ptr cert;
};

class TlsContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mesh_ca_ = make_authority("mesh root");
    other_ca_ = make_authority("someone else's root");
    auto trust = TrustBundle::from_pem(certificate_to_pem(mesh_ca_.cert.get()));
    ASSERT_TRUE(trust.ok()) << trust.error().message;
    trust_.emplace(std::move(*trust));
  }

  Authority make_authority(std::string_view name) {
    Authority ca{generate_p256_key(), nullptr};
    auto cert = make_ca_certificate(ca.key.get(), name, now_ - hours(1), now_ + hours(24 * 365));
    EXPECT_TRUE(cert.ok()) << cert.error().message;
    if (cert.ok()) ca.cert = std::move(*cert);
    return ca;
  }

  // Issued and then loaded through PEM, as the agent will load what the CA sends back.
  WorkloadCertificate issue(const Authority& ca, const Identity& id,
                            system_clock::time_point not_before,
                            system_clock::time_point not_after) {
    EvpPkeyPtr key = generate_p256_key();
    auto cert = sign_workload_certificate(ca.cert.get(), ca.key.get(), key.get(), id, not_before,
                                          not_after);
    EXPECT_TRUE(cert.ok()) << cert.error().message;
    auto loaded = WorkloadCertificate::from_pem(certificate_to_pem(cert->get()),
                                                private_key_to_pem(key.get()));
    EXPECT_TRUE(loaded.ok()) << loaded.error().message;
    return std::move(*loaded);
  }

  WorkloadCertificate issue(const Authority& ca, const Identity& id) {
    return issue(ca, id, now_ - hours(1), now_ + hours(24));
  }

  static std::shared_ptr<TlsContext> client_context(const WorkloadCertificate& cert,
                                                    const TrustBundle& trust) {
    auto ctx = TlsContext::client(cert, trust);
    EXPECT_TRUE(ctx.ok()) << ctx.error().message;
    return ctx.ok() ? *ctx : nullptr;
  }

  static std::shared_ptr<TlsContext> server_context(const WorkloadCertificate& cert,
                                                    const TrustBundle& trust) {
    auto ctx = TlsContext::server(cert, trust);
    EXPECT_TRUE(ctx.ok()) << ctx.error().message;
    return ctx.ok() ? *ctx : nullptr;
  }

  static SslPtr connection(const TlsContext& ctx) {
    auto ssl = ctx.new_connection();
    EXPECT_TRUE(ssl.ok()) << ssl.error().message;
    return std::move(*ssl);
  }

  // sleep (client) -> httpbin (server), both from the mesh CA unless a test swaps one.
  Connection handshake(const WorkloadCertificate& client_cert,
                       const WorkloadCertificate& server_cert) {
    auto client = client_context(client_cert, *trust_);
    auto server = server_context(server_cert, *trust_);
    Connection conn(connection(*client), connection(*server));
    conn.pump();
    return conn;
  }

  // A client that presents `cert`/`key` as they are, bypassing WorkloadCertificate's checks.
  Connection handshake_presenting(X509* cert, EVP_PKEY* key) {
    auto client = client_context(issue(mesh_ca_, sleep_), *trust_);
    auto server = server_context(issue(mesh_ca_, httpbin_), *trust_);
    SslPtr client_ssl = connection(*client);
    EXPECT_EQ(SSL_use_certificate(client_ssl.get(), cert), 1);
    EXPECT_EQ(SSL_use_PrivateKey(client_ssl.get(), key), 1);
    Connection conn(std::move(client_ssl), connection(*server));
    conn.pump();
    return conn;
  }

  const system_clock::time_point now_ = system_clock::now();
  const Identity sleep_{"cluster.local", "default", "sleep"};
  const Identity httpbin_{"cluster.local", "default", "httpbin"};
  Authority mesh_ca_;
  Authority other_ca_;
  std::optional<TrustBundle> trust_;
};

TEST_F(TlsContextTest, MutualTlsHandshakeAuthenticatesBothSides) {
  Connection conn = handshake(issue(mesh_ca_, sleep_), issue(mesh_ca_, httpbin_));
  ASSERT_TRUE(conn.ok()) << "client: " << conn.client.failure << " server: " << conn.server.failure;

  EXPECT_EQ(SSL_version(conn.client.ssl.get()), TLS1_3_VERSION);
  auto client_id = peer_identity(conn.server.ssl.get());
  ASSERT_TRUE(client_id.ok()) << client_id.error().message;
  EXPECT_EQ(*client_id, sleep_);
  auto verified = verify_peer_identity(conn.client.ssl.get(), httpbin_);
  EXPECT_TRUE(verified.ok()) << verified.error().message;

  // Application data flows both ways over the established session.
  ASSERT_EQ(SSL_write(conn.client.ssl.get(), "ping", 4), 4);
  ASSERT_EQ(SSL_write(conn.server.ssl.get(), "pong", 4), 4);
  conn.pump();
  EXPECT_EQ(conn.server.received, "ping");
  EXPECT_EQ(conn.client.received, "pong");
}

TEST_F(TlsContextTest, BothSidesNegotiateH2) {
  Connection conn = handshake(issue(mesh_ca_, sleep_), issue(mesh_ca_, httpbin_));
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(negotiated_alpn(conn.client.ssl.get()), "h2");
  EXPECT_EQ(negotiated_alpn(conn.server.ssl.get()), "h2");
}

TEST_F(TlsContextTest, ContextsAreTls13OnlyWithMandatoryPeerVerification) {
  auto cert = issue(mesh_ca_, httpbin_);
  auto server = server_context(cert, *trust_);
  auto client = client_context(cert, *trust_);
  for (SSL_CTX* ctx : {server->get(), client->get()}) {
    EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx), TLS1_3_VERSION);
    EXPECT_EQ(SSL_CTX_get_max_proto_version(ctx), TLS1_3_VERSION);
    EXPECT_NE(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION, 0u);
    EXPECT_EQ(SSL_CTX_get_mode(ctx) & SSL_MODE_RELEASE_BUFFERS, 0);
  }
  EXPECT_EQ(SSL_CTX_get_verify_mode(server->get()),
            SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
  EXPECT_EQ(SSL_CTX_get_verify_mode(client->get()), SSL_VERIFY_PEER);
  EXPECT_EQ(SSL_CTX_get_num_tickets(server->get()), 0u);
  EXPECT_EQ(server->role(), TlsRole::kServer);
  EXPECT_EQ(server->local_identity(), httpbin_);
}

TEST_F(TlsContextTest, ServerRefusesClientCertificateFromAnotherCa) {
  Connection conn = handshake(issue(other_ca_, sleep_), issue(mesh_ca_, httpbin_));
  EXPECT_FALSE(conn.server.ok());
  EXPECT_CONTAINS(conn.server.failure,
                  "certificate verify failed: unable to get local issuer certificate");
  EXPECT_CONTAINS(conn.client.failure, "unknown ca");
}

TEST_F(TlsContextTest, ClientRefusesServerCertificateFromAnotherCa) {
  Connection conn = handshake(issue(mesh_ca_, sleep_), issue(other_ca_, httpbin_));
  EXPECT_FALSE(conn.client.ok());
  EXPECT_CONTAINS(conn.client.failure,
                  "certificate verify failed: unable to get local issuer certificate");
  EXPECT_CONTAINS(conn.server.failure, "unknown ca");
}

TEST_F(TlsContextTest, ServerRefusesExpiredClientCertificate) {
  auto expired = issue(mesh_ca_, sleep_, now_ - hours(48), now_ - hours(24));
  Connection conn = handshake(expired, issue(mesh_ca_, httpbin_));
  EXPECT_FALSE(conn.server.ok());
  EXPECT_CONTAINS(conn.server.failure, "certificate verify failed: certificate has expired");
  EXPECT_CONTAINS(conn.client.failure, "certificate expired");
}

TEST_F(TlsContextTest, ServerRefusesNotYetValidClientCertificate) {
  auto future = issue(mesh_ca_, sleep_, now_ + hours(1), now_ + hours(25));
  Connection conn = handshake(future, issue(mesh_ca_, httpbin_));
  EXPECT_FALSE(conn.server.ok());
  EXPECT_CONTAINS(conn.server.failure, "certificate verify failed: certificate is not yet valid");
}

TEST_F(TlsContextTest, ClientRefusesExpiredServerCertificate) {
  auto expired = issue(mesh_ca_, httpbin_, now_ - hours(48), now_ - hours(24));
  Connection conn = handshake(issue(mesh_ca_, sleep_), expired);
  EXPECT_FALSE(conn.client.ok());
  EXPECT_CONTAINS(conn.client.failure, "certificate verify failed: certificate has expired");
}

TEST_F(TlsContextTest, UnexpectedServerIdentityNamesBothIdentities) {
  Connection conn = handshake(issue(mesh_ca_, sleep_), issue(mesh_ca_, httpbin_));
  ASSERT_TRUE(conn.ok());
  Identity reviews("cluster.local", "default", "reviews");
  EXPECT_ERROR_CONTAINS(verify_peer_identity(conn.client.ssl.get(), reviews),
                        "peer identity spiffe://cluster.local/ns/default/sa/httpbin is not the "
                        "expected spiffe://cluster.local/ns/default/sa/reviews");
}

TEST_F(TlsContextTest, ServerRefusesClientWithoutCertificate) {
  auto client = client_context(issue(mesh_ca_, sleep_), *trust_);
  auto server = server_context(issue(mesh_ca_, httpbin_), *trust_);
  SslPtr client_ssl = connection(*client);
  SSL_certs_clear(client_ssl.get());
  Connection conn(std::move(client_ssl), connection(*server));
  conn.pump();
  EXPECT_FALSE(conn.server.ok());
  EXPECT_CONTAINS(conn.server.failure, "peer did not return a certificate");
  EXPECT_CONTAINS(conn.client.failure, "certificate required");
}

TEST_F(TlsContextTest, NonSpiffeUriSanFailsPeerIdentity) {
  EvpPkeyPtr key = generate_p256_key();
  auto cert =
      sign_certificate_with_uri_san(mesh_ca_.cert.get(), mesh_ca_.key.get(), key.get(),
                                    "https://example.com/sleep", now_ - hours(1), now_ + hours(1));
  ASSERT_TRUE(cert.ok()) << cert.error().message;
  Connection conn = handshake_presenting(cert->get(), key.get());
  ASSERT_TRUE(conn.ok()) << "the chain is valid; only the identity is wrong";
  EXPECT_ERROR_CONTAINS(peer_identity(conn.server.ssl.get()),
                        "peer URI SAN 'https://example.com/sleep' is not a SPIFFE ID: ");
  EXPECT_ERROR_CONTAINS(verify_peer_identity(conn.server.ssl.get(), sleep_), "is not a SPIFFE ID");
}

TEST_F(TlsContextTest, CertificateWithoutUriSanFailsPeerIdentity) {
  EvpPkeyPtr key = generate_p256_key();
  auto cert = sign_certificate_without_uri_san(mesh_ca_.cert.get(), mesh_ca_.key.get(), key.get(),
                                               "sleep", now_ - hours(1), now_ + hours(1));
  ASSERT_TRUE(cert.ok()) << cert.error().message;
  Connection conn = handshake_presenting(cert->get(), key.get());
  ASSERT_TRUE(conn.ok());
  EXPECT_ERROR_CONTAINS(peer_identity(conn.server.ssl.get()), "peer certificate has no URI SAN");
}

TEST_F(TlsContextTest, ServerRefusesClientThatDoesNotOfferH2) {
  auto client = client_context(issue(mesh_ca_, sleep_), *trust_);
  auto server = server_context(issue(mesh_ca_, httpbin_), *trust_);

  SslPtr http1 = connection(*client);
  const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  ASSERT_EQ(SSL_set_alpn_protos(http1.get(), kHttp11, sizeof(kHttp11)), 0);
  Connection offers_http1(std::move(http1), connection(*server));
  offers_http1.pump();
  EXPECT_FALSE(offers_http1.server.ok());
  EXPECT_CONTAINS(offers_http1.server.failure, "no application protocol");
  EXPECT_CONTAINS(offers_http1.server.failure, "client did not offer h2");

  SslPtr no_alpn = connection(*client);
  ASSERT_EQ(SSL_set_alpn_protos(no_alpn.get(), nullptr, 0), 0);
  Connection offers_nothing(std::move(no_alpn), connection(*server));
  offers_nothing.pump();
  EXPECT_FALSE(offers_nothing.server.ok());
  EXPECT_CONTAINS(offers_nothing.server.failure, "client offered no ALPN");
  EXPECT_CONTAINS(offers_nothing.client.failure, "no application protocol");
}

TEST_F(TlsContextTest, ServerRefusesTls12Client) {
  auto client = client_context(issue(mesh_ca_, sleep_), *trust_);
  auto server = server_context(issue(mesh_ca_, httpbin_), *trust_);
  SslPtr tls12 = connection(*client);
  ASSERT_EQ(SSL_set_min_proto_version(tls12.get(), TLS1_2_VERSION), 1);
  ASSERT_EQ(SSL_set_max_proto_version(tls12.get(), TLS1_2_VERSION), 1);
  Connection conn(std::move(tls12), connection(*server));
  conn.pump();
  EXPECT_FALSE(conn.server.ok());
  EXPECT_CONTAINS(conn.server.failure, "unsupported protocol");
}

TEST_F(TlsContextTest, ServerSendsIntermediatesSoClientNeedsOnlyTheRoot) {
  EvpPkeyPtr intermediate_key = generate_p256_key();
  auto intermediate = sign_intermediate_ca_certificate(mesh_ca_.cert.get(), mesh_ca_.key.get(),
                                                       intermediate_key.get(), "mesh intermediate",
                                                       now_ - hours(1), now_ + hours(24 * 30));
  ASSERT_TRUE(intermediate.ok()) << intermediate.error().message;
  EvpPkeyPtr key = generate_p256_key();
  auto leaf = sign_workload_certificate(intermediate->get(), intermediate_key.get(), key.get(),
                                        httpbin_, now_ - hours(1), now_ + hours(24));
  ASSERT_TRUE(leaf.ok()) << leaf.error().message;
  auto server_cert = WorkloadCertificate::from_pem(
      certificate_to_pem(leaf->get()) + certificate_to_pem(intermediate->get()),
      private_key_to_pem(key.get()));
  ASSERT_TRUE(server_cert.ok()) << server_cert.error().message;
  EXPECT_EQ(server_cert->intermediates().size(), 1u);

  Connection conn = handshake(issue(mesh_ca_, sleep_), *server_cert);
  ASSERT_TRUE(conn.ok()) << "client: " << conn.client.failure << " server: " << conn.server.failure;
  EXPECT_TRUE(verify_peer_identity(conn.client.ssl.get(), httpbin_).ok());
}

TEST_F(TlsContextTest, BundleWithTwoRootsAcceptsEither) {
  // During CA rotation the bundle carries the old and the new root.
  auto both = TrustBundle::from_pem(certificate_to_pem(mesh_ca_.cert.get()) +
                                    certificate_to_pem(other_ca_.cert.get()));
  ASSERT_TRUE(both.ok()) << both.error().message;
  EXPECT_EQ(both->roots().size(), 2u);
  auto server = server_context(issue(mesh_ca_, httpbin_), *both);
  for (const Authority* ca : {&mesh_ca_, &other_ca_}) {
    auto client = client_context(issue(*ca, sleep_), *both);
    Connection conn(connection(*client), connection(*server));
    conn.pump();
    EXPECT_TRUE(conn.ok()) << "client: " << conn.client.failure
                           << " server: " << conn.server.failure;
  }
}

TEST_F(TlsContextTest, PeerIdentityBeforeHandshakeCompletes) {
  auto client = client_context(issue(mesh_ca_, sleep_), *trust_);
  SslPtr ssl = connection(*client);
  EXPECT_ERROR_CONTAINS(peer_identity(ssl.get()), "TLS handshake has not completed");
}

// --- WorkloadCertificate and TrustBundle loading ---

TEST_F(TlsContextTest, WorkloadCertificateExposesIdentityAndValidity) {
  auto not_before = system_clock::from_time_t(system_clock::to_time_t(now_ - hours(1)));
  auto cert = issue(mesh_ca_, sleep_, not_before, not_before + hours(24));
  EXPECT_EQ(cert.identity(), sleep_);
  EXPECT_EQ(cert.not_before(), not_before);
  EXPECT_EQ(cert.not_after(), not_before + hours(24));
  EXPECT_TRUE(cert.intermediates().empty());
}

TEST_F(TlsContextTest, WorkloadCertificateRefusesKeyThatDoesNotMatch) {
  EvpPkeyPtr key = generate_p256_key();
  EvpPkeyPtr other_key = generate_p256_key();
  auto cert = sign_workload_certificate(mesh_ca_.cert.get(), mesh_ca_.key.get(), key.get(), sleep_,
                                        now_, now_ + hours(1));
  ASSERT_TRUE(cert.ok());
  EXPECT_ERROR_CONTAINS(WorkloadCertificate::from_pem(certificate_to_pem(cert->get()),
                                                      private_key_to_pem(other_key.get())),
                        "private key does not match the leaf certificate");
}

TEST_F(TlsContextTest, WorkloadCertificateRefusesLeafWithoutSpiffeId) {
  EvpPkeyPtr key = generate_p256_key();
  std::string key_pem = private_key_to_pem(key.get());
  auto https = sign_certificate_with_uri_san(mesh_ca_.cert.get(), mesh_ca_.key.get(), key.get(),
                                             "https://example.com/", now_, now_ + hours(1));
  ASSERT_TRUE(https.ok());
  EXPECT_ERROR_CONTAINS(WorkloadCertificate::from_pem(certificate_to_pem(https->get()), key_pem),
                        "leaf URI SAN 'https://example.com/' is not a SPIFFE ID");
  auto bare = sign_certificate_without_uri_san(mesh_ca_.cert.get(), mesh_ca_.key.get(), key.get(),
                                               "sleep", now_, now_ + hours(1));
  ASSERT_TRUE(bare.ok());
  EXPECT_ERROR_CONTAINS(WorkloadCertificate::from_pem(certificate_to_pem(bare->get()), key_pem),
                        "leaf certificate has no URI SAN");
  EXPECT_ERROR_CONTAINS(WorkloadCertificate::from_pem(certificate_to_pem(mesh_ca_.cert.get()),
                                                      private_key_to_pem(mesh_ca_.key.get())),
                        "leaf certificate is a CA certificate");
}

TEST_F(TlsContextTest, LoadsWorkloadCertificateAndBundleFromFiles) {
  std::string dir = (std::filesystem::temp_directory_path() / "ambit-tls-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  std::filesystem::path root(dir);
  EvpPkeyPtr key = generate_p256_key();
  auto cert = sign_workload_certificate(mesh_ca_.cert.get(), mesh_ca_.key.get(), key.get(), sleep_,
                                        now_, now_ + hours(1));
  ASSERT_TRUE(cert.ok());
  ASSERT_TRUE(write_private_file(root / "cert-chain.pem", certificate_to_pem(cert->get())).ok());
  ASSERT_TRUE(write_private_file(root / "key.pem", private_key_to_pem(key.get())).ok());
  ASSERT_TRUE(
      write_private_file(root / "root-cert.pem", certificate_to_pem(mesh_ca_.cert.get())).ok());

  auto loaded = WorkloadCertificate::load_pem_files(root / "cert-chain.pem", root / "key.pem");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->identity(), sleep_);
  auto bundle = TrustBundle::load_pem_file(root / "root-cert.pem");
  ASSERT_TRUE(bundle.ok()) << bundle.error().message;
  EXPECT_EQ(bundle->roots().size(), 1u);

  EXPECT_ERROR_CONTAINS(TrustBundle::load_pem_file(root / "missing.pem"), "cannot open");
  EXPECT_ERROR_CONTAINS(WorkloadCertificate::load_pem_files(root / "key.pem", root / "key.pem"),
                        "no PEM certificate found");
  std::filesystem::remove_all(root);
}

TEST_F(TlsContextTest, TrustBundleRefusesLeavesAndEmptyInput) {
  EXPECT_ERROR_CONTAINS(TrustBundle::from_pem(""), "trust bundle: no PEM certificate found");
  EvpPkeyPtr key = generate_p256_key();
  auto leaf = sign_workload_certificate(mesh_ca_.cert.get(), mesh_ca_.key.get(), key.get(), sleep_,
                                        now_, now_ + hours(1));
  ASSERT_TRUE(leaf.ok());
  EXPECT_ERROR_CONTAINS(TrustBundle::from_pem(certificate_to_pem(mesh_ca_.cert.get()) +
                                              certificate_to_pem(leaf->get())),
                        "trust bundle: certificate 2 (empty subject) is not a CA");
}

}  // namespace
}  // namespace ambit
