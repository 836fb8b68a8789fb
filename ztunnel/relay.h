// Relays that move bytes between a TCP socket and the other side of a tunnelled connection,
// keeping TCP semantics: a FIN travels as a half-close, a reset as a reset, and a full buffer
// on one side stops reading on the other.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/tcp_socket.h"
#include "ztunnel/access_log.h"
#include "ztunnel/authorization.h"
#include "ztunnel/hbone_connection.h"

namespace ambit::ztunnel {

class Relay {
 public:
  class Owner {
   public:
    // The relay is finished and its sockets are released; the owner logs and destroys it.
    virtual void on_relay_done(Relay& relay) = 0;

   protected:
    ~Owner() = default;
  };

  // What inbound authorization admitted the connection as, so that a policy change can be
  // checked against it while it lives. The destination is named by uid: the workload it
  // pointed to belongs to a config snapshot that may be gone.
  struct Admission {
    std::optional<Identity> source_identity;  // absent: plaintext
    IpAddress source_ip;
    std::string destination;  // workload uid
    uint16_t destination_port = 0;
    IpAddress destination_ip;
  };

  explicit Relay(Owner* owner, ConnectionRecord record);
  virtual ~Relay() = default;
  ConnectionRecord& record() { return record_; }
  void set_admission(Admission a) { admission_ = std::move(a); }
  const std::optional<Admission>& admission() const { return admission_; }
  // Reset everything now, recording why (drain deadline, idle timeout).
  virtual void abort(const std::string& why) = 0;
  // Bytes moved so far in either direction; unchanged between two looks means idle.
  virtual uint64_t activity() const = 0;

 protected:
  void set_error(std::string error) {
    if (record_.error.empty()) record_.error = std::move(error);
  }
  void finish();

  Owner* owner_;
  ConnectionRecord record_;
  std::optional<Admission> admission_;
  std::chrono::steady_clock::time_point started_;
};

// A TCP socket on one side, an HBONE stream on the other. Outbound: the app's captured socket
// and a CONNECT stream we opened. Inbound: the socket to the destination and the CONNECT stream
// a peer opened.
class StreamRelay final : public Relay, public TcpSocket::Handler, public StreamSink {
 public:
  StreamRelay(Owner* owner, ConnectionRecord record, EventLoop& loop, UniqueFd fd);

  TcpSocket& socket() { return socket_; }
  void attach(HboneConnection* connection, HboneConnection::Stream* stream);
  // Outbound: the stream could not even be opened.
  void fail(const std::string& why);
  // Outbound: asked when the HBONE connection died before the CONNECT was answered; it may
  // attach() a stream on another connection, and the bytes sent so far are sent again there.
  std::function<bool(StreamRelay&)> reopen;
  void abort(const std::string& why) override { reset_both(why); }
  uint64_t activity() const override { return socket_.bytes_read() + socket_.bytes_written(); }

  // Inbound: connect to the destination, then answer the CONNECT with 200 or 503.
  void connect_upstream(const SocketAddress& to, std::chrono::milliseconds timeout);

 private:
  // TcpSocket::Handler
  void on_connected(TcpSocket& s, int err) override;
  void on_data(TcpSocket& s, std::span<const uint8_t> data) override;
  void on_read_closed(TcpSocket& s, int err) override;
  void on_writable(TcpSocket& s) override;
  void on_write_error(TcpSocket& s, int err) override;
  void on_released(TcpSocket& s) override;
  // StreamSink
  void on_stream_response(int status) override;
  void on_stream_data(std::span<const uint8_t> data) override;
  void on_stream_end() override;
  void on_stream_closed(uint32_t error_code, const std::string& why) override;
  void on_stream_writable() override;

  void reset_both(const std::string& why);
  void maybe_close();

  // Inbound: socket_ leads to the destination; outbound: it is the source's captured socket.
  const bool inbound_;
  TcpSocket socket_;
  HboneConnection* connection_ = nullptr;
  HboneConnection::Stream* stream_ = nullptr;
  SocketAddress upstream_;
  size_t unconsumed_ = 0;
  // Outbound: what went into the stream before its 200, kept so a dead pooled connection costs
  // a retry instead of the application's connection. Bounded; past the bound, no retry.
  static constexpr size_t kReplayLimit = 64 * 1024;
  std::vector<uint8_t> unanswered_;
  bool answered_ = false;
  bool replayable_ = true;
  bool retried_ = false;
  bool socket_eof_ = false;
  bool stream_done_ = false;
};

// Plain TCP on both sides: passthrough to destinations outside the mesh, and the inbound
// plaintext (PERMISSIVE) path.
class TcpRelay final : public Relay {
 public:
  TcpRelay(Owner* owner, ConnectionRecord record, EventLoop& loop, UniqueFd downstream,
           UniqueFd upstream);
  void connect(const SocketAddress& to, std::chrono::milliseconds timeout);
  void abort(const std::string& why) override { reset_both(why); }
  uint64_t activity() const override {
    return down_.socket.bytes_read() + down_.socket.bytes_written();
  }

 private:
  struct Side final : TcpSocket::Handler {
    Side(TcpRelay* relay, EventLoop& loop, UniqueFd fd)
        : relay(relay), socket(loop, std::move(fd), this) {}
    void on_connected(TcpSocket& s, int err) override { relay->on_connected(err); }
    void on_data(TcpSocket& s, std::span<const uint8_t> data) override;
    void on_read_closed(TcpSocket& s, int err) override;
    void on_writable(TcpSocket& s) override;
    void on_write_error(TcpSocket& s, int err) override;
    void on_released(TcpSocket& s) override;
    TcpRelay* relay;
    TcpSocket socket;
    Side* other = nullptr;
    bool eof = false;
    bool released = false;
  };
  void on_connected(int err);
  void reset_both(const std::string& why);
  void maybe_close();

  Side down_;
  Side up_;
  SocketAddress target_;
};

}  // namespace ambit::ztunnel
