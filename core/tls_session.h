// A TLS 1.3 session whose socket I/O is done by someone else (io_uring). OpenSSL sees a BIO of
// ours: ciphertext is read straight from the receive buffer handed to feed(), and written
// straight into the vector the owner names (the socket's send queue), so no memory BIO sits in
// between, copying and clearing.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"

namespace ambit {

class TlsSession {
 public:
  enum class Role { kClient, kServer };
  enum class Progress { kHandshaking, kEstablished };

  // Ciphertext is appended to *output; the owner sends it and clears what it sent.
  TlsSession(SSL_CTX* ctx, Role role, std::vector<uint8_t>* output);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  SSL* ssl() const { return ssl_; }
  bool established() const { return established_; }

  // Offers ciphertext received from the peer. It is read in place during the handshake() and
  // read() calls that follow; call retain_unread() before the span goes away.
  void feed(std::span<const uint8_t> ciphertext);
  void retain_unread();
  // Advances the handshake with what has been fed; the error says why it failed.
  Result<Progress> handshake();
  // Decrypts everything available, handing each plaintext chunk to sink. Returns false once the
  // peer sent close_notify.
  Result<bool> read(const std::function<void(std::span<const uint8_t>)>& sink);
  Status write(std::span<const uint8_t> plaintext);
  void send_close_notify();
  std::string alpn() const;

  // BIO callbacks.
  int bio_read(char* buf, size_t len, size_t* read);
  void bio_write(const char* data, size_t len) {
    // Same element type on both sides, so this is one memcpy and not a byte loop.
    const auto* bytes = reinterpret_cast<const uint8_t*>(data);
    output_->insert(output_->end(), bytes, bytes + len);
  }

 private:
  SSL* ssl_ = nullptr;
  std::vector<uint8_t>* output_;
  std::span<const uint8_t> input_;  // fed, not yet read, not owned
  std::vector<uint8_t> kept_;       // unread input kept past its buffer's life
  size_t kept_offset_ = 0;
  bool established_ = false;
  uint8_t plaintext_[16384];
};

}  // namespace ambit
