// `ambitctl analyze <dir|files...> [-o json]`: loads the configuration, runs every check and
// prints the diagnostics (or one line saying there are none). Exit status 1 on any error.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace ambit::ambitctl {

enum class OutputFormat { kText, kJson };

int run_analyze(const std::vector<std::string>& paths, OutputFormat format, std::ostream& out,
                std::ostream& err);

}  // namespace ambit::ambitctl
