// `ambitctl analyze -o json`: whatever bytes the configuration holds (names, values, file names
// that end up in messages), the output is one JSON array, valid UTF-8, one entry per diagnostic.
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ambitctl/analyze.h"
#include "controller/config/loader.h"

namespace {

namespace cfg = ambit::controller::config;

void check_prints_as_json(const std::vector<cfg::Diagnostic>& diagnostics) {
  auto json = nlohmann::json::parse(ambit::ambitctl::diagnostics_json(diagnostics), nullptr, false);
  if (json.is_discarded() || !json.is_array() || json.size() != diagnostics.size()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // The input as a file's content: its diagnostics quote it.
  cfg::ConfigSnapshot snapshot;
  cfg::load_yaml_text(text, "fuzz.yaml", snapshot);
  check_prints_as_json(snapshot.diagnostics);
  // The input's raw bytes in every text field, as a file name or object name might carry them.
  cfg::Diagnostic raw;
  raw.code = std::string(text.substr(0, 8));
  raw.file = raw.object = raw.field = raw.message = std::string(text);
  check_prints_as_json({raw});
  return 0;
}
