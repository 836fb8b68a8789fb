// Where the agent's workload certificates come from. Enrollment asks for a pod's certificate on
// every pass; a source answers at once with what it has and, when it has nothing or what it has
// is past half its life, fetches a new one in the background and calls on_ready when it lands
// (the next pass then switches to it: new connections present the new certificate, live ones
// keep theirs). Nothing here waits on the network inside a pass.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agent/local_ca.h"
#include "core/tls_context.h"

namespace ambit::agent {

class CertificateSource {
 public:
  virtual ~CertificateSource() = default;
  // The certificate to present for the workload now, or null while none is available yet.
  virtual std::shared_ptr<const WorkloadCertificate> current(const std::string& workload_uid,
                                                     const Identity& identity) = 0;
  // Called (from any thread) when a certificate arrives that current() would now return.
  void set_on_ready(std::function<void()> on_ready) { on_ready_ = std::move(on_ready); }

 protected:
  std::function<void()> on_ready_;
};

// True when a certificate should be replaced: past half of its lifetime (or expired).
bool past_half_life(const WorkloadCertificate& cert,
                    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// Standalone mode: the agent's own CA signs at once.
class LocalCaCertificates final : public CertificateSource {
 public:
  LocalCaCertificates(LocalCertificateAuthority ca, std::chrono::seconds ttl)
      : ca_(std::move(ca)), ttl_(ttl) {}
  std::shared_ptr<const WorkloadCertificate> current(const std::string& workload_uid,
                                             const Identity& identity) override;

 private:
  LocalCertificateAuthority ca_;
  std::chrono::seconds ttl_;
  std::map<std::string, std::shared_ptr<const WorkloadCertificate>> issued_;
};

// Certificates signed by the controller's CA: a fresh P-256 key per request (never leaves this
// process), a CSR sent with `request` on a thread of its own. Failures are retried with backoff.
class RemoteCertificates final : public CertificateSource {
 public:
  // request(workload_uid, csr_pem) -> the signed chain (leaf first) as PEM; may block.
  using Requester = std::function<Result<std::string>(const std::string&, const std::string&)>;
  explicit RemoteCertificates(Requester request);
  ~RemoteCertificates() override;
  std::shared_ptr<const WorkloadCertificate> current(const std::string& workload_uid,
                                             const Identity& identity) override;

 private:
  struct Entry {
    std::shared_ptr<const WorkloadCertificate> cert;
    Identity identity;
    bool pending = false;
    std::chrono::steady_clock::time_point retry_after{};
    std::string last_error;
  };
  void run();

  Requester request_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, Entry> entries_;
  std::deque<std::string> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ambit::agent
