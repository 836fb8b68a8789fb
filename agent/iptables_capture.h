// The iptables capture mode: REDIRECT rules in the nat table of each enrolled pod's network
// namespace (iptables-nft; nothing in the node's namespace). The fallback for kernels without
// the eBPF hooks; the agent reads the original destination with SO_ORIGINAL_DST.
//
// Each enrolled pod has a record under <state_dir>/iptables/ (uid, netns path and inode), so a
// restarted agent can list, release and uninstall what an earlier run enrolled.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "agent/capture.h"
#include "agent/iptables_rules.h"
#include "agent/netns_command.h"
#include "agent/pod_records.h"

namespace ambit::agent {

class IptablesCapture final : public Capture {
 public:
  // Finds iptables-nft-restore/-save, proves they can install the rules (in a scratch network
  // namespace) and prepares the state directory. IPv6 (ip6tables-nft) is best-effort: without
  // it, pods with an IPv6 address cannot be enrolled and IPv4-only pods are.
  static Result<std::unique_ptr<IptablesCapture>> create(const CaptureSettings& settings);

  std::string_view mode() const override { return "iptables"; }
  Status enroll(const PodSandbox& pod, int inbound_listener) override;
  Status release(const std::string& uid) override;
  std::vector<std::string> enrolled() const override;
  Status uninstall() override;

  bool ipv6_available() const { return ip6_.has_value(); }
  const std::string& records_dir() const { return records_.dir(); }

 private:
  struct Tools {
    std::string restore;  // iptables-nft-restore or ip6tables-nft-restore
    std::string save;
  };

  IptablesCapture(CaptureSettings settings, Tools ip4, std::optional<Tools> ip6,
                  std::string records_dir);

  Status install(const NetnsHandle& ns, const Tools& tools, iptables::Family family);
  Status remove(const NetnsHandle& ns, const Tools& tools);
  Status release_locked(const std::string& uid);


  CaptureSettings settings_;
  Tools ip4_;
  std::optional<Tools> ip6_;
  PodRecords records_;
  mutable std::mutex mu_;  // one enroll/release at a time: each reads, then rewrites a table
};

}  // namespace ambit::agent
