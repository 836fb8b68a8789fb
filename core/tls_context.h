// TLS for HBONE (port 15008): the trust bundle, a workload's certificate, and the OpenSSL
// contexts built from them, plus the identity checks to run once a handshake completes.
//
// Both ends always authenticate (mTLS), speak TLS 1.3 only and agree on ALPN "h2", as Istio's
// ztunnel does, so the two can share a mesh.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/identity.h"
#include "core/openssl_ptr.h"
#include "core/result.h"
#include "core/x509.h"

namespace ambit {

// The one application protocol HBONE runs over.
inline constexpr std::string_view kHboneAlpn = "h2";

// The CA certificates a peer's chain must lead to. Move-only; contexts built from it share its
// X509_STORE by reference count, so the bundle may be destroyed after they are built.
class TrustBundle {
 public:
  // One or more PEM certificates, each of which must be a CA.
  static Result<TrustBundle> from_pem(std::string_view pem);
  static Result<TrustBundle> load_pem_file(const std::filesystem::path& path);

  const std::vector<X509Ptr>& roots() const { return roots_; }
  X509_STORE* store() const { return store_.get(); }

 private:
  TrustBundle(std::vector<X509Ptr> roots, X509StorePtr store);

  std::vector<X509Ptr> roots_;
  X509StorePtr store_;
};

// A workload's certificate (X.509-SVID): leaf, the intermediates to send with it, and its private
// key, checked to belong together. Move-only; contexts take their own references.
class WorkloadCertificate {
 public:
  // `cert_chain_pem` is the leaf first, then any intermediates (not the root).
  static Result<WorkloadCertificate> from_pem(std::string_view cert_chain_pem,
                                              std::string_view key_pem);
  static Result<WorkloadCertificate> load_pem_files(const std::filesystem::path& cert_chain_path,
                                                    const std::filesystem::path& key_path);
  // For certificates already in memory (a key generated here and a leaf the CA just signed).
  static Result<WorkloadCertificate> create(X509Ptr leaf, std::vector<X509Ptr> intermediates,
                                            EvpPkeyPtr private_key);

  X509* leaf() const { return leaf_.get(); }
  const std::vector<X509Ptr>& intermediates() const { return intermediates_; }
  EVP_PKEY* private_key() const { return key_.get(); }
  const Identity& identity() const { return identity_; }
  CertificateTime not_before() const { return not_before_; }
  CertificateTime not_after() const { return not_after_; }

 private:
  WorkloadCertificate() = default;

  X509Ptr leaf_;
  std::vector<X509Ptr> intermediates_;
  EvpPkeyPtr key_;
  Identity identity_;
  CertificateTime not_before_;
  CertificateTime not_after_;
};

enum class TlsRole { kClient, kServer };

// An SSL_CTX configured for one side of HBONE. Shared by every connection made with it; build a
// new one (and swap the shared_ptr) when the certificate rotates.
class TlsContext {
 public:
  // Presents `certificate`, offers ALPN h2, requires a server chain leading to `trust`.
  static Result<std::shared_ptr<TlsContext>> client(const WorkloadCertificate& certificate,
                                                    const TrustBundle& trust);
  // Presents `certificate`, requires a client certificate leading to `trust`, and accepts only
  // clients that offer ALPN h2.
  static Result<std::shared_ptr<TlsContext>> server(const WorkloadCertificate& certificate,
                                                    const TrustBundle& trust);

  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* get() const { return ctx_.get(); }
  TlsRole role() const { return role_; }
  const Identity& local_identity() const { return local_identity_; }

  // An SSL for one connection, already in connect (client) or accept (server) state; the caller
  // attaches its BIOs. It holds its own reference to the SSL_CTX.
  Result<SslPtr> new_connection() const;

 private:
  TlsContext(SslCtxPtr ctx, TlsRole role, Identity local_identity);
  static Result<std::shared_ptr<TlsContext>> build(TlsRole role,
                                                   const WorkloadCertificate& certificate,
                                                   const TrustBundle& trust);

  SslCtxPtr ctx_;
  TlsRole role_;
  Identity local_identity_;
};

// --- After the handshake ---

// The peer's SPIFFE identity: its chain verified and its single URI SAN is a SPIFFE ID. Errors
// such as "peer certificate has no URI SAN" or "peer URI SAN 'x' is not a SPIFFE ID: ...".
Result<Identity> peer_identity(SSL* ssl);

// peer_identity, and it equals `expected`; else "peer identity <got> is not the expected <want>".
Status verify_peer_identity(SSL* ssl, const Identity& expected);

// The ALPN protocol agreed on, empty if none. A client should refuse anything but kHboneAlpn,
// since a server that is not ours may complete the handshake without choosing one.
std::string_view negotiated_alpn(const SSL* ssl);

// Why SSL_do_handshake (or a later SSL_read/SSL_write) failed, for a log line: drains the OpenSSL
// error queue and adds the certificate verification result, e.g. "certificate verify failed:
// certificate has expired" or "peer did not return a certificate". Pass SSL_get_error's result,
// and call it on the failing thread before any other OpenSSL call: the error queue is per thread.
std::string describe_handshake_failure(SSL* ssl, int ssl_get_error_result);

}  // namespace ambit
