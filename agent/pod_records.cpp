#include "agent/pod_records.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/unique_fd.h"

namespace ambit::agent {
namespace {

namespace fs = std::filesystem;
constexpr std::string_view kSuffix = ".pod";

}  // namespace

std::string PodRecords::encode(const std::string& uid) {
  std::string out = uid;
  std::replace(out.begin(), out.end(), '/', '_');
  return out;
}

std::string PodRecords::decode(const std::string& component) {
  std::string out = component;
  if (auto at = out.find('_'); at != std::string::npos) out[at] = '/';
  return out;
}

std::string PodRecords::path(const std::string& uid) const {
  return dir_ + "/" + encode(uid) + std::string(kSuffix);
}

Status PodRecords::write(const PodRecord& r) const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Error::format("record directory {}: {}", dir_, ec.message());
  ::chmod(dir_.c_str(), 0700);
  std::string text = fmt::format("uid={}\nnetns={}\nnetns_inode={}\ncgroup={}\n", r.pod.uid,
                                 r.pod.netns_path, r.netns_inode, r.pod.cgroup_path);
  for (const auto& a : r.pod.addresses) text += "address=" + a.to_string() + "\n";
  for (const auto& [key, value] : r.notes) text += "note." + key + "=" + value + "\n";
  std::string final_path = path(r.pod.uid), tmp = final_path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return Error::format("record {}: {}", tmp, std::strerror(errno));
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return Error::format("record {}: {}", tmp, std::strerror(errno));
  }
  fd.reset();
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    return Error::format("record {}: {}", final_path, std::strerror(errno));
  }
  return {};
}

Result<std::optional<PodRecord>> PodRecords::read(const std::string& uid) const {
  std::ifstream in(path(uid));
  if (!in) {
    if (errno == ENOENT) return std::optional<PodRecord>();
    return Error::format("record {}: {}", path(uid), std::strerror(errno));
  }
  PodRecord r;
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "uid") {
      r.pod.uid = value;
    } else if (key == "netns") {
      r.pod.netns_path = value;
    } else if (key == "netns_inode") {
      r.netns_inode = std::strtoul(value.c_str(), nullptr, 10);
    } else if (key == "cgroup") {
      r.pod.cgroup_path = value;
    } else if (key == "address") {
      auto ip = IpAddress::parse(value);
      if (!ip) return Error::format("record {}: address '{}': {}", path(uid), value, ip.error().message);
      r.pod.addresses.push_back(*ip);
    } else if (key.starts_with("note.")) {
      r.notes[key.substr(5)] = value;
    }
  }
  if (r.pod.uid != uid) return Error::format("record {} is not a record of {}", path(uid), uid);
  return std::optional<PodRecord>(std::move(r));
}

Status PodRecords::remove(const std::string& uid) const {
  if (::unlink(path(uid).c_str()) != 0 && errno != ENOENT) {
    return Error::format("record {}: {}", path(uid), std::strerror(errno));
  }
  return {};
}

std::vector<std::string> PodRecords::uids() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    std::string name = entry.path().filename().string();
    if (!name.ends_with(kSuffix)) continue;  // an interrupted write's temporary file
    out.push_back(decode(name.substr(0, name.size() - kSuffix.size())));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<PodRecord> PodRecords::all() const {
  std::vector<PodRecord> out;
  for (const auto& uid : uids()) {
    auto r = read(uid);
    if (r.ok() && *r) {
      out.push_back(std::move(**r));
    } else {
      spdlog::warn("ignoring unreadable capture record {}: {}", path(uid),
                   r.ok() ? "vanished" : r.error().message);
    }
  }
  return out;
}

Status PodRecords::remove_all() const {
  std::error_code ec;
  fs::remove_all(dir_, ec);
  if (ec) return Error::format("record directory {}: {}", dir_, ec.message());
  return {};
}

}  // namespace ambit::agent
