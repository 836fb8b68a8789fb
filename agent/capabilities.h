// Which Linux capabilities the agent holds, so it can say at start exactly which one is missing
// instead of failing later with EPERM somewhere in the kernel.
#pragma once

#include <string>
#include <vector>

namespace ambit::agent {

struct CapabilityNeed {
  int capability;         // CAP_BPF, CAP_NET_ADMIN, ...
  const char* name;       // "CAP_BPF"
  const char* needed_for;  // "loading the capture programs"
};

// The needs of the given capture mode ("ebpf" | "iptables" | "none").
std::vector<CapabilityNeed> capabilities_needed(const std::string& capture_mode);
// The needs this process's effective set lacks, as "CAP_X (needed for ...)".
std::vector<std::string> missing_capabilities(const std::vector<CapabilityNeed>& needs);

}  // namespace ambit::agent
