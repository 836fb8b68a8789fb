// A TLS client's first flight (its ClientHello), as OpenSSL's client writes it, for the
// waypoint's tests of routing by server name.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace ambit::waypoint::testing {

// The first flight of a TLS client asking for `server_name` (none when empty).
inline std::string client_hello(const char* server_name, int max_version = TLS1_3_VERSION) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  SSL_CTX_set_max_proto_version(ctx.get(), max_version);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), rbio, wbio);
  if (server_name[0] != '\0') SSL_set_tlsext_host_name(ssl.get(), server_name);
  SSL_set_connect_state(ssl.get());
  SSL_do_handshake(ssl.get());  // wants the server's answer: the hello is in wbio
  char* data = nullptr;
  long n = BIO_get_mem_data(wbio, &data);
  return std::string(data, static_cast<size_t>(n));
}

}  // namespace ambit::waypoint::testing
