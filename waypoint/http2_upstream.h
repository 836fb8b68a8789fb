// One HTTP/2 (h2c) connection to an endpoint, in an HBONE stream: many requests at once, one
// HTTP/2 stream each. For ports Istio would speak HTTP/2 to (HTTP2, GRPC, h2UpgradePolicy
// UPGRADE, or what an HTTP/2 client spoke): gRPC's trailers and grpc-timeout pass through.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "waypoint/http2_codec.h"
#include "waypoint/upstream.h"

namespace ambit::waypoint {

class Http2Upstream final : public HboneUpstream, public Http2Codec::Handler {
 public:
  Http2Upstream(SocketAddress address, std::string workload);
  ~Http2Upstream() override;

  // A new request on this connection for `sink` (null: a shadow copy whose answer is dropped);
  // null when the connection is full or failed.
  UpstreamRequest* open_request(ResponseSink* sink);
  bool usable() const;
  bool idle() const { return requests_.empty(); }

 private:
  class Request;
  friend class Request;

  // HboneUpstream
  void on_stream_data(std::span<const uint8_t> data) override;
  void on_stream_end() override;
  void on_stream_writable() override;
  void on_failed(const std::string& why) override;
  // Http2Codec::Handler
  void on_request(int32_t, HttpRequest, bool) override {}
  void on_response(int32_t id, int status, std::vector<Header> headers, bool end_stream) override;
  void on_trailers(int32_t id, std::vector<Header> trailers) override;
  void on_data(int32_t id, std::span<const uint8_t> data) override;
  void on_end(int32_t id) override;
  void on_closed(int32_t id, uint32_t error_code) override;
  void on_drained(int32_t id) override;
  void on_malformed(int32_t id, std::string_view reason) override;

  Request* find(int32_t id);
  bool holds(const Request* r) const;
  void flush();
  void fail_all(std::string_view flags, const std::string& why);
  void forget(Request* r);  // closed and released: gone

  Http2Codec codec_;
  std::vector<std::unique_ptr<Request>> requests_;  // until closed and released
  std::map<int32_t, Request*> by_id_;               // those with a stream
  bool failed_ = false;
};

}  // namespace ambit::waypoint
