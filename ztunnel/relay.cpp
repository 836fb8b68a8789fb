#include "ztunnel/relay.h"

#include <spdlog/spdlog.h>

#include <cstring>

namespace ambit::ztunnel {

Relay::Relay(Owner* owner, ConnectionRecord record)
    : owner_(owner), record_(std::move(record)), started_(std::chrono::steady_clock::now()) {}

void Relay::finish() {
  record_.duration = std::chrono::steady_clock::now() - started_;
  owner_->on_relay_done(*this);
}

StreamRelay::StreamRelay(Owner* owner, ConnectionRecord record, EventLoop& loop, UniqueFd fd)
    : Relay(owner, std::move(record)),
      inbound_(record_.direction == "inbound"),
      socket_(loop, std::move(fd), this) {}

void StreamRelay::attach(HboneConnection* connection, HboneConnection::Stream* stream) {
  connection_ = connection;
  stream_ = stream;
  if (inbound_) {
    connection_->set_sink(stream_, this);
  } else {
    socket_.start_reading();
  }
}

void StreamRelay::fail(const std::string& why) {
  set_error(why);
  socket_.close(TcpSocket::CloseMode::kReset);
}

void StreamRelay::connect_upstream(const SocketAddress& to, std::chrono::milliseconds timeout) {
  upstream_ = to;
  socket_.connect(to, timeout);
}

void StreamRelay::on_connected(TcpSocket&, int err) {
  if (stream_ == nullptr) return;  // the peer gave up while we were connecting
  if (err != 0) {
    connection_->respond(stream_, 503);
    stream_ = nullptr;
    return fail(fmt::format("connect to {} failed: {}", upstream_.to_string(),
                            err == -ETIMEDOUT ? "timed out" : std::strerror(-err)));
  }
  connection_->respond(stream_, 200);
  socket_.start_reading();
}

void StreamRelay::on_data(TcpSocket&, std::span<const uint8_t> data) {
  if (stream_ == nullptr) return;
  if (!answered_ && replayable_ && reopen) {
    if (unanswered_.size() + data.size() <= kReplayLimit) {
      unanswered_.insert(unanswered_.end(), data.begin(), data.end());
    } else {
      replayable_ = false;
      unanswered_ = {};
    }
  }
  connection_->send(stream_, data);
  if (stream_ != nullptr && connection_->backlog(stream_) >= HboneConnection::kStreamHighWater) {
    socket_.pause_reading();
  }
}

void StreamRelay::on_read_closed(TcpSocket&, int err) {
  socket_eof_ = true;
  if (err != 0) {
    return reset_both(fmt::format("{} connection {}", inbound_ ? "destination" : "source",
                                  err == -ECONNRESET ? "reset" : std::strerror(-err)));
  }
  if (stream_ != nullptr) connection_->end_stream(stream_);
  maybe_close();
}

void StreamRelay::on_writable(TcpSocket&) {
  if (stream_ != nullptr && unconsumed_ > 0) connection_->consume(stream_, unconsumed_);
  unconsumed_ = 0;
}

void StreamRelay::on_write_error(TcpSocket&, int err) {
  reset_both(fmt::format("write error: {}", std::strerror(-err)));
}

void StreamRelay::on_released(TcpSocket&) {
  record_.bytes_sent = inbound_ ? socket_.bytes_written() : socket_.bytes_read();
  record_.bytes_received = inbound_ ? socket_.bytes_read() : socket_.bytes_written();
  finish();
}

void StreamRelay::on_stream_response(int status) {
  answered_ = true;
  unanswered_ = {};
  if (status != 200) reset_both(fmt::format("HBONE CONNECT refused with HTTP status {}", status));
}

void StreamRelay::on_stream_data(std::span<const uint8_t> data) {
  socket_.write(data);
  if (socket_.above_high_water()) {
    unconsumed_ += data.size();
  } else {
    connection_->consume(stream_, data.size());
  }
}

void StreamRelay::on_stream_end() { socket_.shutdown_write(); }

void StreamRelay::on_stream_closed(uint32_t error_code, const std::string& why) {
  stream_ = nullptr;
  // REFUSED_STREAM: the peer never saw it (GOAWAY below its id), so a retry is safe.
  bool unseen =
      error_code == HboneConnection::kConnectionLost || error_code == NGHTTP2_REFUSED_STREAM;
  if (unseen && !answered_ && replayable_ && !retried_ && reopen && !socket_.closing()) {
    retried_ = true;
    if (reopen(*this)) {
      SPDLOG_INFO("{} -> {}: HBONE connection lost before the CONNECT was answered ({}); retried",
                  record_.src.to_string(), record_.dst.to_string(), why);
      if (!unanswered_.empty()) connection_->send(stream_, unanswered_);
      if (socket_eof_) connection_->end_stream(stream_);
      return;
    }
  }
  stream_done_ = true;
  if (error_code != 0) {
    set_error(why.empty() ? fmt::format("stream reset (HTTP/2 error {})", error_code) : why);
    socket_.close(TcpSocket::CloseMode::kReset);
    return;
  }
  maybe_close();
}

void StreamRelay::on_stream_writable() {
  if (!socket_eof_) socket_.start_reading();
}

void StreamRelay::reset_both(const std::string& why) {
  set_error(why);
  if (stream_ != nullptr) {
    auto* s = stream_;
    stream_ = nullptr;
    connection_->reset_stream(s, NGHTTP2_CONNECT_ERROR);
  }
  socket_.close(TcpSocket::CloseMode::kReset);
}

void StreamRelay::maybe_close() {
  // The stream closes cleanly only after both directions ended.
  if (stream_done_) socket_.close(TcpSocket::CloseMode::kGraceful);
}

TcpRelay::TcpRelay(Owner* owner, ConnectionRecord record, EventLoop& loop, UniqueFd downstream,
                   UniqueFd upstream)
    : Relay(owner, std::move(record)),
      down_(this, loop, std::move(downstream)),
      up_(this, loop, std::move(upstream)) {
  down_.other = &up_;
  up_.other = &down_;
}

void TcpRelay::connect(const SocketAddress& to, std::chrono::milliseconds timeout) {
  target_ = to;
  up_.socket.connect(to, timeout);
}

void TcpRelay::on_connected(int err) {
  if (err != 0) {
    return reset_both(fmt::format("connect to {} failed: {}", target_.to_string(),
                                  err == -ETIMEDOUT ? "timed out" : std::strerror(-err)));
  }
  down_.socket.start_reading();
  up_.socket.start_reading();
}

void TcpRelay::reset_both(const std::string& why) {
  set_error(why);
  down_.socket.close(TcpSocket::CloseMode::kReset);
  up_.socket.close(TcpSocket::CloseMode::kReset);
}

void TcpRelay::maybe_close() {
  if (down_.eof && up_.eof) {
    down_.socket.close(TcpSocket::CloseMode::kGraceful);
    up_.socket.close(TcpSocket::CloseMode::kGraceful);
  }
}

void TcpRelay::Side::on_data(TcpSocket&, std::span<const uint8_t> data) {
  other->socket.write(data);
  if (other->socket.above_high_water()) socket.pause_reading();
}

void TcpRelay::Side::on_read_closed(TcpSocket&, int err) {
  eof = true;
  if (err != 0) {
    return relay->reset_both(fmt::format("{} connection {}",
                                         this == &relay->down_ ? "source" : "destination",
                                         err == -ECONNRESET ? "reset" : std::strerror(-err)));
  }
  other->socket.shutdown_write();
  relay->maybe_close();
}

void TcpRelay::Side::on_writable(TcpSocket&) {
  if (!other->eof) other->socket.start_reading();
}

void TcpRelay::Side::on_write_error(TcpSocket&, int err) {
  relay->reset_both(fmt::format("write error: {}", std::strerror(-err)));
}

void TcpRelay::Side::on_released(TcpSocket&) {
  released = true;
  if (other->released) {
    relay->record_.bytes_sent = relay->down_.socket.bytes_read();
    relay->record_.bytes_received = relay->down_.socket.bytes_written();
    relay->finish();
  }
}

}  // namespace ambit::ztunnel
