// The waypoint's side towards endpoints. An exchange (one request and its response, from an
// HTTP/1.1 or an HTTP/2 client) drives an UpstreamRequest and hears back through its
// ResponseSink, whatever the endpoint speaks: HTTP/1.1 on a connection of its own
// (Http1Upstream), or one stream of an HTTP/2 connection (Http2Upstream). Both ride an HBONE
// CONNECT stream from the waypoint's identity to the endpoint's node (HboneUpstream).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/net_address.h"
#include "waypoint/cluster_load.h"
#include "waypoint/http1_codec.h"
#include "waypoint/origination_tls.h"
#include "ztunnel/hbone_connection.h"
#include "ztunnel/worker.h"

namespace ambit::waypoint {

// A string's bytes, as the HBONE stream and the parsers take them.
inline std::span<const uint8_t> byte_view(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// What the upstream tells the exchange about the response. Any of these may end the exchange;
// the upstream touches nothing of it after the call.
class ResponseSink {
 public:
  // A response head: an interim one (1xx; another follows) or the final one. From HTTP/2 the
  // framing says the content-length if one came, else the body is close_delimited (of unknown
  // length: it ends with response_end).
  virtual void response_head(ResponseHead& head) = 0;
  virtual void response_body(std::span<const uint8_t> data) = 0;
  virtual void response_end(const std::vector<Header>& trailers) = 0;
  // The request failed upstream: `flags` is UF (the endpoint was never reached), UC (the
  // connection or stream went) or UPE (a response the waypoint cannot read).
  virtual void response_failed(std::string_view flags, const std::string& why) = 0;
  // False while the client cannot take more: the body waits until resume_response().
  virtual bool response_room() const = 0;
  // What was queued upstream went out: more of the request body may follow.
  virtual void request_writable() = 0;

 protected:
  ~ResponseSink() = default;
};

// One request in flight to an endpoint.
class UpstreamRequest {
 public:
  // `framing`: how the body that follows is delimited (an HTTP/1.1 endpoint gets it as
  // written); `end_stream`: nothing follows.
  virtual void send_head(const HttpRequest& request, const Framing& framing, bool end_stream,
                         std::string_view upgrade) = 0;
  virtual void send_body(std::string_view data) = 0;
  virtual void send_end(const std::vector<Header>& trailers) = 0;
  virtual size_t backlog() const = 0;
  virtual void resume_response() = 0;
  // The exchange is done with it, and hears nothing more. `complete`: both messages went
  // whole, so the connection may serve another request; otherwise the request is cancelled.
  virtual void release(bool complete) = 0;

 protected:
  ~UpstreamRequest() = default;
};

class DirectLink;

// An HBONE CONNECT stream to an endpoint, from the waypoint's workload; or, to an endpoint
// outside the mesh (a ServiceEntry's), a plain TCP connection carrying the same bytes.
class HboneUpstream : public ztunnel::StreamSink {
 public:
  using Clock = std::chrono::steady_clock;
  HboneUpstream(SocketAddress address, std::string workload)
      : address_(std::move(address)), workload_(std::move(workload)) {}
  virtual ~HboneUpstream() { reset(); }
  // Holds one of `load`'s connections (the caller counted it) while its stream is open, and is
  // kept by `policy`.
  void count_in(std::shared_ptr<ClusterLoad> load, const ConnectionPolicy& policy);
  // Opens the CONNECT to the endpoint's node; false when no HBONE connection can be had.
  // `forwarded` is the Forwarded header naming the original client.
  bool open(ztunnel::Worker& worker, const ztunnel::EngineConfig& config,
            const ztunnel::Workload& endpoint, const std::string& source_workload,
            const std::string& forwarded);
  // Connects straight to address(), outside HBONE, in TLS when `tls` says so (origination);
  // false when no socket could be had. It is answered() once connected (and the handshake
  // done); a failure to connect or to agree on TLS is on_failed().
  bool open_direct(ztunnel::Worker& worker, std::chrono::milliseconds connect_timeout,
                   std::shared_ptr<const OriginationTls> tls);
  void send(std::string_view bytes);
  void end();
  void reset();
  size_t backlog() const;
  void consume(size_t n);

  const SocketAddress& address() const { return address_; }
  const std::string& workload() const { return workload_; }
  bool closed() const { return stream_ == nullptr && link_ == nullptr; }
  // The endpoint's node accepted the CONNECT (failures after that are UC, before it UF).
  bool answered() const { return answered_; }
  const ConnectionPolicy& policy() const { return policy_; }
  // Counts a request it takes; spent() once it has served maxRequestsPerConnection.
  void serve_one() { ++served_; }
  bool spent() const {
    return policy_.max_requests_per_connection != 0 &&
           served_ >= policy_.max_requests_per_connection;
  }
  // Requests wait for a connection to its cluster: an idle one should go rather than stay.
  bool wanted_elsewhere() const { return load_ != nullptr && load_->pending.load() > 0; }
  // Since when it has served nothing (valid while idle).
  Clock::time_point idle_since() const { return idle_since_; }

 protected:
  // The CONNECT was refused, or the stream went: `why` for the log.
  virtual void on_failed(const std::string& why) = 0;
  void mark_idle() { idle_since_ = Clock::now(); }

 private:
  friend class DirectLink;
  void let_go();  // the stream is gone: out of its cluster's connections
  void link_failed(const std::string& why);  // the direct connection went
  void on_stream_response(int status) override;
  void on_stream_closed(uint32_t error_code, const std::string& why) override;

  SocketAddress address_;
  std::string workload_;
  ztunnel::HboneConnection* connection_ = nullptr;
  ztunnel::HboneConnection::Stream* stream_ = nullptr;
  DirectLink* link_ = nullptr;  // instead of stream_; it outlives this until its socket goes
  bool answered_ = false;
  std::shared_ptr<ClusterLoad> load_;  // counted in its connections while the stream is open
  ConnectionPolicy policy_;
  uint32_t served_ = 0;
  Clock::time_point idle_since_ = Clock::now();
};

// More of a shadow copy's body: dropped (and the copy cancelled) when the shadow endpoint is
// slower than the primary, which never waits for it.
inline void feed_shadow(UpstreamRequest*& shadow, std::string_view bytes) {
  if (shadow == nullptr) return;
  if (shadow->backlog() >= ztunnel::HboneConnection::kStreamHighWater) {
    std::exchange(shadow, nullptr)->release(false);
    return;
  }
  shadow->send_body(bytes);
}
// The copy's body is complete (trailers go too); the shadow is on its own from here.
inline void end_shadow(UpstreamRequest*& shadow, const std::vector<Header>& trailers) {
  if (shadow != nullptr) std::exchange(shadow, nullptr)->send_end(trailers);
}

// Envoy's reset text for a request that failed before its response head.
std::string upstream_reset_body(bool connected);

// The waypoint's own answer for a request that failed upstream before its response head, by
// the failure's flags ("UF", "DI,UT,URX"...): UPE 502, UT 504 "upstream request timeout", UF,
// UC and UO (a circuit breaker's overflow) 503 with Envoy's reset text.
struct FailureAnswer {
  int status;
  std::string body;
};
FailureAnswer failure_answer(std::string_view flags);

}  // namespace ambit::waypoint
