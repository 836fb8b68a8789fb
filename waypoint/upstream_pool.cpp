#include "waypoint/upstream_pool.h"

#include <optional>

#include "waypoint/dispatch.h"
#include "waypoint/waypoint_state.h"
#include "ztunnel/forwarded.h"

namespace ambit::waypoint {

bool UpstreamPool::reserve(const RouteTable::Endpoint& ep) {
  if (ep.cluster == nullptr) return true;
  uint32_t max = ep.cluster->limits.connections.max_connections;
  auto& open = ep.cluster->load->connections;
  if (max != 0 && open.fetch_add(1) >= max) {
    open.fetch_sub(1);
    return false;
  }
  if (max == 0) open.fetch_add(1);
  return true;
}

bool UpstreamPool::open(HboneUpstream& up, const ztunnel::EngineConfig& config,
                        const RouteTable::Endpoint& ep) {
  bool opened = false;
  if (!ep.workload->mesh) {
    // Outside the mesh (a ServiceEntry's endpoint): straight there, no HBONE.
    auto timeout = ep.cluster != nullptr ? ep.cluster->limits.connections.connect_timeout
                                         : ConnectionPolicy{}.connect_timeout;
    opened = up.open_direct(worker_, timeout, ep.cluster != nullptr ? ep.cluster->tls : nullptr);
  } else {
    std::string forwarded = ztunnel::format_forwarded(
        SocketAddress(downstream_.source_ip, 0),
        downstream_.service ? downstream_.service->hostname() : std::string());
    opened = up.open(worker_, config, *ep.workload, waypoint_state(config).workload_uid, forwarded);
  }
  if (ep.cluster == nullptr) return opened;
  if (!opened) {
    ep.cluster->load->connections.fetch_sub(1);  // what reserve() took
    return false;
  }
  up.count_in(ep.cluster->load, ep.cluster->limits.connections);
  return true;
}

UpstreamPool::Acquired UpstreamPool::acquire(const ztunnel::EngineConfig& config,
                                             const RouteTable::Endpoint& ep, bool http2,
                                             ResponseSink* sink) {
  if (http2) {
    for (auto& up : http2_) {
      if (up->address() == ep.address && up->usable()) {
        return {up->open_request(sink), nullptr, up.get()};
      }
    }
    if (!reserve(ep)) return {.full = true};
    auto up = std::make_unique<Http2Upstream>(ep.address, ep.workload->uid());
    if (!open(*up, config, ep)) return {};
    http2_.push_back(std::move(up));
    watch_idle();
    return {http2_.back()->open_request(sink), nullptr, http2_.back().get()};
  }
  Http1Upstream* up = nullptr;
  for (auto& idle : http1_) {
    if (idle->reusable() && idle->address() == ep.address) {
      up = idle.get();
      break;
    }
  }
  if (up == nullptr) {
    if (!reserve(ep)) return {.full = true};
    if ((up = open_http1(config, ep)) == nullptr) return {};
  }
  up->bind(sink);
  return {up, up, up};
}

Http1Upstream* UpstreamPool::open_http1(const ztunnel::EngineConfig& config,
                                        const RouteTable::Endpoint& ep) {
  auto up = std::make_unique<Http1Upstream>(ep.address, ep.workload->uid());
  if (!open(*up, config, ep)) return nullptr;
  http1_.push_back(std::move(up));
  watch_idle();
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
  if (!reserve(ep)) return nullptr;  // Envoy's TCP proxy overflows as well
  Http1Upstream* up = open_http1(config, ep);
  if (up != nullptr) up->make_tunnel(owner);
  return up;
}

void UpstreamPool::reset_all() {
  for (auto& up : http1_) up->reset();
  for (auto& up : http2_) up->reset();
}

void UpstreamPool::sweep() {
  for (auto& up : http2_) {
    // Spent, or its slot wanted by a request waiting for its cluster: it goes once idle.
    if (up->idle() && !up->closed() && (up->spent() || up->wanted_elsewhere())) up->reset();
  }
  std::erase_if(http1_, [](const auto& up) { return up->closed() && !up->tunnel(); });
  std::erase_if(http2_, [](const auto& up) { return up->closed() && up->idle(); });
}

void UpstreamPool::close_idle() {
  auto now = HboneUpstream::Clock::now();
  auto due = [&](const HboneUpstream& up, bool idle) {
    return idle && !up.closed() && now - up.idle_since() >= up.policy().idle_timeout;
  };
  for (auto& up : http1_) {
    if (due(*up, up->reusable())) up->reset();
  }
  for (auto& up : http2_) {
    if (due(*up, up->idle())) up->reset();
  }
  sweep();
  watch_idle();
}

void UpstreamPool::watch_idle() {
  // The earliest a connection can be due: an idle one's idleTimeout after it went idle, a busy
  // one's at least its idleTimeout from now.
  auto now = HboneUpstream::Clock::now();
  std::optional<HboneUpstream::Clock::time_point> next;
  auto consider = [&](const HboneUpstream& up, bool idle) {
    if (up.closed()) return;
    auto at = (idle ? up.idle_since() : now) + up.policy().idle_timeout;
    if (!next || at < *next) next = at;
  };
  for (auto& up : http1_) {
    if (!up->tunnel()) consider(*up, up->reusable());
  }
  for (auto& up : http2_) consider(*up, up->idle());
  if (next)
    idle_timer_.arm(std::max(*next - now, HboneUpstream::Clock::duration(0)),
                    [this] { close_idle(); });
}

}  // namespace ambit::waypoint
