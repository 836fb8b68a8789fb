// The Forwarded header (RFC 7239) that carries the source address across HBONE, in the form
// Istio's ztunnel sends and reads: `for="10.0.0.1:4711"` or `for="[fd00::1]:4711"`, followed by
// `;host=<service hostname>` when the destination was reached through a service.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/net_address.h"

namespace ambit::ztunnel {

// `host` is the service's hostname (empty: left out).
std::string format_forwarded(const SocketAddress& source, std::string_view host = {});
// The first `for=` node of the header: an address, with port 0 when the header gives none.
// Nothing when absent, obfuscated ("unknown", "_hidden") or malformed.
std::optional<SocketAddress> parse_forwarded_for(std::string_view header);
// The `host=` parameter of the first element; empty when absent.
std::string parse_forwarded_host(std::string_view header);

}  // namespace ambit::ztunnel
