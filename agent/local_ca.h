// Standalone mode's stand-in for the controller's CA: the agent signs certificates for the pods
// it enrolls with a CA key the operator gave it. Keys are generated here and never written out.
#pragma once

#include <chrono>

#include "agent/local_config.h"
#include "core/openssl_ptr.h"
#include "core/tls_context.h"

namespace ambit::agent {

class LocalCertificateAuthority {
 public:
  static Result<LocalCertificateAuthority> load(const CertificateAuthorityPaths& paths);

  // A fresh P-256 key and a leaf for identity, valid for ttl (backdated a minute for clock skew).
  Result<WorkloadCertificate> issue(const Identity& identity, std::chrono::seconds ttl) const;
  const std::string& certificate_pem() const { return certificate_pem_; }

 private:
  X509Ptr certificate_;
  EvpPkeyPtr key_;
  std::string certificate_pem_;
};

}  // namespace ambit::agent
