#include "bpf/bpffs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace ambit::bpf {

Status ensure_bpffs_mounted(const std::string& mount_point) {
  struct statfs fs {};
  if (::statfs(mount_point.c_str(), &fs) == 0 && fs.f_type == BPF_FS_MAGIC) return {};
  if (auto made = make_dirs(mount_point, 0755); !made) return made;
  if (::mount("bpf", mount_point.c_str(), "bpf", 0, "mode=0700") != 0) {
    return Error::format("mount bpffs at {}: {}", mount_point, std::strerror(errno));
  }
  return {};
}

Status make_dirs(const std::string& path, unsigned mode) {
  for (size_t pos = 1; pos != std::string::npos;) {
    pos = path.find('/', pos + 1);
    std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
      return Error::format("mkdir {}: {}", prefix, std::strerror(errno));
    }
  }
  return {};
}

Status remove_tree(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return Error::format("stat {}: {}", path, std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return Error::format("opendir {}: {}", path, std::strerror(errno));
    std::vector<std::string> children;
    while (dirent* e = ::readdir(dir)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") children.push_back(path + "/" + name);
    }
    ::closedir(dir);
    for (const auto& child : children) {
      if (auto removed = remove_tree(child); !removed) return removed;
    }
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT) {
      return Error::format("rmdir {}: {}", path, std::strerror(errno));
    }
    return {};
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Error::format("unlink {}: {}", path, std::strerror(errno));
  }
  return {};
}

std::vector<std::string> list_subdirs(const std::string& dir_path) {
  std::vector<std::string> names;
  DIR* dir = ::opendir(dir_path.c_str());
  if (dir == nullptr) return names;
  while (dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(::dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
      names.push_back(std::move(name));
    }
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::string> own_cgroup_dir(const std::string& cgroup2_root) {
  std::ifstream in("/proc/self/cgroup");
  if (!in) return Error::format("open /proc/self/cgroup: {}", std::strerror(errno));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) {
      std::string rel = line.substr(3);
      if (rel == "/") return cgroup2_root;
      return cgroup2_root + rel;
    }
  }
  return Error::format("/proc/self/cgroup has no cgroup v2 (\"0::\") line");
}

Result<UniqueFd> open_dir(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Error::format("open {}: {}", path, std::strerror(errno));
  return fd;
}

}  // namespace ambit::bpf
