#include "waypoint/tls_sniff.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <memory>

#include "core/http_text.h"

namespace ambit::waypoint {
namespace {

constexpr size_t kRecordHeader = 5;
constexpr size_t kMaxRecord = 16384 + 2048;  // TLSPlaintext (and a little slack for TLS 1.2)

struct Seen {
  bool called = false;
  std::string name;
};

int on_servername(SSL* ssl, int*, void*) {
  auto* seen = static_cast<Seen*>(SSL_get_app_data(ssl));
  seen->called = true;
  if (const char* n = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) seen->name = n;
  return SSL_TLSEXT_ERR_ALERT_FATAL;  // what we wanted is read: stop here
}

SSL_CTX* reader() {
  static SSL_CTX* ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_tlsext_servername_callback(c, on_servername);
    return c;
  }();
  return ctx;
}

}  // namespace

TlsSniff sniff_server_name(std::string_view in, std::string* name) {
  // A handshake record (22) of TLS 1.0 to 1.3 (3.x) carrying a ClientHello (1).
  if (!in.empty() && in[0] != 0x16) return TlsSniff::kNotTls;
  if (in.size() >= 2 && in[1] != 0x03) return TlsSniff::kNotTls;
  if (in.size() < kRecordHeader + 1) return TlsSniff::kNeedMore;
  if (in[5] != 0x01) return TlsSniff::kNotTls;
  size_t length = (static_cast<uint8_t>(in[3]) << 8) | static_cast<uint8_t>(in[4]);
  if (length > kMaxRecord) return TlsSniff::kNotTls;
  if (in.size() < kRecordHeader + length) return TlsSniff::kNeedMore;

  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(reader()), SSL_free);
  if (!ssl) return TlsSniff::kNotTls;
  BIO* rbio = BIO_new_mem_buf(in.data(), static_cast<int>(in.size()));
  BIO_set_mem_eof_return(rbio, -1);  // out of bytes: "retry", not end of stream
  BIO* wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), rbio, wbio);  // the SSL owns both now
  Seen seen;
  SSL_set_app_data(ssl.get(), &seen);
  SSL_set_accept_state(ssl.get());
  int rc = SSL_do_handshake(ssl.get());
  int error = SSL_get_error(ssl.get(), rc);
  // The stopped handshake leaves errors on this thread's OpenSSL queue, where the next TLS
  // session of the worker (its HBONE connections) would take them for its own.
  ERR_clear_error();
  if (!seen.called) {
    // A ClientHello in several records is legal but rare; OpenSSL asks for the rest.
    return error == SSL_ERROR_WANT_READ && in.size() < 4 * kMaxRecord ? TlsSniff::kNeedMore
                                                                      : TlsSniff::kNotTls;
  }
  if (seen.name.empty()) return TlsSniff::kNoName;
  *name = ascii_lower(seen.name);
  return TlsSniff::kName;
}

}  // namespace ambit::waypoint
