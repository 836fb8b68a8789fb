#include "tests/e2e/netlab/netns_file.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "core/netns.h"
#include "core/unique_fd.h"

namespace ambit::netlab {

Status create_netns_file(const std::string& path) {
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
  if (!file.valid()) return Error::format("create {}: {}", path, std::strerror(errno));
  file.reset();
  // unshare(CLONE_NEWNET) affects only the calling thread, and that thread ends right after,
  // so the caller's threads never leave their namespace.
  Status status;
  std::thread worker([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      status = Error::format("unshare(CLONE_NEWNET): {}", std::strerror(errno));
      return;
    }
    if (::mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      status = Error::format("bind mount netns at {}: {}", path, std::strerror(errno));
    }
  });
  worker.join();
  if (!status.ok()) ::unlink(path.c_str());
  return status;
}

Status remove_netns_file(const std::string& path) {
  // A file may be mounted more than once if something went wrong midway; peel every layer.
  for (int i = 0; i < 8 && ::umount2(path.c_str(), MNT_DETACH) == 0; ++i) {
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Error::format("unlink {}: {}", path, std::strerror(errno));
  }
  return Status();
}

Status write_netns_sysctl(const std::string& netns_path, const std::string& key,
                          const std::string& value) {
  auto ns = NetnsHandle::open(netns_path);
  if (!ns) return ns.error();
  // /proc/sys/net resolves against the opening thread's namespace.
  return in_netns(*ns, [&]() -> Status {
    std::string file = "/proc/sys/" + key;
    UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid() || ::write(fd.get(), value.data(), value.size()) < 0) {
      return Error::format("sysctl {}={} in {}: {}", key, value, netns_path, std::strerror(errno));
    }
    return Status();
  });
}

}  // namespace ambit::netlab
