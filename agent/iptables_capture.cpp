#include "agent/iptables_capture.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <spdlog/spdlog.h>

namespace ambit::agent {
namespace {

Status make_dirs(const std::string& path) {
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return Error::format("mkdir {}: {}", partial, std::strerror(errno));
    }
  }
  return {};
}

// bpffs holds only BPF objects and directories: a record file cannot be created there.
bool on_bpffs(std::string path) {
  struct statfs fs {};
  while (true) {
    if (::statfs(path.c_str(), &fs) == 0) return fs.f_type == BPF_FS_MAGIC;
    if (path.empty() || path == "/" || path == ".") return false;
    size_t slash = path.rfind('/');
    path = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  }
}

bool is_netns(int fd) {
  struct statfs fs {};
  return ::fstatfs(fd, &fs) == 0 && fs.f_type == NSFS_MAGIC;
}

Result<CommandOutput> run_tool(const std::string& program, std::vector<std::string> args,
                               std::string input, NetnsTarget where) {
  return run_command(Command{program, std::move(args), std::move(input)}, where);
}

// Loads the rules into a namespace that dies with the tool: proves the tool, the nf_tables
// NAT/REDIRECT support and our rule syntax without touching any real namespace.
Status probe(const std::string& restore, const CaptureSettings& settings, iptables::Family family) {
  auto script = iptables::enroll_script(settings, family, {});
  auto run = run_tool(restore, {"--noflush"}, script, NetnsTarget::scratch());
  if (!run.ok()) return run.error();
  if (!run->ok()) return Error{run->describe_failure()};
  return {};
}

std::string family_name(iptables::Family f) {
  return f == iptables::Family::kIpv4 ? "IPv4" : "IPv6";
}

}  // namespace

Result<std::unique_ptr<IptablesCapture>> IptablesCapture::create(const CaptureSettings& settings) {
  auto restore = find_program("iptables-nft-restore");
  auto save = find_program("iptables-nft-save");
  if (!restore || !save) {
    return Error::format(
        "iptables capture needs iptables-nft-restore and iptables-nft-save (Debian package "
        "'iptables', nf_tables backend): {} not found in $PATH, /usr/sbin, /sbin, /usr/bin or "
        "/bin",
        !restore ? "iptables-nft-restore" : "iptables-nft-save");
  }
  if (auto ok = probe(*restore, settings, iptables::Family::kIpv4); !ok) {
    return Error::format(
        "iptables capture: {} cannot install the nat REDIRECT rules (tried in a scratch network "
        "namespace): {}; the kernel needs nf_tables with NAT and REDIRECT "
        "(CONFIG_NF_TABLES, CONFIG_NFT_NAT, CONFIG_NFT_REDIR)",
        *restore, ok.error().message);
  }

  std::optional<Tools> ip6;
  auto restore6 = find_program("ip6tables-nft-restore");
  auto save6 = find_program("ip6tables-nft-save");
  if (!restore6 || !save6) {
    spdlog::warn("iptables capture: ip6tables-nft-restore/-save not found; IPv6 is not captured");
  } else if (auto ok = probe(*restore6, settings, iptables::Family::kIpv6); !ok) {
    spdlog::warn("iptables capture: {} cannot install the IPv6 rules ({}); IPv6 is not captured",
                 *restore6, ok.error().message);
  } else {
    ip6 = Tools{*restore6, *save6};
  }

  std::string dir = settings.state_dir + "/iptables";
  if (on_bpffs(dir)) {
    return Error::format(
        "iptables capture: state_dir {} is on bpffs, which holds only BPF objects; give this "
        "mode a state_dir on a regular or tmpfs file system (e.g. /run/ambit)",
        settings.state_dir);
  }
  if (auto ok = make_dirs(dir); !ok) {
    return Error::format("iptables capture state: {}", ok.error().message);
  }
  return std::unique_ptr<IptablesCapture>(
      new IptablesCapture(settings, Tools{*restore, *save}, std::move(ip6), std::move(dir)));
}

IptablesCapture::IptablesCapture(CaptureSettings settings, Tools ip4, std::optional<Tools> ip6,
                                 std::string records_dir)
    : settings_(std::move(settings)),
      ip4_(std::move(ip4)),
      ip6_(std::move(ip6)),
      records_(std::move(records_dir)) {}

Status IptablesCapture::install(const NetnsHandle& ns, const Tools& tools,
                                iptables::Family family) {
  auto saved = run_tool(tools.save, {"-t", "nat"}, "", NetnsTarget::of(ns));
  if (!saved.ok()) return saved.error();
  if (!saved->ok()) return Error::format("{}: {}", tools.save, saved->describe_failure());
  auto script = iptables::enroll_script(settings_, family, iptables::parse_nat_state(saved->out));
  auto restored = run_tool(tools.restore, {"--noflush"}, script, NetnsTarget::of(ns));
  if (!restored.ok()) return restored.error();
  if (!restored->ok()) {
    return Error::format("{}: {}", tools.restore, restored->describe_failure());
  }
  return {};
}

Status IptablesCapture::remove(const NetnsHandle& ns, const Tools& tools) {
  auto saved = run_tool(tools.save, {"-t", "nat"}, "", NetnsTarget::of(ns));
  if (!saved.ok()) return saved.error();
  if (!saved->ok()) return Error::format("{}: {}", tools.save, saved->describe_failure());
  auto script = iptables::release_script(iptables::parse_nat_state(saved->out));
  if (script.empty()) return {};
  auto restored = run_tool(tools.restore, {"--noflush"}, script, NetnsTarget::of(ns));
  if (!restored.ok()) return restored.error();
  if (!restored->ok()) {
    return Error::format("{}: {}", tools.restore, restored->describe_failure());
  }
  return {};
}

Status IptablesCapture::enroll(const PodSandbox& pod, int /*inbound_listener*/) {
  std::lock_guard lock(mu_);
  if (pod.uid.empty() || pod.uid.find('\n') != std::string::npos) {
    return Error::format("iptables enroll: invalid pod uid '{}'", pod.uid);
  }
  auto ns = NetnsHandle::open(pod.netns_path);
  if (!ns.ok()) return Error::format("iptables enroll {}: {}", pod.uid, ns.error().message);
  if (!is_netns(ns->fd())) {
    return Error::format("iptables enroll {}: {} is not a network namespace", pod.uid,
                         pod.netns_path);
  }
  auto inode = ns->inode();
  if (!inode.ok()) return Error::format("iptables enroll {}: {}", pod.uid, inode.error().message);
  auto v6 = std::find_if(pod.addresses.begin(), pod.addresses.end(),
                         [](const IpAddress& a) { return !a.is_v4(); });
  if (v6 != pod.addresses.end() && !ip6_) {
    return Error::format(
        "iptables enroll {}: the pod has IPv6 address {} but ip6tables-nft is not usable on this "
        "node",
        pod.uid, v6->to_string());
  }

  // The record comes first: a crash after the rules are in leaves something release() finds.
  // notes["ipv6"]: whether IPv6 rules were installed too (release must then remove them).
  const std::string with_ipv6 = "1", without_ipv6 = "0";
  PodRecord record{pod, *inode, {{"ipv6", ip6_ ? with_ipv6 : without_ipv6}}};
  if (auto ok = records_.write(record); !ok) {
    return Error::format("iptables enroll {}: {}", pod.uid, ok.error().message);
  }
  auto fail = [&](iptables::Family family, const Error& error) -> Status {
    // A half-captured pod is worse than an uncaptured one: take everything out again.
    if (auto undone = release_locked(pod.uid); !undone) {
      spdlog::error("iptables enroll {}: rollback: {}", pod.uid, undone.error().message);
    }
    return Error::format("iptables enroll {} ({}, netns {}): {}", pod.uid, family_name(family),
                         pod.netns_path, error.message);
  };
  if (auto ok = install(*ns, ip4_, iptables::Family::kIpv4); !ok) {
    return fail(iptables::Family::kIpv4, ok.error());
  }
  if (ip6_) {
    if (auto ok = install(*ns, *ip6_, iptables::Family::kIpv6); !ok) {
      if (v6 != pod.addresses.end()) return fail(iptables::Family::kIpv6, ok.error());
      spdlog::warn(
          "iptables enroll {}: IPv6 rules not installed ({}); the pod has no IPv6 "
          "address",
          pod.uid, ok.error().message);
      record.notes.insert_or_assign("ipv6", without_ipv6);
      (void)records_.write(record);
    }
  }
  spdlog::info("iptables capture: enrolled {} (netns {})", pod.uid, pod.netns_path);
  return {};
}

Status IptablesCapture::release(const std::string& uid) {
  std::lock_guard lock(mu_);
  return release_locked(uid);
}

Status IptablesCapture::release_locked(const std::string& uid) {
  auto record = records_.read(uid);
  if (!record.ok()) return Error::format("iptables release {}: {}", uid, record.error().message);
  if (!*record) return {};  // not enrolled: nothing to do
  const PodSandbox& pod = (*record)->pod;
  const bool ipv6 = (*record)->notes["ipv6"] == "1";
  auto drop_record = [&]() -> Status { return records_.remove(uid); };

  UniqueFd fd(::open(pod.netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid() && errno != ENOENT && errno != ENOTDIR) {
    return Error::format("iptables release {}: network namespace {}: {}", uid, pod.netns_path,
                         std::strerror(errno));
  }
  NetnsHandle ns(std::move(fd));
  auto inode = ns.valid() && is_netns(ns.fd()) ? ns.inode() : Result<unsigned long>(0UL);
  // The namespace is gone (and its rules with it), or the path now names another one.
  if (!inode.ok() || *inode != (*record)->netns_inode) {
    spdlog::info("iptables capture: {}'s network namespace {} is gone; dropping its record", uid,
                 pod.netns_path);
    return drop_record();
  }

  if (auto ok = remove(ns, ip4_); !ok) {
    return Error::format("iptables release {} (IPv4, netns {}): {}", uid, pod.netns_path,
                         ok.error().message);
  }
  if (ip6_) {
    if (auto ok = remove(ns, *ip6_); !ok && ipv6) {
      return Error::format("iptables release {} (IPv6, netns {}): {}", uid, pod.netns_path,
                           ok.error().message);
    }
  } else if (ipv6) {
    return Error::format(
        "iptables release {}: IPv6 rules were installed but ip6tables-nft is not usable now", uid);
  }
  spdlog::info("iptables capture: released {}", uid);
  return drop_record();
}

std::vector<std::string> IptablesCapture::enrolled() const {
  std::lock_guard lock(mu_);
  return records_.uids();
}

Status IptablesCapture::uninstall() {
  std::lock_guard lock(mu_);
  std::string errors;
  for (const auto& uid : records_.uids()) {
    if (auto ok = release_locked(uid); !ok) {
      errors += (errors.empty() ? "" : "; ") + ok.error().message;
    }
  }
  if (!errors.empty()) return Error{errors};
  if (auto ok = records_.remove_all(); !ok) return Error::format("iptables uninstall: {}", ok.error().message);
  spdlog::info("iptables capture: uninstalled");
  return {};
}

}  // namespace ambit::agent
