#include "ztunnel/hbone_connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "core/tls_context.h"
#include "ztunnel/send_buffer.h"

namespace ambit::ztunnel {

struct HboneConnection::Stream {
  int32_t id = -1;
  StreamSink* sink = nullptr;
  // Client: the request, until it is submitted.
  std::string authority;
  std::vector<std::pair<std::string, std::string>> headers;
  // Server: what the CONNECT asked for.
  std::string method;
  ConnectRequest request;
  int status = 0;
  // Bytes waiting for the HTTP/2 send window.
  SendBuffer pending;
  bool local_end = false;
  bool deferred = false;
  bool blocked = false;    // the sink was told to stop for now
  int refused_status = 0;  // client: the CONNECT was answered with this non-200 status
  size_t backlog() const { return pending.size(); }
};

namespace {

constexpr size_t kFrameHeaderLength = 9;
static_assert(SendBuffer::kHeadroom == kFrameHeaderLength);

HboneConnection* self(void* user_data) { return static_cast<HboneConnection*>(user_data); }

int begin_headers_cb(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
  return self(ud)->on_begin_headers(frame);
}
int header_cb(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
              const uint8_t* value, size_t valuelen, uint8_t, void* ud) {
  return self(ud)->on_header(frame, {reinterpret_cast<const char*>(name), namelen},
                             {reinterpret_cast<const char*>(value), valuelen});
}
int frame_recv_cb(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
  return self(ud)->on_frame_recv(frame);
}
int data_chunk_cb(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                  void* ud) {
  return self(ud)->on_data_chunk(stream_id, {data, len});
}
int stream_close_cb(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* ud) {
  return self(ud)->on_stream_close(stream_id, error_code);
}
ssize_t read_body_cb(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length,
                     uint32_t* flags, nghttp2_data_source* source, void* ud) {
  return self(ud)->read_body(stream_id, buf, length, flags, source);
}
int send_data_cb(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd, size_t length,
                 nghttp2_data_source* source, void* ud) {
  return self(ud)->send_data(frame, framehd, length, source);
}
ssize_t data_length_cb(nghttp2_session*, uint8_t, int32_t, int32_t, int32_t, uint32_t, void*) {
  // As much as one send-buffer block holds; nghttp2 lowers it to the windows and the peer's
  // SETTINGS_MAX_FRAME_SIZE.
  return static_cast<ssize_t>(SendBuffer::kBlockPayload);
}

nghttp2_session_callbacks* make_callbacks() {
  nghttp2_session_callbacks* cbs;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, begin_headers_cb);
  nghttp2_session_callbacks_set_on_header_callback(cbs, header_cb);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, frame_recv_cb);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, data_chunk_cb);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, stream_close_cb);
  nghttp2_session_callbacks_set_send_data_callback(cbs, send_data_cb);
  nghttp2_session_callbacks_set_data_source_read_length_callback(cbs, data_length_cb);
  return cbs;
}

nghttp2_option* make_options() {
  nghttp2_option* opt;
  nghttp2_option_new(&opt);
  // Windows open only when the relay has passed bytes on: that is the backpressure.
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_peer_max_concurrent_streams(opt, HboneConnection::kMaxStreams);
  return opt;
}

nghttp2_nv header(const std::string& name, const std::string& value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

HboneConnection::HboneConnection(EventLoop& loop, UniqueFd fd, Role role, SSL_CTX* tls,
                                 Owner* owner, std::optional<Identity> expected_peer)
    : loop_(loop),
      socket_(loop, std::move(fd), this),
      tls_(tls, role == Role::kClient ? TlsSession::Role::kClient : TlsSession::Role::kServer,
           &socket_.write_queue()),
      role_(role),
      owner_(owner),
      expected_peer_(std::move(expected_peer)),
      idle_since_(std::chrono::steady_clock::now()) {}

HboneConnection::~HboneConnection() {
  if (session_) nghttp2_session_del(session_);
}

void HboneConnection::start_client(const SocketAddress& to,
                                   std::chrono::milliseconds connect_timeout) {
  peer_address_ = to;
  socket_.connect(to, connect_timeout);
}

void HboneConnection::start_server(std::string trust_domain) {
  trust_domain_ = std::move(trust_domain);
  if (auto peer = SocketAddress::peer_of(socket_.fd())) peer_address_ = *peer;
  if (auto local = SocketAddress::local_of(socket_.fd())) local_address_ = *local;
  socket_.start_reading();
}

void HboneConnection::on_connected(TcpSocket&, int err) {
  if (err != 0) {
    return fail(fmt::format("connect to {} failed: {}", peer_address_.to_string(),
                            err == -ETIMEDOUT ? "timed out" : std::strerror(-err)));
  }
  auto progress = tls_.handshake();  // writes the ClientHello
  if (!progress) return fail(progress.error().message);
  flush_tls();
  socket_.start_reading();
}

void HboneConnection::on_data(TcpSocket&, std::span<const uint8_t> data) {
  if (failed_) return;
  tls_.feed(data);
  if (!tls_.established()) {
    auto progress = tls_.handshake();
    if (!progress) {
      return fail(fmt::format("TLS handshake with {} failed: {}", peer_address_.to_string(),
                              progress.error().message));
    }
    if (*progress == TlsSession::Progress::kHandshaking) {
      tls_.retain_unread();
      return flush_tls();
    }
    on_established();
    if (failed_) return;
  }
  auto more = tls_.read([this](std::span<const uint8_t> plain) {
    if (failed_ || session_ == nullptr) return;
    pumping_ = true;  // sinks called from inside mem_recv must not re-enter the session
    ssize_t rc = nghttp2_session_mem_recv(session_, plain.data(), plain.size());
    pumping_ = false;
    if (rc < 0)
      fail(fmt::format("HTTP/2 error from {}: {}", peer_address_.to_string(),
                       nghttp2_strerror(static_cast<int>(rc))));
  });
  if (!more)
    return fail(
        fmt::format("TLS error from {}: {}", peer_address_.to_string(), more.error().message));
  tls_.retain_unread();
  if (!*more) return fail("peer closed the TLS session");
  pump();
}

void HboneConnection::on_established() {
  if (tls_.alpn() != "h2") return fail("peer did not negotiate ALPN h2");
  if (role_ == Role::kClient) {
    if (auto ok = verify_peer_identity(tls_.ssl(), *expected_peer_); !ok) {
      return fail(
          fmt::format("server {} refused: {}", peer_address_.to_string(), ok.error().message));
    }
    peer_identity_ = *expected_peer_;
  } else {
    auto id = ambit::peer_identity(tls_.ssl());
    if (!id) {
      return fail(
          fmt::format("client {} refused: {}", peer_address_.to_string(), id.error().message));
    }
    // A root may be shared by several trust domains (or be a foreign mesh's): the chain
    // alone does not make a client one of ours.
    if (id->trust_domain() != trust_domain_) {
      return fail(fmt::format("client {} refused: identity {} is not in trust domain {}",
                              peer_address_.to_string(), id->to_string(), trust_domain_));
    }
    peer_identity_ = *id;
  }
  static nghttp2_session_callbacks* callbacks = make_callbacks();
  static nghttp2_option* options = make_options();
  if (role_ == Role::kClient) {
    nghttp2_session_client_new2(&session_, callbacks, this, options);
  } else {
    nghttp2_session_server_new2(&session_, callbacks, this, options);
  }
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindow)},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, kMaxFrameSize},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
  if (role_ == Role::kClient) {
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& s : waiting) {
      Stream* raw = s.get();
      if (raw->sink == nullptr) continue;  // reset by its relay while we were handshaking
      submit_request(raw);
      if (raw->id > 0) streams_.emplace(raw->id, std::move(s));
    }
    owner_->on_ready(*this);
  }
  pump();
}

HboneConnection::Stream* HboneConnection::open_stream(
    StreamSink* sink, const std::string& authority,
    std::vector<std::pair<std::string, std::string>> headers) {
  auto stream = std::make_unique<Stream>();
  stream->sink = sink;
  stream->authority = authority;
  stream->headers = std::move(headers);
  Stream* raw = stream.get();
  idle_since_ = std::chrono::steady_clock::time_point::max();
  if (session_ == nullptr) {
    waiting_.push_back(std::move(stream));
    return raw;
  }
  submit_request(raw);
  if (raw->id < 0) return nullptr;
  streams_.emplace(raw->id, std::move(stream));
  pump();
  return raw;
}

void HboneConnection::submit_request(Stream* s) {
  static const std::string kMethod = ":method", kConnect = "CONNECT", kAuthority = ":authority";
  std::vector<nghttp2_nv> nva;
  nva.push_back(header(kMethod, kConnect));
  nva.push_back(header(kAuthority, s->authority));
  for (auto& [k, v] : s->headers) nva.push_back(header(k, v));
  nghttp2_data_provider prd{};
  prd.source.ptr = s;
  prd.read_callback = read_body_cb;
  int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), &prd, s);
  if (id < 0) {
    // Out of stream ids or shutting down: the pool must use another connection.
    shutting_down_ = true;
    if (s->sink) s->sink->on_stream_closed(NGHTTP2_REFUSED_STREAM, nghttp2_strerror(id));
    s->sink = nullptr;
    return;
  }
  s->id = id;
}

void HboneConnection::set_sink(Stream* s, StreamSink* sink) { s->sink = sink; }

void HboneConnection::respond(Stream* s, int status) {
  if (failed_ || session_ == nullptr) return;
  static const std::string kStatus = ":status";
  std::string code = std::to_string(status);
  nghttp2_nv nva[] = {header(kStatus, code)};
  s->status = status;
  if (status == 200) {
    nghttp2_data_provider prd{};
    prd.source.ptr = s;
    prd.read_callback = read_body_cb;
    nghttp2_submit_response(session_, s->id, nva, 1, &prd);
  } else {
    s->sink = nullptr;
    nghttp2_submit_response(session_, s->id, nva, 1, nullptr);
  }
  pump();
}

void HboneConnection::send(Stream* s, std::span<const uint8_t> data) {
  if (s->local_end) return;
  s->pending.append(data);
  if (s->backlog() >= kStreamHighWater) s->blocked = true;
  if (s->deferred && session_ && s->id > 0) {
    s->deferred = false;
    nghttp2_session_resume_data(session_, s->id);
  }
  pump();
}

size_t HboneConnection::backlog(const Stream* s) const { return s->backlog(); }

void HboneConnection::end_stream(Stream* s) {
  s->local_end = true;
  if (s->deferred && session_ && s->id > 0) {
    s->deferred = false;
    nghttp2_session_resume_data(session_, s->id);
  }
  pump();
}

void HboneConnection::reset_stream(Stream* s, uint32_t error_code) {
  s->sink = nullptr;
  if (s->id < 0) return;  // never submitted: dropped when the session comes up
  if (session_ && !failed_) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s->id, error_code);
    pump();
  }
}

void HboneConnection::consume(Stream* s, size_t n) {
  if (session_ && !failed_ && s->id > 0 && n > 0) {
    nghttp2_session_consume(session_, s->id, n);
    pump();
  }
}

bool HboneConnection::available() const {
  return !failed_ && !shutting_down_ && !socket_.closing() &&
         streams_.size() + waiting_.size() < kMaxStreams;
}

HboneConnection::Stream* HboneConnection::find(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

int HboneConnection::on_begin_headers(const nghttp2_frame* frame) {
  if (role_ == Role::kServer && frame->hd.type == NGHTTP2_HEADERS &&
      frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    auto s = std::make_unique<Stream>();
    s->id = frame->hd.stream_id;
    idle_since_ = std::chrono::steady_clock::time_point::max();
    streams_.emplace(s->id, std::move(s));
  }
  return 0;
}

int HboneConnection::on_header(const nghttp2_frame* frame, std::string_view name,
                               std::string_view value) {
  Stream* s = find(frame->hd.stream_id);
  if (s == nullptr) return 0;
  if (role_ == Role::kServer) {
    if (name == ":method")
      s->method = value;
    else if (name == ":authority")
      s->request.authority = value;
    else if (name == "forwarded")
      s->request.forwarded = value;
    else if (name == "traceparent")
      s->request.traceparent = value;
    else if (name == "baggage")
      s->request.baggage = value;
  } else if (name == ":status") {
    int status = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), status);
    // A malformed status counts as a refusal (not 200): the stream is reset.
    s->status = (ec == std::errc() && end == value.data() + value.size()) ? status : 502;
  }
  return 0;
}

int HboneConnection::on_frame_recv(const nghttp2_frame* frame) {
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    shutting_down_ = true;
    return 0;
  }
  Stream* s = find(frame->hd.stream_id);
  if (s == nullptr) return 0;
  if (frame->hd.type == NGHTTP2_HEADERS && (frame->hd.flags & NGHTTP2_FLAG_END_HEADERS)) {
    if (role_ == Role::kServer && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      if (s->method != "CONNECT" || s->request.authority.empty()) {
        respond(s, 400);  // as ztunnel answers any other method
      } else {
        owner_->on_connect_request(*this, s, s->request);
      }
    } else if (role_ == Role::kClient && frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
      if (s->sink) s->sink->on_stream_response(s->status);
      if (s->status != 200 && s->sink) {
        // No tunnel: end our half too, so the stream closes and the sink hears why.
        nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
        s->refused_status = s->status;
      }
    }
  }
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && s->sink) {
    s->sink->on_stream_end();
  }
  return 0;
}

int HboneConnection::on_data_chunk(int32_t stream_id, std::span<const uint8_t> data) {
  Stream* s = find(stream_id);
  if (s != nullptr && s->sink != nullptr) {
    s->sink->on_stream_data(data);
  } else {
    // Nobody to deliver to: keep the connection window open for the other streams.
    nghttp2_session_consume(session_, stream_id, data.size());
  }
  return 0;
}

int HboneConnection::on_stream_close(int32_t stream_id, uint32_t error_code) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return 0;
  std::unique_ptr<Stream> s = std::move(it->second);
  streams_.erase(it);
  if (s->sink) {
    std::string why;
    if (s->refused_status != 0) {
      why = fmt::format("HBONE CONNECT refused with HTTP status {}", s->refused_status);
      if (error_code == 0) error_code = NGHTTP2_CANCEL;
    } else if (error_code != 0) {
      why = fmt::format("stream reset by peer: {}", nghttp2_http2_strerror(error_code));
    }
    s->sink->on_stream_closed(error_code, why);
  }
  note_idle_if_empty();
  return 0;
}

ssize_t HboneConnection::read_body(int32_t, uint8_t*, size_t length, uint32_t* flags,
                                   nghttp2_data_source* source) {
  auto* s = static_cast<Stream*>(source->ptr);
  // Client streams send before the 200 arrives (the server buffers until its connect is
  // done): a new tunnelled connection costs no extra round trip.
  if (s->backlog() == 0 && !s->local_end) {
    s->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  // The payload stays where it is: send_data writes the frame from the stream's buffer.
  size_t n = std::min(length, s->pending.front().size());
  *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  if (n == s->backlog() && s->local_end) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

int HboneConnection::send_data(nghttp2_frame* frame, const uint8_t* framehd, size_t length,
                               nghttp2_data_source* source) {
  auto* s = static_cast<Stream*>(source->ptr);
  if (frame->data.padlen != 0) return NGHTTP2_ERR_CALLBACK_FAILURE;  // we never pad
  Status ok;
  if (length == 0) {
    ok = tls_.write({framehd, kFrameHeaderLength});  // an empty END_STREAM
  } else {
    // The header goes into the room the buffer keeps before its unsent bytes.
    uint8_t* start = s->pending.front().data() - kFrameHeaderLength;
    std::memcpy(start, framehd, kFrameHeaderLength);
    ok = tls_.write({start, kFrameHeaderLength + length});
    s->pending.consume(length);
  }
  if (!ok) return NGHTTP2_ERR_CALLBACK_FAILURE;
  if (s->blocked && s->backlog() <= kStreamLowWater) {
    s->blocked = false;
    writable_.push_back(s->id);  // by id: the stream may close before we get to tell it
  }
  // mem_send would go on to the next frame without returning: stop it while the socket is full.
  return socket_.write_backlog() >= TcpSocket::kHighWater ? NGHTTP2_ERR_PAUSE : 0;
}

void HboneConnection::pump() {
  if (pumping_) return;
  pumping_ = true;
  if (session_ != nullptr && !failed_) {
    while (socket_.write_backlog() < TcpSocket::kHighWater) {
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n < 0) {
        pumping_ = false;
        return fail(fmt::format("HTTP/2 send error: {}", nghttp2_strerror(static_cast<int>(n))));
      }
      if (n == 0) break;
      if (auto ok = tls_.write({data, static_cast<size_t>(n)}); !ok) {
        pumping_ = false;
        return fail(ok.error().message);
      }
    }
  }
  flush_tls();
  pumping_ = false;
  if (!writable_.empty()) {
    // Only streams still alive get told; the ids are looked up again for each call.
    std::vector<int32_t> ids;
    ids.swap(writable_);
    for (int32_t id : ids) {
      if (Stream* s = find(id); s && s->sink) s->sink->on_stream_writable();
    }
  }
  if (session_ != nullptr && !failed_ && !nghttp2_session_want_read(session_) &&
      !nghttp2_session_want_write(session_)) {
    // Nothing more to do on this session. Normally no stream is left; any that is (the peer
    // went away mid-stream with a GOAWAY) is told before the connection goes.
    close_all(kConnectionLost, "HTTP/2 session ended", TcpSocket::CloseMode::kGraceful);
  }
}

void HboneConnection::flush_tls() { socket_.commit_written(); }

void HboneConnection::note_idle_if_empty() {
  // The pool's sweep closes connections that stay idle past its timeout.
  if (streams_.empty() && waiting_.empty()) idle_since_ = std::chrono::steady_clock::now();
}

void HboneConnection::fail(const std::string& why) {
  if (failed_) return;
  if (role_ == Role::kClient || !why.empty()) {
    SPDLOG_WARN("hbone {} {}: {}", role_ == Role::kClient ? "to" : "from",
                peer_address_.to_string(), why);
  }
  close_all(kConnectionLost, why, TcpSocket::CloseMode::kReset);
}

void HboneConnection::close_all(uint32_t error_code, const std::string& why,
                                TcpSocket::CloseMode mode) {
  failed_ = true;
  auto streams = std::move(streams_);
  streams_.clear();
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& [id, s] : streams) {
    if (s->sink) s->sink->on_stream_closed(error_code, why);
  }
  for (auto& s : waiting) {
    if (s->sink) s->sink->on_stream_closed(error_code, why);
  }
  socket_.close(mode);
}

void HboneConnection::shutdown() {
  shutting_down_ = true;
  if (session_ == nullptr || failed_) {
    if (!failed_) fail("");
    return;
  }
  // A GOAWAY naming the last stream we took: those go on to their end, and the session closes
  // (pump) once none is left. terminate_session would drop them under their relays.
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
  pump();
}

void HboneConnection::on_read_closed(TcpSocket&, int err) {
  fail(err == 0 ? "peer closed the connection"
                : fmt::format("connection error: {}", std::strerror(-err)));
}

void HboneConnection::on_writable(TcpSocket&) { pump(); }

void HboneConnection::on_write_error(TcpSocket&, int err) {
  fail(fmt::format("write error: {}", std::strerror(-err)));
}

void HboneConnection::on_released(TcpSocket&) { owner_->on_released(*this); }

}  // namespace ambit::ztunnel
