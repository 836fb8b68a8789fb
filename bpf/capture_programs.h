// The eBPF traffic capture of the node agent: one RAII type over the BPF object.
//
// Programs (bpf/*.bpf.c, one object so they share maps), and where each is attached:
//   ambit_connect4/6  cgroup/connect4/6  pod cgroup    TCP connect -> 127.0.0.1/[::1]:15001
//   ambit_sockops     sockops            pod cgroup    original dst -> ambit_orig_dst by app ip:port
//   ambit_sockopt     cgroup/getsockopt  AGENT cgroup  SO_ORIGINAL_DST on accepted 15001 sockets
//   ambit_inbound     sk_lookup          pod netns     TCP to pod IPs -> agent's 15006 listener
//
// Where the getsockopt program is attached: cgroup socket hooks run for the cgroup a socket was
// *created* in, and an accepted socket inherits its listener's. The agent creates the 15001
// listeners (from its own process, inside the pod's netns), so the program must sit on the
// agent's cgroup (or an ancestor); on the pod's cgroup it never runs for the agent's sockets.
// load() attaches it to CaptureOptions::agent_cgroup (default: this process's own cgroup).
//
// Pin layout under pin_dir (default /sys/fs/bpf/ambit):
//   maps/ambit_conn_dst ambit_orig_dst ambit_inb_lsn ambit_enrolled   reused across restarts
//   progs/ambit_connect4 ... ambit_inbound                             the running programs
//   agent/cgroup_getsockopt                                            link on the agent cgroup
//   pods/<pod_id>/cgroup_connect4 cgroup_connect6 cgroup_sockops netns_sk_lookup   links
//
// Destroying a CapturePrograms closes its fds but leaves the pins: capture keeps working while
// the agent restarts (fail closed for enrolled pods until the new agent re-registers listeners).
// uninstall() removes everything.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/net_address.h"
#include "core/result.h"

struct ambit_capture;  // the generated skeleton (gen/ambit_capture.skel.h)

namespace ambit::bpf {

struct CaptureOptions {
  std::string pin_dir = "/sys/fs/bpf/ambit";
  // Sockets with this SO_MARK are never redirected (the agent's own outbound sockets, if it ever
  // makes them from inside a pod's cgroup).
  uint32_t agent_mark = 0x539;
  uint16_t outbound_port = 15001;
  uint16_t inbound_port = 15006;
  uint16_t hbone_port = 15008;
  // cgroup v2 directory of the process that creates the agent's listeners; the getsockopt
  // program is attached there. Empty: this process's own cgroup from /proc/self/cgroup.
  std::string agent_cgroup;
  std::string cgroup2_root = "/sys/fs/cgroup/unified";
};

class CapturePrograms {
 public:
  // Mounts bpffs at /sys/fs/bpf if absent, loads the programs with the options baked in,
  // reuses maps already pinned under pin_dir (agent restart: state survives) or pins new ones,
  // pins the programs (replacing older pins) and attaches ambit_sockopt to the agent's cgroup
  // (pinned link agent/cgroup_getsockopt, replaced on every load).
  static Result<std::unique_ptr<CapturePrograms>> load(const CaptureOptions& options);

  ~CapturePrograms();
  CapturePrograms(const CapturePrograms&) = delete;
  CapturePrograms& operator=(const CapturePrograms&) = delete;

  // Attaches connect4/connect6/sockops to the pod's cgroup and sk_lookup to the pod's netns as
  // bpf_links pinned under pin_dir/pods/<pod_id>/, and marks pod_ips enrolled (inbound to them
  // now fails closed without a listener: call set_inbound_listener first). Idempotent: links
  // already pinned (agent restart) are moved to the programs of this load. The caller keeps
  // ownership of both fds.
  Status attach_pod(const std::string& pod_id, int cgroup_fd, int netns_fd,
                    std::span<const IpAddress> pod_ips);

  // Puts/replaces listener_fd (the agent's TCP listener on inbound_port inside the pod's netns)
  // as the target for pod_ips. IPv6 IPs need an AF_INET6 listener (a dual-stack [::]:15006
  // serves both families). Closing the listener removes it from the map by itself.
  Status set_inbound_listener(std::span<const IpAddress> pod_ips, int listener_fd);

  // Detaches and unpins the pod's links and removes pod_ips from the maps. Idempotent.
  Status detach_pod(const std::string& pod_id, std::span<const IpAddress> pod_ips);

  // Pod ids with pinned links, sorted: for reconciliation after a restart.
  std::vector<std::string> attached_pods() const;

  const CaptureOptions& options() const { return options_; }
  // For BPF_PROG_RUN tests and diagnostics.
  int inbound_program_fd() const;

  // Detaches every pinned link under pin_dir and removes pin_dir with everything in it.
  static Status uninstall(const std::string& pin_dir);

  // Hooks this kernel lacks ("cgroup/connect4", "sk_lookup", ...), each followed by the reason;
  // empty when full eBPF capture is available. Loads each program alone, so it checks the
  // verifier and the helpers, not just the program type. Needs root (CAP_BPF + CAP_NET_ADMIN).
  static std::vector<std::string> missing_hooks();

 private:
  CapturePrograms(CaptureOptions options, ambit_capture* skel)
      : options_(std::move(options)), skel_(skel) {}
  Status pin_programs();
  Status attach_agent_getsockopt();
  Status update_maps_for(std::span<const IpAddress> pod_ips, bool enroll);

  CaptureOptions options_;
  ambit_capture* skel_;
};

}  // namespace ambit::bpf
