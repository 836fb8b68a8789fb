#include "ztunnel/original_destination.h"

#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

namespace ambit::ztunnel {

Result<SocketAddress> original_destination(int fd, const SocketAddress& listener,
                                           const std::optional<SocketAddress>& fixed) {
  if (fixed) return *fixed;
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  int level = listener.ip().is_v4() ? SOL_IP : SOL_IPV6;
  int opt = listener.ip().is_v4() ? SO_ORIGINAL_DST : IP6T_SO_ORIGINAL_DST;
  if (getsockopt(fd, level, opt, &ss, &len) == 0) {
    auto dst = SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    if (dst && *dst != listener) return dst;
  }
  auto local = SocketAddress::local_of(fd);
  if (!local) return local.error();
  if (*local == listener) {
    return Error::format("connection to {} carries no original destination (not redirected)",
                         listener.to_string());
  }
  return local;
}

}  // namespace ambit::ztunnel
