// An HTTP request as the waypoint's router and L7 policy see it, whatever codec (HTTP/1.1 or
// HTTP/2) read it, and where it came from. Plain data, filled by the codec and the listener.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/identity.h"
#include "core/net_address.h"
#include "ztunnel/workload.h"

namespace ambit::waypoint {

// The host of an authority ("host", "host:port", "[v6]:port"), without its port.
inline std::string_view authority_host(std::string_view authority) {
  if (authority.starts_with('[')) {
    auto end = authority.find(']');
    return end == std::string_view::npos ? authority : authority.substr(0, end + 1);
  }
  auto colon = authority.rfind(':');
  return colon == std::string_view::npos ? authority : authority.substr(0, colon);
}

struct Header {
  std::string name;  // lowercase
  std::string value;
};

struct HttpRequest {
  std::string method;     // as sent ("GET")
  std::string scheme = "http";
  std::string authority;  // HTTP/1.1 Host, HTTP/2 :authority
  std::string path;       // origin-form target with its query ("/a/b?c=d")
  // Every other field, lowercase names, in arrival order (no Host, no pseudo-headers, no
  // hop-by-hop fields: the codec strips those).
  std::vector<Header> headers;

  // The first value of `name` (lowercase), or null.
  const std::string* header(std::string_view name) const {
    for (const auto& h : headers) {
      if (h.name == name) return &h.value;
    }
    return nullptr;
  }
  // The path without its query.
  std::string_view path_only() const {
    std::string_view p = path;
    return p.substr(0, p.find('?'));
  }
  // The first value of query parameter `name` (as sent, not decoded), or nullopt.
  std::optional<std::string_view> query_param(std::string_view name) const {
    auto q = path.find('?');
    if (q == std::string::npos) return std::nullopt;
    return first_pair(std::string_view(path).substr(q + 1), '&', name);
  }
  // The value of cookie `name` in the Cookie field, or nullopt.
  std::optional<std::string_view> cookie(std::string_view name) const {
    const std::string* c = header("cookie");
    return c != nullptr ? first_pair(*c, ';', name) : std::nullopt;
  }

 private:
  // In "k1=v1<sep>k2=v2...", the value of the first `name` (spaces after a separator skipped).
  static std::optional<std::string_view> first_pair(std::string_view list, char sep,
                                                    std::string_view name) {
    while (!list.empty()) {
      while (!list.empty() && list.front() == ' ') list.remove_prefix(1);
      auto end = list.find(sep);
      std::string_view pair = list.substr(0, end);
      auto eq = pair.find('=');
      if (pair.substr(0, eq) == name) {
        return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      }
      if (end == std::string_view::npos) break;
      list.remove_prefix(end + 1);
    }
    return std::nullopt;
  }
};

// Who sent the request and what they dialled: the HBONE stream that carried it.
struct Downstream {
  std::optional<Identity> peer;  // the client's SPIFFE identity (HBONE peer); absent: plaintext
  IpAddress source_ip;           // the original client (Forwarded for=, else the peer)
  SocketAddress destination;     // what the client dialled (service VIP:port, or a pod ip:port)
  const ztunnel::Service* service = nullptr;           // the Service dialled, when it is one
  const ztunnel::Workload* source_workload = nullptr;  // the client's workload, when known
};

}  // namespace ambit::waypoint
