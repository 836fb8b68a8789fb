#include "waypoint/upstream.h"

#include <fmt/format.h>
#include <nghttp2/nghttp2.h>

#include <cstring>
#include <optional>

#include "core/tls_session.h"

namespace ambit::waypoint {

bool HboneUpstream::open(ztunnel::Worker& worker, const ztunnel::EngineConfig& config,
                         const ztunnel::Workload& endpoint, const std::string& source_workload,
                         const std::string& forwarded) {
  auto creds = config.credentials.find(source_workload);
  if (creds == config.credentials.end() || !creds->second.client) return false;
  ztunnel::HboneConnection* conn = worker.pool().get(
      {source_workload, creds->second.identity, endpoint.hbone_address, endpoint.identity},
      creds->second.client->get());
  if (conn == nullptr) return false;
  std::vector<std::pair<std::string, std::string>> headers;
  headers.emplace_back("forwarded", forwarded);
  auto* stream = conn->open_stream(this, address_.to_string(), std::move(headers));
  if (stream == nullptr) return false;
  connection_ = conn;
  stream_ = stream;
  return true;
}

// The TCP connection of a direct upstream, in TLS when the cluster originates it. Its owner
// may go (reset) while the socket still has operations in flight: the link then lives on,
// detached, until the socket is released.
class DirectLink final : public TcpSocket::Handler {
 public:
  // Reading pauses while this much the owner has not consumed yet (as an HBONE window would).
  static constexpr size_t kReadAhead = 256 * 1024;

  DirectLink(EventLoop& loop, UniqueFd fd, HboneUpstream* owner,
             std::shared_ptr<const OriginationTls> tls)
      : socket(loop, std::move(fd), this), owner(owner), tls_(std::move(tls)) {}

  void consume(size_t n) {
    unconsumed -= std::min(unconsumed, n);
    if (paused && unconsumed < kReadAhead / 2) {
      paused = false;
      socket.start_reading();
    }
  }
  void write(std::span<const uint8_t> bytes) {
    if (!tls_) return socket.write(bytes);
    if (!session_ || !session_->established()) {
      held_.insert(held_.end(), bytes.begin(), bytes.end());  // until the handshake is done
      return;
    }
    if (auto ok = session_->write(bytes); !ok) return fail("TLS write: " + ok.error().message);
    socket.commit_written();
  }
  void end() {
    if (tls_ && !(session_ && session_->established())) {
      end_held_ = true;  // after what is held
      return;
    }
    if (session_) {
      session_->send_close_notify();
      socket.commit_written();
    }
    socket.shutdown_write();
  }
  size_t backlog() const { return socket.write_backlog() + held_.size(); }

  TcpSocket socket;
  HboneUpstream* owner;  // null once detached
  size_t unconsumed = 0;
  bool paused = false;

 private:
  void fail(const std::string& why) {
    if (owner != nullptr) owner->link_failed(why);
  }
  void on_connected(TcpSocket&, int err) override {
    if (owner == nullptr) return;
    if (err != 0) {
      return fail(
          fmt::format("connect to {}: {}", owner->address().to_string(), std::strerror(-err)));
    }
    socket.start_reading();
    if (!tls_) {
      owner->answered_ = true;
      return;
    }
    session_.emplace(tls_->ctx.get(), TlsSession::Role::kClient, &socket.write_queue());
    tls_->prepare(session_->ssl());
    handshake();
  }
  void handshake() {
    auto progress = session_->handshake();
    socket.commit_written();
    if (!progress) {
      return fail(fmt::format("TLS handshake with {} ({}) failed: {}", owner->address().to_string(),
                              tls_->sni, progress.error().message));
    }
    if (*progress == TlsSession::Progress::kHandshaking) return;
    owner->answered_ = true;
    if (!held_.empty()) {
      std::vector<uint8_t> held = std::move(held_);
      held_.clear();
      write(held);
    }
    if (end_held_) end();
  }
  void on_data(TcpSocket&, std::span<const uint8_t> data) override {
    if (owner == nullptr) return;
    if (!session_) return deliver(data);
    session_->feed(data);
    if (!session_->established()) {
      handshake();
      if (owner == nullptr || !session_->established()) return session_->retain_unread();
    }
    auto more = session_->read([this](std::span<const uint8_t> plain) {
      if (owner != nullptr) deliver(plain);
    });
    if (owner == nullptr) return;
    if (!more)
      return fail("TLS error from " + owner->address().to_string() + ": " + more.error().message);
    session_->retain_unread();
    if (!*more && owner != nullptr) owner->on_stream_end();  // close_notify: the end
  }
  void deliver(std::span<const uint8_t> data) {
    unconsumed += data.size();
    if (unconsumed >= kReadAhead && !paused) {
      paused = true;
      socket.pause_reading();
    }
    owner->on_stream_data(data);
  }
  void on_read_closed(TcpSocket&, int err) override {
    if (owner == nullptr) return;
    if (err == 0 && (!session_ || session_->established())) return owner->on_stream_end();
    fail(fmt::format("connection to {} {}", owner->address().to_string(),
                     err == 0 ? "closed during the TLS handshake"
                              : std::string("reset: ") + std::strerror(-err)));
  }
  void on_writable(TcpSocket&) override {
    if (owner != nullptr) owner->on_stream_writable();
  }
  void on_write_error(TcpSocket&, int err) override {
    if (owner == nullptr) return;
    fail(fmt::format("write to {}: {}", owner->address().to_string(), std::strerror(-err)));
  }
  void on_released(TcpSocket&) override { delete this; }

  std::shared_ptr<const OriginationTls> tls_;
  std::optional<TlsSession> session_;
  std::vector<uint8_t> held_;  // written before the handshake was done
  bool end_held_ = false;      // and the end too
};

bool HboneUpstream::open_direct(ztunnel::Worker& worker, std::chrono::milliseconds connect_timeout,
                                std::shared_ptr<const OriginationTls> tls) {
  auto fd = TcpSocket::open_stream_socket(address_.family());
  if (!fd) return false;
  link_ = new DirectLink(worker.loop(), std::move(*fd), this, std::move(tls));
  link_->socket.connect(address_, connect_timeout);
  return true;
}

void HboneUpstream::link_failed(const std::string& why) {
  if (link_ == nullptr) return;
  DirectLink* link = std::exchange(link_, nullptr);
  link->owner = nullptr;
  link->socket.close(TcpSocket::CloseMode::kReset);
  let_go();
  on_failed(why);
}

void HboneUpstream::count_in(std::shared_ptr<ClusterLoad> load, const ConnectionPolicy& policy) {
  policy_ = policy;
  if (load == nullptr) return;
  if (closed()) {
    load->connections.fetch_sub(1);  // already gone
    return;
  }
  load_ = std::move(load);
}

void HboneUpstream::let_go() {
  if (auto load = std::exchange(load_, nullptr)) load->connections.fetch_sub(1);
}

void HboneUpstream::send(std::string_view b) {
  if (b.empty()) return;
  if (link_ != nullptr) return link_->write(byte_view(b));
  if (stream_ != nullptr) connection_->send(stream_, byte_view(b));
}
void HboneUpstream::end() {
  if (link_ != nullptr) return link_->end();
  if (stream_ != nullptr) connection_->end_stream(stream_);
}
void HboneUpstream::reset() {
  if (link_ != nullptr) {
    DirectLink* link = std::exchange(link_, nullptr);
    link->owner = nullptr;
    link->socket.close(TcpSocket::CloseMode::kReset);
    let_go();
    return;
  }
  if (stream_ == nullptr) return;
  auto* s = stream_;
  stream_ = nullptr;
  let_go();
  connection_->reset_stream(s, NGHTTP2_CANCEL);
}
size_t HboneUpstream::backlog() const {
  if (link_ != nullptr) return link_->backlog();
  return stream_ ? connection_->backlog(stream_) : 0;
}
void HboneUpstream::consume(size_t n) {
  if (link_ != nullptr) return link_->consume(n);
  if (stream_ != nullptr) connection_->consume(stream_, n);
}

void HboneUpstream::on_stream_response(int status) {
  answered_ = status == 200;
  if (answered_) return;
  reset();
  on_failed(fmt::format("HBONE CONNECT to {} refused with {}", address_.to_string(), status));
}

void HboneUpstream::on_stream_closed(uint32_t error_code, const std::string& why) {
  stream_ = nullptr;
  let_go();
  on_failed(why.empty() && error_code != 0
                ? fmt::format("stream reset (HTTP/2 error {})", error_code)
                : why);
}

std::string upstream_reset_body(bool connected) {
  return fmt::format("upstream connect error or disconnect/reset before headers. reset reason: {}",
                     connected ? "connection termination" : "connection failure");
}

FailureAnswer failure_answer(std::string_view flags) {
  auto has = [&](std::string_view flag) {
    for (size_t at = 0; at <= flags.size();) {
      size_t comma = std::min(flags.find(',', at), flags.size());
      if (flags.substr(at, comma - at) == flag) return true;
      at = comma + 1;
    }
    return false;
  };
  if (has("UPE")) return {502, "upstream sent a response the waypoint cannot read"};
  if (has("UT")) return {504, "upstream request timeout"};
  if (has("UO")) {
    return {503,
            "upstream connect error or disconnect/reset before headers. reset reason: overflow"};
  }
  return {503, upstream_reset_body(has("UC"))};
}

}  // namespace ambit::waypoint
