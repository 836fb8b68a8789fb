// The server name a TLS client asks for, read from the first bytes of its connection (the
// ClientHello) by OpenSSL itself: a throwaway server-side SSL reads them from memory and its
// servername callback, which OpenSSL calls once it has parsed the ClientHello's extensions,
// takes the name and stops the handshake. For the waypoint's VirtualService `tls` routes.
#pragma once

#include <string>
#include <string_view>

namespace ambit::waypoint {

enum class TlsSniff {
  kNeedMore,  // the first record is not complete yet
  kNotTls,    // not a TLS handshake
  kNoName,    // a ClientHello without a server name
  kName,      // `name` has it, lowercase
};

TlsSniff sniff_server_name(std::string_view first_bytes, std::string* name);

}  // namespace ambit::waypoint
