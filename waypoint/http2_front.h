// The HTTP/2 side of a client session: a client that opened its HBONE stream with the h2c
// preface (gRPC, `curl --http2-prior-knowledge`, h2load). Each stream is one exchange, checked,
// routed and forwarded as an HTTP/1.1 request is (dispatch.h), to an endpoint speaking HTTP/2
// (its stream multiplexed on the session's connection to it) or HTTP/1.1 (a connection of its
// own while the request lasts). Trailers and grpc-timeout pass through; the waypoint's own
// answers to a gRPC request are gRPC answers (HTTP 200, grpc-status from the HTTP status as
// Envoy maps it), so a gRPC client sees PERMISSION_DENIED rather than a protocol error.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "waypoint/dispatch.h"
#include "waypoint/http2_codec.h"
#include "waypoint/upstream.h"

namespace ambit::waypoint {

class HttpSession;

class Http2Front final : public Http2Codec::Handler {
 public:
  explicit Http2Front(HttpSession& session);
  ~Http2Front();

  // Bytes from the client (all of them are taken).
  void feed(std::string_view bytes);
  // The client ended its side: the session ends once the open streams are answered.
  void peer_ended();
  // The client's stream has room again.
  void writable();
  // The client's stream is gone: every exchange ends (DC).
  void downstream_gone();

  // Envoy's gRPC status for an HTTP status the waypoint answers with.
  static int grpc_status_for(int http_status);

 private:
  class Exchange;
  friend class Exchange;

  // Http2Codec::Handler
  void on_request(int32_t id, HttpRequest request, bool end_stream) override;
  void on_response(int32_t, int, std::vector<Header>, bool) override {}
  void on_trailers(int32_t id, std::vector<Header> trailers) override;
  void on_data(int32_t id, std::span<const uint8_t> data) override;
  void on_end(int32_t id) override;
  void on_closed(int32_t id, uint32_t error_code) override;
  void on_drained(int32_t id) override;
  void on_malformed(int32_t id, std::string_view reason) override;

  Exchange* find(int32_t id);
  void finish(Exchange& ex);  // records it and lets it go
  void flush();
  void maybe_close();

  HttpSession& session_;
  Http2Codec codec_;
  std::unordered_map<int32_t, std::unique_ptr<Exchange>> exchanges_;
  std::vector<std::unique_ptr<Exchange>> finished_;  // finished, freed at the next client event
  bool peer_ended_ = false;
  bool failed_ = false;
};

}  // namespace ambit::waypoint
