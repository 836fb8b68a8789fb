// One client connection through the waypoint: the bytes of one HBONE CONNECT stream, read as
// HTTP/1.1 requests one at a time (pipelined requests wait in the buffer until the response
// before them is complete, so responses can never be reordered). Each request is checked by L7
// policy, routed, and sent to the endpoint the load balancer picks, over an HTTP/1.1 connection
// carried in an HBONE stream from the waypoint's identity to the endpoint's node; those upstream
// connections are kept open and reused by the session's later requests to the same endpoint.
// After a 101 (WebSocket, h2c upgrade) both sides become a byte tunnel. A first byte that is not
// an HTTP/1 request line makes the whole connection a TCP tunnel to an endpoint of the Service,
// unless L7 policy applies to it (then it is refused: it cannot be checked).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "waypoint/http1_codec.h"
#include "waypoint/http_request.h"
#include "waypoint/request_stats.h"
#include "waypoint/route_table.h"
#include "ztunnel/hbone_connection.h"
#include "ztunnel/relay.h"
#include "ztunnel/worker.h"

namespace ambit::waypoint {

class WaypointListener;
class HttpSession;

// One HTTP/1.1 connection to an endpoint, in an HBONE stream.
class Upstream final : public ztunnel::StreamSink, public Http1Parser::BodySink {
 public:
  Upstream(HttpSession& session, SocketAddress address, std::string workload);
  ~Upstream();
  // Opens the CONNECT to the endpoint's node; false when no HBONE connection can be had.
  bool open(ztunnel::Worker& worker, const ztunnel::EngineConfig& config,
            const ztunnel::Workload& endpoint, const std::string& source_workload,
            const std::string& forwarded);
  void send(std::string_view bytes);
  void end();
  void reset();
  size_t backlog() const;
  void consume(size_t n);

  const SocketAddress& address() const { return address_; }
  const std::string& workload() const { return workload_; }
  bool closed() const { return stream_ == nullptr; }
  bool answered() const { return answered_; }

  std::string in;  // response bytes not parsed yet
  std::unique_ptr<Http1Parser> parser = Http1Parser::for_responses();
  bool eof = false;       // the endpoint ended its side
  bool reusable = false;  // idle, and good for another request

 private:
  void on_stream_response(int status) override;
  void on_stream_data(std::span<const uint8_t> data) override;
  void on_stream_end() override;
  void on_stream_closed(uint32_t error_code, const std::string& why) override;
  void on_stream_writable() override;
  void on_body(std::span<const uint8_t> data) override;

  HttpSession& session_;
  SocketAddress address_;
  std::string workload_;
  ztunnel::HboneConnection* connection_ = nullptr;
  ztunnel::HboneConnection::Stream* stream_ = nullptr;
  bool answered_ = false;
};

class HttpSession final : public ztunnel::Relay,
                          public ztunnel::StreamSink,
                          public Http1Parser::BodySink {
 public:
  HttpSession(ztunnel::Worker& worker, WaypointListener& listener,
              std::shared_ptr<const ztunnel::EngineConfig> config,
              ztunnel::HboneConnection* connection, ztunnel::HboneConnection::Stream* stream,
              Downstream downstream, ztunnel::ConnectionRecord record);
  ~HttpSession() override;
  void start();
  void abort(const std::string& why) override;
  uint64_t activity() const override { return bytes_in_ + bytes_out_; }

  // From the session's upstreams.
  void upstream_answered(Upstream& up, int status);
  void upstream_data(Upstream& up);
  void upstream_closed(Upstream& up, const std::string& why);
  void upstream_writable(Upstream& up);
  void upstream_body(Upstream& up, std::span<const uint8_t> data);

 private:
  enum class Mode { kSniff, kHttp1, kTunnel, kDiscard };
  struct Exchange {
    std::shared_ptr<const ztunnel::EngineConfig> config;  // the view this request was routed by
    HttpRequest request;
    bool keep_alive = true;
    bool head_request = false;
    std::string upgrade;
    Framing request_framing;
    Upstream* upstream = nullptr;
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

  void process();
  void step();
  void sniff();
  void begin_exchange();
  void end_exchange();
  void forward(const RouteResult& route);
  void mirror(const Cluster& cluster);  // the route's shadow copy, fire and forget
  void answer_locally(int status, std::string body, std::string flags, std::string details,
                      std::vector<Header> extra = {});
  void bad_request(const ParseError& error);
  void response_head(Upstream& up);
  void start_tunnel(const RouteTable::Endpoint& endpoint);
  void tunnel_step();
  void write_down(std::string_view bytes);
  void eat(size_t n);
  Upstream* upstream_for(const ztunnel::EngineConfig& config, const RouteTable::Endpoint& ep);
  void close_down(bool graceful);
  void maybe_finish();
  void on_finish_later(int res, uint32_t flags);

  ztunnel::Worker& worker_;
  WaypointListener& listener_;
  std::shared_ptr<const ztunnel::EngineConfig> config_;
  ztunnel::HboneConnection* connection_;
  ztunnel::HboneConnection::Stream* stream_;
  Downstream downstream_;
  Mode mode_ = Mode::kSniff;
  std::string in_;  // downstream bytes not used yet
  std::unique_ptr<Http1Parser> parser_ = Http1Parser::for_requests();
  std::unique_ptr<Exchange> exchange_;
  std::vector<std::unique_ptr<Upstream>> upstreams_;
  Upstream* tunnel_ = nullptr;
  uint64_t bytes_in_ = 0, bytes_out_ = 0;
  bool down_eof_ = false;
  bool down_ended_ = false;  // we ended our side
  bool processing_ = false;
  bool again_ = false;
  bool finishing_ = false;
  MemberCompletion<HttpSession, &HttpSession::on_finish_later> finish_op_{this};
};

}  // namespace ambit::waypoint
