#include "core/tls_session.h"

#include <openssl/bio.h>
#include <openssl/err.h>

#include <algorithm>
#include <cstring>

#include "core/tls_context.h"

namespace ambit {
namespace {

TlsSession* session_of(BIO* b) { return static_cast<TlsSession*>(BIO_get_data(b)); }

int bio_write_ex(BIO* b, const char* data, size_t len, size_t* written) {
  session_of(b)->bio_write(data, len);
  *written = len;
  return 1;
}

int bio_read_ex(BIO* b, char* buf, size_t len, size_t* read) {
  BIO_clear_retry_flags(b);
  int ok = session_of(b)->bio_read(buf, len, read);
  if (!ok) BIO_set_retry_read(b);
  return ok;
}

long bio_ctrl(BIO*, int cmd, long, void*) {
  // OpenSSL flushes after each flight; ours is always flushed.
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

BIO_METHOD* bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ambit-uring");
    BIO_meth_set_write_ex(m, bio_write_ex);
    BIO_meth_set_read_ex(m, bio_read_ex);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    return m;
  }();
  return method;
}

}  // namespace

TlsSession::TlsSession(SSL_CTX* ctx, Role role, std::vector<uint8_t>* output) : output_(output) {
  ssl_ = SSL_new(ctx);
  BIO* bio = BIO_new(bio_method());
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_, bio, bio);  // one BIO both ways; SSL owns it
  if (role == Role::kClient) {
    SSL_set_connect_state(ssl_);
  } else {
    SSL_set_accept_state(ssl_);
  }
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

void TlsSession::feed(std::span<const uint8_t> ciphertext) {
  if (kept_offset_ < kept_.size() || !input_.empty()) {
    retain_unread();
    kept_.insert(kept_.end(), ciphertext.begin(), ciphertext.end());
  } else {
    input_ = ciphertext;
  }
}

void TlsSession::retain_unread() {
  if (input_.empty()) return;
  if (kept_offset_ == kept_.size()) {
    kept_.clear();
    kept_offset_ = 0;
  }
  kept_.insert(kept_.end(), input_.begin(), input_.end());
  input_ = {};
}

int TlsSession::bio_read(char* buf, size_t len, size_t* read) {
  if (kept_offset_ < kept_.size()) {
    size_t n = std::min(len, kept_.size() - kept_offset_);
    std::memcpy(buf, kept_.data() + kept_offset_, n);
    kept_offset_ += n;
    *read = n;
    return 1;
  }
  if (input_.empty()) {
    *read = 0;
    return 0;
  }
  size_t n = std::min(len, input_.size());
  std::memcpy(buf, input_.data(), n);
  input_ = input_.subspan(n);
  *read = n;
  return 1;
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
  ERR_clear_error();  // SSL_get_error needs an empty queue to be right
  while (true) {
    size_t n = 0;
    int rc = SSL_read_ex(ssl_, plaintext_, sizeof(plaintext_), &n);
    if (rc == 1) {
      sink({plaintext_, n});
      continue;
    }
    int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return true;
    if (err == SSL_ERROR_ZERO_RETURN) return false;
    return Error{describe_handshake_failure(ssl_, err)};
  }
}

Status TlsSession::write(std::span<const uint8_t> plaintext) {
  ERR_clear_error();
  size_t off = 0;
  while (off < plaintext.size()) {
    size_t written = 0;
    int rc = SSL_write_ex(ssl_, plaintext.data() + off, plaintext.size() - off, &written);
    if (rc != 1) {
      return Error{describe_handshake_failure(ssl_, SSL_get_error(ssl_, rc))};
    }
    off += written;
  }
  return {};
}

void TlsSession::send_close_notify() { SSL_shutdown(ssl_); }

std::string TlsSession::alpn() const {
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_, &p, &len);
  return std::string(reinterpret_cast<const char*>(p), len);
}

}  // namespace ambit
