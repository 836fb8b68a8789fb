#include "ztunnel/forwarded.h"

#include <charconv>

#include <fmt/format.h>

#include "core/http_text.h"

namespace ambit::ztunnel {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
  }
  return true;
}

std::string_view unquote(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') return v.substr(1, v.size() - 2);
  return v;
}

// The value of parameter `name` in the header's first element (up to the first ',').
std::optional<std::string_view> parameter(std::string_view header, std::string_view name) {
  header = header.substr(0, header.find(','));
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t end = header.find(';', pos);
    std::string_view pair = trim_ows(
        header.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos));
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && iequals(trim_ows(pair.substr(0, eq)), name)) {
      return unquote(trim_ows(pair.substr(eq + 1)));
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return std::nullopt;
}

std::optional<uint16_t> parse_port(std::string_view text) {
  uint16_t port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return port;
}

}  // namespace

std::string format_forwarded(const SocketAddress& source, std::string_view host) {
  std::string out = fmt::format("for=\"{}\"", source.to_string());
  if (!host.empty()) out += fmt::format(";host={}", host);
  return out;
}

std::optional<SocketAddress> parse_forwarded_for(std::string_view header) {
  auto value = parameter(header, "for");
  if (!value || value->empty()) return std::nullopt;
  std::string_view host = *value, port;
  bool has_port = false;
  if (host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view rest = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      has_port = true;
    }
  } else if (size_t colon = host.find(':'); colon != std::string_view::npos) {
    // One colon: IPv4 with a port. IPv6 must be bracketed (RFC 7239 section 6).
    if (host.find(':', colon + 1) != std::string_view::npos) return std::nullopt;
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
    has_port = true;
  }
  auto ip = IpAddress::parse(host);
  if (!ip) return std::nullopt;
  uint16_t port_number = 0;
  if (has_port) {
    auto p = parse_port(port);
    if (!p) return std::nullopt;
    port_number = *p;
  }
  return SocketAddress(*ip, port_number);
}

std::string parse_forwarded_host(std::string_view header) {
  auto value = parameter(header, "host");
  return value ? std::string(*value) : std::string();
}

}  // namespace ambit::ztunnel
