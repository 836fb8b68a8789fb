// One HTTP/1.1 connection to an endpoint, in an HBONE stream: one request at a time, kept open
// and reused for the next when an exchange went whole both ways. After a 101, or when opened for
// a TCP route, it carries raw bytes for a TunnelOwner instead.
#pragma once

#include <memory>
#include <string>

#include "waypoint/upstream.h"

namespace ambit::waypoint {

class TunnelOwner {
 public:
  // Bytes arrived (in `in`), the endpoint ended (eof), or room opened upstream.
  virtual void tunnel_activity() = 0;
  virtual void tunnel_failed(const std::string& why) = 0;

 protected:
  ~TunnelOwner() = default;
};

class Http1Upstream final : public HboneUpstream,
                            public UpstreamRequest,
                            public Http1Parser::BodySink {
 public:
  using HboneUpstream::HboneUpstream;

  // Serves `sink`'s request next (the connection must be idle).
  void bind(ResponseSink* sink);
  // Carries raw bytes for `owner` from now on (a TCP route, or after a 101).
  void make_tunnel(TunnelOwner* owner);

  // UpstreamRequest
  void send_head(const HttpRequest& request, const Framing& framing, bool end_stream,
                 std::string_view upgrade) override;
  void send_body(std::string_view data) override;
  void send_end(const std::vector<Header>& trailers) override;
  size_t backlog() const override { return HboneUpstream::backlog(); }
  void resume_response() override { pump(); }
  void release(bool complete) override;

  // Idle, and good for another request.
  bool reusable() const { return reusable_ && !closed(); }
  bool tunnel() const { return tunnel_ != nullptr; }

  std::string in;    // raw mode: bytes from the endpoint not taken yet
  bool eof = false;  // the endpoint ended its side

 private:
  void on_stream_data(std::span<const uint8_t> data) override;
  void on_stream_end() override;
  void on_stream_writable() override;
  void on_failed(const std::string& why) override;
  void on_body(std::span<const uint8_t> data) override;
  // Reads the response in `in` as far as the sink has room.
  void pump();
  void read_response();

  std::unique_ptr<Http1Parser> parser_ = Http1Parser::for_responses();
  ResponseSink* sink_ = nullptr;
  TunnelOwner* tunnel_ = nullptr;
  Framing request_framing_;
  bool head_request_ = false;
  bool reusable_ = false;
  bool ended_ = false;  // the sink has heard response_end
  bool pumping_ = false, pump_again_ = false;
};

}  // namespace ambit::waypoint
