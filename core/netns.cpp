#include "core/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <spdlog/spdlog.h>

namespace ambit {

Result<NetnsHandle> NetnsHandle::open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return Error::format("network namespace {}: {}", path, std::strerror(errno));
  }
  return NetnsHandle(std::move(fd));
}

Result<NetnsHandle> NetnsHandle::current() { return open("/proc/thread-self/ns/net"); }

Result<unsigned long> NetnsHandle::inode() const {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) {
    return Error::format("network namespace fd {}: {}", fd_.get(), std::strerror(errno));
  }
  return static_cast<unsigned long>(st.st_ino);
}

ScopedNetns::ScopedNetns(const NetnsHandle& target) {
  original_.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!original_.valid()) {
    status_ = Error::format("cannot open this thread's network namespace: {}", std::strerror(errno));
    return;
  }
  if (::setns(target.fd(), CLONE_NEWNET) != 0) {
    status_ = Error::format("setns into network namespace: {}", std::strerror(errno));
    return;
  }
  entered_ = true;
}

ScopedNetns::~ScopedNetns() {
  if (!entered_) return;
  if (::setns(original_.get(), CLONE_NEWNET) != 0) {
    // A thread left in a pod's namespace would open every later socket there: unrecoverable.
    spdlog::critical("cannot return to the original network namespace: {}", std::strerror(errno));
    std::abort();
  }
}

}  // namespace ambit
