// JSON text of a value that can carry user text (object names, file names, messages quoting a
// file's content). nlohmann's dump throws type_error 316 on bytes that are not UTF-8, which would
// abort the whole output over one Latin-1 byte; here each invalid sequence becomes U+FFFD.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace ambit {

inline std::string json_text(const nlohmann::json& value, int indent = 2) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ambit
