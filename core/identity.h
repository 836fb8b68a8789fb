// SPIFFE workload identities: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace ambit {

class Identity {
 public:
  Identity() = default;
  Identity(std::string trust_domain, std::string ns, std::string service_account);

  // Accepts only the Kubernetes form of a SPIFFE ID; the error names the check that failed.
  static Result<Identity> parse(std::string_view uri);

  const std::string& trust_domain() const { return trust_domain_; }
  const std::string& ns() const { return ns_; }
  const std::string& service_account() const { return sa_; }
  bool empty() const { return trust_domain_.empty(); }
  std::string to_string() const;

  friend bool operator==(const Identity&, const Identity&) = default;
  friend auto operator<=>(const Identity&, const Identity&) = default;

 private:
  std::string trust_domain_;
  std::string ns_;
  std::string sa_;
};

}  // namespace ambit

template <>
struct std::hash<ambit::Identity> {
  size_t operator()(const ambit::Identity& id) const noexcept {
    return std::hash<std::string>{}(id.to_string());
  }
};
