// Traffic capture: how a pod's connections are steered to the agent's listeners inside the
// pod's network namespace (15001 for what the pod sends, 15006 for what it receives in
// plaintext; 15008 HBONE is never captured). Two modes: eBPF (cgroup connect + sk_lookup, the
// default) and in-pod iptables REDIRECT (the fallback for kernels without those hooks).
// Nothing is installed in the node's own network namespace, so the cluster's CNI is untouched.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/net_address.h"
#include "core/result.h"

namespace ambit::agent {

// Where a pod lives on this node.
struct PodSandbox {
  std::string uid;          // <namespace>/<name>
  std::string netns_path;   // nsfs file of the pod's network namespace
  std::string cgroup_path;  // the pod's cgroup v2 directory
  std::vector<IpAddress> addresses;
};

struct CaptureSettings {
  uint16_t outbound_port = 15001;
  uint16_t inbound_plaintext_port = 15006;
  uint16_t hbone_port = 15008;
  // SO_MARK of the agent's own sockets: never captured.
  uint32_t agent_mark = 0x539;
  // Where a mode records what it installed (enrolled pods), so a restarted agent finds it and
  // `--uninstall` removes it. A normal directory (tmpfs): records are plain files.
  std::string state_dir = "/run/ambit";
  // Where the eBPF mode pins its programs, maps and links (a bpffs directory).
  std::string bpf_pin_dir = "/sys/fs/bpf/ambit";
};

class Capture {
 public:
  virtual ~Capture() = default;
  virtual std::string_view mode() const = 0;  // "ebpf" | "iptables"
  // Steers the pod's traffic to the agent's listeners in its netns. Idempotent: enrolling an
  // enrolled pod again refreshes its state (e.g. the new 15006 listener after a restart).
  // inbound_listener is the pod's 15006 listening socket (the eBPF mode steers to it; the
  // iptables mode does not need it).
  virtual Status enroll(const PodSandbox& pod, int inbound_listener) = 0;
  // Stops steering the pod's traffic and removes everything enroll() installed for it.
  // Idempotent; works from the uid alone (a restarted agent releasing a stale pod, whose netns
  // may be gone already).
  virtual Status release(const std::string& uid) = 0;
  // Pods enrolled by this or an earlier run of the agent (from the persisted state).
  virtual std::vector<std::string> enrolled() const = 0;
  // Removes everything this mode installed on the node: every pod's capture and the shared
  // state (programs, maps, pins, records).
  virtual Status uninstall() = 0;
};

}  // namespace ambit::agent

namespace ambit::agent {

// mode: "ebpf", "iptables", or "auto" (eBPF when this kernel has every hook, else iptables).
// The error says what is missing for the mode asked for.
Result<std::unique_ptr<Capture>> create_capture(const std::string& mode,
                                                const CaptureSettings& settings);

}  // namespace ambit::agent
