#include "waypoint/http2_front.h"

#include <fmt/format.h>
#include <nghttp2/nghttp2.h>

#include "core/http_text.h"
#include "waypoint/http_session.h"
#include "waypoint/listener.h"
#include "waypoint/waypoint_state.h"

namespace ambit::waypoint {
namespace {

constexpr size_t kHighWater = ztunnel::HboneConnection::kStreamHighWater;

// gRPC's percent-encoding of grpc-message: printable ASCII but '%' as is.
std::string grpc_message(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c >= 0x20 && c <= 0x7e && c != '%') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

bool is_grpc(const HttpRequest& request) {
  const std::string* ct = request.header("content-type");
  return ct != nullptr && ct->starts_with("application/grpc");
}

// How the request body is delimited, for an HTTP/1.1 endpoint: the content-length the client
// sent (nghttp2 holds the DATA to it), none when the stream ended with the head, else chunked.
Framing request_framing(const HttpRequest& request, bool end_stream) {
  Framing f;
  if (const std::string* cl = request.header("content-length"))
    f.content_length = decimal_value(*cl);
  if (!f.content_length && !end_stream) f.chunked = true;
  return f;
}

}  // namespace

// One stream: a request and its response.
class Http2Front::Exchange final : public ResponseSink {
 public:
  Exchange(Http2Front& front, int32_t id) : id_(id), front_(front) {}

  void start(HttpRequest request, bool end_stream);
  void body(std::span<const uint8_t> data);
  void end();
  void answer(int status, std::string_view body, const std::vector<Header>& extra = {});

  // ResponseSink
  void response_head(ResponseHead& head) override;
  void response_body(std::span<const uint8_t> data) override;
  void response_end(const std::vector<Header>& trailers) override;
  void response_failed(std::string_view flags, const std::string& why) override;
  bool response_room() const override {
    return front_.codec_.backlog(id_) < kHighWater && front_.session_.down_room();
  }
  void request_writable() override;

  int32_t id_;
  std::shared_ptr<const ztunnel::EngineConfig> config;
  HttpRequest request;
  RequestRecord record;
  UpstreamRequest* upstream = nullptr;  // attempts, while they are on
  std::optional<Attempts> attempts;     // in place: no allocation per request
  UpstreamRequest* shadow = nullptr;  // the mirror's copy, while its body is on its way
  const RouteTable::Endpoint* endpoint = nullptr;
  HeaderEdits response_edits;
  std::vector<Header> trailers;  // the request's
  std::chrono::steady_clock::time_point started, sent;
  size_t unconsumed = 0;  // request body passed on, its window not reopened yet
  bool grpc = false;
  bool request_done = false;
  bool response_started = false;
  bool response_done = false;

 private:
  void forward(const Dispatch& d);
  Http2Front& front_;
};

void Http2Front::Exchange::start(HttpRequest r, bool end_stream) {
  HttpSession& s = front_.session_;
  request = std::move(r);
  config = s.worker().config_snapshot();
  started = std::chrono::steady_clock::now();
  request_done = end_stream;
  grpc = is_grpc(request);
  record.method = request.method;
  record.authority = request.authority;
  record.path = request.path;
  record.protocol = "HTTP/2";
  record.src = s.client_address();
  record.src_identity = s.downstream().peer;
  record.service = s.downstream().service ? s.downstream().service->uid() : "";
  if (request.method == "CONNECT") {
    record.details = "connect_not_allowed";  // as for HTTP/1.1 (extended CONNECT: not yet)
    return answer(405, "");
  }
  Dispatch d = dispatch(waypoint_state(*config), s.listener().load_balancer(), s.listener().shard(),
                        request, s.downstream(), s.worker().entropy(), record);
  if (d.kind == Dispatch::Kind::kAnswer) return answer(d.status, d.body, d.extra);
  forward(d);
}

void Http2Front::Exchange::forward(const Dispatch& d) {
  HttpSession& s = front_.session_;
  response_edits = d.response_edits;
  attempts.emplace(Attempts::Context{s.worker(), s.pool(), s.listener().load_balancer(), *config,
                                     s.downstream(), true, s.listener().shard()},
                   *this, d, request, record, endpoint);
  Framing framing = request_framing(request, request_done);
  if (d.mirror) {
    shadow = s.pool().shadow(*config, *d.mirror, true, request, framing, request_done);
    if (shadow != nullptr) record.mirrored = d.mirror->address;
    if (request_done) shadow = nullptr;
  }
  sent = std::chrono::steady_clock::now();
  upstream = &*attempts;
  if (!attempts->start(framing, request_done)) {
    upstream = nullptr;
    attempts.reset();
    FailureAnswer a = failure_answer(record.flags);
    answer(a.status, a.body);
  }
}

void Http2Front::Exchange::body(std::span<const uint8_t> data) {
  if (upstream == nullptr) return front_.codec_.consume(id_, data.size());  // answered already
  record.bytes_received += data.size();
  std::string_view b(reinterpret_cast<const char*>(data.data()), data.size());
  feed_shadow(shadow, b);
  upstream->send_body(b);
  // The window reopens as the endpoint takes the bytes.
  if (upstream != nullptr && upstream->backlog() >= kHighWater) {
    unconsumed += data.size();
  } else {
    front_.codec_.consume(id_, data.size());
  }
}

void Http2Front::Exchange::end() {
  request_done = true;
  end_shadow(shadow, trailers);
  if (upstream != nullptr) upstream->send_end(trailers);
}

void Http2Front::Exchange::request_writable() {
  if (unconsumed == 0 || upstream == nullptr || upstream->backlog() >= kHighWater) return;
  front_.codec_.consume(id_, unconsumed);
  unconsumed = 0;
  front_.flush();
}

void Http2Front::Exchange::answer(int status, std::string_view body,
                                  const std::vector<Header>& extra) {
  Http2Codec& codec = front_.codec_;
  record.status = status;
  if (grpc && status >= 400) {
    // A trailers-only gRPC answer, as Envoy's local replies to gRPC requests are.
    record.status = 200;
    std::vector<Header> headers = {
        {"content-type", "application/grpc"},
        {"grpc-status", std::to_string(grpc_status_for(status))},
    };
    if (!body.empty()) headers.push_back({"grpc-message", grpc_message(body)});
    codec.submit_response(id_, 200, headers, true);
  } else {
    std::vector<Header> headers = extra;
    if (!body.empty()) headers.push_back({"content-type", "text/plain"});
    headers.push_back({"content-length", std::to_string(body.size())});
    bool bodiless = body.empty() || request.method == "HEAD";
    codec.submit_response(id_, status, headers, bodiless);
    if (!bodiless) {
      codec.submit_data(id_, body);
      codec.submit_end(id_);
      record.bytes_sent = body.size();
    }
  }
  response_started = response_done = true;
  front_.finish(*this);  // first: the flush may close the stream
  front_.flush();
}

void Http2Front::Exchange::response_head(ResponseHead& head) {
  Http2Codec& codec = front_.codec_;
  if (head.status >= 100 && head.status < 200) {
    if (head.status == 101) {
      return response_failed("UPE", "upstream_protocol_error: 101 to an HTTP/2 request");
    }
    codec.submit_response(id_, head.status, head.headers, false);  // interim
    return front_.flush();
  }
  response_started = true;
  record.status = head.status;
  record.upstream_time = std::chrono::steady_clock::now() - sent;
  response_edits.apply_to(head.headers);
  if (head.framing.content_length && !head.close_delimited && !head.framing.chunked) {
    head.headers.push_back({"content-length", std::to_string(*head.framing.content_length)});
  }
  codec.submit_response(id_, head.status, head.headers, false);
  front_.flush();
}

void Http2Front::Exchange::response_body(std::span<const uint8_t> data) {
  record.bytes_sent += data.size();
  front_.codec_.submit_data(id_, {reinterpret_cast<const char*>(data.data()), data.size()});
  front_.flush();
}

void Http2Front::Exchange::response_end(const std::vector<Header>& trailers) {
  front_.codec_.submit_end(id_, trailers);
  response_done = true;
  front_.finish(*this);  // first: the flush may close the stream
  front_.flush();
}

void Http2Front::Exchange::response_failed(std::string_view flags, const std::string& why) {
  record.flags = std::string(flags);
  record.details = why;
  if (!response_started) {
    FailureAnswer a = failure_answer(flags);
    return answer(a.status, a.body);
  }
  front_.codec_.submit_reset(id_, NGHTTP2_INTERNAL_ERROR);
  response_done = true;
  front_.finish(*this);
  front_.flush();
}

// --- Http2Front -------------------------------------------------------------------------------

Http2Front::Http2Front(HttpSession& session)
    : session_(session), codec_(Http2Codec::Role::kServer, *this) {}

Http2Front::~Http2Front() {
  for (auto& [id, ex] : exchanges_) {
    if (ex->endpoint) session_.listener().load_balancer().request_finished(*ex->endpoint);
    if (ex->upstream) ex->upstream->release(false);
    if (ex->shadow) ex->shadow->release(false);
  }
}

int Http2Front::grpc_status_for(int http_status) {
  switch (http_status) {
    case 400:
      return 13;  // INTERNAL
    case 401:
      return 16;  // UNAUTHENTICATED
    case 403:
      return 7;  // PERMISSION_DENIED
    case 404:
      return 12;  // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14;  // UNAVAILABLE
    default:
      return 2;  // UNKNOWN
  }
}

Http2Front::Exchange* Http2Front::find(int32_t id) {
  auto it = exchanges_.find(id);
  return it == exchanges_.end() ? nullptr : it->second.get();
}

void Http2Front::feed(std::string_view bytes) {
  finished_.clear();
  std::string error;
  bool ok = codec_.feed({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, &error);
  if (!ok && !failed_) {
    failed_ = true;
    session_.note_error("HTTP/2: " + error);
    waypoint_state(*session_.worker().config_snapshot())
        .stats->parse_error(session_.listener().shard(), "h2_protocol_error");
  }
  flush();
  maybe_close();
}

void Http2Front::peer_ended() {
  peer_ended_ = true;
  maybe_close();
}

void Http2Front::writable() {
  finished_.clear();
  flush();
  std::vector<int32_t> ids;
  for (auto& [id, ex] : exchanges_) ids.push_back(id);
  for (int32_t id : ids) {
    if (Exchange* ex = find(id); ex != nullptr && ex->upstream != nullptr) {
      ex->upstream->resume_response();
    }
  }
  maybe_close();
}

void Http2Front::downstream_gone() {
  std::vector<int32_t> ids;
  for (auto& [id, ex] : exchanges_) ids.push_back(id);
  for (int32_t id : ids) {
    if (Exchange* ex = find(id)) {
      ex->record.flags = "DC";
      finish(*ex);
    }
  }
}

void Http2Front::finish(Exchange& ex) {
  ex.record.duration = std::chrono::steady_clock::now() - ex.started;
  if (ex.endpoint) session_.listener().load_balancer().request_finished(*ex.endpoint);
  if (ex.shadow) std::exchange(ex.shadow, nullptr)->release(false);  // its body never came whole
  waypoint_state(*ex.config).stats->record(session_.listener().shard(), ex.record);
  if (ex.upstream != nullptr) {
    ex.upstream->release(ex.request_done && ex.response_done && ex.record.flags == "-");
  }
  // The rest of a request body still coming is read and dropped (on_data finds no exchange).
  if (ex.unconsumed > 0) codec_.consume(ex.id_, ex.unconsumed);
  // Its own method may be what called this: it goes at the next event from the client.
  auto it = exchanges_.find(ex.id_);
  finished_.push_back(std::move(it->second));
  exchanges_.erase(it);
}

void Http2Front::flush() {
  // When the client's stream is full, writable() goes on.
  codec_.flush([this] { return session_.down_room(); },
               [this](std::string_view frames) { session_.write_down(frames); });
}

void Http2Front::maybe_close() {
  if (codec_.busy()) return;
  if ((peer_ended_ && exchanges_.empty()) || codec_.done()) {
    flush();
    session_.close_down(true);
  }
}

void Http2Front::on_request(int32_t id, HttpRequest request, bool end_stream) {
  auto [it, fresh] = exchanges_.try_emplace(id, std::make_unique<Exchange>(*this, id));
  if (!fresh) return;
  it->second->start(std::move(request), end_stream);
}

void Http2Front::on_trailers(int32_t id, std::vector<Header> trailers) {
  if (Exchange* ex = find(id)) ex->trailers = std::move(trailers);  // the end follows
}

void Http2Front::on_data(int32_t id, std::span<const uint8_t> data) {
  if (Exchange* ex = find(id)) return ex->body(data);
  codec_.consume(id, data.size());
}

void Http2Front::on_end(int32_t id) {
  if (Exchange* ex = find(id)) ex->end();
}

void Http2Front::on_closed(int32_t id, uint32_t error_code) {
  Exchange* ex = find(id);
  if (ex == nullptr) return;
  // The client reset the stream (or it broke) before its answer was complete.
  ex->record.flags = "DC";
  ex->record.details =
      fmt::format("downstream stream reset: {}", nghttp2_http2_strerror(error_code));
  finish(*ex);
}

void Http2Front::on_drained(int32_t id) {
  if (Exchange* ex = find(id); ex != nullptr && ex->upstream != nullptr) {
    ex->upstream->resume_response();
  }
}

void Http2Front::on_malformed(int32_t, std::string_view reason) {
  waypoint_state(*session_.worker().config_snapshot())
      .stats->parse_error(session_.listener().shard(), std::string(reason));
}

}  // namespace ambit::waypoint
