// `ambitctl analyze <dir|files...> [-o json]`: loads the configuration, runs every check and
// prints the diagnostics (or one line saying there are none). Exit status 1 on any error.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "controller/config/diagnostics.h"

namespace ambit::ambitctl {

enum class OutputFormat { kText, kJson };

// `-o json`: an array of {severity, code, file, line, object, field, message}. Always valid JSON
// (UTF-8): bytes of the configuration that are not UTF-8 are printed as U+FFFD.
std::string diagnostics_json(const std::vector<controller::config::Diagnostic>& diagnostics);

int run_analyze(const std::vector<std::string>& paths, OutputFormat format, std::ostream& out,
                std::ostream& err);

}  // namespace ambit::ambitctl
