#include "ambitctl/analyze.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <ostream>

#include "controller/config/analyzer.h"
#include "controller/config/loader.h"
#include "core/json_text.h"

namespace ambit::ambitctl {
namespace {

namespace cfg = ambit::controller::config;

nlohmann::json to_json(const cfg::Diagnostic& d) {
  return {{"severity", std::string(cfg::to_string(d.severity))},
          {"code", d.code},
          {"file", d.file},
          {"line", d.line},
          {"object", d.object},
          {"field", d.field},
          {"message", d.message}};
}

}  // namespace

std::string diagnostics_json(const std::vector<cfg::Diagnostic>& diagnostics) {
  auto array = nlohmann::json::array();
  for (const auto& d : diagnostics) array.push_back(to_json(d));
  return json_text(array) + "\n";
}

int run_analyze(const std::vector<std::string>& paths, OutputFormat format, std::ostream& out,
                std::ostream& err) {
  auto snapshot = cfg::load_config(paths);
  if (!snapshot) {
    cfg::Diagnostic d;
    d.code = std::string(cfg::codes::kUnreadablePath);
    d.message = snapshot.error().message;
    if (format == OutputFormat::kJson) {
      out << diagnostics_json({d});
    } else {
      err << d.format() << "\n";
    }
    return 1;
  }
  auto report = cfg::analyze(*snapshot);
  if (format == OutputFormat::kJson) {
    out << diagnostics_json(report.diagnostics);
  } else if (report.diagnostics.empty()) {
    size_t files = snapshot->files.size();
    size_t objects = snapshot->model.object_count();
    out << fmt::format("\u2714 No issues found in {} file{} ({} object{}).\n", files,
                       files == 1 ? "" : "s", objects, objects == 1 ? "" : "s");
  } else {
    for (const auto& d : report.diagnostics) out << d.format() << "\n";
  }
  return report.has_errors() ? 1 : 0;
}

}  // namespace ambit::ambitctl
