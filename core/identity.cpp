#include "core/identity.h"

#include <vector>

namespace ambit {
namespace {

constexpr std::string_view kScheme = "spiffe://";

// SPIFFE ID spec: trust domain is lowercase letters, digits, '.', '-', '_'.
bool valid_trust_domain_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

// Path segments: letters, digits, '.', '-', '_'.
bool valid_segment_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    auto pos = s.find(sep, start);
    out.push_back(s.substr(start, pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

}  // namespace

Identity::Identity(std::string trust_domain, std::string ns, std::string service_account)
    : trust_domain_(std::move(trust_domain)), ns_(std::move(ns)), sa_(std::move(service_account)) {}

Result<Identity> Identity::parse(std::string_view uri) {
  if (uri.substr(0, kScheme.size()) != kScheme) {
    return Error::format("SPIFFE ID '{}': must start with 'spiffe://'", uri);
  }
  auto rest = uri.substr(kScheme.size());
  auto slash = rest.find('/');
  auto td = rest.substr(0, slash);
  if (td.empty()) return Error::format("SPIFFE ID '{}': trust domain is empty", uri);
  for (char c : td) {
    if (!valid_trust_domain_char(c)) {
      return Error::format("SPIFFE ID '{}': trust domain has invalid character '{}'", uri, c);
    }
  }
  if (slash == std::string_view::npos) {
    return Error::format("SPIFFE ID '{}': path must be /ns/<namespace>/sa/<service-account>", uri);
  }
  auto segments = split(rest.substr(slash + 1), '/');
  if (segments.size() != 4 || segments[0] != "ns" || segments[2] != "sa") {
    return Error::format("SPIFFE ID '{}': path must be /ns/<namespace>/sa/<service-account>", uri);
  }
  for (auto seg : {segments[1], segments[3]}) {
    if (seg.empty()) return Error::format("SPIFFE ID '{}': empty path segment", uri);
    if (seg == "." || seg == "..") {
      return Error::format("SPIFFE ID '{}': path segment '{}' is not allowed", uri, seg);
    }
    for (char c : seg) {
      if (!valid_segment_char(c)) {
        return Error::format("SPIFFE ID '{}': path has invalid character '{}'", uri, c);
      }
    }
  }
  return Identity(std::string(td), std::string(segments[1]), std::string(segments[3]));
}

std::string Identity::to_string() const {
  return std::string(kScheme) + trust_domain_ + "/ns/" + ns_ + "/sa/" + sa_;
}

}  // namespace ambit
