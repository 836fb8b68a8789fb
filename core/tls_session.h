// A TLS 1.3 session whose socket I/O is done by someone else (io_uring): ciphertext goes in with
// feed(), comes out with take_ciphertext(); OpenSSL only ever sees memory BIOs.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "core/result.h"

namespace ambit {

class TlsSession {
 public:
  enum class Role { kClient, kServer };
  enum class Progress { kHandshaking, kEstablished };

  TlsSession(SSL_CTX* ctx, Role role);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  SSL* ssl() const { return ssl_; }
  bool established() const { return established_; }

  // Queues ciphertext received from the peer.
  void feed(std::span<const uint8_t> ciphertext);
  // Advances the handshake with what has been fed; the error says why it failed.
  Result<Progress> handshake();
  // Decrypts everything available, handing each plaintext chunk to sink. Returns false once the
  // peer sent close_notify.
  Result<bool> read(const std::function<void(std::span<const uint8_t>)>& sink);
  Status write(std::span<const uint8_t> plaintext);
  // Bytes of ciphertext waiting to go to the socket.
  size_t pending_ciphertext() const;
  // Hands the waiting ciphertext to sink and forgets it.
  void take_ciphertext(const std::function<void(std::span<const uint8_t>)>& sink);
  void send_close_notify();
  std::string alpn() const;

 private:
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // owned by ssl_
  BIO* out_ = nullptr;  // owned by ssl_
  bool established_ = false;
  uint8_t plaintext_[16384];
};

}  // namespace ambit
