// Child processes placed in a cgroup and a network namespace, spawned safely from a
// multithreaded test process: everything is prepared before fork(), and the child makes only
// async-signal-safe calls (write to cgroup.procs, setns, prctl, dup2, execve).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/unique_fd.h"

namespace ambit::netlab {

struct SpawnOptions {
  std::vector<std::string> argv;       // argv[0] is looked up in PATH unless it has a '/'
  std::vector<std::string> env;        // empty: inherit this process's environment
  std::string cgroup_path;             // directory to join before exec; empty: stay
  std::string netns_path;              // nsfs file to setns() into; empty: stay
  std::string stdout_path;             // files the output goes to; empty: /dev/null
  std::string stderr_path;
  bool die_with_parent = true;         // PR_SET_PDEATHSIG(SIGKILL): fires when the *spawning
                                       // thread* exits, so spawn from a long-lived thread
};

// A running (or exited, not yet reaped) child. The destructor SIGKILLs and reaps it.
class Process {
 public:
  static Result<std::unique_ptr<Process>> spawn(const SpawnOptions& options);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  Status kill(int sig);
  // Exit code, or 128+signal if it was killed; an error if it is still running at the deadline.
  Result<int> wait_for_exit(std::chrono::milliseconds timeout);
  const std::string& stdout_path() const { return stdout_path_; }
  const std::string& stderr_path() const { return stderr_path_; }
  // What the process wrote so far (reads the capture files).
  std::string stdout_text() const;
  std::string stderr_text() const;

 private:
  friend Result<std::string> run_command(const SpawnOptions&, const std::string&,
                                         std::chrono::milliseconds);
  Process(pid_t pid, UniqueFd pidfd, std::string out, std::string err);
  bool reap(int options);

  pid_t pid_;
  UniqueFd pidfd_;
  std::string stdout_path_, stderr_path_;
  bool reaped_ = false;
  int exit_code_ = -1;
};

// Runs argv to completion (bounded) and returns its stdout; an error with its stderr when it
// fails. stdin_text is fed on stdin.
Result<std::string> run_command(const SpawnOptions& options, const std::string& stdin_text = {},
                                std::chrono::milliseconds timeout = std::chrono::seconds(20));

std::string read_text_file(const std::string& path);

}  // namespace ambit::netlab
