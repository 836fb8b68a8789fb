#include "agent/capabilities.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

namespace ambit::agent {

std::vector<CapabilityNeed> capabilities_needed(const std::string& capture_mode) {
  std::vector<CapabilityNeed> needs;
  if (capture_mode == "none") return needs;
  needs.push_back({CAP_SYS_ADMIN, "CAP_SYS_ADMIN", "entering pods' network namespaces (setns)"});
  needs.push_back({CAP_NET_ADMIN, "CAP_NET_ADMIN", "marking the agent's own sockets (SO_MARK) and capture rules"});
  if (capture_mode == "ebpf") {
    needs.push_back({CAP_BPF, "CAP_BPF", "loading and pinning the capture programs"});
    needs.push_back({CAP_PERFMON, "CAP_PERFMON", "BPF programs that read socket pointers"});
  }
  return needs;
}

std::vector<std::string> missing_capabilities(const std::vector<CapabilityNeed>& needs) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  std::vector<std::string> missing;
  if (syscall(SYS_capget, &header, data) != 0) {
    missing.push_back("(cannot read this process's capabilities)");
    return missing;
  }
  for (const auto& need : needs) {
    unsigned word = static_cast<unsigned>(need.capability) / 32;
    unsigned bit = static_cast<unsigned>(need.capability) % 32;
    if (!(data[word].effective & (1u << bit))) {
      missing.push_back(fmt::format("{} (needed for {})", need.name, need.needed_for));
    }
  }
  return missing;
}

}  // namespace ambit::agent
