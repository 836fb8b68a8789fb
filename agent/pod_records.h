// What a capture mode installed for each pod, kept as one small file per pod under
// <state_dir>/<mode>/, so a restarted agent can release a pod it no longer knows about (the
// eBPF mode needs the pod's addresses to clear its maps; the iptables mode its netns). Plain
// "key=value" files on tmpfs: they go away with the node's reboot, as the capture state does.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/capture.h"

namespace ambit::agent {

struct PodRecord {
  PodSandbox pod;
  // Inode of the netns enrolled: tells the same namespace from a new one at a reused path.
  unsigned long netns_inode = 0;
  std::map<std::string, std::string> notes;  // what one mode needs besides (e.g. "ipv6")
};

class PodRecords {
 public:
  explicit PodRecords(std::string dir) : dir_(std::move(dir)) {}

  // Writes atomically (temporary file, then rename); the directory is created 0700.
  Status write(const PodRecord& record) const;
  // nullopt when there is no record; an error when it exists but cannot be read.
  Result<std::optional<PodRecord>> read(const std::string& uid) const;
  Status remove(const std::string& uid) const;
  // Every readable record, sorted by uid (unreadable ones are logged and skipped).
  std::vector<PodRecord> all() const;
  std::vector<std::string> uids() const;
  // Removes the directory with every record (and interrupted writes) in it.
  Status remove_all() const;
  const std::string& dir() const { return dir_; }

  // A uid ("<namespace>/<name>") as one path component: Kubernetes names never contain '_'.
  static std::string encode(const std::string& uid);
  static std::string decode(const std::string& component);

 private:
  std::string path(const std::string& uid) const;
  std::string dir_;
};

}  // namespace ambit::agent
