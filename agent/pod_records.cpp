#include "agent/pod_records.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ambit::agent {

namespace fs = std::filesystem;

std::string PodRecords::encode(const std::string& uid) {
  std::string out = uid;
  for (char& c : out) {
    if (c == '/') c = '_';
  }
  return out;
}

std::string PodRecords::decode(const std::string& component) {
  std::string out = component;
  if (auto at = out.find('_'); at != std::string::npos) out[at] = '/';
  return out;
}

// Format: one "key value" per line: uid, netns, cgroup, then one "address <ip>" per address.
Status PodRecords::write(const PodSandbox& pod) const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Error::format("{}: {}", dir_, ec.message());
  ::chmod(dir_.c_str(), 0700);
  std::string tmp = path(pod.uid) + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "uid " << pod.uid << "\nnetns " << pod.netns_path << "\ncgroup " << pod.cgroup_path
        << "\n";
    for (const auto& a : pod.addresses) out << "address " << a.to_string() << "\n";
    if (!out) return Error::format("{}: cannot write: {}", tmp, std::strerror(errno));
  }
  fs::rename(tmp, path(pod.uid), ec);
  if (ec) return Error::format("{}: {}", path(pod.uid), ec.message());
  return {};
}

Result<std::optional<PodSandbox>> PodRecords::read(const std::string& uid) const {
  std::ifstream in(path(uid));
  if (!in) {
    if (errno == ENOENT) return std::optional<PodSandbox>();
    return Error::format("{}: {}", path(uid), std::strerror(errno));
  }
  PodSandbox pod;
  std::string line;
  while (std::getline(in, line)) {
    auto space = line.find(' ');
    if (space == std::string::npos) continue;
    std::string key = line.substr(0, space), value = line.substr(space + 1);
    if (key == "uid") {
      pod.uid = value;
    } else if (key == "netns") {
      pod.netns_path = value;
    } else if (key == "cgroup") {
      pod.cgroup_path = value;
    } else if (key == "address") {
      auto ip = IpAddress::parse(value);
      if (!ip) return Error::format("{}: address '{}': {}", path(uid), value, ip.error().message);
      pod.addresses.push_back(*ip);
    }
  }
  if (pod.uid != uid) return Error::format("{}: record is for '{}'", path(uid), pod.uid);
  return std::optional<PodSandbox>(std::move(pod));
}

Status PodRecords::remove(const std::string& uid) const {
  std::error_code ec;
  fs::remove(path(uid), ec);
  if (ec) return Error::format("{}: {}", path(uid), ec.message());
  return {};
}

std::vector<std::string> PodRecords::uids() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    std::string name = entry.path().filename().string();
    if (name.ends_with(".tmp")) continue;
    out.push_back(decode(name));
  }
  return out;
}

Status PodRecords::remove_all() const {
  std::error_code ec;
  fs::remove_all(dir_, ec);
  if (ec) return Error::format("{}: {}", dir_, ec.message());
  return {};
}

}  // namespace ambit::agent
