// Network namespaces: an owned handle, and running code inside one on the calling thread.
//
// setns(CLONE_NEWNET) changes only the calling thread's namespace, so a worker can create a
// socket in a pod's namespace and switch back; the socket keeps the namespace it was made in
// for its whole life. Never `ip netns exec`: it remounts /sys and breaks BPF pins.
#pragma once

#include <string>
#include <utility>

#include "core/result.h"
#include "core/unique_fd.h"

namespace ambit {

class NetnsHandle {
 public:
  NetnsHandle() = default;
  explicit NetnsHandle(UniqueFd fd) : fd_(std::move(fd)) {}

  // A path to an nsfs file: /run/netns/<name>, /proc/<pid>/ns/net, a bind mount.
  static Result<NetnsHandle> open(const std::string& path);
  // The calling thread's current network namespace.
  static Result<NetnsHandle> current();

  int fd() const { return fd_.get(); }
  bool valid() const { return fd_.valid(); }
  // The kernel's inode number: equal for two handles to the same namespace.
  Result<unsigned long> inode() const;

 private:
  UniqueFd fd_;
};

// Enters a namespace on the calling thread for the lifetime of the guard and returns to the
// original one at the end. Check ok() before relying on it.
class ScopedNetns {
 public:
  explicit ScopedNetns(const NetnsHandle& target);
  ~ScopedNetns();
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;

  const Status& status() const { return status_; }
  bool ok() const { return status_.ok(); }

 private:
  UniqueFd original_;
  Status status_;
  bool entered_ = false;
};

// Runs fn inside the namespace (on this thread) and returns its result; an error if the
// namespace could not be entered.
template <typename Fn>
auto in_netns(const NetnsHandle& ns, Fn&& fn) -> decltype(fn()) {
  ScopedNetns guard(ns);
  if (!guard.ok()) return guard.status().error();
  return fn();
}

}  // namespace ambit
