// The Forwarded header arrives from HBONE peers.
#include <cstdlib>
#include <string_view>

#include "ztunnel/forwarded.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto ip = ambit::ztunnel::parse_forwarded_for(text)) {
    auto again = ambit::ztunnel::parse_forwarded_for(ambit::ztunnel::format_forwarded_for(*ip));
    if (!again || *again != *ip) std::abort();
  }
  return 0;
}
