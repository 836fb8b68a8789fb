#include "agent/certificates.h"

#include <spdlog/spdlog.h>

#include "core/x509.h"

namespace ambit::agent {

bool past_half_life(const WorkloadCertificate& cert, std::chrono::system_clock::time_point now) {
  return now >= cert.not_before() + (cert.not_after() - cert.not_before()) / 2;
}

std::shared_ptr<const WorkloadCertificate> LocalCaCertificates::current(const std::string& workload_uid,
                                                                const Identity& identity) {
  auto it = issued_.find(workload_uid);
  if (it != issued_.end() && it->second->identity() == identity && !past_half_life(*it->second)) {
    return it->second;
  }
  auto cert = ca_.issue(identity, ttl_);
  if (!cert) {
    SPDLOG_WARN("certificate for {}: {}", workload_uid, cert.error().message);
    return nullptr;
  }
  SPDLOG_INFO("issued a certificate for {} ({}), valid for {} s", workload_uid,
              identity.to_string(), ttl_.count());
  auto shared = std::make_shared<const WorkloadCertificate>(std::move(*cert));
  issued_.insert_or_assign(workload_uid, shared);
  return shared;
}

RemoteCertificates::RemoteCertificates(Requester request)
    : request_(std::move(request)), thread_([this] { run(); }) {}

RemoteCertificates::~RemoteCertificates() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::shared_ptr<const WorkloadCertificate> RemoteCertificates::current(const std::string& workload_uid,
                                                               const Identity& identity) {
  std::lock_guard lock(mutex_);
  Entry& e = entries_[workload_uid];
  if (e.identity != identity) {  // a new pod, or its service account changed
    e.identity = identity;
    if (e.cert && e.cert->identity() != identity) e.cert.reset();
  }
  bool want = !e.cert || past_half_life(*e.cert);
  if (want && !e.pending && std::chrono::steady_clock::now() >= e.retry_after) {
    e.pending = true;
    queue_.push_back(workload_uid);
    wake_.notify_one();
  }
  // An old certificate still inside its validity keeps serving until the new one lands.
  if (e.cert && std::chrono::system_clock::now() < e.cert->not_after()) return e.cert;
  return nullptr;
}

void RemoteCertificates::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    std::string uid = queue_.front();
    queue_.pop_front();
    Identity identity = entries_[uid].identity;
    lock.unlock();

    Result<WorkloadCertificate> cert = Error{"no key"};
    if (EvpPkeyPtr key = generate_p256_key()) {
      auto csr = make_certificate_request(key.get(), identity.to_string());
      auto chain = csr ? request_(uid, *csr) : Result<std::string>(csr.error());
      if (!chain) {
        cert = chain.error();
      } else if (auto parsed = certificates_from_pem(*chain); !parsed || parsed->empty()) {
        cert = Error{parsed ? "empty certificate chain" : parsed.error().message};
      } else {
        X509Ptr leaf = std::move(parsed->front());
        std::vector<X509Ptr> rest;
        for (size_t i = 1; i < parsed->size(); ++i) rest.push_back(std::move((*parsed)[i]));
        cert = WorkloadCertificate::create(std::move(leaf), std::move(rest), std::move(key));
      }
    }

    lock.lock();
    Entry& e = entries_[uid];
    e.pending = false;
    if (cert && cert->identity() == identity) {
      SPDLOG_INFO("certificate for {} ({}) signed by the controller", uid, identity.to_string());
      e.cert = std::make_shared<const WorkloadCertificate>(std::move(*cert));
      e.last_error.clear();
      e.retry_after = {};
      if (on_ready_) {
        lock.unlock();
        on_ready_();
        lock.lock();
      }
    } else {
      e.last_error = cert ? "certificate is for " + cert->identity().to_string() : cert.error().message;
      SPDLOG_WARN("certificate for {}: {} (retrying in 2 s)", uid, e.last_error);
      e.retry_after = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    }
  }
}

}  // namespace ambit::agent
