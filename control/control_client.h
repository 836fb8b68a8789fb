// The client side of the control channel, for the agent, the waypoint and the bench: connects to
// the controller with node (or waypoint) credentials, subscribes with the version it has, hands
// every Update to the owner and acks (or nacks with the owner's reason), reconnects with bounded,
// jittered backoff when the controller goes away, and requests workload certificates.
//
// The owner keeps its last good view: when the controller is down nothing is delivered, and on
// reconnect the client resumes from the last version the owner accepted (a delta if the
// controller still knows it, else a snapshot that replaces everything).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "ambit/v1/control.pb.h"
#include "control/control_identity.h"
#include "core/net_address.h"
#include "core/openssl_ptr.h"
#include "core/result.h"
#include "core/unique_fd.h"

namespace ambit::control {

struct ControlClientOptions {
  SocketAddress controller;
  ::ambit::v1::Subscribe::Role role = ::ambit::v1::Subscribe::AGENT;
  std::string node;         // agent: node name; waypoint: <ns>/<name>; must match the certificate
  Credentials credentials;  // from `ambit-controller bootstrap-node` (node.pem, node.key)
  std::string root_pem;     // root.pem
  std::string trust_domain = "cluster.local";
  uint64_t have_version = 0;  // the version the owner's saved view is at; 0: none
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds backoff_initial{200};
  std::chrono::milliseconds backoff_max{10'000};
};

// Options for `name` (node, or waypoint <ns>/<name>) from the command line's controller address
// and the directory `ambit-controller bootstrap-node|bootstrap-waypoint` wrote: <stem>.pem,
// <stem>.key and root.pem (stem "node" or "waypoint"). Errors name the flag and the file.
Result<ControlClientOptions> client_options(const std::string& controller_address,
                                            const std::string& name,
                                            const std::string& credentials_dir,
                                            std::string_view stem);

class ControlClient {
 public:
  // Applies one Update to the owner's view (snapshot: replace everything with `added`; else add or
  // replace `added`, drop `removed`). An error is sent back as a Nack with its message, and the
  // owner must keep its previous view. Called on the client's thread, one at a time.
  using UpdateHandler = std::function<Status(const ::ambit::v1::Update&)>;

  static Result<std::unique_ptr<ControlClient>> start(ControlClientOptions options,
                                                      UpdateHandler on_update);
  ~ControlClient();  // stop()
  void stop();

  // Sends a CSR for `workload_uid` and waits for the answer: the certificate chain (leaf first)
  // or the controller's reason for refusing. Waits for a connection if there is none. Any thread.
  Result<std::string> request_certificate(const std::string& workload_uid,
                                          const std::string& csr_pem,
                                          std::chrono::milliseconds timeout);

  bool connected() const { return connected_.load(); }
  // The last version the owner accepted (acked).
  uint64_t version() const { return version_.load(); }
  // Connections made so far (reconnects = connections() - 1).
  uint64_t connections() const { return connections_.load(); }

 private:
  ControlClient(ControlClientOptions options, UpdateHandler on_update);
  void run();
  Status session();
  void wake();

  ControlClientOptions options_;
  UpdateHandler on_update_;
  SslCtxPtr tls_;
  UniqueFd wake_fd_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> version_{0};
  std::atomic<uint64_t> connections_{0};
  std::thread thread_;

  struct PendingCertificate {
    ::ambit::v1::CertificateRequest request;
    std::promise<Result<std::string>> answer;
    bool sent = false;
  };
  std::mutex mu_;
  std::condition_variable stop_cv_;
  uint64_t next_request_ = 1;
  std::map<uint64_t, PendingCertificate> pending_;
};

}  // namespace ambit::control
