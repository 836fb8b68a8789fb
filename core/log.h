// Process-wide logging (spdlog). Never log key material.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace ambit {

// Sets the default logger: stderr, UTC timestamps, level from "trace".."off".
void init_logging(std::string_view level);

}  // namespace ambit
