// The agent's YAML: any text gives a config or an error that says where, never a crash.
#include <cstdlib>
#include <string_view>

#include "agent/local_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = ambit::agent::parse_local_config(text, "fuzz.yaml");
  if (!config.ok() && config.error().message.find("fuzz.yaml") == std::string::npos) std::abort();
  if (config.ok()) (void)ambit::agent::build_workload_table(*config);
  return 0;
}
