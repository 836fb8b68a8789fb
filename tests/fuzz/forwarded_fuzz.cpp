// The Forwarded header arrives from HBONE peers.
#include <cstdlib>
#include <string_view>

#include "ztunnel/forwarded.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto source = ambit::ztunnel::parse_forwarded_for(text)) {
    std::string host = ambit::ztunnel::parse_forwarded_host(text);
    // What we send must read back as what we read, whatever the host parameter held.
    std::string again_text = ambit::ztunnel::format_forwarded(*source, "svc.ns.svc.cluster.local");
    auto again = ambit::ztunnel::parse_forwarded_for(again_text);
    if (!again || *again != *source) std::abort();
    if (ambit::ztunnel::parse_forwarded_host(again_text) != "svc.ns.svc.cluster.local")
      std::abort();
  }
  return 0;
}
