// The nat-table rules of the iptables capture mode, as iptables-restore input, and what an
// iptables-save of a pod's nat table says about them. Pure text: no namespaces, no processes.
//
// Everything lives in two chains of our own, jumped to from the built-in chains, so releasing a
// pod removes exactly what enrolling it added:
//   AMBIT_OUTPUT      (from OUTPUT)      what the pod's processes send -> outbound port
//   AMBIT_PREROUTING  (from PREROUTING)  what arrives at the pod       -> inbound plaintext port
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/capture.h"

namespace ambit::agent::iptables {

inline constexpr std::string_view kOutputChain = "AMBIT_OUTPUT";
inline constexpr std::string_view kPreroutingChain = "AMBIT_PREROUTING";

enum class Family { kIpv4, kIpv6 };

// Our part of a nat table, from `iptables-save -t nat`.
struct NatState {
  std::vector<std::string> output_jumps;      // "-A OUTPUT ... -j AMBIT_OUTPUT" lines
  std::vector<std::string> prerouting_jumps;  // "-A PREROUTING ... -j AMBIT_PREROUTING" lines
  bool has_output_chain = false;
  bool has_prerouting_chain = false;

  bool empty() const {
    return output_jumps.empty() && prerouting_jumps.empty() && !has_output_chain &&
           !has_prerouting_chain;
  }
};

NatState parse_nat_state(std::string_view iptables_save_output);

// iptables-restore --noflush input that (re)writes both chains and adds the jumps that are
// missing, leaving one jump per chain: applying it again yields the same table.
std::string enroll_script(const CaptureSettings& settings, Family family, const NatState& now);

// iptables-restore --noflush input that removes the jumps and both chains; empty when there is
// nothing of ours in the table.
std::string release_script(const NatState& now);

}  // namespace ambit::agent::iptables
