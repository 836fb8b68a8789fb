#include "waypoint/http2_codec.h"

#include <nghttp2/nghttp2.h>

#include <charconv>
#include <cstring>

#include "core/http_text.h"

namespace ambit::waypoint {
namespace {

Http2Codec& codec(void* ud) { return *static_cast<Http2Codec*>(ud); }

std::string_view view(const uint8_t* p, size_t n) { return {reinterpret_cast<const char*>(p), n}; }

int begin_headers_cb(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
  return frame->hd.type == NGHTTP2_HEADERS ? codec(ud).on_begin_headers(frame->hd.stream_id) : 0;
}
int header_cb(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
              const uint8_t* value, size_t valuelen, uint8_t, void* ud) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  return codec(ud).on_header(frame->hd.stream_id, view(name, namelen), view(value, valuelen));
}
int invalid_header_cb(nghttp2_session*, const nghttp2_frame* frame, const uint8_t*, size_t,
                      const uint8_t*, size_t, uint8_t, void* ud) {
  return codec(ud).on_invalid(frame->hd.stream_id, "h2_bad_header");
}
int frame_recv_cb(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
  Http2Codec& c = codec(ud);
  int32_t id = frame->hd.stream_id;
  bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (frame->hd.type == NGHTTP2_HEADERS) {
    bool head =
        frame->headers.cat == NGHTTP2_HCAT_REQUEST || frame->headers.cat == NGHTTP2_HCAT_RESPONSE;
    int rv = c.on_headers_done(id, end, head);
    if (rv != 0) return rv;
    return end ? c.on_stream_end(id) : 0;
  }
  if (frame->hd.type == NGHTTP2_DATA && end) return c.on_stream_end(id);
  return 0;
}
int invalid_frame_cb(nghttp2_session*, const nghttp2_frame* frame, int, void* ud) {
  // nghttp2 has already answered it (a stream reset or a GOAWAY); this only counts it.
  codec(ud).on_invalid(frame->hd.stream_id, "h2_bad_frame");
  return 0;
}
int data_chunk_cb(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                  void* ud) {
  return codec(ud).on_data_chunk(id, {data, len});
}
int stream_close_cb(nghttp2_session*, int32_t id, uint32_t error_code, void* ud) {
  return codec(ud).on_stream_close(id, error_code);
}
ssize_t read_body_cb(nghttp2_session*, int32_t id, uint8_t* buf, size_t length, uint32_t* flags,
                     nghttp2_data_source*, void* ud) {
  return codec(ud).read_body(id, buf, length, flags);
}

nghttp2_session_callbacks* make_callbacks() {
  nghttp2_session_callbacks* cbs;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, begin_headers_cb);
  nghttp2_session_callbacks_set_on_header_callback(cbs, header_cb);
  nghttp2_session_callbacks_set_on_invalid_header_callback(cbs, invalid_header_cb);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, frame_recv_cb);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cbs, invalid_frame_cb);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, data_chunk_cb);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, stream_close_cb);
  return cbs;
}

nghttp2_option* make_options() {
  nghttp2_option* opt;
  nghttp2_option_new(&opt);
  // Windows open as the owner passes bytes on (consume), not as nghttp2 receives them.
  nghttp2_option_set_no_auto_window_update(opt, 1);
  return opt;
}

nghttp2_nv nv(std::string_view name, std::string_view value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

// Fields an HTTP/2 message must not carry (RFC 9113 §8.2.2), and Host (it is :authority).
bool sendable(const Header& h) {
  const std::string& n = h.name;
  if (n.empty() || n[0] == ':') return false;
  if (n == "connection" || n == "keep-alive" || n == "proxy-connection" ||
      n == "transfer-encoding" || n == "upgrade" || n == "host") {
    return false;
  }
  return n != "te" || iequals_ascii(h.value, "trailers");
}

void add_fields(std::vector<nghttp2_nv>& nva, const std::vector<Header>& headers) {
  for (const auto& h : headers) {
    if (sendable(h)) nva.push_back(nv(h.name, h.value));
  }
}

}  // namespace

Http2Codec::Http2Codec(Role role, Handler& handler, Settings settings)
    : role_(role), handler_(handler), settings_(settings) {
  static nghttp2_session_callbacks* callbacks = make_callbacks();
  static nghttp2_option* options = make_options();
  if (role == Role::kServer) {
    nghttp2_session_server_new2(&session_, callbacks, this, options);
  } else {
    nghttp2_session_client_new2(&session_, callbacks, this, options);
  }
  nghttp2_settings_entry entries[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, settings.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(settings.stream_window)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(settings.max_header_bytes)},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},  // a client's only: no server push to the waypoint
  };
  size_t count = role == Role::kClient ? std::size(entries) : std::size(entries) - 1;
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, entries, count);
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, settings.connection_window);
}

Http2Codec::~Http2Codec() { nghttp2_session_del(session_); }

bool Http2Codec::feed(std::span<const uint8_t> in, std::string* error) {
  if (failed_) return false;
  busy_ = true;
  ssize_t rc = nghttp2_session_mem_recv(session_, in.data(), in.size());
  busy_ = false;
  if (rc < 0) {
    failed_ = true;
    if (error != nullptr) *error = nghttp2_strerror(static_cast<int>(rc));
    if (rc != NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
      nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
    }
    return false;
  }
  return true;
}

void Http2Codec::take_output(std::string& out) {
  for (;;) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n <= 0) {
      if (n < 0) failed_ = true;
      return;
    }
    out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
}

bool Http2Codec::accepting() const {
  return !failed_ && nghttp2_session_check_request_allowed(session_) != 0;
}

bool Http2Codec::done() const {
  return (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) ||
         (failed_ && !nghttp2_session_want_write(session_));
}

int32_t Http2Codec::submit_request(const HttpRequest& request, bool end_stream) {
  std::vector<nghttp2_nv> nva;
  nva.reserve(request.headers.size() + 4);
  nva.push_back(nv(":method", request.method));
  nva.push_back(nv(":scheme", request.scheme));
  nva.push_back(nv(":authority", request.authority));
  nva.push_back(nv(":path", request.path));
  add_fields(nva, request.headers);
  nghttp2_data_provider provider{};
  provider.read_callback = read_body_cb;
  int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                      end_stream ? nullptr : &provider, nullptr);
  if (id <= 0) return id;
  Outgoing& out = outgoing_[id];
  out.has_provider = !end_stream;
  out.end = end_stream;
  incoming_[id];
  return id;
}

void Http2Codec::submit_response(int32_t id, int status, const std::vector<Header>& headers,
                                 bool end_stream) {
  char code[4];
  auto [end, ec] = std::to_chars(code, code + sizeof code, status);
  (void)ec;
  std::vector<nghttp2_nv> nva;
  nva.reserve(headers.size() + 1);
  nva.push_back(nv(":status", std::string_view(code, end - code)));
  add_fields(nva, headers);
  if (status < 200) {  // interim: a HEADERS block, the final response follows
    nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, id, nullptr, nva.data(), nva.size(),
                           nullptr);
    return;
  }
  nghttp2_data_provider provider{};
  provider.read_callback = read_body_cb;
  Outgoing& out = outgoing_[id];
  out.has_provider = !end_stream;
  out.end = end_stream;
  nghttp2_submit_response(session_, id, nva.data(), nva.size(), end_stream ? nullptr : &provider);
}

void Http2Codec::resume(int32_t id, Outgoing& out) {
  if (out.deferred) {
    out.deferred = false;
    nghttp2_session_resume_data(session_, id);
  }
}

void Http2Codec::submit_data(int32_t id, std::string_view data) {
  auto it = outgoing_.find(id);
  if (it == outgoing_.end() || !it->second.has_provider || it->second.end || data.empty()) return;
  Outgoing& out = it->second;
  if (out.sent == out.queue.size()) {
    out.queue.clear();
    out.sent = 0;
  }
  out.queue.append(data);
  resume(id, out);
}

void Http2Codec::submit_end(int32_t id, std::vector<Header> trailers) {
  auto it = outgoing_.find(id);
  if (it == outgoing_.end() || it->second.end) return;
  Outgoing& out = it->second;
  out.end = true;
  out.trailers = std::move(trailers);
  resume(id, out);
}

void Http2Codec::submit_reset(int32_t id, uint32_t error_code) {
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, error_code);
}

void Http2Codec::consume(int32_t id, size_t n) {
  if (n > 0) nghttp2_session_consume(session_, id, n);
}

size_t Http2Codec::backlog(int32_t id) const {
  auto it = outgoing_.find(id);
  return it == outgoing_.end() ? 0 : it->second.queue.size() - it->second.sent;
}

long Http2Codec::read_body(int32_t id, uint8_t* buf, size_t length, uint32_t* flags) {
  auto it = outgoing_.find(id);
  if (it == outgoing_.end()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  Outgoing& out = it->second;
  size_t n = std::min(length, out.queue.size() - out.sent);
  if (n > 0) {
    std::memcpy(buf, out.queue.data() + out.sent, n);
    out.sent += n;
  }
  if (out.sent == out.queue.size()) {
    if (out.end) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!out.trailers.empty()) {
        std::vector<nghttp2_nv> nva;
        add_fields(nva, out.trailers);
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        nghttp2_submit_trailer(session_, id, nva.data(), nva.size());
      }
    } else if (n == 0) {
      out.deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    if (n > 0 && !out.end) handler_.on_drained(id);
  }
  return static_cast<long>(n);
}

int Http2Codec::on_begin_headers(int32_t id) {
  incoming_[id] = Incoming{};
  return 0;
}

int Http2Codec::on_header(int32_t id, std::string_view name, std::string_view value) {
  Incoming& in = incoming_[id];
  in.bytes += name.size() + value.size() + 32;  // RFC 9113's accounting for the header list
  if (in.bytes > settings_.max_header_bytes) {
    handler_.on_malformed(id, "h2_headers_too_large");
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets the stream
  }
  if (name.starts_with(':')) {
    if (name == ":method")
      in.method = value;
    else if (name == ":scheme")
      in.scheme = value;
    else if (name == ":authority")
      in.authority = value;
    else if (name == ":path")
      in.path = value;
    else if (name == ":status")
      in.status = value;
    return 0;
  }
  if (name == "host") {
    in.host = value;
    return 0;
  }
  if (name == "cookie") {
    for (auto& f : in.fields) {
      if (f.name == "cookie") {
        f.value.append("; ").append(value);
        return 0;
      }
    }
  }
  in.fields.push_back({std::string(name), std::string(value)});
  return 0;
}

int Http2Codec::on_headers_done(int32_t id, bool end_stream, bool is_head) {
  auto it = incoming_.find(id);
  if (it == incoming_.end()) return 0;
  Incoming in = std::move(it->second);
  it->second = Incoming{};
  if (role_ == Role::kServer) {
    if (!is_head) {
      handler_.on_trailers(id, std::move(in.fields));
      return 0;
    }
    HttpRequest request;
    request.method = std::move(in.method);
    request.scheme = in.scheme.empty() ? "http" : std::move(in.scheme);
    request.authority = in.authority.empty() ? std::move(in.host) : std::move(in.authority);
    request.path = std::move(in.path);
    request.headers = std::move(in.fields);
    handler_.on_request(id, std::move(request), end_stream);
    return 0;
  }
  if (in.status.empty()) {
    handler_.on_trailers(id, std::move(in.fields));
    return 0;
  }
  int status = 0;
  std::from_chars(in.status.data(), in.status.data() + in.status.size(), status);
  handler_.on_response(id, status, std::move(in.fields), end_stream);
  return 0;
}

int Http2Codec::on_data_chunk(int32_t id, std::span<const uint8_t> data) {
  handler_.on_data(id, data);
  return 0;
}

int Http2Codec::on_stream_end(int32_t id) {
  handler_.on_end(id);
  return 0;
}

int Http2Codec::on_stream_close(int32_t id, uint32_t error_code) {
  incoming_.erase(id);
  outgoing_.erase(id);
  handler_.on_closed(id, error_code);
  return 0;
}

int Http2Codec::on_invalid(int32_t id, std::string_view reason) {
  handler_.on_malformed(id, reason);
  return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

}  // namespace ambit::waypoint
