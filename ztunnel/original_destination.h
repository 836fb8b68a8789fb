// Where a captured connection was going. Redirect modes differ: a fixed destination (no
// capture), SO_ORIGINAL_DST (iptables REDIRECT, or the eBPF getsockopt hook), or the accepted
// socket's own local address (sk_lookup / TPROXY keep the original address on the socket).
#pragma once

#include <optional>

#include "core/net_address.h"
#include "core/result.h"

namespace ambit::ztunnel {

Result<SocketAddress> original_destination(int fd, const SocketAddress& listener,
                                           const std::optional<SocketAddress>& fixed);

}  // namespace ambit::ztunnel
