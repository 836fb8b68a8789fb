#include "tests/support/test_pki.h"

#include <stdexcept>

namespace ambit::testing {

TestPki::TestPki() : root_key_(generate_p256_key()) {
  auto now = std::chrono::system_clock::now();
  auto root = make_ca_certificate(root_key_.get(), "test root", now - std::chrono::hours(1),
                                  now + std::chrono::hours(48));
  if (!root) throw std::runtime_error(root.error().message);
  root_ = std::move(*root);
  root_pem_ = certificate_to_pem(root_.get());
  auto bundle = TrustBundle::from_pem(root_pem_);
  if (!bundle) throw std::runtime_error(bundle.error().message);
  bundle_.emplace(std::move(*bundle));
}

TestPki::Pem TestPki::issue_pem(const Identity& identity) const {
  auto key = generate_p256_key();
  auto now = std::chrono::system_clock::now();
  auto cert = sign_workload_certificate(root_.get(), root_key_.get(), key.get(), identity,
                                        now - std::chrono::hours(1), now + std::chrono::hours(24));
  if (!cert) throw std::runtime_error(cert.error().message);
  return Pem{certificate_to_pem(cert->get()), private_key_to_pem(key.get())};
}

WorkloadCertificate TestPki::issue(const Identity& identity, std::chrono::seconds valid_from,
                                   std::chrono::seconds valid_for) const {
  auto key = generate_p256_key();
  auto start = std::chrono::system_clock::now() + valid_from;
  auto cert = sign_workload_certificate(root_.get(), root_key_.get(), key.get(), identity, start,
                                        start + valid_for);
  if (!cert) throw std::runtime_error(cert.error().message);
  auto wc = WorkloadCertificate::from_pem(certificate_to_pem(cert->get()),
                                          private_key_to_pem(key.get()));
  if (!wc) throw std::runtime_error(wc.error().message);
  return std::move(*wc);
}

}  // namespace ambit::testing
