#include "ztunnel/forwarded.h"

namespace ambit::ztunnel {

std::string format_forwarded_for(const IpAddress& source) {
  if (source.is_v4()) return "for=" + source.to_string();
  return "for=\"[" + source.to_string() + "]\"";
}

std::optional<IpAddress> parse_forwarded_for(std::string_view header) {
  // Parameters are separated by ';', elements by ','; names are case-insensitive.
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find_first_of(";,", pos);
    std::string_view pair = header.substr(pos, end == std::string_view::npos ? end : end - pos);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.size() > 4 && (pair[0] == 'f' || pair[0] == 'F') && (pair[1] == 'o' || pair[1] == 'O') &&
        (pair[2] == 'r' || pair[2] == 'R') && pair[3] == '=') {
      std::string_view value = pair.substr(4);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      if (!value.empty() && value.front() == '[') {
        auto close = value.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        value = value.substr(1, close - 1);
      }
      auto ip = IpAddress::parse(value);
      if (!ip) return std::nullopt;
      return *ip;
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return std::nullopt;
}

}  // namespace ambit::ztunnel
