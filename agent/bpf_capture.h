// The eBPF capture mode: bpf::CapturePrograms attached per pod (cgroup connect/sockops on the
// pod's cgroup, sk_lookup on its netns), with a record per pod so a restarted agent can
// release pods it no longer hosts.
#pragma once

#include <memory>

#include "agent/capture.h"
#include "agent/pod_records.h"
#include "bpf/capture_programs.h"

namespace ambit::agent {

class BpfCapture final : public Capture {
 public:
  // Fails, saying which hook, when this kernel lacks one the mode needs.
  static Result<std::unique_ptr<BpfCapture>> create(const CaptureSettings& settings);

  std::string_view mode() const override { return "ebpf"; }
  Status enroll(const PodSandbox& pod, int inbound_listener) override;
  Status release(const std::string& uid) override;
  std::vector<std::string> enrolled() const override;
  Status uninstall() override;

 private:
  BpfCapture(CaptureSettings settings, std::unique_ptr<bpf::CapturePrograms> programs)
      : settings_(std::move(settings)),
        programs_(std::move(programs)),
        records_(settings_.state_dir + "/ebpf") {}

  CaptureSettings settings_;
  std::unique_ptr<bpf::CapturePrograms> programs_;
  PodRecords records_;
};

}  // namespace ambit::agent
