// The controller's configuration loader: any text gives objects and diagnostics that name the
// file, never a crash; whatever loads can be analyzed and turned into views.
#include <cstdlib>
#include <string_view>

#include "controller/config/analyzer.h"
#include "controller/config/loader.h"
#include "controller/config/views.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace cfg = ambit::controller::config;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  cfg::ConfigSnapshot snapshot;
  cfg::load_yaml_text(text, "fuzz.yaml", snapshot);
  for (const auto& d : snapshot.diagnostics) {
    if (d.file != "fuzz.yaml" || d.code.empty()) std::abort();
  }
  auto report = cfg::analyze(snapshot);
  if (!report.has_errors()) {
    (void)cfg::agent_view(snapshot.model, "node-a", "cluster.local");
    (void)cfg::waypoint_view(snapshot.model, "default/waypoint");
  }
  return 0;
}
