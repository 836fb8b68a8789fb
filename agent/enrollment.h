// Enrollment: which of this node's pods are in the mesh, and making it so. From the agent's
// view (namespaces, pods, policies) it decides the enrolled pods — on this node, in a namespace
// labelled ambit.io/dataplane-mode=ambient, not opted out, with a known sandbox — opens each
// one's listeners inside its network namespace through the engine, then turns its capture on.
// Pods that leave are released in the opposite order: capture off first, then listeners.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/capture.h"
#include "agent/certificates.h"
#include "agent/local_config.h"
#include "ztunnel/engine.h"

namespace ambit::agent {

// Whether the agent on `node` enrolls workload `w` (opens its listeners and captures its
// traffic): on this node, in the mesh, and not a waypoint's pod. A waypoint terminates and
// originates HBONE itself on its own address, like Istio's waypoint pods (dataplane-mode none):
// capturing it would send its connections to the endpoints back through the node agent.
bool enrolls(const ztunnel::Workload& w, std::string_view node);

class Enrollment {
 public:
  struct Options {
    CaptureSettings capture;
    std::chrono::seconds certificate_ttl{24 * 3600};
  };

  // capture may be null: listeners are opened in the pods but nothing steers traffic to them.
  // certificates may be null: then the configuration's certificateAuthority (standalone mode)
  // signs the pods' certificates.
  Enrollment(ztunnel::Engine& engine, std::unique_ptr<Capture> capture, Options options,
             std::unique_ptr<CertificateSource> certificates = nullptr);

  // One reconciliation pass. Thread-safe (passes are serialised). A view the engine cannot run (bad policy, unreadable certificate,
  // conflicting addresses) is refused whole and the previous one stays in force. Problems of a
  // single pod (its netns is gone, a listener cannot bind) leave that pod out and are reported
  // in status(); the next pass tries again.
  Status apply(const LocalConfig& config);

  // Turns capture off for every pod this or an earlier run enrolled (for --uninstall).
  Status release_all();

  struct PodStatus {
    std::string uid;
    std::string netns;
    std::string state;  // "enrolled" or why not
  };
  std::vector<PodStatus> status() const;
  std::string_view capture_mode() const;

 private:
  struct Pod {
    PodSandbox sandbox;
    std::shared_ptr<const NetnsHandle> netns;
  };

  Status use_configured_ca(const LocalConfig& config);
  void release(const std::string& uid);

  ztunnel::Engine& engine_;
  std::unique_ptr<Capture> capture_;
  Options options_;
  std::map<std::string, Pod> pods_;  // sandboxes opened so far, by uid
  // Pods whose capture is on, with the sandbox it was turned on for. Starts with what an
  // earlier run left (sandbox unknown), so the first pass refreshes or releases those.
  std::map<std::string, std::optional<PodSandbox>> captured_;
  std::unique_ptr<CertificateSource> certificates_;
  bool external_certificates_ = false;  // given by the caller, not from the configuration
  std::optional<CertificateAuthorityPaths> ca_paths_;
  std::string ca_pem_;
  std::mutex apply_mutex_;
  mutable std::mutex status_mutex_;
  std::vector<PodStatus> status_;
};

}  // namespace ambit::agent
