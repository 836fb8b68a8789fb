#include "core/net_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace ambit {

Result<IpAddress> IpAddress::parse(std::string_view text) {
  std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes_.data()) == 1) {
    a.family_ = AF_INET;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes_.data()) == 1) {
    a.family_ = AF_INET6;
    return a;
  }
  return Error::format("'{}' is not an IPv4 or IPv6 address", text);
}

IpAddress IpAddress::v4(uint32_t host_order) {
  in_addr in{htonl(host_order)};
  return from_in(in);
}

IpAddress IpAddress::from_in(const in_addr& in) {
  IpAddress a;
  a.family_ = AF_INET;
  std::memcpy(a.bytes_.data(), &in, 4);
  return a;
}

IpAddress IpAddress::from_in6(const in6_addr& in) {
  IpAddress a;
  a.family_ = AF_INET6;
  std::memcpy(a.bytes_.data(), &in, 16);
  return a;
}

bool IpAddress::is_loopback() const {
  if (is_v4()) return bytes_[0] == 127;
  static constexpr std::array<uint8_t, 16> kV6Loopback{0, 0, 0, 0, 0, 0, 0, 0,
                                                       0, 0, 0, 0, 0, 0, 0, 1};
  return bytes_ == kV6Loopback;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(family_, bytes_.data(), buf, sizeof(buf));
  return buf;
}

SocketAddress::SocketAddress(const IpAddress& ip, uint16_t port) : ip_(ip), port_(port) {}

Result<SocketAddress> SocketAddress::parse(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Error::format("'{}' is not an address of the form [ipv6]:port", text);
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Error::format("'{}' has no port (expected ip:port)", text);
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto ip = IpAddress::parse(host);
  if (!ip) return Error::format("in '{}': {}", text, ip.error().message);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return Error::format("in '{}': port '{}' is not a number from 0 to 65535", text, port);
  }
  return SocketAddress(*ip, static_cast<uint16_t>(value));
}

Result<SocketAddress> SocketAddress::from_sockaddr(const sockaddr* sa, socklen_t len) {
  if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return SocketAddress(IpAddress::from_in(in->sin_addr), ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    // A v4-mapped peer on a dual-stack socket is reported as plain IPv4.
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      in_addr v4;
      std::memcpy(&v4, in6->sin6_addr.s6_addr + 12, 4);
      return SocketAddress(IpAddress::from_in(v4), ntohs(in6->sin6_port));
    }
    return SocketAddress(IpAddress::from_in6(in6->sin6_addr), ntohs(in6->sin6_port));
  }
  return Error::format("unsupported address family {}", sa->sa_family);
}

Result<SocketAddress> SocketAddress::local_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return Error::format("getsockname: {}", std::strerror(errno));
  }
  return from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

Result<SocketAddress> SocketAddress::peer_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return Error::format("getpeername: {}", std::strerror(errno));
  }
  return from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

std::string SocketAddress::to_string() const {
  if (ip_.is_v4()) return ip_.to_string() + ":" + std::to_string(port_);
  return "[" + ip_.to_string() + "]:" + std::to_string(port_);
}

socklen_t SocketAddress::to_sockaddr(sockaddr_storage* out) const {
  std::memset(out, 0, sizeof(*out));
  if (ip_.is_v4()) {
    auto* in = reinterpret_cast<sockaddr_in*>(out);
    in->sin_family = AF_INET;
    in->sin_port = htons(port_);
    std::memcpy(&in->sin_addr, ip_.bytes().data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(out);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port_);
  std::memcpy(&in6->sin6_addr, ip_.bytes().data(), 16);
  return sizeof(sockaddr_in6);
}

Result<Cidr> Cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  auto ip = IpAddress::parse(text.substr(0, slash));
  if (!ip) return Error::format("CIDR '{}': {}", text, ip.error().message);
  int max = ip->is_v4() ? 32 : 128;
  int prefix = max;
  if (slash != std::string_view::npos) {
    auto p = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (ec != std::errc() || end != p.data() + p.size() || prefix < 0 || prefix > max) {
      return Error::format("CIDR '{}': prefix length must be 0..{}", text, max);
    }
  }
  Cidr c;
  c.base_ = *ip;
  c.prefix_ = prefix;
  return c;
}

bool Cidr::contains(const IpAddress& ip) const {
  if (ip.family() != base_.family()) return false;
  int full = prefix_ / 8;
  if (std::memcmp(ip.bytes().data(), base_.bytes().data(), full) != 0) return false;
  int rest = prefix_ % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (ip.bytes()[full] & mask) == (base_.bytes()[full] & mask);
}

std::string Cidr::to_string() const { return base_.to_string() + "/" + std::to_string(prefix_); }

}  // namespace ambit
