// Addresses and CIDRs come from configuration and from CONNECT authorities sent by peers.
#include <cstdlib>
#include <string_view>

#include "core/net_address.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto a = ambit::SocketAddress::parse(text); a.ok()) {
    auto again = ambit::SocketAddress::parse(a->to_string());
    if (!again.ok() || *again != *a) std::abort();
  }
  if (auto c = ambit::Cidr::parse(text); c.ok()) {
    auto again = ambit::Cidr::parse(c->to_string());
    if (!again.ok()) std::abort();
  }
  return 0;
}
