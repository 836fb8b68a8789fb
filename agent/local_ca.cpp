#include "agent/local_ca.h"

#include "core/x509.h"

namespace ambit::agent {

Result<LocalCertificateAuthority> LocalCertificateAuthority::load(
    const CertificateAuthorityPaths& paths) {
  LocalCertificateAuthority ca;
  auto cert_pem = read_pem_file(paths.certificate);
  if (!cert_pem) return Error::format("certificateAuthority.certificate: {}", cert_pem.error().message);
  auto cert = certificate_from_pem(*cert_pem);
  if (!cert) return Error::format("certificateAuthority.certificate {}: {}", paths.certificate,
                                  cert.error().message);
  auto key_pem = read_pem_file(paths.private_key);
  if (!key_pem) return Error::format("certificateAuthority.privateKey: {}", key_pem.error().message);
  auto key = private_key_from_pem(*key_pem);
  if (!key) return Error::format("certificateAuthority.privateKey {}: {}", paths.private_key,
                                 key.error().message);
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    return Error::format("certificateAuthority: {} is not the key of {}", paths.private_key,
                         paths.certificate);
  }
  ca.certificate_ = std::move(*cert);
  ca.key_ = std::move(*key);
  ca.certificate_pem_ = std::move(*cert_pem);
  return ca;
}

Result<WorkloadCertificate> LocalCertificateAuthority::issue(const Identity& identity,
                                                             std::chrono::seconds ttl) const {
  EvpPkeyPtr key = generate_p256_key();
  if (!key) return Error{"cannot generate a P-256 key"};
  auto now = std::chrono::system_clock::now();
  auto leaf = sign_workload_certificate(certificate_.get(), key_.get(), key.get(), identity,
                                        now - std::chrono::minutes(1), now + ttl);
  if (!leaf) return Error::format("signing a certificate for {}: {}", identity.to_string(),
                                  leaf.error().message);
  return WorkloadCertificate::create(std::move(*leaf), {}, std::move(key));
}

}  // namespace ambit::agent
