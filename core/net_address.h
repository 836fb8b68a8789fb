// IP addresses, socket addresses and CIDR blocks, IPv4 and IPv6.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace ambit {

class IpAddress {
 public:
  IpAddress() = default;  // IPv4 0.0.0.0
  static Result<IpAddress> parse(std::string_view text);
  static IpAddress v4(uint32_t host_order);
  static IpAddress from_in(const in_addr& a);
  static IpAddress from_in6(const in6_addr& a);

  bool is_v4() const { return family_ == AF_INET; }
  // 127.0.0.0/8 or ::1.
  bool is_loopback() const;
  int family() const { return family_; }
  // Network-order bytes; 4 significant bytes for IPv4, 16 for IPv6.
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  std::string to_string() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

 private:
  int family_ = AF_INET;
  std::array<uint8_t, 16> bytes_{};
};

class SocketAddress {
 public:
  SocketAddress() = default;
  SocketAddress(const IpAddress& ip, uint16_t port);
  // "1.2.3.4:80" or "[::1]:80".
  static Result<SocketAddress> parse(std::string_view text);
  static Result<SocketAddress> from_sockaddr(const sockaddr* sa, socklen_t len);
  // Address of a connected or bound socket.
  static Result<SocketAddress> local_of(int fd);
  static Result<SocketAddress> peer_of(int fd);

  const IpAddress& ip() const { return ip_; }
  uint16_t port() const { return port_; }
  int family() const { return ip_.family(); }
  std::string to_string() const;
  // Fills storage; returns the length to pass to connect()/bind().
  socklen_t to_sockaddr(sockaddr_storage* out) const;

  friend bool operator==(const SocketAddress&, const SocketAddress&) = default;
  friend auto operator<=>(const SocketAddress&, const SocketAddress&) = default;

 private:
  IpAddress ip_;
  uint16_t port_ = 0;
};

class Cidr {
 public:
  // "10.0.0.0/8", "fd00::/64" or a bare address (a host route).
  static Result<Cidr> parse(std::string_view text);
  bool contains(const IpAddress& ip) const;
  std::string to_string() const;

 private:
  IpAddress base_;
  int prefix_ = 0;
};

}  // namespace ambit

template <>
struct std::hash<ambit::IpAddress> {
  size_t operator()(const ambit::IpAddress& a) const noexcept {
    size_t h = static_cast<size_t>(a.family());
    for (uint8_t b : a.bytes()) h = h * 131 + b;
    return h;
  }
};

template <>
struct std::hash<ambit::SocketAddress> {
  size_t operator()(const ambit::SocketAddress& a) const noexcept {
    return std::hash<ambit::IpAddress>{}(a.ip()) * 65537 + a.port();
  }
};
