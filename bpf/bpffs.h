// The filesystems the capture lives on: bpffs (pins) and cgroup v2 (attach points).
#pragma once

#include <string>
#include <vector>

#include "core/result.h"
#include "core/unique_fd.h"

namespace ambit::bpf {

// Mounts bpffs at mount_point unless a bpffs is already there. The agent runs this itself:
// nodes do not always mount /sys/fs/bpf.
Status ensure_bpffs_mounted(const std::string& mount_point = "/sys/fs/bpf");

// mkdir -p that fails with the path and errno text; existing directories are fine.
Status make_dirs(const std::string& path, unsigned mode = 0700);

// Removes path and everything under it (files are pins: unlinking drops the kernel's reference).
// A missing path is success.
Status remove_tree(const std::string& path);

// Names of the subdirectories of dir, sorted; empty if dir is missing.
std::vector<std::string> list_subdirs(const std::string& dir);

// The cgroup v2 directory of this process: cgroup2_root + the "0::<path>" line of
// /proc/self/cgroup.
Result<std::string> own_cgroup_dir(const std::string& cgroup2_root = "/sys/fs/cgroup/unified");

// An O_RDONLY|O_DIRECTORY fd, as BPF cgroup attach wants.
Result<UniqueFd> open_dir(const std::string& path);

}  // namespace ambit::bpf
