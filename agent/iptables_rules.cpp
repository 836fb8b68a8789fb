#include "agent/iptables_rules.h"

#include <fmt/format.h>

namespace ambit::agent::iptables {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// "-A OUTPUT -p tcp -j AMBIT_OUTPUT" -> "-D OUTPUT -p tcp -j AMBIT_OUTPUT": iptables-save
// prints a rule exactly as -D accepts it.
std::string as_delete(const std::string& append_line) { return "-D" + append_line.substr(2); }

void append_jumps(std::string& script, std::string_view from, std::string_view chain,
                  const std::vector<std::string>& existing) {
  if (existing.empty()) {
    // First in the built-in chain: the pod's own rules (if any) see captured traffic after
    // redirection, as they would see the agent's connections.
    script += fmt::format("-I {} 1 -p tcp -j {}\n", from, chain);
    return;
  }
  for (size_t i = 1; i < existing.size(); ++i) script += as_delete(existing[i]) + "\n";
}

}  // namespace

NatState parse_nat_state(std::string_view text) {
  NatState state;
  const std::string output_jump = fmt::format(" -j {}", kOutputChain);
  const std::string prerouting_jump = fmt::format(" -j {}", kPreroutingChain);
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);

    if (starts_with(line, fmt::format(":{} ", kOutputChain))) state.has_output_chain = true;
    if (starts_with(line, fmt::format(":{} ", kPreroutingChain))) state.has_prerouting_chain = true;
    if (starts_with(line, "-A OUTPUT ") && ends_with(line, output_jump)) {
      state.output_jumps.emplace_back(line);
    }
    if (starts_with(line, "-A PREROUTING ") && ends_with(line, prerouting_jump)) {
      state.prerouting_jumps.emplace_back(line);
    }
  }
  return state;
}

std::string enroll_script(const CaptureSettings& s, Family family, const NatState& now) {
  const char* loopback = family == Family::kIpv4 ? "127.0.0.0/8" : "::1/128";
  const uint16_t agent_ports[] = {s.outbound_port, s.inbound_plaintext_port, s.hbone_port};

  std::string script = "*nat\n";
  // With --noflush, declaring a chain creates it or empties it: the rules below replace the
  // chain's content in the same transaction.
  script += fmt::format(":{} - [0:0]\n", kOutputChain);
  script += fmt::format(":{} - [0:0]\n", kPreroutingChain);

  // Outbound: the agent's own sockets (SO_MARK), loopback and the agent's ports go out as
  // they are; every other TCP connection of the pod goes to the outbound listener. A pod
  // talking to a remote HBONE port is already tunnelled and is not wrapped again.
  script += fmt::format("-A {} -m mark --mark {:#x} -j RETURN\n", kOutputChain, s.agent_mark);
  script += fmt::format("-A {} -o lo -j RETURN\n", kOutputChain);
  script += fmt::format("-A {} -d {} -j RETURN\n", kOutputChain, loopback);
  for (uint16_t port : agent_ports) {
    script += fmt::format("-A {} -p tcp -m tcp --dport {} -j RETURN\n", kOutputChain, port);
  }
  script += fmt::format("-A {} -p tcp -j REDIRECT --to-ports {}\n", kOutputChain, s.outbound_port);

  // Inbound: TCP arriving on the pod's interfaces, except HBONE and the agent's own ports,
  // goes to the plaintext inbound listener; conntrack keeps the original destination for
  // SO_ORIGINAL_DST.
  script += fmt::format("-A {} -i lo -j RETURN\n", kPreroutingChain);
  for (uint16_t port : agent_ports) {
    script += fmt::format("-A {} -p tcp -m tcp --dport {} -j RETURN\n", kPreroutingChain, port);
  }
  script += fmt::format("-A {} -p tcp -j REDIRECT --to-ports {}\n", kPreroutingChain,
                        s.inbound_plaintext_port);

  append_jumps(script, "OUTPUT", kOutputChain, now.output_jumps);
  append_jumps(script, "PREROUTING", kPreroutingChain, now.prerouting_jumps);
  script += "COMMIT\n";
  return script;
}

std::string release_script(const NatState& now) {
  if (now.empty()) return "";
  std::string script = "*nat\n";
  for (const auto& jump : now.output_jumps) script += as_delete(jump) + "\n";
  for (const auto& jump : now.prerouting_jumps) script += as_delete(jump) + "\n";
  if (now.has_output_chain) script += fmt::format("-F {0}\n-X {0}\n", kOutputChain);
  if (now.has_prerouting_chain) script += fmt::format("-F {0}\n-X {0}\n", kPreroutingChain);
  script += "COMMIT\n";
  return script;
}

}  // namespace ambit::agent::iptables
