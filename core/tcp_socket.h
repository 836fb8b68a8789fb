// An asynchronous TCP socket on an EventLoop: multishot receive into the loop's provided
// buffers, one send in flight with a second buffer filling behind it, connect with a linked
// timeout, and a close that waits for every pending operation before the fd goes away.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

#include "core/event_loop.h"
#include "core/net_address.h"
#include "core/unique_fd.h"

namespace ambit {

class TcpSocket {
 public:
  class Handler {
   public:
    // err is 0 on success, -ETIMEDOUT when the connect timeout fired, else -errno.
    virtual void on_connected(TcpSocket& s, int err) {}
    virtual void on_data(TcpSocket& s, std::span<const uint8_t> data) = 0;
    // The peer finished sending: err 0 for FIN, -ECONNRESET for a reset, else -errno.
    virtual void on_read_closed(TcpSocket& s, int err) = 0;
    // The write backlog drained below the low-water mark after having been above it.
    virtual void on_writable(TcpSocket& s) {}
    virtual void on_write_error(TcpSocket& s, int err) {}
    // The fd is closed and nothing refers to this socket any more: it may be destroyed.
    virtual void on_released(TcpSocket& s) = 0;

   protected:
    ~Handler() = default;
  };

  enum class CloseMode { kGraceful, kReset };

  static constexpr size_t kHighWater = 512 * 1024;
  static constexpr size_t kLowWater = 128 * 1024;

  TcpSocket(EventLoop& loop, UniqueFd fd, Handler* handler);
  TcpSocket(const TcpSocket&) = delete;
  TcpSocket& operator=(const TcpSocket&) = delete;

  static Result<UniqueFd> open_stream_socket(int family);

  void set_handler(Handler* handler) { handler_ = handler; }
  int fd() const { return fd_.get(); }

  void connect(const SocketAddress& to, std::chrono::milliseconds timeout);
  void start_reading();
  void pause_reading();

  // Copies data into the send queue. Ignored once the socket is closing.
  void write(std::span<const uint8_t> data);
  // For producers that write in place (TLS encrypts straight into it): append to
  // write_queue(), then commit_written() to send.
  std::vector<uint8_t>& write_queue() { return queued_; }
  void commit_written();
  size_t write_backlog() const { return (sending_.size() - sent_) + queued_.size(); }
  bool above_high_water() const { return write_backlog() >= kHighWater; }
  // Sends FIN once everything queued has gone out.
  void shutdown_write();
  // Graceful close waits for the queue to drain; reset sends RST at once.
  void close(CloseMode mode = CloseMode::kGraceful);
  bool closing() const { return closing_ || close_after_flush_; }

  uint64_t bytes_read() const { return bytes_read_; }
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  void on_recv(int res, uint32_t flags);
  void on_send(int res, uint32_t flags);
  void on_connect(int res, uint32_t flags);
  void on_cancelled(int res, uint32_t flags);
  void on_deferred_flush(int res, uint32_t flags);
  void schedule_flush();
  void arm_recv();
  void flush();
  void finish_close();
  void maybe_release();

  EventLoop& loop_;
  UniqueFd fd_;
  Handler* handler_;
  MemberCompletion<TcpSocket, &TcpSocket::on_recv> recv_op_{this};
  MemberCompletion<TcpSocket, &TcpSocket::on_send> send_op_{this};
  MemberCompletion<TcpSocket, &TcpSocket::on_connect> connect_op_{this};
  MemberCompletion<TcpSocket, &TcpSocket::on_cancelled> cancel_op_{this};
  MemberCompletion<TcpSocket, &TcpSocket::on_deferred_flush> flush_task_{this};
  sockaddr_storage connect_addr_{};
  __kernel_timespec connect_timeout_{};
  std::vector<uint8_t> sending_;
  size_t sent_ = 0;
  std::vector<uint8_t> queued_;
  uint64_t bytes_read_ = 0;
  uint64_t bytes_written_ = 0;
  int inflight_ = 0;
  bool connecting_ = false;  // writes queue up until the connect completes
  bool flush_scheduled_ = false;
  bool recv_armed_ = false;
  bool send_armed_ = false;
  bool want_read_ = false;
  bool read_closed_ = false;
  bool was_above_high_ = false;
  bool shutdown_after_flush_ = false;
  bool close_after_flush_ = false;
  bool closing_ = false;
  bool released_ = false;
};

// Closes fd with a TCP reset (SO_LINGER 0), the way a refused connection should end.
void reset_and_close(UniqueFd fd);

// A listening socket with a multishot accept; each accepted fd goes to on_accept.
class Listener {
 public:
  using AcceptFn = std::function<void(UniqueFd)>;
  struct Options {
    bool reuse_port = true;    // one listener per worker, the kernel spreads connections
    bool transparent = false;  // IP_TRANSPARENT, for redirected non-local destinations
    int backlog = 4096;
  };

  static Result<std::unique_ptr<Listener>> bind(EventLoop& loop, const SocketAddress& address,
                                                const Options& options, AcceptFn on_accept);
  ~Listener();
  void start();
  // Stops accepting; the fd is closed once the pending accept is cancelled.
  void stop();
  const SocketAddress& address() const { return address_; }
  int fd() const { return fd_.get(); }
  // Stopped and its socket closed.
  bool closed() const { return stopped_ && !armed_; }

 private:
  Listener(EventLoop& loop) : loop_(loop) {}
  void on_accept(int res, uint32_t flags);

  EventLoop& loop_;
  UniqueFd fd_;
  SocketAddress address_;
  AcceptFn on_accept_;
  MemberCompletion<Listener, &Listener::on_accept> accept_op_{this};
  bool armed_ = false;
  bool stopped_ = false;
};

}  // namespace ambit
