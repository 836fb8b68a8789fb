#include "bpf/capture_programs.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>

#include <spdlog/spdlog.h>

#include "ambit_capture.skel.h"
#include "bpf/bpffs.h"
#include "bpf/lib/capture_structs.h"

namespace ambit::bpf {
namespace {

static_assert(sizeof(ambit_ip) == 20);
static_assert(sizeof(ambit_orig_dst) == 20);
static_assert(sizeof(ambit_conn_key) == 32);

// libbpf messages go to spdlog; while a load runs, warnings (the verifier log) are also kept so
// that the returned error can show why the kernel refused.
thread_local std::string* g_libbpf_log = nullptr;
thread_local bool g_libbpf_quiet = false;

int forward_libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
  char line[1024];
  int n = std::vsnprintf(line, sizeof(line), format, args);
  if (n <= 0) return n;
  std::string_view text(line, std::min<size_t>(static_cast<size_t>(n), sizeof(line) - 1));
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (level == LIBBPF_WARN && g_libbpf_log != nullptr) {
    g_libbpf_log->append(text).append("\n");
    if (g_libbpf_log->size() > 4096) g_libbpf_log->erase(0, g_libbpf_log->size() - 4096);
  }
  if (g_libbpf_quiet) return n;
  if (level == LIBBPF_WARN) {
    spdlog::warn("libbpf: {}", text);
  } else {
    spdlog::debug("libbpf: {}", text);
  }
  return n;
}

class LibbpfLogScope {
 public:
  explicit LibbpfLogScope(bool quiet = false) {
    libbpf_set_print(forward_libbpf_print);
    g_libbpf_log = &log_;
    g_libbpf_quiet = quiet;
  }
  ~LibbpfLogScope() {
    g_libbpf_log = nullptr;
    g_libbpf_quiet = false;
  }
  const std::string& log() const { return log_; }

 private:
  std::string log_;
};

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

// The pod-side links, in attach order: cgroup hooks first, so outbound is captured before
// inbound starts failing closed.
enum class AttachTo { kCgroup, kNetns };
struct PodHook {
  const char* pin_name;
  AttachTo target;
  bpf_program* (*program)(ambit_capture*);
};

const PodHook kPodHooks[] = {
    {"cgroup_connect4", AttachTo::kCgroup,
     [](ambit_capture* s) { return s->progs.ambit_connect4; }},
    {"cgroup_connect6", AttachTo::kCgroup,
     [](ambit_capture* s) { return s->progs.ambit_connect6; }},
    {"cgroup_sockops", AttachTo::kCgroup, [](ambit_capture* s) { return s->progs.ambit_sockops; }},
    {"netns_sk_lookup", AttachTo::kNetns, [](ambit_capture* s) { return s->progs.ambit_inbound; }},
};

constexpr const char* kAgentGetsockoptPin = "cgroup_getsockopt";

bool valid_pod_id(const std::string& id) {
  return !id.empty() && id != "." && id != ".." && id.find('/') == std::string::npos &&
         id.size() < 200;
}

ambit_ip key_of(const IpAddress& ip) {
  ambit_ip key{};
  key.family = static_cast<__u32>(ip.family());
  std::memcpy(key.addr, ip.bytes().data(), ip.is_v4() ? 4 : 16);
  return key;
}

// Keeps a pinned link in place but lets go of our fd.
void release_link(bpf_link* link) {
  bpf_link__disconnect(link);
  bpf_link__destroy(link);
}

// Detaches the link pinned at path (whatever still holds it) and removes the pin.
Status detach_pinned_link(const std::string& path) {
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    if (errno == ENOENT) return {};
    return Error::format("open pinned link {}: {}", path, std::strerror(errno));
  }
  // ENOLINK: already defunct (its cgroup or netns is gone); the pin is all that is left.
  if (bpf_link_detach(fd) != 0 && errno != ENOLINK) {
    int err = errno;
    ::close(fd);
    return Error::format("detach link {}: {}", path, std::strerror(err));
  }
  ::close(fd);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Error::format("unpin link {}: {}", path, std::strerror(errno));
  }
  return {};
}

Status detach_links_in(const std::string& dir) {
  for (const auto& hook : kPodHooks) {
    if (auto s = detach_pinned_link(dir + "/" + hook.pin_name); !s) return s;
  }
  return detach_pinned_link(dir + "/" + kAgentGetsockoptPin);
}

bool path_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

Result<std::unique_ptr<CapturePrograms>> CapturePrograms::load(const CaptureOptions& options) {
  LibbpfLogScope log_scope;
  const std::string& pin = options.pin_dir;
  if (pin.rfind("/sys/fs/bpf/", 0) == 0) {
    if (auto mounted = ensure_bpffs_mounted("/sys/fs/bpf"); !mounted) return mounted.error();
  }
  for (const char* sub : {"/maps", "/progs", "/pods", "/agent"}) {
    if (auto made = make_dirs(pin + sub); !made) return made.error();
  }

  ambit_capture* skel = ambit_capture__open();
  if (skel == nullptr) {
    return Error::format("open BPF object ambit_capture: {}", std::strerror(errno));
  }
  std::unique_ptr<CapturePrograms> self(new CapturePrograms(options, skel));

  skel->rodata->agent_mark = options.agent_mark;
  skel->rodata->outbound_port = options.outbound_port;
  std::memset(skel->rodata->inbound_skip_ports, 0, sizeof(skel->rodata->inbound_skip_ports));
  skel->rodata->inbound_skip_ports[0] = options.hbone_port;
  skel->rodata->inbound_skip_ports[1] = options.outbound_port;
  skel->rodata->inbound_skip_ports[2] = options.inbound_port;

  // libbpf reuses a map already pinned at its pin path (if compatible) or pins the new one.
  for (bpf_map* map : {skel->maps.ambit_conn_dst, skel->maps.ambit_orig_dst,
                       skel->maps.ambit_inb_lsn, skel->maps.ambit_enrolled}) {
    std::string path = pin + "/maps/" + bpf_map__name(map);
    if (int err = bpf_map__set_pin_path(map, path.c_str()); err != 0) {
      return Error::format("set pin path {}: {}", path, errno_text(err));
    }
  }
  if (int err = ambit_capture__load(skel); err != 0) {
    return Error::format(
        "load BPF object ambit_capture (maps pinned under {}/maps are reused; if they come from "
        "an incompatible version, uninstall first): {}\n{}",
        pin, errno_text(err), log_scope.log());
  }
  if (auto pinned = self->pin_programs(); !pinned) return pinned.error();
  if (auto attached = self->attach_agent_getsockopt(); !attached) return attached.error();
  return self;
}

CapturePrograms::~CapturePrograms() { ambit_capture__destroy(skel_); }

Status CapturePrograms::pin_programs() {
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, skel_->obj) {
    std::string path = options_.pin_dir + "/progs/" + bpf_program__name(prog);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Error::format("replace pinned program {}: {}", path, std::strerror(errno));
    }
    if (int err = bpf_program__pin(prog, path.c_str()); err != 0) {
      return Error::format("pin program {} at {}: {}", bpf_program__name(prog), path,
                           errno_text(err));
    }
  }
  return {};
}

Status CapturePrograms::attach_agent_getsockopt() {
  std::string cgroup = options_.agent_cgroup;
  if (cgroup.empty()) {
    auto own = own_cgroup_dir(options_.cgroup2_root);
    if (!own) return own.error();
    cgroup = *own;
  }
  auto cgroup_fd = open_dir(cgroup);
  if (!cgroup_fd) return Error::format("agent cgroup: {}", cgroup_fd.error().message);
  // Attach the new link before dropping the old one, so SO_ORIGINAL_DST never goes unanswered.
  // Two links answering at once is harmless: the first deletes the entry, the second passes.
  bpf_link* link = bpf_program__attach_cgroup(skel_->progs.ambit_sockopt, cgroup_fd->get());
  if (link == nullptr) {
    return Error::format("attach ambit_sockopt (cgroup/getsockopt) to agent cgroup {}: {}", cgroup,
                         std::strerror(errno));
  }
  std::string path = options_.pin_dir + "/agent/" + kAgentGetsockoptPin;
  if (auto old = detach_pinned_link(path); !old) {
    bpf_link__destroy(link);
    return old;
  }
  if (int err = bpf_link__pin(link, path.c_str()); err != 0) {
    bpf_link__destroy(link);
    return Error::format("pin link {}: {}", path, errno_text(err));
  }
  release_link(link);
  return {};
}

Status CapturePrograms::attach_pod(const std::string& pod_id, int cgroup_fd, int netns_fd,
                                   std::span<const IpAddress> pod_ips) {
  LibbpfLogScope log_scope;
  if (!valid_pod_id(pod_id)) return Error::format("invalid pod id '{}'", pod_id);
  std::string dir = options_.pin_dir + "/pods/" + pod_id;
  if (auto made = make_dirs(dir); !made) return made;

  for (const auto& hook : kPodHooks) {
    bpf_program* prog = hook.program(skel_);
    std::string path = dir + "/" + hook.pin_name;
    if (path_exists(path)) {
      // Already attached (agent restart or a repeated call): move it to this load's program.
      if (bpf_link* old = bpf_link__open(path.c_str())) {
        int err = bpf_link__update_program(old, prog);
        release_link(old);
        if (err == 0) continue;
      }
      // Defunct or unreadable: replace it.
      if (auto s = detach_pinned_link(path); !s) return s;
    }
    bpf_link* link = hook.target == AttachTo::kCgroup ? bpf_program__attach_cgroup(prog, cgroup_fd)
                                                      : bpf_program__attach_netns(prog, netns_fd);
    if (link == nullptr) {
      return Error::format("attach {} ({}) for pod {} to {} fd {}: {}", bpf_program__name(prog),
                           bpf_program__section_name(prog), pod_id,
                           hook.target == AttachTo::kCgroup ? "cgroup" : "netns",
                           hook.target == AttachTo::kCgroup ? cgroup_fd : netns_fd,
                           std::strerror(errno));
    }
    if (int err = bpf_link__pin(link, path.c_str()); err != 0) {
      bpf_link__destroy(link);
      return Error::format("pin link {}: {}", path, errno_text(err));
    }
    release_link(link);
  }
  return update_maps_for(pod_ips, /*enroll=*/true);
}

Status CapturePrograms::set_inbound_listener(std::span<const IpAddress> pod_ips, int listener_fd) {
  int map_fd = bpf_map__fd(skel_->maps.ambit_inb_lsn);
  __u64 value = static_cast<__u64>(listener_fd);
  for (const auto& ip : pod_ips) {
    ambit_ip key = key_of(ip);
    if (bpf_map_update_elem(map_fd, &key, &value, BPF_ANY) != 0) {
      return Error::format("put listener fd {} for {} into map ambit_inb_lsn: {}", listener_fd,
                           ip.to_string(), std::strerror(errno));
    }
  }
  return {};
}

Status CapturePrograms::update_maps_for(std::span<const IpAddress> pod_ips, bool enroll) {
  int enrolled_fd = bpf_map__fd(skel_->maps.ambit_enrolled);
  int listener_fd = bpf_map__fd(skel_->maps.ambit_inb_lsn);
  for (const auto& ip : pod_ips) {
    ambit_ip key = key_of(ip);
    if (enroll) {
      __u32 one = 1;
      if (bpf_map_update_elem(enrolled_fd, &key, &one, BPF_ANY) != 0) {
        return Error::format("enroll {} in map ambit_enrolled: {}", ip.to_string(),
                             std::strerror(errno));
      }
      continue;
    }
    if (bpf_map_delete_elem(enrolled_fd, &key) != 0 && errno != ENOENT) {
      return Error::format("remove {} from map ambit_enrolled: {}", ip.to_string(),
                           std::strerror(errno));
    }
    if (bpf_map_delete_elem(listener_fd, &key) != 0 && errno != ENOENT) {
      return Error::format("remove {} from map ambit_inb_lsn: {}", ip.to_string(),
                           std::strerror(errno));
    }
  }
  return {};
}

Status CapturePrograms::detach_pod(const std::string& pod_id, std::span<const IpAddress> pod_ips) {
  if (!valid_pod_id(pod_id)) return Error::format("invalid pod id '{}'", pod_id);
  std::string dir = options_.pin_dir + "/pods/" + pod_id;
  if (auto s = detach_links_in(dir); !s) return s;
  if (auto s = remove_tree(dir); !s) return s;
  return update_maps_for(pod_ips, /*enroll=*/false);
}

std::vector<std::string> CapturePrograms::attached_pods() const {
  return list_subdirs(options_.pin_dir + "/pods");
}

int CapturePrograms::inbound_program_fd() const {
  return bpf_program__fd(skel_->progs.ambit_inbound);
}

Status CapturePrograms::uninstall(const std::string& pin_dir) {
  for (const auto& pod : list_subdirs(pin_dir + "/pods")) {
    if (auto s = detach_links_in(pin_dir + "/pods/" + pod); !s) return s;
  }
  if (auto s = detach_links_in(pin_dir + "/agent"); !s) return s;
  return remove_tree(pin_dir);
}

std::vector<std::string> CapturePrograms::missing_hooks() {
  LibbpfLogScope log_scope(/*quiet=*/true);
  std::vector<std::string> missing;
  ambit_capture* probe = ambit_capture__open();
  if (probe == nullptr) return {std::string("BPF object: ") + std::strerror(errno)};
  std::vector<std::string> names;
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, probe->obj) names.emplace_back(bpf_program__name(prog));
  ambit_capture__destroy(probe);

  for (const auto& name : names) {
    ambit_capture* skel = ambit_capture__open();
    if (skel == nullptr) return {std::string("BPF object: ") + std::strerror(errno)};
    std::string section;
    bpf_object__for_each_program(prog, skel->obj) {
      bool wanted = name == bpf_program__name(prog);
      bpf_program__set_autoload(prog, wanted);
      if (wanted) section = bpf_program__section_name(prog);
    }
    if (int err = ambit_capture__load(skel); err != 0) {
      missing.push_back(section + " (" + name + "): " + errno_text(err));
    }
    ambit_capture__destroy(skel);
  }
  return missing;
}

}  // namespace ambit::bpf
