#include "waypoint/http_session.h"

#include <fmt/format.h>
#include <nghttp2/nghttp2.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "waypoint/http2_front.h"
#include "waypoint/listener.h"
#include "waypoint/tls_sniff.h"
#include "waypoint/waypoint_state.h"

namespace ambit::waypoint {
namespace {

constexpr size_t kHighWater = ztunnel::HboneConnection::kStreamHighWater;
constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Looks like the start of an HTTP/1 request line: a method token, then a space. Enough bytes to
// tell, or nullopt while too few have arrived.
std::optional<bool> looks_like_http1(std::string_view in) {
  size_t i = 0;
  while (i + 1 < in.size() && in[i] == '\r' && in[i + 1] == '\n') i += 2;
  size_t start = i;
  for (; i < in.size() && i - start <= 20; ++i) {
    char c = in[i];
    if (c == ' ') return i > start;
    if (!std::isupper(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  if (i - start > 20) return false;
  return std::nullopt;
}

}  // namespace

HttpSession::HttpSession(ztunnel::Worker& worker, WaypointListener& listener,
                         std::shared_ptr<const ztunnel::EngineConfig> config,
                         ztunnel::HboneConnection* connection,
                         ztunnel::HboneConnection::Stream* stream, Downstream downstream,
                         ztunnel::ConnectionRecord record)
    : Relay(&worker, std::move(record)),
      worker_(worker),
      listener_(listener),
      config_(std::move(config)),
      connection_(connection),
      stream_(stream),
      downstream_(std::move(downstream)),
      pool_(worker, downstream_) {
  listener_.session_started();
}

HttpSession::~HttpSession() {
  h2_.reset();  // its exchanges hold requests of the pool
  if (exchange_) {
    if (exchange_->endpoint) listener_.load_balancer().request_finished(*exchange_->endpoint);
    if (exchange_->upstream) exchange_->upstream->release(false);
    if (exchange_->shadow) exchange_->shadow->release(false);
  }
  pool_.reset_all();
  if (stream_ != nullptr) {
    auto* s = stream_;
    stream_ = nullptr;
    connection_->reset_stream(s, NGHTTP2_CANCEL);
  }
  listener_.session_finished();
}

void HttpSession::start() { connection_->set_sink(stream_, this); }

void HttpSession::abort(const std::string& why) {
  set_error(why);
  close_down(false);
  pool_.reset_all();
  maybe_finish();
}

void HttpSession::on_stream_data(std::span<const uint8_t> data) {
  in_.append(reinterpret_cast<const char*>(data.data()), data.size());
  bytes_in_ += data.size();
  pool_.sweep();  // no upstream is inside a callback now
  process();
}

void HttpSession::on_stream_end() {
  down_eof_ = true;
  process();
}

void HttpSession::on_stream_closed(uint32_t error_code, const std::string& why) {
  stream_ = nullptr;
  if (error_code != 0) set_error(why.empty() ? "downstream stream reset" : why);
  if (h2_) h2_->downstream_gone();
  if (exchange_ && !exchange_->response_done) {
    exchange_->record.flags = "DC";  // the client went away before its answer
    exchange_->response_done = exchange_->request_done = true;
    end_exchange();
  }
  pool_.reset_all();
  maybe_finish();
}

void HttpSession::on_stream_writable() {
  // The client took what was queued: read on from the upstream that was held back.
  if (tunnel_) return tunnel_step();
  if (h2_) return h2_->writable();
  if (exchange_ && exchange_->upstream) exchange_->upstream->resume_response();
}

void HttpSession::write_down(std::string_view b) {
  if (stream_ == nullptr || down_ended_ || b.empty()) return;
  bytes_out_ += b.size();
  connection_->send(stream_, byte_view(b));
}

bool HttpSession::down_room() const {
  return stream_ == nullptr || connection_->backlog(stream_) < kHighWater;
}

void HttpSession::eat(size_t n) {
  if (n == 0) return;
  in_.erase(0, n);
  if (stream_ != nullptr) connection_->consume(stream_, n);
}

void HttpSession::close_down(bool graceful) {
  if (stream_ == nullptr) return;
  if (graceful) {
    if (!down_ended_) connection_->end_stream(stream_);
    down_ended_ = true;
    return;
  }
  auto* s = stream_;
  stream_ = nullptr;
  connection_->reset_stream(s, NGHTTP2_CANCEL);
}

void HttpSession::process() {
  if (processing_) {
    again_ = true;
    return;
  }
  processing_ = true;
  do {
    again_ = false;
    step();
  } while (again_ && !finishing_);
  processing_ = false;
  maybe_finish();
}

void HttpSession::step() {
  while (stream_ != nullptr && !finishing_) {
    switch (mode_) {
      case Mode::kSniff:
        sniff();
        if (mode_ == Mode::kSniff) return;
        continue;
      case Mode::kTunnel:
        return tunnel_step();
      case Mode::kDiscard:
        eat(in_.size());
        if (down_eof_) close_down(true);
        return;
      case Mode::kHttp2:
        if (!in_.empty()) {
          h2_->feed(in_);
          eat(in_.size());
        }
        if (down_eof_) h2_->peer_ended();
        return;
      case Mode::kHttp1:
        break;
    }
    if (!exchange_) {
      if (in_.empty() && !down_eof_) return;
      size_t n = parser_->feed(byte_view(in_), *this);
      eat(n);
      if (parser_->state() == Http1Parser::State::kError) return bad_request(parser_->error());
      if (parser_->state() == Http1Parser::State::kHead) {
        if (down_eof_) {
          // The client is done: a clean end between requests, or a truncated head.
          if (!in_.empty()) return bad_request({400, "incomplete_request"});
          close_down(true);
        }
        return;
      }
      begin_exchange();
      continue;
    }
    Exchange& ex = *exchange_;
    if (!ex.request_done) {
      if (parser_->state() == Http1Parser::State::kBody) {
        if (ex.upstream && ex.upstream->backlog() >= kHighWater) return;  // request_writable
        size_t n = parser_->feed(byte_view(in_), *this);
        eat(n);
      }
      if (!exchange_) continue;  // the upstream failed while it took the body
      switch (parser_->state()) {
        case Http1Parser::State::kDone:
          ex.request_done = true;
          if (ex.upstream) ex.upstream->send_end({});
          end_shadow(ex.shadow, {});
          break;
        case Http1Parser::State::kError:
          // A body that breaks its own framing: nothing more of this connection can be trusted.
          if (ex.upstream) {
            ex.upstream->release(false);
            ex.upstream = nullptr;
          }
          if (!ex.response_started) {
            ex.record.details = "bad request body: " + parser_->error().reason;
            ex.record.status = 400;
            write_down(local_response(400, "", false));
          }
          ex.response_done = ex.request_done = true;
          ex.close_after = true;
          end_exchange();
          return;
        default:
          if (down_eof_) {
            ex.record.flags = "DC";
            ex.response_done = ex.request_done = true;
            ex.close_after = true;
            end_exchange();
          }
          return;
      }
    }
    if (!exchange_ || !exchange_->response_done) return;  // the upstream finishes it
    end_exchange();
  }
}

void HttpSession::sniff() {
  if (std::string_view(in_).substr(0, kHttp2Preface.size()) ==
      kHttp2Preface.substr(0, std::min(in_.size(), kHttp2Preface.size()))) {
    if (in_.size() < kHttp2Preface.size()) {
      if (down_eof_) close_down(true);
      return;  // more of the preface to come
    }
    mode_ = Mode::kHttp2;
    h2_ = std::make_unique<Http2Front>(*this);
    return;
  }
  auto http1 = looks_like_http1(in_);
  if (!http1) {
    if (down_eof_) close_down(true);
    return;
  }
  if (*http1) {
    mode_ = Mode::kHttp1;
    return;
  }
  // Not HTTP (TLS, a database protocol...): a TCP tunnel by the VirtualService's tls or tcp
  // routes, where no L7 policy applies; with one in force it cannot be checked, so the
  // connection is refused.
  const auto& state = waypoint_state(*config_);
  if (state.authorizer->applies(downstream_)) {
    set_error("not HTTP, and L7 authorization applies to " + downstream_.service->uid() +
              ": refused");
    mode_ = Mode::kDiscard;
    return close_down(false);
  }
  // TLS: the ClientHello's server name picks among the VirtualService's tls routes.
  std::string sni;
  TlsSniff tls = sniff_server_name(in_, &sni);
  if (tls == TlsSniff::kNeedMore && !down_eof_) return;
  std::string route;
  auto cluster = state.routes->tcp_route(downstream_, sni, worker_.entropy(), &route);
  if (!cluster) {
    set_error("TCP route " + route + ": no such backend");
    return close_down(false);
  }
  const RouteTable::Endpoint* ep = listener_.load_balancer().pick(
      *state.routes, *cluster, HttpRequest{}, downstream_, worker_.entropy());
  if (ep == nullptr) {
    set_error("no endpoint for " + downstream_.service->uid());
    return close_down(false);
  }
  start_tunnel(*ep);
}

void HttpSession::start_tunnel(const RouteTable::Endpoint& ep) {
  mode_ = Mode::kTunnel;
  Http1Upstream* up = pool_.tunnel(*config_, ep, this);
  if (up == nullptr) {
    set_error("could not open an HBONE stream to " + ep.address.to_string());
    return close_down(false);
  }
  tunnel_ = up;
  record_.dst = ep.address;
  record_.dst_workload = ep.workload->uid();
}

void HttpSession::tunnel_step() {
  if (tunnel_ == nullptr) return;
  if (!in_.empty() && tunnel_->backlog() < kHighWater) {
    tunnel_->send(in_);
    eat(in_.size());
  }
  if (down_eof_ && in_.empty()) tunnel_->end();
  if (!tunnel_->in.empty() && stream_ != nullptr && connection_->backlog(stream_) < kHighWater) {
    size_t n = tunnel_->in.size();
    write_down(tunnel_->in);
    tunnel_->in.clear();
    tunnel_->consume(n);
  }
  if (tunnel_->eof && tunnel_->in.empty()) close_down(true);
  if (tunnel_->closed() && tunnel_->in.empty()) close_down(true);
}

void HttpSession::tunnel_failed(const std::string& why) {
  if (!why.empty()) set_error(why);
  tunnel_step();
  if (!why.empty()) close_down(false);
  maybe_finish();
}

void HttpSession::begin_exchange() {
  const RequestHead& head = parser_->request();
  exchange_ = std::make_unique<Exchange>();
  Exchange& ex = *exchange_;
  ex.config = worker_.config_snapshot();
  ex.request = head.request;
  ex.keep_alive = head.keep_alive;
  ex.head_request = head.request.method == "HEAD";
  ex.upgrade = head.upgrade;
  ex.request_framing = head.framing;
  ex.started = std::chrono::steady_clock::now();
  ex.request_done = parser_->state() == Http1Parser::State::kDone;
  RequestRecord& r = ex.record;
  r.method = head.request.method;
  r.authority = head.request.authority;
  r.path = head.request.path;
  r.protocol = head.version == 10 ? "HTTP/1.0" : "HTTP/1.1";
  r.src = record_.src;
  r.src_identity = downstream_.peer;
  r.service = downstream_.service ? downstream_.service->uid() : "";

  Dispatch d = dispatch(waypoint_state(*ex.config), listener_.load_balancer(), listener_.shard(),
                        ex.request, downstream_, worker_.entropy(), r);
  if (d.kind == Dispatch::Kind::kAnswer) return answer_locally(d.status, d.body, d.extra);
  forward(d);
}

void HttpSession::forward(const Dispatch& d) {
  Exchange& ex = *exchange_;
  ex.endpoint = d.endpoint;
  ex.response_edits = d.response_edits;
  if (!ex.upgrade.empty()) {
    // A protocol switch is not retried: one try, on a connection that may become a tunnel.
    auto got = pool_.acquire(*ex.config, *d.endpoint, false, this);
    if (got.request == nullptr) {
      ex.record.flags = got.full ? "UO" : "UF";
      ex.record.details = got.full ? "upstream_overflow" : "upstream_connect_failed";
      return answer_locally(503, failure_answer(ex.record.flags).body);
    }
    ex.record.attempts = 1;
    ex.upstream = got.request;
    ex.http1 = got.http1;
    ex.sent = std::chrono::steady_clock::now();
    return ex.upstream->send_head(ex.request, ex.request_framing, ex.request_done, ex.upgrade);
  }
  ex.attempts.emplace(Attempts::Context{worker_, pool_, listener_.load_balancer(), *ex.config,
                                        downstream_, false, listener_.shard()},
                      *this, d, ex.request, ex.record, ex.endpoint);
  if (d.mirror) mirror(*d.mirror);
  ex.sent = std::chrono::steady_clock::now();
  ex.upstream = &*ex.attempts;
  if (!ex.attempts->start(ex.request_framing, ex.request_done)) {
    ex.upstream = nullptr;
    ex.attempts.reset();
    FailureAnswer a = failure_answer(ex.record.flags);
    return answer_locally(a.status, a.body);
  }
}

void HttpSession::mirror(const RouteTable::Endpoint& ep) {
  Exchange& ex = *exchange_;
  if (!ex.upgrade.empty()) return;  // a protocol switch is the client's and one endpoint's
  ex.shadow = pool_.shadow(*ex.config, ep, false, ex.request, ex.request_framing, ex.request_done);
  if (ex.shadow != nullptr) ex.record.mirrored = ep.address;
  if (ex.request_done) ex.shadow = nullptr;  // nothing more to send it
}

void HttpSession::answer_locally(int status, std::string_view body,
                                 const std::vector<Header>& extra) {
  Exchange& ex = *exchange_;
  ex.record.status = status;
  // A body still on its way is read and dropped; a large or endless one would hold the
  // connection, so the answer closes it unless the request is complete.
  if (!ex.request_done) ex.close_after = true;
  ex.close_after = ex.close_after || !ex.keep_alive;
  std::string response = local_response(status, body, !ex.close_after, extra);
  if (ex.head_request) response.resize(response.size() - body.size());
  ex.record.bytes_sent = body.size();
  write_down(response);
  ex.response_started = ex.response_done = true;
  if (ex.close_after) {
    ex.request_done = true;
    end_exchange();
  }
}

void HttpSession::bad_request(const ParseError& error) {
  auto& state = waypoint_state(*config_);
  state.stats->parse_error(listener_.shard(), error.reason);
  SPDLOG_INFO("waypoint: refused a request from {}: {} ({})", record_.src.to_string(), error.reason,
              error.status);
  write_down(local_response(error.status, "", false));
  set_error("bad request: " + error.reason);
  mode_ = Mode::kDiscard;
  close_down(true);
}

void HttpSession::end_exchange() {
  std::unique_ptr<Exchange> ex = std::move(exchange_);
  auto now = std::chrono::steady_clock::now();
  ex->record.duration = now - ex->started;
  if (ex->endpoint) listener_.load_balancer().request_finished(*ex->endpoint);
  if (ex->shadow) ex->shadow->release(false);  // its body never came whole
  waypoint_state(*ex->config).stats->record(listener_.shard(), ex->record);
  if (ex->upstream != nullptr && mode_ != Mode::kTunnel) {
    // Good for the next request only after a complete exchange both ways.
    ex->upstream->release(ex->request_done && ex->response_done && ex->record.flags == "-");
  }
  if (mode_ == Mode::kTunnel) return;
  if (ex->close_after) {
    mode_ = Mode::kDiscard;
    close_down(true);
    return;
  }
  parser_->next();
  again_ = true;
}

void HttpSession::on_body(std::span<const uint8_t> data) {
  // Request body bytes, as parsed: re-framed on the way up.
  if (!exchange_ || exchange_->upstream == nullptr || data.empty()) return;
  exchange_->record.bytes_received += data.size();
  std::string_view b(reinterpret_cast<const char*>(data.data()), data.size());
  feed_shadow(exchange_->shadow, b);
  exchange_->upstream->send_body(b);
}

void HttpSession::response_head(ResponseHead& head) {
  Exchange& ex = *exchange_;
  if (head.status >= 100 && head.status < 200 && head.status != 101) {
    // 100 Continue and other interim answers go down as they are; the final one follows.
    write_down(serialize_response_head(head, {}, true));
    return;
  }
  ex.response_started = true;
  ex.record.status = head.status;
  ex.record.upstream_time = std::chrono::steady_clock::now() - ex.sent;
  ex.response_edits.apply_to(head.headers);
  if (head.status == 101 && ex.http1 != nullptr) {
    write_down(serialize_response_head(head, {}, true));
    ex.response_done = ex.request_done = true;
    mode_ = Mode::kTunnel;
    tunnel_ = ex.http1;
    tunnel_->make_tunnel(this);
    end_exchange();
    return tunnel_step();
  }
  Framing out = head.framing;
  bool bodyless = ex.head_request || head.status == 204 || head.status == 304;
  if (head.close_delimited && !bodyless) {
    // A body of unknown length: chunked to a keep-alive client, else ended by the close.
    if (ex.keep_alive) {
      out.chunked = true;
    } else {
      ex.close_after = true;
    }
  }
  ex.response_chunked = out.chunked && !bodyless;
  if (!ex.keep_alive) ex.close_after = true;
  write_down(serialize_response_head(head, out, !ex.close_after));
}

void HttpSession::response_body(std::span<const uint8_t> data) {
  Exchange& ex = *exchange_;
  ex.record.bytes_sent += data.size();
  write_body({reinterpret_cast<const char*>(data.data()), data.size()}, ex.response_chunked,
             [this](std::string_view x) { write_down(x); });
}

void HttpSession::response_end(const std::vector<Header>& trailers) {
  Exchange& ex = *exchange_;
  if (ex.response_chunked) write_down(last_chunk(trailers));
  ex.response_done = true;
  if (ex.request_done) {
    end_exchange();
    process();
  } else if (ex.close_after) {
    end_exchange();
  }
}

void HttpSession::response_failed(std::string_view flags, const std::string& why) {
  if (!exchange_) return;
  Exchange& ex = *exchange_;
  ex.record.flags = std::string(flags);
  ex.record.details = why;
  if (!ex.response_started) {
    FailureAnswer a = failure_answer(flags);
    answer_locally(a.status, a.body);
    return process();
  }
  close_down(false);
  ex.response_done = ex.request_done = true;
  end_exchange();
  maybe_finish();
}

void HttpSession::maybe_finish() {
  if (finishing_ || processing_) return;
  bool tunnel_done = tunnel_ == nullptr || tunnel_->closed();
  if (stream_ == nullptr && tunnel_done) {
    finishing_ = true;
    worker_.loop().defer(&finish_op_);
  }
}

void HttpSession::on_finish_later(int, uint32_t) {
  record_.bytes_received = bytes_in_;
  record_.bytes_sent = bytes_out_;
  finish();  // destroys this
}

}  // namespace ambit::waypoint
