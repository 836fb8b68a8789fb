#include "agent/bpf_capture.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/netns.h"

namespace ambit::agent {

Result<std::unique_ptr<BpfCapture>> BpfCapture::create(const CaptureSettings& settings) {
  if (auto missing = bpf::CapturePrograms::missing_hooks(); !missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : "; ") + m;
    return Error::format("this kernel lacks BPF hooks the eBPF capture needs: {}", list);
  }
  bpf::CaptureOptions options;
  options.pin_dir = settings.bpf_pin_dir;
  options.agent_mark = settings.agent_mark;
  options.outbound_port = settings.outbound_port;
  options.inbound_port = settings.inbound_plaintext_port;
  options.hbone_port = settings.hbone_port;
  auto programs = bpf::CapturePrograms::load(options);
  if (!programs) return programs.error();
  return std::unique_ptr<BpfCapture>(new BpfCapture(settings, std::move(*programs)));
}

Status BpfCapture::enroll(const PodSandbox& pod, int inbound_listener) {
  UniqueFd cgroup(::open(pod.cgroup_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup.valid()) {
    return Error::format("cgroup {}: {}", pod.cgroup_path, std::strerror(errno));
  }
  auto netns = NetnsHandle::open(pod.netns_path);
  if (!netns) return netns.error();
  // The record first: whatever happens next, a later release() knows what to clean.
  if (auto ok = records_.write(pod); !ok) return ok;
  // The listener before the attach: an enrolled address without one refuses connections.
  if (auto ok = programs_->set_inbound_listener(pod.addresses, inbound_listener); !ok) return ok;
  return programs_->attach_pod(PodRecords::encode(pod.uid), cgroup.get(), netns->fd(),
                               pod.addresses);
}

Status BpfCapture::release(const std::string& uid) {
  auto record = records_.read(uid);
  if (!record) return record.error();
  std::vector<IpAddress> addresses;
  if (*record) addresses = (*record)->addresses;
  if (auto ok = programs_->detach_pod(PodRecords::encode(uid), addresses); !ok) return ok;
  return records_.remove(uid);
}

std::vector<std::string> BpfCapture::enrolled() const {
  std::vector<std::string> uids = records_.uids();
  for (const auto& id : programs_->attached_pods()) {
    std::string uid = PodRecords::decode(id);
    if (std::find(uids.begin(), uids.end(), uid) == uids.end()) uids.push_back(uid);
  }
  return uids;
}

Status BpfCapture::uninstall() {
  Status first;
  for (const auto& uid : enrolled()) {
    if (auto ok = release(uid); !ok && first.ok()) first = ok;
  }
  programs_.reset();
  if (auto ok = bpf::CapturePrograms::uninstall(settings_.bpf_pin_dir); !ok && first.ok()) first = ok;
  if (auto ok = records_.remove_all(); !ok && first.ok()) first = ok;
  return first;
}

}  // namespace ambit::agent
