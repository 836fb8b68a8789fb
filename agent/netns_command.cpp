#include "agent/netns_command.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/unique_fd.h"

namespace ambit::agent {
namespace {

using Clock = std::chrono::steady_clock;

// Only async-signal-safe calls between fork and exec: the agent is multithreaded.
[[noreturn]] void exec_child(const Command& command, NetnsTarget where, int stdin_fd, int stdout_fd,
                             int stderr_fd, char* const* argv, char* const* envp) {
  auto fail = [&](const char* what) {
    const char* reason = ::strerrordesc_np(errno);  // untranslated: no locale, no allocation
    if (reason == nullptr) reason = "unknown error";
    (void)!::write(stderr_fd, what, std::strlen(what));
    (void)!::write(stderr_fd, ": ", 2);
    (void)!::write(stderr_fd, reason, std::strlen(reason));
    ::_exit(127);
  };
  sigset_t all;
  sigemptyset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);
  if (where.fresh) {
    if (::unshare(CLONE_NEWNET) != 0) fail("unshare(CLONE_NEWNET)");
  } else if (where.netns != nullptr) {
    if (::setns(where.netns->fd(), CLONE_NEWNET) != 0) fail("setns");
  }
  if (::dup2(stdin_fd, 0) < 0 || ::dup2(stdout_fd, 1) < 0 || ::dup2(stderr_fd, 2) < 0) {
    fail("dup2");
  }
  ::syscall(SYS_close_range, 3U, ~0U, 0U);
  ::execve(command.program.c_str(), argv, envp);
  fail("execve");
  ::_exit(127);
}

Status set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return Error::format("fcntl: {}", std::strerror(errno));
  }
  return {};
}

// Drains stdout and stderr until both close or the deadline passes.
bool collect_output(int out_fd, int err_fd, Clock::time_point deadline, CommandOutput* output) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {&output->out, &output->err};
  int open = 2;
  char buf[4096];
  while (open > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    int n = ::poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t got = ::read(fds[i].fd, buf, sizeof(buf));
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        fds[i].fd = -1;
        --open;
      }
    }
  }
  return true;
}

int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string CommandOutput::describe_failure() const {
  std::string text = err.empty() ? out : err;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty()) return "exit " + std::to_string(exit_code);
  return "exit " + std::to_string(exit_code) + ": " + text;
}

Result<CommandOutput> run_command(const Command& command, NetnsTarget where) {
  // stdin is a memfd holding the whole input: no pipe to keep fed, no SIGPIPE if the
  // program exits without reading.
  UniqueFd input(::memfd_create("ambit-command-input", MFD_CLOEXEC));
  if (!input.valid()) return Error::format("memfd_create: {}", std::strerror(errno));
  size_t written = 0;
  while (written < command.input.size()) {
    ssize_t n =
        ::write(input.get(), command.input.data() + written, command.input.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return Error::format("writing the input of {}: {}", command.program, std::strerror(errno));
    written += static_cast<size_t>(n);
  }
  ::lseek(input.get(), 0, SEEK_SET);

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return Error::format("pipe: {}", std::strerror(errno));
  UniqueFd out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return Error::format("pipe: {}", std::strerror(errno));
  UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);

  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(command.program.c_str()));
  for (const auto& a : command.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // A fixed environment: the tools' messages stay in English and nothing of the agent's
  // environment leaks into them.
  char path_env[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  char lang_env[] = "LC_ALL=C";
  char* envp[] = {path_env, lang_env, nullptr};

  pid_t pid = ::fork();
  if (pid < 0) return Error::format("fork: {}", std::strerror(errno));
  if (pid == 0) {
    exec_child(command, where, input.get(), out_write.get(), err_write.get(), argv.data(), envp);
  }
  out_write.reset();
  err_write.reset();

  CommandOutput output;
  bool finished =
      set_nonblocking(out_read.get()).ok() && set_nonblocking(err_read.get()).ok() &&
      collect_output(out_read.get(), err_read.get(), Clock::now() + command.timeout, &output);
  if (!finished) {
    ::kill(pid, SIGKILL);
    wait_for(pid);
    return Error::format("{} did not finish within {} ms (killed)", command.program,
                         command.timeout.count());
  }
  output.exit_code = wait_for(pid);
  if (output.exit_code < 0) {
    return Error::format("waitpid for {}: {}", command.program, std::strerror(errno));
  }
  return output;
}

std::optional<std::string> find_program(std::string_view name) {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::string_view rest(path);
    while (!rest.empty()) {
      size_t colon = rest.find(':');
      auto dir = rest.substr(0, colon);
      if (!dir.empty()) dirs.emplace_back(dir);
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  for (const char* d : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) dirs.emplace_back(d);
  for (const auto& dir : dirs) {
    std::string candidate = dir + "/" + std::string(name);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

}  // namespace ambit::agent
