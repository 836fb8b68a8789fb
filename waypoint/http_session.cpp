#include "waypoint/http_session.h"

#include <fmt/format.h>
#include <nghttp2/nghttp2.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "waypoint/listener.h"
#include "waypoint/waypoint_state.h"
#include "ztunnel/forwarded.h"

namespace ambit::waypoint {
namespace {

constexpr size_t kHighWater = ztunnel::HboneConnection::kStreamHighWater;

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

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

// --- Upstream ---------------------------------------------------------------------------------

Upstream::Upstream(HttpSession& session, SocketAddress address, std::string workload)
    : session_(session), address_(std::move(address)), workload_(std::move(workload)) {}

Upstream::~Upstream() { reset(); }

bool Upstream::open(ztunnel::Worker& worker, const ztunnel::EngineConfig& config,
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

void Upstream::send(std::string_view b) {
  if (stream_ != nullptr && !b.empty()) connection_->send(stream_, bytes(b));
}
void Upstream::end() {
  if (stream_ != nullptr) connection_->end_stream(stream_);
}
void Upstream::reset() {
  if (stream_ == nullptr) return;
  auto* s = stream_;
  stream_ = nullptr;
  connection_->reset_stream(s, NGHTTP2_CANCEL);
}
size_t Upstream::backlog() const { return stream_ ? connection_->backlog(stream_) : 0; }
void Upstream::consume(size_t n) {
  if (stream_ != nullptr) connection_->consume(stream_, n);
}

void Upstream::on_stream_response(int status) {
  answered_ = status == 200;
  session_.upstream_answered(*this, status);
}
void Upstream::on_stream_data(std::span<const uint8_t> data) {
  in.append(reinterpret_cast<const char*>(data.data()), data.size());
  session_.upstream_data(*this);
}
void Upstream::on_stream_end() {
  eof = true;
  session_.upstream_data(*this);
}
void Upstream::on_stream_closed(uint32_t error_code, const std::string& why) {
  stream_ = nullptr;
  reusable = false;
  session_.upstream_closed(*this, why.empty() && error_code != 0
                                      ? fmt::format("stream reset (HTTP/2 error {})", error_code)
                                      : why);
}
void Upstream::on_stream_writable() { session_.upstream_writable(*this); }
void Upstream::on_body(std::span<const uint8_t> data) { session_.upstream_body(*this, data); }

// --- HttpSession ------------------------------------------------------------------------------

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
      downstream_(std::move(downstream)) {
  listener_.session_started();
}

HttpSession::~HttpSession() {
  if (exchange_ && exchange_->endpoint)
    listener_.load_balancer().request_finished(*exchange_->endpoint);
  upstreams_.clear();
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
  for (auto& up : upstreams_) up->reset();
  maybe_finish();
}

void HttpSession::on_stream_data(std::span<const uint8_t> data) {
  in_.append(reinterpret_cast<const char*>(data.data()), data.size());
  bytes_in_ += data.size();
  process();
}

void HttpSession::on_stream_end() {
  down_eof_ = true;
  process();
}

void HttpSession::on_stream_closed(uint32_t error_code, const std::string& why) {
  stream_ = nullptr;
  if (error_code != 0) set_error(why.empty() ? "downstream stream reset" : why);
  if (exchange_ && !exchange_->response_done) {
    exchange_->record.flags = "DC";  // the client went away before its answer
    if (exchange_->upstream) exchange_->upstream->reset();
    exchange_->response_done = exchange_->request_done = true;
    end_exchange();
  }
  for (auto& up : upstreams_) up->reset();
  maybe_finish();
}

void HttpSession::on_stream_writable() {
  // The client took what was queued: read on from the upstream that was held back.
  if (tunnel_) return tunnel_step();
  if (exchange_ && exchange_->upstream) upstream_data(*exchange_->upstream);
}

void HttpSession::write_down(std::string_view b) {
  if (stream_ == nullptr || down_ended_ || b.empty()) return;
  bytes_out_ += b.size();
  connection_->send(stream_, bytes(b));
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
      case Mode::kHttp1:
        break;
    }
    if (!exchange_) {
      if (in_.empty() && !down_eof_) return;
      size_t n = parser_->feed(bytes(in_), *this);
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
        if (ex.upstream && ex.upstream->backlog() >= kHighWater) return;  // upstream_writable
        size_t n = parser_->feed(bytes(in_), *this);
        eat(n);
      }
      switch (parser_->state()) {
        case Http1Parser::State::kDone:
          ex.request_done = true;
          if (ex.upstream && ex.request_framing.chunked) ex.upstream->send(kLastChunk);
          break;
        case Http1Parser::State::kError:
          // A body that breaks its own framing: nothing more of this connection can be trusted.
          if (ex.upstream) ex.upstream->reset();
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
            if (ex.upstream) ex.upstream->reset();
            ex.response_done = ex.request_done = true;
            ex.close_after = true;
            end_exchange();
          }
          return;
      }
    }
    if (!ex.response_done) return;  // upstream_data finishes it
    end_exchange();
  }
}

void HttpSession::sniff() {
  auto http1 = looks_like_http1(in_);
  if (!http1) {
    if (down_eof_) close_down(true);
    return;
  }
  if (*http1) {
    mode_ = Mode::kHttp1;
    return;
  }
  // Not HTTP/1 (h2 preface, TLS, a database protocol...): a TCP tunnel, where no L7 policy
  // applies; with one in force it cannot be checked, so the connection is refused.
  const auto& state = waypoint_state(*config_);
  if (state.authorizer->applies(downstream_)) {
    set_error("not HTTP/1.1, and L7 authorization applies to " + downstream_.service->uid() +
              ": refused");
    mode_ = Mode::kDiscard;
    return close_down(false);
  }
  std::string route;
  auto cluster = state.routes->tcp_route(downstream_, worker_.entropy(), &route);
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
  Upstream* up = upstream_for(*config_, ep);
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

Upstream* HttpSession::upstream_for(const ztunnel::EngineConfig& config,
                                    const RouteTable::Endpoint& ep) {
  for (auto& up : upstreams_) {
    if (up->reusable && !up->closed() && up->address() == ep.address) {
      up->reusable = false;
      return up.get();
    }
  }
  std::erase_if(upstreams_, [](const auto& up) { return up->closed() && !up->reusable; });
  auto up = std::make_unique<Upstream>(*this, ep.address, ep.workload->uid());
  const auto& state = waypoint_state(config);
  std::string forwarded = ztunnel::format_forwarded(
      SocketAddress(downstream_.source_ip, 0),
      downstream_.service ? downstream_.service->hostname() : std::string());
  if (!up->open(worker_, config, *ep.workload, state.workload_uid, forwarded)) return nullptr;
  upstreams_.push_back(std::move(up));
  return upstreams_.back().get();
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

  const auto& state = waypoint_state(*ex.config);
  L7Decision decision = state.authorizer->check(ex.request, downstream_);
  if (!decision.allowed) {
    return answer_locally(403, "RBAC: access denied", "-",
                          "rbac_access_denied: " + decision.reason);
  }
  RouteResult route = state.routes->route(ex.request, downstream_, worker_.entropy());
  r.route = route.route;
  switch (route.kind) {
    case RouteResult::Kind::kForward:
      return forward(route);
    case RouteResult::Kind::kRedirect:
      return answer_locally(route.status, "", "-", "redirect", {{"location", route.location}});
    case RouteResult::Kind::kDirectResponse:
      return answer_locally(route.status, route.body, "-", "direct_response");
    case RouteResult::Kind::kNoRoute:
      return answer_locally(404, "", "NR", "route_not_found");
    case RouteResult::Kind::kNoCluster:
      return answer_locally(503, "", "NC", "cluster_not_found");
  }
}

void HttpSession::forward(const RouteResult& route) {
  Exchange& ex = *exchange_;
  const auto& state = waypoint_state(*ex.config);
  const RouteTable::Endpoint* ep = listener_.load_balancer().pick(
      *state.routes, route.cluster, ex.request, downstream_, worker_.entropy());
  if (ep == nullptr) return answer_locally(503, "no healthy upstream", "UH", "no_healthy_upstream");
  Upstream* up = upstream_for(*ex.config, *ep);
  if (up == nullptr) {
    return answer_locally(503,
                          "upstream connect error or disconnect/reset before headers. reset "
                          "reason: connection failure",
                          "UF", "upstream_connect_failed");
  }
  ex.upstream = up;
  ex.endpoint = ep;
  listener_.load_balancer().request_started(*ep);
  ex.record.upstream = ep->address;
  ex.record.upstream_workload = ep->workload->uid();
  ex.response_edits = route.response_headers;
  if (route.mirror) mirror(*route.mirror);
  up->parser->next();
  up->parser->expect_no_body(ex.head_request);
  ex.sent = std::chrono::steady_clock::now();
  up->send(serialize_request_head(ex.request, ex.request_framing, true, ex.upgrade));
  if (ex.request_done && ex.request_framing.chunked) up->send(kLastChunk);
  // Any response bytes the endpoint already sent (none on a fresh stream) are read now.
  if (!up->in.empty() || up->eof) upstream_data(*up);
}

void HttpSession::mirror(const Cluster& cluster) {
  Exchange& ex = *exchange_;
  // Only a request without a body is copied: one with a body would have to be held or teed
  // to a second endpoint at the pace of the slower one (docs/waypoint.md).
  if (ex.request_framing.has_body() || !ex.request_done || !ex.upgrade.empty()) return;
  const auto& state = waypoint_state(*ex.config);
  const RouteTable::Endpoint* ep = listener_.load_balancer().pick(
      *state.routes, cluster, ex.request, downstream_, worker_.entropy());
  if (ep == nullptr) return;
  Upstream* up = upstream_for(*ex.config, *ep);
  if (up == nullptr || up == ex.upstream) return;
  // Envoy's shadow: the same request, "-shadow" after the host. Its answer is read by
  // upstream_data as an idle connection's and dropped with the stream.
  HttpRequest copy = ex.request;
  copy.authority += "-shadow";
  up->send(serialize_request_head(copy, ex.request_framing, true, ""));
  ex.record.mirrored = ep->address;
}

void HttpSession::answer_locally(int status, std::string body, std::string flags,
                                 std::string details, std::vector<Header> extra) {
  Exchange& ex = *exchange_;
  ex.record.status = status;
  ex.record.flags = std::move(flags);
  ex.record.details = std::move(details);
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
  waypoint_state(*ex->config).stats->record(listener_.shard(), ex->record);
  if (Upstream* up = ex->upstream; up != nullptr && mode_ != Mode::kTunnel) {
    // Good for the next request only after a complete exchange both ways.
    up->reusable = !up->closed() && !up->eof && ex->request_done && ex->response_done &&
                   up->parser->state() == Http1Parser::State::kDone &&
                   up->parser->response().keep_alive && up->in.empty() && ex->record.flags == "-";
    if (!up->reusable) up->reset();
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
  Exchange& ex = *exchange_;
  ex.record.bytes_received += data.size();
  std::string_view b(reinterpret_cast<const char*>(data.data()), data.size());
  if (ex.request_framing.chunked) {
    ex.upstream->send(chunk_header(b.size()));
    ex.upstream->send(b);
    ex.upstream->send(kChunkEnd);
  } else {
    ex.upstream->send(b);
  }
}

void HttpSession::upstream_answered(Upstream& up, int status) {
  if (status == 200) return;
  upstream_closed(
      up, fmt::format("HBONE CONNECT to {} refused with {}", up.address().to_string(), status));
}

void HttpSession::upstream_writable(Upstream& up) {
  if (tunnel_ == &up) return tunnel_step();
  process();
}

void HttpSession::upstream_body(Upstream& up, std::span<const uint8_t> data) {
  if (!exchange_ || exchange_->upstream != &up || data.empty()) return;
  Exchange& ex = *exchange_;
  ex.record.bytes_sent += data.size();
  std::string_view b(reinterpret_cast<const char*>(data.data()), data.size());
  if (ex.response_chunked) {
    write_down(chunk_header(b.size()));
    write_down(b);
    write_down(kChunkEnd);
  } else {
    write_down(b);
  }
}

void HttpSession::response_head(Upstream& up) {
  Exchange& ex = *exchange_;
  ResponseHead head = up.parser->response();
  if (head.status >= 100 && head.status < 200 && head.status != 101) {
    // 100 Continue and other interim answers go down as they are; the final one follows.
    write_down(serialize_response_head(head, {}, true));
    up.parser->next();
    up.parser->expect_no_body(ex.head_request);
    return;
  }
  ex.response_started = true;
  ex.record.status = head.status;
  ex.record.upstream_time = std::chrono::steady_clock::now() - ex.sent;
  ex.response_edits.apply_to(head.headers);
  if (head.status == 101) {
    write_down(serialize_response_head(head, {}, true));
    ex.response_done = ex.request_done = true;
    mode_ = Mode::kTunnel;
    tunnel_ = &up;
    end_exchange();
    return tunnel_step();
  }
  Framing out = head.framing;
  bool bodyless = ex.head_request || head.status == 204 || head.status == 304;
  if (head.close_delimited && !bodyless) {
    // A body that ends with its connection: chunked to a keep-alive client, else the same.
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

void HttpSession::upstream_data(Upstream& up) {
  if (tunnel_ == &up) return tunnel_step();
  if (!exchange_ || exchange_->upstream != &up) {
    // An idle connection that speaks or ends: it can't be reused.
    up.reusable = false;
    if (!up.in.empty() || up.eof) up.reset();
    return;
  }
  Http1Parser& p = *up.parser;
  while (exchange_ && exchange_->upstream == &up) {
    Exchange& ex = *exchange_;
    auto state = p.state();
    if (state == Http1Parser::State::kBody && stream_ != nullptr &&
        connection_->backlog(stream_) >= kHighWater) {
      return;  // on_stream_writable
    }
    if (state == Http1Parser::State::kHead || state == Http1Parser::State::kBody) {
      size_t n = p.feed(bytes(up.in), up);
      if (n > 0) {
        up.in.erase(0, n);
        up.consume(n);
      }
      if (p.state() == state && n == 0) {
        if (!up.eof) return;
        p.finish();  // the endpoint ended: a close-delimited body is complete, else an error
        if (p.state() == state) return;
      }
      if (p.state() == Http1Parser::State::kHead) continue;
      if (p.state() != Http1Parser::State::kError && state == Http1Parser::State::kHead) {
        response_head(up);
        if (mode_ == Mode::kTunnel) return;
        continue;
      }
      continue;
    }
    if (state == Http1Parser::State::kError) {
      if (!ex.response_started) {
        up.reset();
        ex.upstream = nullptr;
        return answer_locally(502, "upstream sent a response the waypoint cannot read", "UPE",
                              "upstream_protocol_error: " + p.error().reason);
      }
      ex.record.flags = "UPE";
      close_down(false);
      ex.response_done = ex.request_done = true;
      end_exchange();
      return;
    }
    // kDone: the response is complete.
    if (ex.response_chunked) write_down(kLastChunk);
    ex.response_done = true;
    if (ex.request_done) {
      end_exchange();
      process();
    } else if (ex.close_after) {
      end_exchange();
    }
    return;
  }
}

void HttpSession::upstream_closed(Upstream& up, const std::string& why) {
  if (tunnel_ == &up) {
    if (!why.empty()) set_error(why);
    tunnel_step();
    if (!why.empty()) close_down(false);
    return maybe_finish();
  }
  if (!exchange_ || exchange_->upstream != &up) return;
  Exchange& ex = *exchange_;
  // What the endpoint sent before it went is still parsed (a close-delimited body ends here).
  up.eof = true;
  upstream_data(up);
  if (!exchange_ || exchange_->upstream != &up) return;
  if (!ex.response_started) {
    ex.upstream = nullptr;
    bool connected = up.answered();
    return answer_locally(
        503,
        fmt::format("upstream connect error or disconnect/reset before headers. reset reason: {}",
                    connected ? "connection termination" : "connection failure"),
        connected ? "UC" : "UF", why);
  }
  ex.record.flags = "UC";
  ex.record.details = why;
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
