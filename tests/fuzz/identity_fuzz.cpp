// SPIFFE IDs come from peers' certificates: parse must never crash, and what it accepts must
// print back to the same text.
#include <cstdlib>
#include <string_view>

#include "core/identity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto id = ambit::Identity::parse(text);
  if (id.ok() && id->to_string() != text) std::abort();
  if (!id.ok() && id.error().message.empty()) std::abort();
  return 0;
}
