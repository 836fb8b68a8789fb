#include "agent/capture.h"

namespace ambit::agent {

Result<std::unique_ptr<Capture>> create_capture(const std::string& mode,
                                                const CaptureSettings& settings) {
  if (mode != "auto" && mode != "ebpf" && mode != "iptables") {
    return Error::format("'{}' is not a capture mode (auto | ebpf | iptables | none)", mode);
  }
  return Error::format("{} capture is not built into this agent yet", mode);
}

}  // namespace ambit::agent
