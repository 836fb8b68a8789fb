// Throwaway kernel state for the capture tests: network namespaces, cgroups, a pin dir, and
// bounded socket helpers. Everything is removed in the destructors, also when a test fails.
// Traffic stays on loopback or on a veth pair between two of the test's own namespaces.
#pragma once

#include <string>
#include <vector>

#include "core/net_address.h"
#include "core/netns.h"
#include "core/result.h"
#include "core/unique_fd.h"

namespace ambit::bpf::testing {

// A fresh network namespace, made by unshare() on a helper thread and held by its fd.
Result<NetnsHandle> new_netns();

// Runs a shell command (for `ip`) inside ns: a child process inherits the calling thread's
// namespace, so this never needs `ip netns exec`.
Status run_in(const NetnsHandle& ns, const std::string& command);

// "/proc/<our pid>/fd/<fd>": an nsfs path `ip ... netns <path>` accepts.
std::string netns_path(const NetnsHandle& ns);

// cgroup v2 directory /sys/fs/cgroup/unified/ambit-bpf-test-<pid>/<name>...; removed at the end
// (after moving this process back where it was).
class TestCgroups {
 public:
  TestCgroups();
  ~TestCgroups();
  Status status() const { return status_; }
  // Creates base/<name> and returns its path.
  Result<std::string> make(const std::string& name);
  // Moves this whole process into base/<name> (sockets made afterwards belong to it).
  Status enter(const std::string& name);

 private:
  std::string base_;
  std::string original_;
  std::vector<std::string> made_;
  bool moved_ = false;
  Status status_;
};

// Listener on addr inside ns (SO_REUSEADDR, backlog 16).
Result<UniqueFd> listen_in(const NetnsHandle& ns, const SocketAddress& addr);
// accept() bounded by timeout_ms; invalid fd on timeout.
UniqueFd accept_within(int listen_fd, int timeout_ms);
// Non-blocking connect from the calling thread's netns: 0 when connected within timeout_ms,
// ETIMEDOUT when nothing answered (a dropped SYN), else the connect errno.
int connect_within(const SocketAddress& to, int timeout_ms, UniqueFd* out = nullptr);

// Forks a child that joins the cgroup (its cgroup.procs path), enters ns, optionally sets
// SO_MARK, connects to `to` (socket family `family`) and sends one byte. Returns 0 when the
// connect succeeded, else the child's errno; bounded by timeout_ms.
int connect_from_pod(const std::string& cgroup_dir, const NetnsHandle& ns, int family,
                     const SocketAddress& to, uint32_t mark, int timeout_ms = 3000);

// SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST on fd at level SOL_IP or SOL_IPV6, with a
// sockaddr_storage buffer (as ztunnel/original_destination.cpp asks) or an exact-size one.
Result<SocketAddress> original_dst(int fd, int level, bool exact_buffer = false);

}  // namespace ambit::bpf::testing
