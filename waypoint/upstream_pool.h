// A client session's connections to endpoints: HTTP/1.1 ones (one request at a time, reused when
// idle) and one HTTP/2 connection per endpoint (its requests multiplexed), each in an HBONE
// stream from the waypoint's workload that names the original client in Forwarded.
#pragma once

#include <memory>
#include <vector>

#include "waypoint/http1_upstream.h"
#include "waypoint/http2_upstream.h"
#include "waypoint/route_table.h"

namespace ambit::waypoint {

class UpstreamPool {
 public:
  UpstreamPool(ztunnel::Worker& worker, const Downstream& downstream)
      : worker_(worker), downstream_(downstream) {}

  struct Acquired {
    UpstreamRequest* request = nullptr;  // null: no HBONE stream could be had (UF)
    Http1Upstream* http1 = nullptr;      // set when it is an HTTP/1.1 connection
  };
  // A request to `endpoint` for `sink` (null: a shadow copy, its answer dropped), over HTTP/2
  // or HTTP/1.1.
  Acquired acquire(const ztunnel::EngineConfig& config, const RouteTable::Endpoint& endpoint,
                   bool http2, ResponseSink* sink);
  // Envoy's shadow of `request` to `endpoint`: the same request with "-shadow" after the host,
  // its answer dropped (an HTTP/1.1 connection that speaks while idle is closed, an HTTP/2
  // stream's answer is consumed). Null when no stream could be had. A body follows through
  // feed_shadow(), then end_shadow().
  UpstreamRequest* shadow(const ztunnel::EngineConfig& config, const RouteTable::Endpoint& endpoint,
                          bool client_http2, const HttpRequest& request, const Framing& framing,
                          bool end_stream);
  // A fresh HTTP/1.1 connection for a tunnel (a TCP route).
  Http1Upstream* tunnel(const ztunnel::EngineConfig& config, const RouteTable::Endpoint& endpoint,
                        TunnelOwner* owner);
  void reset_all();
  // Drops connections that are closed and serve nothing; only where no upstream is inside one
  // of its callbacks (the session calls it from its downstream's).
  void sweep();

 private:
  bool open(HboneUpstream& up, const ztunnel::EngineConfig& config,
            const RouteTable::Endpoint& endpoint);
  Http1Upstream* open_http1(const ztunnel::EngineConfig& config,
                            const RouteTable::Endpoint& endpoint);

  ztunnel::Worker& worker_;
  const Downstream& downstream_;
  std::vector<std::unique_ptr<Http1Upstream>> http1_;
  std::vector<std::unique_ptr<Http2Upstream>> http2_;
};

}  // namespace ambit::waypoint
