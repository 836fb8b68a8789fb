#include "agent/capture.h"

#include <spdlog/spdlog.h>

#include "agent/bpf_capture.h"
#include "agent/iptables_capture.h"

namespace ambit::agent {

Result<std::unique_ptr<Capture>> create_capture(const std::string& mode,
                                                const CaptureSettings& settings) {
  if (mode != "auto" && mode != "ebpf" && mode != "iptables") {
    return Error::format("'{}' is not a capture mode (auto | ebpf | iptables | none)", mode);
  }
  std::string why_not_ebpf;
  if (mode == "auto" || mode == "ebpf") {
    auto ebpf = BpfCapture::create(settings);
    if (ebpf) return std::unique_ptr<Capture>(std::move(*ebpf));
    if (mode == "ebpf") return ebpf.error();
    why_not_ebpf = ebpf.error().message;
    spdlog::warn("eBPF capture unavailable ({}); trying the iptables fallback", why_not_ebpf);
  }
  auto iptables = IptablesCapture::create(settings);
  if (iptables) return std::unique_ptr<Capture>(std::move(*iptables));
  if (why_not_ebpf.empty()) return iptables.error();
  return Error::format("no capture mode works here: eBPF: {}; iptables: {}", why_not_ebpf,
                       iptables.error().message);
}

}  // namespace ambit::agent
