// The mesh certificate authority: the root (or an operator's intermediate) kept in a directory,
// workload certificates signed from CSRs, and the bootstrap credentials of nodes and of the
// controller itself.
//
// CA directory layout (Istio's "plugged-in certs" names, so operators' habits carry over):
//   ca-cert.pem, ca-key.pem   an operator-supplied signing CA (intermediate), optional
//   cert-chain.pem            the certificates between ca-cert.pem and the root, optional
//   root-cert.pem             the root every peer trusts
//   root-key.pem              the root's key, when the controller generated the root itself
// With neither ca-key.pem nor root-key.pem, the first start generates a P-256 root. Key files are
// written 0600, and a key file readable by others is refused.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "control/control_identity.h"
#include "core/identity.h"
#include "core/openssl_ptr.h"
#include "core/result.h"

namespace ambit::controller {

using control::controller_spiffe_id;
using control::Credentials;
using control::node_spiffe_id;
using control::waypoint_spiffe_id;

class CertificateAuthority {
 public:
  struct Options {
    std::string trust_domain = "cluster.local";
    std::chrono::seconds root_lifetime = std::chrono::hours(24 * 3650);
    std::chrono::seconds bootstrap_lifetime = std::chrono::hours(24 * 365);
  };

  // Loads the CA from `dir`, generating a root there at first start.
  static Result<std::unique_ptr<CertificateAuthority>> load_or_create(
      const std::filesystem::path& dir, const Options& options);

  const std::string& trust_domain() const { return trust_domain_; }
  // The root every client trusts (also pushed as the TrustBundle object).
  const std::string& root_pem() const { return root_pem_; }
  X509* root() const { return root_.get(); }
  // True when this start generated the root (first start).
  bool generated() const { return generated_; }

  // Signs a PKCS#10 CSR for `expected`: the CSR's signature must verify, its key must be ECDSA
  // P-256, and its only URI SAN must be exactly expected's SPIFFE ID. Returns leaf + chain (no
  // root). Errors say which check failed and never include the CSR.
  Result<std::string> sign(std::string_view csr_pem, const Identity& expected,
                           std::chrono::seconds ttl) const;

  // Standalone bootstrap: a fresh key and a client+server certificate for a control-channel
  // identity (see control/control_identity.h).
  Result<Credentials> issue_node_credentials(std::string_view node) const;
  Result<Credentials> issue_waypoint_credentials(std::string_view waypoint_uid) const;
  Result<Credentials> issue_controller_credentials() const;

 private:
  CertificateAuthority() = default;
  Result<Credentials> issue_for_uri(const std::string& uri, std::chrono::seconds lifetime) const;

  std::string trust_domain_;
  Options options_;
  X509Ptr signer_;
  EvpPkeyPtr signer_key_;
  std::vector<X509Ptr> intermediates_;  // signer first (when not the root), up to the root
  X509Ptr root_;
  std::string root_pem_;
  std::string chain_suffix_pem_;  // intermediates appended to every issued leaf
  bool generated_ = false;
};

// A CSR as a client makes one: P-256 key, one URI SAN. For the agent, the bench and tests.
struct CsrAndKey {
  std::string csr_pem;
  std::string key_pem;
};
Result<CsrAndKey> make_csr(std::string_view uri_san);

}  // namespace ambit::controller
