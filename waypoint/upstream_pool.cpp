#include "waypoint/upstream_pool.h"

#include "waypoint/dispatch.h"
#include "waypoint/waypoint_state.h"
#include "ztunnel/forwarded.h"

namespace ambit::waypoint {

bool UpstreamPool::open(HboneUpstream& up, const ztunnel::EngineConfig& config,
                        const RouteTable::Endpoint& ep) {
  std::string forwarded = ztunnel::format_forwarded(
      SocketAddress(downstream_.source_ip, 0),
      downstream_.service ? downstream_.service->hostname() : std::string());
  return up.open(worker_, config, *ep.workload, waypoint_state(config).workload_uid, forwarded);
}

UpstreamPool::Acquired UpstreamPool::acquire(const ztunnel::EngineConfig& config,
                                             const RouteTable::Endpoint& ep, bool http2,
                                             ResponseSink* sink) {
  if (http2) {
    for (auto& up : http2_) {
      if (up->address() == ep.address && up->usable()) return {up->open_request(sink), nullptr};
    }
    auto up = std::make_unique<Http2Upstream>(ep.address, ep.workload->uid());
    if (!open(*up, config, ep)) return {};
    http2_.push_back(std::move(up));
    return {http2_.back()->open_request(sink), nullptr};
  }
  Http1Upstream* up = nullptr;
  for (auto& idle : http1_) {
    if (idle->reusable() && idle->address() == ep.address) {
      up = idle.get();
      break;
    }
  }
  if (up == nullptr && (up = open_http1(config, ep)) == nullptr) return {};
  up->bind(sink);
  return {up, up};
}

Http1Upstream* UpstreamPool::open_http1(const ztunnel::EngineConfig& config,
                                        const RouteTable::Endpoint& ep) {
  auto up = std::make_unique<Http1Upstream>(ep.address, ep.workload->uid());
  if (!open(*up, config, ep)) return nullptr;
  http1_.push_back(std::move(up));
  return http1_.back().get();
}

UpstreamRequest* UpstreamPool::shadow(const ztunnel::EngineConfig& config,
                                      const RouteTable::Endpoint& ep, bool client_http2,
                                      const HttpRequest& request, const Framing& framing,
                                      bool end_stream) {
  auto got = acquire(config, ep, upstream_http2(ep, client_http2, false), nullptr);
  if (got.request == nullptr) return nullptr;
  HttpRequest copy = request;
  copy.authority += "-shadow";
  got.request->send_head(copy, framing, end_stream, "");
  return got.request;
}

Http1Upstream* UpstreamPool::tunnel(const ztunnel::EngineConfig& config,
                                    const RouteTable::Endpoint& ep, TunnelOwner* owner) {
  Http1Upstream* up = open_http1(config, ep);
  if (up != nullptr) up->make_tunnel(owner);
  return up;
}

void UpstreamPool::reset_all() {
  for (auto& up : http1_) up->reset();
  for (auto& up : http2_) up->reset();
}

void UpstreamPool::sweep() {
  std::erase_if(http1_, [](const auto& up) { return up->closed() && !up->tunnel(); });
  std::erase_if(http2_, [](const auto& up) { return up->closed() && up->idle(); });
}

}  // namespace ambit::waypoint
