// Small pieces of reading HTTP header values (RFC 9110), shared by the header parsers.
#pragma once

#include <string_view>

namespace ambit {

// Without the optional whitespace (spaces and tabs) around it.
inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace ambit
