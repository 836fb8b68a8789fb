#include "tests/e2e/netlab/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

extern char** environ;

namespace ambit::netlab {
namespace {

// What the child reports through the close-on-exec pipe when it cannot reach execve.
struct ChildFailure {
  int stage;
  int error;
};
constexpr const char* kStages[] = {"join cgroup", "setns", "prctl", "dup2", "execve"};

std::string resolve_executable(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = ::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  std::stringstream ss(dirs);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return name;  // execve reports ENOENT
}

UniqueFd open_output(const std::string& path) {
  if (path.empty()) return UniqueFd(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  return UniqueFd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
}

[[noreturn]] void child_fail(int report_fd, int stage) {
  ChildFailure f{stage, errno};
  (void)!::write(report_fd, &f, sizeof(f));
  ::_exit(127);
}

// Runs in the child between fork() and execve(): async-signal-safe calls only.
[[noreturn]] void child_exec(const char* exe, char* const* argv, char* const* envp, int cgroup_fd,
                             int netns_fd, int in_fd, int out_fd, int err_fd, bool die_with_parent,
                             pid_t parent, int report_fd) {
  // The parent may block signals (the CLI does); the program must start with a clean slate.
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction sa {};
    sa.sa_handler = SIG_DFL;
    sigaction(sig, &sa, nullptr);
  }
  if (cgroup_fd >= 0 && ::write(cgroup_fd, "0", 1) != 1) child_fail(report_fd, 0);
  if (netns_fd >= 0 && ::setns(netns_fd, CLONE_NEWNET) != 0) child_fail(report_fd, 1);
  if (die_with_parent) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(report_fd, 2);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
  }
  if (::dup2(in_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) {
    child_fail(report_fd, 3);
  }
  ::execve(exe, argv, envp);
  child_fail(report_fd, 4);
}

struct Launched {
  pid_t pid;
  UniqueFd pidfd;
};

Result<Launched> launch(const SpawnOptions& o, int in_fd, int out_fd, int err_fd) {
  if (o.argv.empty()) return Error::format("spawn: empty argv");
  // Everything the child needs is allocated and opened here, before fork().
  std::string exe = resolve_executable(o.argv[0]);
  std::vector<char*> argv;
  for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_storage = o.env;
  if (env_storage.empty()) {
    for (char** e = environ; e && *e; ++e) env_storage.emplace_back(*e);
  }
  std::vector<char*> envp;
  for (const auto& e : env_storage) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  UniqueFd cgroup_fd, netns_fd;
  if (!o.cgroup_path.empty()) {
    std::string procs = o.cgroup_path + "/cgroup.procs";
    cgroup_fd.reset(::open(procs.c_str(), O_WRONLY | O_CLOEXEC));
    if (!cgroup_fd.valid()) return Error::format("open {}: {}", procs, std::strerror(errno));
  }
  if (!o.netns_path.empty()) {
    netns_fd.reset(::open(o.netns_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!netns_fd.valid()) return Error::format("open {}: {}", o.netns_path, std::strerror(errno));
  }
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return Error::format("pipe2: {}", std::strerror(errno));
  UniqueFd report_read(report[0]), report_write(report[1]);

  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return Error::format("fork: {}", std::strerror(errno));
  if (pid == 0) {
    child_exec(exe.c_str(), argv.data(), envp.data(), cgroup_fd.get(), netns_fd.get(), in_fd,
               out_fd, err_fd, o.die_with_parent, parent, report_write.get());
  }
  report_write.reset();
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(report_read.get(), &failure, sizeof(failure));
  } while (n < 0 && errno == EINTR);
  if (n == sizeof(failure)) {
    int status;
    ::waitpid(pid, &status, 0);
    return Error::format("spawn {}: {} failed: {}", o.argv[0], kStages[failure.stage],
                         std::strerror(failure.error));
  }
  return Launched{pid, std::move(pidfd)};
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string read_fd(int fd) {
  std::string out;
  char buf[4096];
  off_t off = 0;
  ssize_t n;
  while ((n = ::pread(fd, buf, sizeof(buf), off)) > 0) {
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return out;
}

}  // namespace

std::string read_text_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::unique_ptr<Process>> Process::spawn(const SpawnOptions& o) {
  UniqueFd in(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  UniqueFd out = open_output(o.stdout_path);
  UniqueFd err = open_output(o.stderr_path);
  if (!in.valid() || !out.valid() || !err.valid()) {
    return Error::format("spawn {}: cannot open output files: {}", o.argv.empty() ? "" : o.argv[0],
                         std::strerror(errno));
  }
  auto launched = launch(o, in.get(), out.get(), err.get());
  if (!launched) return launched.error();
  return std::unique_ptr<Process>(new Process(launched->pid, std::move(launched->pidfd),
                                              o.stdout_path, o.stderr_path));
}

Process::Process(pid_t pid, UniqueFd pidfd, std::string out, std::string err)
    : pid_(pid), pidfd_(std::move(pidfd)), stdout_path_(std::move(out)),
      stderr_path_(std::move(err)) {}

Process::~Process() {
  if (reaped_) return;
  ::kill(pid_, SIGKILL);
  reap(0);
}

bool Process::reap(int options) {
  if (reaped_) return true;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, options);
  } while (r < 0 && errno == EINTR);
  if (r != pid_) return false;
  reaped_ = true;
  exit_code_ = decode_status(status);
  return true;
}

bool Process::running() { return !reap(WNOHANG); }

Status Process::kill(int sig) {
  if (reaped_) return Status();
  if (::kill(pid_, sig) != 0) return Error::format("kill({}, {}): {}", pid_, sig, std::strerror(errno));
  return Status();
}

Result<int> Process::wait_for_exit(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!reap(WNOHANG)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Error::format("process {} still running after {} ms", pid_, timeout.count());
    }
    if (pidfd_.valid()) {
      pollfd p{pidfd_.get(), POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 1000)));
    } else {
      ::usleep(5000);
    }
  }
  return exit_code_;
}

std::string Process::stdout_text() const {
  return stdout_path_.empty() ? std::string() : read_text_file(stdout_path_);
}
std::string Process::stderr_text() const {
  return stderr_path_.empty() ? std::string() : read_text_file(stderr_path_);
}

Result<std::string> run_command(const SpawnOptions& o, const std::string& stdin_text,
                                std::chrono::milliseconds timeout) {
  UniqueFd in(::memfd_create("netlab-stdin", MFD_CLOEXEC));
  UniqueFd out(::memfd_create("netlab-stdout", MFD_CLOEXEC));
  UniqueFd err(::memfd_create("netlab-stderr", MFD_CLOEXEC));
  if (!in.valid() || !out.valid() || !err.valid()) {
    return Error::format("memfd_create: {}", std::strerror(errno));
  }
  if (!stdin_text.empty() &&
      ::write(in.get(), stdin_text.data(), stdin_text.size()) !=
          static_cast<ssize_t>(stdin_text.size())) {
    return Error::format("memfd write: {}", std::strerror(errno));
  }
  ::lseek(in.get(), 0, SEEK_SET);
  auto launched = launch(o, in.get(), out.get(), err.get());
  if (!launched) return launched.error();
  Process p(launched->pid, std::move(launched->pidfd), {}, {});
  auto code = p.wait_for_exit(timeout);
  if (!code) return Error::format("{}: {}", o.argv[0], code.error().message);
  if (*code != 0) {
    std::string text = read_fd(err.get());
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return Error::format("{} exited with {}: {}", o.argv[0], *code, text);
  }
  return read_fd(out.get());
}

}  // namespace ambit::netlab
