#include "core/tls_context.h"

#include <openssl/err.h>

#include <cstring>

#include "core/openssl_error.h"

namespace ambit {
namespace {

// OpenSSL's default and maximum TLS record; set explicitly because the data path sizes its
// buffers around it.
constexpr long kMaxRecordPlaintext = 16 * 1024;

Error openssl_failure(std::string_view what) {
  std::string detail = take_openssl_errors();
  if (detail.empty()) return Error{std::string(what)};
  return Error::format("{}: {}", what, detail);
}

std::string subject_of(X509* cert) {
  if (X509_NAME_entry_count(X509_get_subject_name(cert)) == 0) return "empty subject";
  char buf[256];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof(buf));
  return buf;
}

// Server side: a ClientHello without ALPN would otherwise be accepted with no protocol at all
// (the ALPN callback only runs when the extension is present).
int require_alpn_extension(SSL* ssl, int* alert, void*) {
  const unsigned char* extension = nullptr;
  size_t length = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &extension,
                                &length) == 1) {
    return SSL_CLIENT_HELLO_SUCCESS;
  }
  *alert = SSL_AD_NO_APPLICATION_PROTOCOL;
  ERR_raise_data(ERR_LIB_SSL, SSL_R_NO_APPLICATION_PROTOCOL, "client offered no ALPN; need %s",
                 kHboneAlpn.data());
  return SSL_CLIENT_HELLO_ERROR;
}

// Server side: choose h2 from the client's list (length-prefixed strings) or end the handshake
// with no_application_protocol.
int select_h2(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
              unsigned int in_length, void*) {
  unsigned int i = 0;
  while (i < in_length) {
    unsigned int length = in[i];
    if (i + 1 + length > in_length) break;
    if (length == kHboneAlpn.size() && std::memcmp(in + i + 1, kHboneAlpn.data(), length) == 0) {
      *out = in + i + 1;
      *out_length = static_cast<unsigned char>(length);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + length;
  }
  ERR_raise_data(ERR_LIB_SSL, SSL_R_NO_APPLICATION_PROTOCOL, "client did not offer %s",
                 kHboneAlpn.data());
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

Status offer_h2(SSL_CTX* ctx) {
  const unsigned char protocols[] = {2, 'h', '2'};
  // Unlike most of OpenSSL, 0 means success here.
  if (SSL_CTX_set_alpn_protos(ctx, protocols, sizeof(protocols)) != 0) {
    return openssl_failure("setting ALPN h2 failed");
  }
  return {};
}

Status use_certificate(SSL_CTX* ctx, const WorkloadCertificate& certificate) {
  if (SSL_CTX_use_certificate(ctx, certificate.leaf()) != 1) {
    return openssl_failure("loading the leaf certificate into the context failed");
  }
  for (const X509Ptr& intermediate : certificate.intermediates()) {
    if (SSL_CTX_add1_chain_cert(ctx, intermediate.get()) != 1) {
      return openssl_failure("adding an intermediate certificate to the context failed");
    }
  }
  if (SSL_CTX_use_PrivateKey(ctx, certificate.private_key()) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return openssl_failure("loading the private key into the context failed");
  }
  return {};
}

}  // namespace

// --- TrustBundle ---

TrustBundle::TrustBundle(std::vector<X509Ptr> roots, X509StorePtr store)
    : roots_(std::move(roots)), store_(std::move(store)) {}

Result<TrustBundle> TrustBundle::from_pem(std::string_view pem) {
  auto certs = certificates_from_pem(pem);
  if (!certs) return Error::format("trust bundle: {}", certs.error().message);
  X509StorePtr store(X509_STORE_new());
  if (!store) return openssl_failure("trust bundle: allocating an X509_STORE failed");
  for (size_t i = 0; i < certs->size(); ++i) {
    X509* cert = (*certs)[i].get();
    // A leaf in the bundle would make any certificate it signed look trusted; refuse it early.
    if (X509_check_ca(cert) == 0) {
      return Error::format("trust bundle: certificate {} ({}) is not a CA", i + 1,
                           subject_of(cert));
    }
    if (X509_STORE_add_cert(store.get(), cert) != 1) {
      return openssl_failure(fmt::format("trust bundle: adding certificate {} failed", i + 1));
    }
  }
  return TrustBundle(std::move(*certs), std::move(store));
}

Result<TrustBundle> TrustBundle::load_pem_file(const std::filesystem::path& path) {
  auto pem = read_pem_file(path);
  if (!pem) return Error::format("trust bundle: {}", pem.error().message);
  auto bundle = from_pem(*pem);
  if (!bundle) return Error::format("{} (from '{}')", bundle.error().message, path.string());
  return bundle;
}

// --- WorkloadCertificate ---

Result<WorkloadCertificate> WorkloadCertificate::create(X509Ptr leaf,
                                                        std::vector<X509Ptr> intermediates,
                                                        EvpPkeyPtr private_key) {
  if (!leaf) return Error{"workload certificate: leaf certificate is missing"};
  if (!private_key) return Error{"workload certificate: private key is missing"};
  if (X509_check_private_key(leaf.get(), private_key.get()) != 1) {
    take_openssl_errors();  // the mismatch is the whole story
    return Error{"workload certificate: private key does not match the leaf certificate"};
  }
  // X.509-SVID: a leaf must not be able to sign other certificates.
  if (X509_check_ca(leaf.get()) != 0) {
    return Error{"workload certificate: leaf certificate is a CA certificate"};
  }
  auto identity = identity_from_certificate(leaf.get());
  if (!identity) return Error::format("workload certificate: leaf {}", identity.error().message);
  auto not_before = certificate_not_before(leaf.get());
  if (!not_before) return Error::format("workload certificate: {}", not_before.error().message);
  auto not_after = certificate_not_after(leaf.get());
  if (!not_after) return Error::format("workload certificate: {}", not_after.error().message);

  WorkloadCertificate result;
  result.leaf_ = std::move(leaf);
  result.intermediates_ = std::move(intermediates);
  result.key_ = std::move(private_key);
  result.identity_ = std::move(*identity);
  result.not_before_ = *not_before;
  result.not_after_ = *not_after;
  return result;
}

Result<WorkloadCertificate> WorkloadCertificate::from_pem(std::string_view cert_chain_pem,
                                                          std::string_view key_pem) {
  auto chain = certificates_from_pem(cert_chain_pem);
  if (!chain) return Error::format("workload certificate: {}", chain.error().message);
  auto key = private_key_from_pem(key_pem);
  if (!key) return Error::format("workload certificate: {}", key.error().message);
  X509Ptr leaf = std::move(chain->front());
  chain->erase(chain->begin());
  return create(std::move(leaf), std::move(*chain), std::move(*key));
}

Result<WorkloadCertificate> WorkloadCertificate::load_pem_files(
    const std::filesystem::path& cert_chain_path, const std::filesystem::path& key_path) {
  auto chain_pem = read_pem_file(cert_chain_path);
  if (!chain_pem) return Error::format("workload certificate: {}", chain_pem.error().message);
  auto key_pem = read_pem_file(key_path);
  if (!key_pem) return Error::format("workload certificate: {}", key_pem.error().message);
  auto certificate = from_pem(*chain_pem, *key_pem);
  if (!certificate) {
    return Error::format("{} (from '{}' and '{}')", certificate.error().message,
                         cert_chain_path.string(), key_path.string());
  }
  return certificate;
}

// --- TlsContext ---

TlsContext::TlsContext(SslCtxPtr ctx, TlsRole role, Identity local_identity)
    : ctx_(std::move(ctx)), role_(role), local_identity_(std::move(local_identity)) {}

Result<std::shared_ptr<TlsContext>> TlsContext::client(const WorkloadCertificate& certificate,
                                                       const TrustBundle& trust) {
  return build(TlsRole::kClient, certificate, trust);
}

Result<std::shared_ptr<TlsContext>> TlsContext::server(const WorkloadCertificate& certificate,
                                                       const TrustBundle& trust) {
  return build(TlsRole::kServer, certificate, trust);
}

Result<std::shared_ptr<TlsContext>> TlsContext::build(TlsRole role,
                                                      const WorkloadCertificate& certificate,
                                                      const TrustBundle& trust) {
  const bool is_server = role == TlsRole::kServer;
  if (certificate.leaf() == nullptr) return Error{"TLS context: workload certificate is empty"};
  if (trust.store() == nullptr) return Error{"TLS context: trust bundle is empty"};
  clear_openssl_errors();
  SslCtxPtr ctx(SSL_CTX_new(is_server ? TLS_server_method() : TLS_client_method()));
  if (!ctx) return openssl_failure("TLS context: SSL_CTX_new failed");
  SSL_CTX* c = ctx.get();

  // TLS 1.3 only, as ztunnel: one round trip, and no older version to be downgraded to.
  if (SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) != 1) {
    return openssl_failure("TLS context: restricting to TLS 1.3 failed");
  }
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION);
  // The data path keeps each connection's buffers for its whole life; releasing them when idle
  // would trade a little memory for an allocation on every wake-up.
  SSL_CTX_clear_mode(c, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_max_send_fragment(c, kMaxRecordPlaintext) != 1) {
    return openssl_failure("TLS context: setting the record size failed");
  }

  // Peers are authenticated by chain to the mesh CA and then by SPIFFE ID (peer_identity), never
  // by hostname. set1 shares the store: rotating the bundle means building new contexts.
  SSL_CTX_set1_cert_store(c, trust.store());
  if (auto s = use_certificate(c, certificate); !s) {
    return Error::format("TLS context: {}", s.error().message);
  }

  if (is_server) {
    // mTLS is always on for HBONE: a client without a certificate is refused in the handshake.
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    SSL_CTX_set_client_hello_cb(c, require_alpn_extension, nullptr);
    SSL_CTX_set_alpn_select_cb(c, select_h2, nullptr);
    // No resumption: HBONE connections are pooled and long-lived, so it would save little, and a
    // resumed session would outlive a rotated or revoked certificate.
    if (SSL_CTX_set_num_tickets(c, 0) != 1) {
      return openssl_failure("TLS context: disabling session tickets failed");
    }
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  } else {
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
    if (auto s = offer_h2(c); !s) return Error::format("TLS context: {}", s.error().message);
  }
  return std::shared_ptr<TlsContext>(new TlsContext(std::move(ctx), role, certificate.identity()));
}

Result<SslPtr> TlsContext::new_connection() const {
  SslPtr ssl(SSL_new(ctx_.get()));
  if (!ssl) return openssl_failure("SSL_new failed");
  if (role_ == TlsRole::kServer) {
    SSL_set_accept_state(ssl.get());
  } else {
    SSL_set_connect_state(ssl.get());
  }
  return ssl;
}

// --- After the handshake ---

Result<Identity> peer_identity(SSL* ssl) {
  if (ssl == nullptr) return Error{"no TLS connection"};
  if (SSL_is_init_finished(ssl) != 1) return Error{"TLS handshake has not completed"};
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (peer == nullptr) return Error{"peer presented no certificate"};
  // Our contexts fail the handshake on a bad chain; this guards SSLs made from other contexts.
  long verify_result = SSL_get_verify_result(ssl);
  if (verify_result != X509_V_OK) {
    return Error::format("peer certificate chain did not verify: {}",
                         X509_verify_cert_error_string(verify_result));
  }
  auto identity = identity_from_certificate(peer);
  if (!identity) return Error::format("peer {}", identity.error().message);
  return identity;
}

Status verify_peer_identity(SSL* ssl, const Identity& expected) {
  auto identity = peer_identity(ssl);
  if (!identity) return identity.error();
  if (*identity != expected) {
    return Error::format("peer identity {} is not the expected {}", identity->to_string(),
                         expected.to_string());
  }
  return {};
}

std::string_view negotiated_alpn(const SSL* ssl) {
  const unsigned char* protocol = nullptr;
  unsigned int length = 0;
  if (ssl != nullptr) SSL_get0_alpn_selected(ssl, &protocol, &length);
  if (protocol == nullptr) return {};
  return {reinterpret_cast<const char*>(protocol), length};
}

std::string describe_handshake_failure(SSL* ssl, int ssl_get_error_result) {
  std::string text = take_openssl_errors();
  if (text.empty()) {
    switch (ssl_get_error_result) {
      case SSL_ERROR_ZERO_RETURN:
        text = "peer closed the TLS connection";
        break;
      case SSL_ERROR_SYSCALL:
        text = "connection closed or I/O failed during the TLS handshake";
        break;
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE:
        text = "TLS handshake incomplete: waiting for the peer";
        break;
      default:
        text = fmt::format("TLS failure (SSL_get_error {})", ssl_get_error_result);
        break;
    }
  }
  // The queue says only that verification failed; the verify result says why.
  long verify_result = ssl != nullptr ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (verify_result != X509_V_OK) {
    std::string why = X509_verify_cert_error_string(verify_result);
    constexpr std::string_view kVerifyFailed = "certificate verify failed";
    if (auto at = text.find(kVerifyFailed); at != std::string::npos) {
      text.insert(at + kVerifyFailed.size(), ": " + why);
    } else {
      text += "; peer certificate: " + why;
    }
  }
  return text;
}

}  // namespace ambit
