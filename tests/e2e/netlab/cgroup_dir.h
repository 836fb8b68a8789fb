// cgroup v2 directories for pods and node agents, and killing everything inside them.
#pragma once

#include <chrono>
#include <string>

#include "core/result.h"

namespace ambit::netlab {

// The cgroup v2 mount (hybrid hosts mount it at /sys/fs/cgroup/unified).
std::string cgroup2_root();
Status make_cgroup(const std::string& path);
// Writes cgroup.kill and waits (bounded) until cgroup.events says the subtree is empty.
Status kill_cgroup_tree(const std::string& path,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5));
// rmdir of the subtree, deepest first. Missing directory: ok.
Status remove_cgroup_tree(const std::string& path);
// kill + remove.
Status destroy_cgroup_tree(const std::string& path);

}  // namespace ambit::netlab
