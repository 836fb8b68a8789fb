// The Forwarded header (RFC 7239) that carries the source address across HBONE, as ztunnel
// sends it: `for=10.0.0.1` or `for="[fd00::1]"`.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/net_address.h"

namespace ambit::ztunnel {

std::string format_forwarded_for(const IpAddress& source);
// The first `for=` address of the header, or nothing when absent or not an IP address.
std::optional<IpAddress> parse_forwarded_for(std::string_view header);

}  // namespace ambit::ztunnel
