// What a capture mode installed for each pod, kept as one small file per pod under
// <state_dir>/<mode>/, so a restarted agent can release a pod it no longer knows about (the
// eBPF mode needs the pod's addresses to clear its maps; the iptables mode its netns path).
// Plain files on tmpfs: they go away with the node's reboot, as the capture state does.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/capture.h"

namespace ambit::agent {

class PodRecords {
 public:
  explicit PodRecords(std::string dir) : dir_(std::move(dir)) {}

  // Writes atomically (rename); the directory is created 0700.
  Status write(const PodSandbox& pod) const;
  // nullopt when there is no record; an error when it exists but cannot be read.
  Result<std::optional<PodSandbox>> read(const std::string& uid) const;
  Status remove(const std::string& uid) const;
  std::vector<std::string> uids() const;
  // Removes the directory and every record in it.
  Status remove_all() const;
  const std::string& dir() const { return dir_; }

  // A uid ("<namespace>/<name>") as one path component: Kubernetes names never contain '_'.
  static std::string encode(const std::string& uid);
  static std::string decode(const std::string& component);

 private:
  std::string path(const std::string& uid) const { return dir_ + "/" + encode(uid); }
  std::string dir_;
};

}  // namespace ambit::agent
