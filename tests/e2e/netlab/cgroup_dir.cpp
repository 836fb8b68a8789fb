#include "tests/e2e/netlab/cgroup_dir.h"

#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/e2e/netlab/process.h"

namespace ambit::netlab {

namespace fs = std::filesystem;

std::string cgroup2_root() {
  for (const char* candidate : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
    struct statfs st {};
    if (::statfs(candidate, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC) return candidate;
  }
  return "/sys/fs/cgroup/unified";
}

Status make_cgroup(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return Error::format("mkdir cgroup {}: {}", path, std::strerror(errno));
  }
  return Status();
}

Status kill_cgroup_tree(const std::string& path, std::chrono::milliseconds timeout) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return Status();
  {
    std::ofstream kill(path + "/cgroup.kill");
    kill << "1";
    kill.flush();
    if (!kill) return Error::format("write {}/cgroup.kill failed", path);
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (read_text_file(path + "/cgroup.events").find("populated 1") != std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Error::format("cgroup {} still populated {} ms after cgroup.kill", path,
                           timeout.count());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Status();
}

Status remove_cgroup_tree(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return Status();
  for (const auto& entry : fs::directory_iterator(path, ec)) {
    if (entry.is_directory(ec)) {
      Status s = remove_cgroup_tree(entry.path().string());
      if (!s) return s;
    }
  }
  // A task that just died may keep the directory busy for a moment.
  for (int attempt = 0; attempt < 200; ++attempt) {
    if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return Status();
    if (errno != EBUSY) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Error::format("rmdir cgroup {}: {}", path, std::strerror(errno));
}

Status destroy_cgroup_tree(const std::string& path) {
  Status killed = kill_cgroup_tree(path);
  Status removed = remove_cgroup_tree(path);
  return killed.ok() ? removed : killed;
}

}  // namespace ambit::netlab
