// A client session's connections to endpoints: HTTP/1.1 ones (one request at a time, reused when
// idle) and one HTTP/2 connection per endpoint (its requests multiplexed), each in an HBONE
// stream from the waypoint's workload that names the original client in Forwarded.
// Each connection counts in its cluster's tcp.maxConnections while open (a new one is refused
// when they are all open: the caller waits or overflows), takes at most maxRequestsPerConnection
// requests, and is closed after idleTimeout without one, or at once when idle while requests
// wait for a connection to its cluster.
#pragma once

#include <memory>
#include <vector>

#include "core/timer_queue.h"
#include "waypoint/http1_upstream.h"
#include "waypoint/http2_upstream.h"
#include "waypoint/route_table.h"

namespace ambit::waypoint {

class UpstreamPool {
 public:
  UpstreamPool(ztunnel::Worker& worker, const Downstream& downstream)
      : worker_(worker), downstream_(downstream), idle_timer_(worker.timers()) {}

  struct Acquired {
    UpstreamRequest* request = nullptr;  // null: none could be had (UF, or `full`)
    Http1Upstream* http1 = nullptr;      // set when it is an HTTP/1.1 connection
    HboneUpstream* connection = nullptr;  // the connection it rides
    bool full = false;  // the cluster's tcp.maxConnections are all open: none was opened
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
  // Opens `up`'s stream, counted in its cluster's connections; false when the HBONE stream
  // could not be had.
  bool open(HboneUpstream& up, const ztunnel::EngineConfig& config,
            const RouteTable::Endpoint& endpoint);
  // One of the cluster's tcp.maxConnections for a new connection to `endpoint` (counted in its
  // load); false when all are open.
  static bool reserve(const RouteTable::Endpoint& endpoint);
  // Closes the connections idle past their idleTimeout, and arms the timer for the next.
  void close_idle();
  void watch_idle();
  Http1Upstream* open_http1(const ztunnel::EngineConfig& config,
                            const RouteTable::Endpoint& endpoint);

  ztunnel::Worker& worker_;
  const Downstream& downstream_;
  std::vector<std::unique_ptr<Http1Upstream>> http1_;
  std::vector<std::unique_ptr<Http2Upstream>> http2_;
  TimerQueue::Timer idle_timer_;
};

}  // namespace ambit::waypoint
