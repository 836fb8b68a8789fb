// Running a program inside a network namespace: fork, setns() in the child, exec.
//
// The namespace fd is opened before the fork, so the child needs no path lookups; setns only
// changes the child's network namespace, so nothing else (mounts, /sys, BPF pins) is touched,
// unlike `ip netns exec`. Output is captured for error messages.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/netns.h"
#include "core/result.h"

namespace ambit::agent {

struct Command {
  std::string program;  // absolute path (see find_program)
  std::vector<std::string> args;
  std::string input;  // given on stdin
  std::chrono::milliseconds timeout{30'000};
};

struct CommandOutput {
  int exit_code = 0;  // 128 + signal when killed by one
  std::string out;
  std::string err;

  bool ok() const { return exit_code == 0; }
  // "exit 2: <stderr, trimmed>" for error messages.
  std::string describe_failure() const;
};

// Where the command runs.
struct NetnsTarget {
  const NetnsHandle* netns = nullptr;  // nullptr: the calling thread's namespace
  bool fresh = false;                  // a new, empty namespace that dies with the child

  static NetnsTarget current() { return {}; }
  static NetnsTarget of(const NetnsHandle& ns) { return {&ns, false}; }
  static NetnsTarget scratch() { return {nullptr, true}; }
};

// An error only when the program could not be run or timed out (it is then killed); a
// non-zero exit is reported in CommandOutput.
Result<CommandOutput> run_command(const Command& command, NetnsTarget where);

// The absolute path of an executable: $PATH first, then the sbin/bin directories (an agent
// started with a short PATH still finds root's tools).
std::optional<std::string> find_program(std::string_view name);

}  // namespace ambit::agent
