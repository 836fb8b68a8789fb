#include "core/tls_session.h"

#include <openssl/err.h>

#include "core/tls_context.h"

namespace ambit {

TlsSession::TlsSession(SSL_CTX* ctx, Role role) {
  ssl_ = SSL_new(ctx);
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  // An empty memory BIO must say "retry later", not "end of file".
  BIO_set_mem_eof_return(in_, -1);
  BIO_set_mem_eof_return(out_, -1);
  SSL_set_bio(ssl_, in_, out_);
  if (role == Role::kClient) {
    SSL_set_connect_state(ssl_);
  } else {
    SSL_set_accept_state(ssl_);
  }
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

void TlsSession::feed(std::span<const uint8_t> ciphertext) {
  BIO_write(in_, ciphertext.data(), static_cast<int>(ciphertext.size()));
}

Result<TlsSession::Progress> TlsSession::handshake() {
  if (established_) return Progress::kEstablished;
  ERR_clear_error();
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    established_ = true;
    return Progress::kEstablished;
  }
  int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Progress::kHandshaking;
  return Error{describe_handshake_failure(ssl_, err)};
}

Result<bool> TlsSession::read(const std::function<void(std::span<const uint8_t>)>& sink) {
  while (true) {
    ERR_clear_error();
    int n = SSL_read(ssl_, plaintext_, sizeof(plaintext_));
    if (n > 0) {
      sink({plaintext_, static_cast<size_t>(n)});
      continue;
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return true;
    if (err == SSL_ERROR_ZERO_RETURN) return false;
    return Error{describe_handshake_failure(ssl_, err)};
  }
}

Status TlsSession::write(std::span<const uint8_t> plaintext) {
  size_t off = 0;
  while (off < plaintext.size()) {
    size_t written = 0;
    ERR_clear_error();
    int rc = SSL_write_ex(ssl_, plaintext.data() + off, plaintext.size() - off, &written);
    if (rc != 1) {
      return Error{describe_handshake_failure(ssl_, SSL_get_error(ssl_, rc))};
    }
    off += written;
  }
  return {};
}

size_t TlsSession::pending_ciphertext() const { return BIO_ctrl_pending(out_); }

void TlsSession::take_ciphertext(const std::function<void(std::span<const uint8_t>)>& sink) {
  char* data = nullptr;
  long len = BIO_get_mem_data(out_, &data);
  if (len <= 0) return;
  sink({reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(len)});
  (void)BIO_reset(out_);
}

void TlsSession::send_close_notify() {
  ERR_clear_error();
  SSL_shutdown(ssl_);
}

std::string TlsSession::alpn() const {
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_, &p, &len);
  return std::string(reinterpret_cast<const char*>(p), len);
}

}  // namespace ambit
