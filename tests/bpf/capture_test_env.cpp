#include "tests/bpf/capture_test_env.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "bpf/bpffs.h"

namespace ambit::bpf::testing {

Result<NetnsHandle> new_netns() {
  Result<NetnsHandle> out = Error{"netns thread did not run"};
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      out = Error::format("unshare(CLONE_NEWNET): {}", std::strerror(errno));
      return;
    }
    out = NetnsHandle::open("/proc/thread-self/ns/net");
  });
  t.join();
  return out;
}

Status run_in(const NetnsHandle& ns, const std::string& command) {
  return in_netns(ns, [&]() -> Status {
    int rc = std::system((command + " >/dev/null 2>&1").c_str());
    if (rc != 0) return Error::format("'{}' failed (status {})", command, rc);
    return {};
  });
}

std::string netns_path(const NetnsHandle& ns) {
  return fmt::format("/proc/{}/fd/{}", ::getpid(), ns.fd());
}

namespace {
Status write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  if (!out) return Error::format("write '{}' to {} failed", text, path);
  return {};
}
}  // namespace

TestCgroups::TestCgroups() {
  base_ = fmt::format("/sys/fs/cgroup/unified/ambit-bpf-test-{}", ::getpid());
  auto own = own_cgroup_dir();
  if (!own) {
    status_ = own.error();
    return;
  }
  original_ = *own;
  if (::mkdir(base_.c_str(), 0755) != 0 && errno != EEXIST) {
    status_ = Error::format("mkdir {}: {}", base_, std::strerror(errno));
  }
}

TestCgroups::~TestCgroups() {
  if (moved_) (void)write_file(original_ + "/cgroup.procs", std::to_string(::getpid()));
  for (auto it = made_.rbegin(); it != made_.rend(); ++it) ::rmdir(it->c_str());
  ::rmdir(base_.c_str());
}

Result<std::string> TestCgroups::make(const std::string& name) {
  std::string path = base_ + "/" + name;
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return Error::format("mkdir {}: {}", path, std::strerror(errno));
  }
  made_.push_back(path);
  return path;
}

Status TestCgroups::enter(const std::string& name) {
  moved_ = true;
  return write_file(base_ + "/" + name + "/cgroup.procs", std::to_string(::getpid()));
}

Result<UniqueFd> listen_in(const NetnsHandle& ns, const SocketAddress& addr) {
  return in_netns(ns, [&]() -> Result<UniqueFd> {
    UniqueFd fd(::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return Error::format("socket: {}", std::strerror(errno));
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (addr.family() == AF_INET6)
      ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    sockaddr_storage ss{};
    socklen_t len = addr.to_sockaddr(&ss);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      return Error::format("bind {}: {}", addr.to_string(), std::strerror(errno));
    }
    if (::listen(fd.get(), 16) != 0) {
      return Error::format("listen {}: {}", addr.to_string(), std::strerror(errno));
    }
    return fd;
  });
}

UniqueFd accept_within(int listen_fd, int timeout_ms) {
  pollfd p{listen_fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) != 1) return UniqueFd();
  return UniqueFd(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
}

int connect_within(const SocketAddress& to, int timeout_ms, UniqueFd* out) {
  UniqueFd fd(::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno;
  sockaddr_storage ss{};
  socklen_t len = to.to_sockaddr(&ss);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    if (errno != EINPROGRESS) return errno;
    pollfd p{fd.get(), POLLOUT, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return ETIMEDOUT;
    int err = 0;
    socklen_t err_len = sizeof(err);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &err_len);
    if (err != 0) return err;
  }
  if (out != nullptr) *out = std::move(fd);
  return 0;
}

int connect_from_pod(const std::string& cgroup_dir, const NetnsHandle& ns, int family,
                     const SocketAddress& to, uint32_t mark, int timeout_ms) {
  // Everything the child needs is prepared here: after fork only syscalls.
  std::string procs = cgroup_dir + "/cgroup.procs";
  sockaddr_storage ss{};
  socklen_t len = to.to_sockaddr(&ss);
  if (family == AF_INET6 && to.family() == AF_INET) {  // v4-mapped on an IPv6 socket
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    sockaddr_in6 v6{};
    v6.sin6_family = AF_INET6;
    v6.sin6_port = v4->sin_port;
    v6.sin6_addr.s6_addr[10] = 0xff;
    v6.sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&v6.sin6_addr.s6_addr[12], &v4->sin_addr, 4);
    std::memset(&ss, 0, sizeof(ss));
    std::memcpy(&ss, &v6, sizeof(v6));
    len = sizeof(v6);
  }
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  pid_t pid = ::fork();
  if (pid < 0) return errno;
  if (pid == 0) {
    int cg = ::open(procs.c_str(), O_WRONLY);
    if (cg < 0 || ::write(cg, "0", 1) != 1) ::_exit(100);
    if (::setns(ns.fd(), CLONE_NEWNET) != 0) ::_exit(101);
    int fd = ::socket(family, SOCK_STREAM, 0);
    if (fd < 0) ::_exit(102);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (mark != 0 && ::setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0) ::_exit(103);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) ::_exit(errno);
    (void)!::write(fd, "x", 1);
    ::_exit(0);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms + 2000);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return ETIMEDOUT;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

Result<SocketAddress> original_dst(int fd, int level, bool exact_buffer) {
  sockaddr_storage ss{};
  socklen_t len = !exact_buffer     ? sizeof(ss)
                  : level == SOL_IP ? sizeof(sockaddr_in)
                                    : sizeof(sockaddr_in6);
  if (::getsockopt(fd, level, 80 /* SO_ORIGINAL_DST */, &ss, &len) != 0) {
    return Error::format("getsockopt SO_ORIGINAL_DST: {}", std::strerror(errno));
  }
  return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

}  // namespace ambit::bpf::testing
