// Any first bytes of a tunnelled connection reach sniff_server_name. Besides not crashing: a name
// it reports is non-empty and lowercase, a verdict never changes once the first record is whole
// (more bytes after it change nothing), and a prefix of it is never taken for a different name.
#include <cstdlib>
#include <string>

#include "waypoint/tls_sniff.h"

using ambit::waypoint::sniff_server_name;
using ambit::waypoint::TlsSniff;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  std::string name;
  TlsSniff verdict = sniff_server_name(in, &name);
  if (verdict == TlsSniff::kName) {
    if (name.empty()) std::abort();
    for (char c : name) {
      if (c >= 'A' && c <= 'Z') std::abort();
    }
  }
  if (verdict == TlsSniff::kName || verdict == TlsSniff::kNoName) {
    std::string again;
    if (sniff_server_name(in + "trailing bytes", &again) != verdict || again != name) std::abort();
  }
  if (size > 1) {
    std::string shorter;
    TlsSniff prefix = sniff_server_name(in.substr(0, size / 2), &shorter);
    if (prefix == TlsSniff::kName && verdict == TlsSniff::kName && shorter != name) std::abort();
  }
  return 0;
}
