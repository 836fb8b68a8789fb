// One client connection through the waypoint: the bytes of one HBONE CONNECT stream. Its first
// bytes decide what it is:
//   - an HTTP/1 request line: HTTP/1.1 requests read one at a time (pipelined ones wait in the
//     buffer until the response before them is complete, so responses can never be reordered);
//     after a 101 (WebSocket) both sides become a byte tunnel;
//   - the HTTP/2 preface (h2c with prior knowledge, as gRPC and `curl --http2-prior-knowledge`
//     send it): an Http2Front serves its streams;
//   - anything else: a TCP tunnel to an endpoint of the Service, unless L7 policy applies to it
//     (then it is refused: it cannot be checked).
// Each request is checked by L7 policy, routed, and sent to the endpoint the load balancer
// picks (dispatch.h), over the session's UpstreamPool.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "waypoint/attempts.h"
#include "waypoint/dispatch.h"
#include "waypoint/http1_codec.h"
#include "waypoint/http_request.h"
#include "waypoint/request_stats.h"
#include "waypoint/route_table.h"
#include "waypoint/upstream_pool.h"
#include "ztunnel/hbone_connection.h"
#include "ztunnel/relay.h"
#include "ztunnel/worker.h"

namespace ambit::waypoint {

class WaypointListener;
class Http2Front;

class HttpSession final : public ztunnel::Relay,
                          public ztunnel::StreamSink,
                          public Http1Parser::BodySink,
                          public ResponseSink,
                          public TunnelOwner {
 public:
  HttpSession(ztunnel::Worker& worker, WaypointListener& listener,
              std::shared_ptr<const ztunnel::EngineConfig> config,
              ztunnel::HboneConnection* connection, ztunnel::HboneConnection::Stream* stream,
              Downstream downstream, ztunnel::ConnectionRecord record);
  ~HttpSession() override;
  void start();
  void abort(const std::string& why) override;
  uint64_t activity() const override { return bytes_in_ + bytes_out_; }

  // For the HTTP/2 front.
  ztunnel::Worker& worker() { return worker_; }
  WaypointListener& listener() { return listener_; }
  const Downstream& downstream() const { return downstream_; }
  const SocketAddress& client_address() const { return record_.src; }
  UpstreamPool& pool() { return pool_; }
  void write_down(std::string_view bytes);
  bool down_room() const;  // the client's stream can take more now
  void close_down(bool graceful);
  void note_error(std::string why) { set_error(std::move(why)); }

 private:
  enum class Mode { kSniff, kHttp1, kHttp2, kTunnel, kDiscard };
  struct Exchange {
    std::shared_ptr<const ztunnel::EngineConfig> config;  // the view this request was routed by
    HttpRequest request;
    bool keep_alive = true;
    bool head_request = false;
    std::string upgrade;
    Framing request_framing;
    UpstreamRequest* upstream = nullptr;  // attempts, or the one try of a protocol switch
    std::optional<Attempts> attempts;     // in place: no allocation per request
    Http1Upstream* http1 = nullptr;  // the protocol switch's upstream
    UpstreamRequest* shadow = nullptr;  // the mirror's copy, while its body is on its way
    const RouteTable::Endpoint* endpoint = nullptr;
    HeaderEdits response_edits;
    RequestRecord record;
    std::chrono::steady_clock::time_point started, sent;
    bool request_done = false;
    bool response_started = false;
    bool response_done = false;
    bool response_chunked = false;  // the response goes down chunked
    bool close_after = false;
  };

  // StreamSink (the downstream stream)
  void on_stream_data(std::span<const uint8_t> data) override;
  void on_stream_end() override;
  void on_stream_closed(uint32_t error_code, const std::string& why) override;
  void on_stream_writable() override;
  // BodySink: request body bytes
  void on_body(std::span<const uint8_t> data) override;
  // ResponseSink: the current exchange's upstream
  void response_head(ResponseHead& head) override;
  void response_body(std::span<const uint8_t> data) override;
  void response_end(const std::vector<Header>& trailers) override;
  void response_failed(std::string_view flags, const std::string& why) override;
  bool response_room() const override { return down_room(); }
  void request_writable() override { process(); }
  // TunnelOwner
  void tunnel_activity() override { tunnel_step(); }
  void tunnel_failed(const std::string& why) override;

  void process();
  void step();
  void sniff();
  void begin_exchange();
  void end_exchange();
  void forward(const Dispatch& d);
  void mirror(const RouteTable::Endpoint& endpoint);  // a shadow copy, its answer dropped
  void answer_locally(int status, std::string_view body, const std::vector<Header>& extra = {});
  void bad_request(const ParseError& error);
  void start_tunnel(const RouteTable::Endpoint& endpoint);
  void tunnel_step();
  void eat(size_t n);
  void maybe_finish();
  void on_finish_later(int res, uint32_t flags);

  ztunnel::Worker& worker_;
  WaypointListener& listener_;
  std::shared_ptr<const ztunnel::EngineConfig> config_;
  ztunnel::HboneConnection* connection_;
  ztunnel::HboneConnection::Stream* stream_;
  Downstream downstream_;
  UpstreamPool pool_;
  Mode mode_ = Mode::kSniff;
  std::string in_;  // downstream bytes not used yet
  std::unique_ptr<Http1Parser> parser_ = Http1Parser::for_requests();
  std::unique_ptr<Exchange> exchange_;
  std::unique_ptr<Http2Front> h2_;
  Http1Upstream* tunnel_ = nullptr;
  uint64_t bytes_in_ = 0, bytes_out_ = 0;
  bool down_eof_ = false;
  bool down_ended_ = false;  // we ended our side
  bool processing_ = false;
  bool again_ = false;
  bool finishing_ = false;
  MemberCompletion<HttpSession, &HttpSession::on_finish_later> finish_op_{this};
};

}  // namespace ambit::waypoint
