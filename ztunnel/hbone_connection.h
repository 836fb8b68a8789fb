// One HBONE connection: TCP + TLS 1.3 (mTLS, ALPN h2) + an HTTP/2 session (nghttp2) carrying one
// CONNECT stream per tunnelled TCP connection. The same class serves both ends; the client end
// opens streams, the server end answers them.
#pragma once

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/identity.h"
#include "core/tcp_socket.h"
#include "core/tls_session.h"

namespace ambit::ztunnel {

// What a relay sees of its stream. Every call comes from the connection's event handling.
class StreamSink {
 public:
  // Client side: the CONNECT response arrived (status 200 = tunnel open).
  virtual void on_stream_response(int status) {}
  virtual void on_stream_data(std::span<const uint8_t> data) = 0;
  // The peer half-closed (END_STREAM).
  virtual void on_stream_end() = 0;
  // The stream is gone: error_code 0 after both sides ended, else the RST_STREAM code (or
  // HboneConnection::kConnectionLost when the whole connection failed). `why` says what happened.
  virtual void on_stream_closed(uint32_t error_code, const std::string& why) = 0;
  // The stream's send backlog drained below the low-water mark.
  virtual void on_stream_writable() = 0;

 protected:
  ~StreamSink() = default;
};

struct ConnectRequest {
  std::string authority;  // destination ip:port, or a service hostname:port
  std::string forwarded;
  std::string traceparent;
  std::string baggage;
};

class HboneConnection final : public TcpSocket::Handler {
 public:
  enum class Role { kClient, kServer };
  struct Stream;  // opaque to relays

  class Owner {
   public:
    virtual void on_ready(HboneConnection& c) {}
    virtual void on_connect_request(HboneConnection& c, Stream* stream, const ConnectRequest& r) {}
    virtual void on_released(HboneConnection& c) = 0;

   protected:
    ~Owner() = default;
  };

  static constexpr size_t kMaxStreams = 100;
  // Passed to on_stream_closed when the connection itself failed (not an HTTP/2 error code).
  static constexpr uint32_t kConnectionLost = 0x100;
  static constexpr int32_t kStreamWindow = 4 * 1024 * 1024;
  static constexpr int32_t kConnectionWindow = 16 * 1024 * 1024;
  static constexpr size_t kStreamHighWater = 256 * 1024;
  static constexpr size_t kStreamLowWater = 64 * 1024;
  // What we accept from the peer, as ztunnel advertises; what we send is bounded by the peer's.
  static constexpr uint32_t kMaxFrameSize = 1024 * 1024;

  HboneConnection(EventLoop& loop, UniqueFd fd, Role role, SSL_CTX* tls, Owner* owner,
                  std::optional<Identity> expected_peer);
  ~HboneConnection();

  // Client: connect, handshake, verify the server is expected_peer.
  void start_client(const SocketAddress& to, std::chrono::milliseconds connect_timeout);
  // Server: handshake on an accepted socket. A client whose SPIFFE identity is not in
  // `trust_domain` is refused at the handshake, whatever root its certificate chains to.
  void start_server(std::string trust_domain);

  // Client: queue a CONNECT; it goes out as soon as the session is up.
  Stream* open_stream(StreamSink* sink, const std::string& authority,
                      std::vector<std::pair<std::string, std::string>> headers);
  // Server: who hears about the stream from now on (before the answer, to learn of a reset).
  void set_sink(Stream* stream, StreamSink* sink);
  // Server: answer a CONNECT; a non-2xx status ends the stream and detaches its sink.
  void respond(Stream* stream, int status);

  void send(Stream* stream, std::span<const uint8_t> data);
  size_t backlog(const Stream* stream) const;
  void end_stream(Stream* stream);
  void reset_stream(Stream* stream, uint32_t error_code);
  // The relay has passed n received bytes on: open the flow-control window again.
  void consume(Stream* stream, size_t n);

  // New streams may be opened here.
  bool available() const;
  bool ready() const { return session_ != nullptr && !failed_; }
  size_t stream_count() const { return streams_.size(); }
  const Identity& peer_identity() const { return peer_identity_; }
  const SocketAddress& peer_address() const { return peer_address_; }
  // Server: the address the connection came in on.
  const SocketAddress& local_address() const { return local_address_; }
  // GOAWAY, then close once the last stream is gone: live streams finish, new ones go to
  // another connection.
  void shutdown();
  std::chrono::steady_clock::time_point idle_since() const { return idle_since_; }

  // nghttp2 callbacks (public only for the C trampolines).
  int on_begin_headers(const nghttp2_frame* frame);
  int on_header(const nghttp2_frame* frame, std::string_view name, std::string_view value);
  int on_frame_recv(const nghttp2_frame* frame);
  int on_data_chunk(int32_t stream_id, std::span<const uint8_t> data);
  int on_stream_close(int32_t stream_id, uint32_t error_code);
  ssize_t read_body(int32_t stream_id, uint8_t* buf, size_t length, uint32_t* flags,
                    nghttp2_data_source* source);
  int send_data(nghttp2_frame* frame, const uint8_t* framehd, size_t length,
                nghttp2_data_source* source);

 private:
  // TcpSocket::Handler
  void on_connected(TcpSocket& s, int err) override;
  void on_data(TcpSocket& s, std::span<const uint8_t> data) override;
  void on_read_closed(TcpSocket& s, int err) override;
  void on_writable(TcpSocket& s) override;
  void on_write_error(TcpSocket& s, int err) override;
  void on_released(TcpSocket& s) override;

  void on_established();
  void submit_request(Stream* stream);
  void pump();
  void flush_tls();
  void fail(const std::string& why);
  // Every stream still open hears `error_code`; then the socket closes.
  void close_all(uint32_t error_code, const std::string& why, TcpSocket::CloseMode mode);
  void close_stream(Stream* stream, uint32_t error_code, const std::string& why);
  Stream* find(int32_t stream_id);
  void note_idle_if_empty();

  EventLoop& loop_;
  TcpSocket socket_;
  TlsSession tls_;
  Role role_;
  Owner* owner_;
  std::optional<Identity> expected_peer_;
  Identity peer_identity_;
  SocketAddress peer_address_;
  SocketAddress local_address_;
  std::string trust_domain_;  // server: the clients' required trust domain
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, std::unique_ptr<Stream>> streams_;
  std::vector<std::unique_ptr<Stream>> waiting_;  // client streams opened before the handshake
  std::vector<int32_t> writable_;  // ids of streams whose sinks to tell, after a send round
  std::chrono::steady_clock::time_point idle_since_;
  bool failed_ = false;
  bool shutting_down_ = false;
  bool pumping_ = false;
};

}  // namespace ambit::ztunnel
