// An in-memory mesh PKI for tests: a root and workload certificates on demand.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "core/identity.h"
#include "core/tls_context.h"
#include "core/x509.h"

namespace ambit::testing {

class TestPki {
 public:
  TestPki();
  const TrustBundle& bundle() const { return *bundle_; }
  std::string root_pem() const { return root_pem_; }
  // A certificate for identity, valid from an hour ago for a day unless told otherwise.
  WorkloadCertificate issue(const Identity& identity,
                            std::chrono::seconds valid_from = std::chrono::hours(-1),
                            std::chrono::seconds valid_for = std::chrono::hours(25)) const;
  struct Pem {
    std::string certificate;
    std::string key;
  };
  Pem issue_pem(const Identity& identity) const;

 private:
  EvpPkeyPtr root_key_;
  X509Ptr root_;
  std::string root_pem_;
  std::optional<TrustBundle> bundle_;
};

}  // namespace ambit::testing
