#include "ztunnel/connect_admission.h"

#include <fmt/format.h>

#include <charconv>
#include <optional>
#include <utility>

#include "ztunnel/baggage.h"
#include "ztunnel/forwarded.h"

namespace ambit::ztunnel {
namespace {

// "host:port" with a hostname host; nothing when the port is missing or not a number.
std::optional<std::pair<std::string_view, uint16_t>> split_host_port(std::string_view authority) {
  size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view port_text = authority.substr(colon + 1);
  uint16_t port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0) {
    return std::nullopt;
  }
  return std::pair{authority.substr(0, colon), port};
}

struct Target {
  const Workload* workload = nullptr;
  SocketAddress address;
  std::string error;  // set: 400 with this reason
};

Target target_of(const EngineConfig& config, std::string_view listener_workload,
                 const InboundPeer& peer, const std::string& authority) {
  const WorkloadTable& table = *config.table;
  auto serves = [&](const Workload& w) {
    return w.node == config.node && (listener_workload.empty() || w.uid() == listener_workload);
  };
  if (auto dst = SocketAddress::parse(authority)) {
    if (dst->port() == 0) return {nullptr, {}, "bad CONNECT authority: port 0"};
    const Workload* w = table.find_by_address(dst->ip());
    if (w == nullptr || !serves(*w)) {
      return {nullptr,
              {},
              fmt::format("{} is not a workload this listener serves on node {}",
                          dst->ip().to_string(), config.node)};
    }
    const IpAddress& local = peer.local.ip();
    if (table.find_by_address(local) != nullptr && local != dst->ip()) {
      return {nullptr,
              {},
              fmt::format("CONNECT to {} arrived on {}", dst->ip().to_string(), local.to_string())};
    }
    return {w, *dst, {}};
  }
  auto host_port = split_host_port(authority);
  const Service* service = host_port ? table.find_service_by_hostname(host_port->first) : nullptr;
  if (service == nullptr) {
    return {nullptr,
            {},
            fmt::format("bad CONNECT authority: {} is neither ip:port nor a known service "
                        "hostname:port",
                        authority)};
  }
  const ServicePort* port = service->find_port(host_port->second);
  if (port == nullptr) {
    return {
        nullptr, {}, fmt::format("service {} has no port {}", service->uid(), host_port->second)};
  }
  for (const Workload* w : table.endpoints_of(*service)) {
    auto target_port = port->target_on(*w);
    if (serves(*w) && !w->addresses.empty() && target_port) {
      return {w, SocketAddress(w->addresses[0], *target_port), {}};
    }
  }
  return {nullptr,
          {},
          fmt::format("service {} has no endpoint this listener serves on node {}", service->uid(),
                      config.node)};
}

// The source policies see, and whether a claim was turned down.
std::pair<SocketAddress, bool> source_of(const WorkloadTable& table, const InboundPeer& peer,
                                         const ConnectRequest& request,
                                         const Workload& destination) {
  auto claimed = parse_forwarded_for(request.forwarded);
  if (!claimed) return {peer.address, false};
  if (claimed->ip() == peer.address.ip()) {
    return {claimed->port() != 0 ? *claimed : peer.address, false};
  }
  const Workload* owner = table.find_by_address(claimed->ip());
  if (owner != nullptr && owner->identity == peer.identity) return {*claimed, false};
  if (!destination.waypoint.empty() && destination.waypoint_identity() == peer.identity) {
    return {*claimed, false};
  }
  return {peer.address, true};
}

}  // namespace

ConnectDecision admit_connect(const EngineConfig& config, std::string_view listener_workload,
                              const InboundPeer& peer, const ConnectRequest& request) {
  ConnectDecision d;
  d.record.direction = "inbound";
  d.record.src_identity = peer.identity;
  d.record.src = peer.address;
  auto refuse = [&](int status, std::string error) {
    d.status = status;
    d.record.error = std::move(error);
    return std::move(d);
  };
  Target target = target_of(config, listener_workload, peer, request.authority);
  if (target.workload == nullptr) return refuse(400, std::move(target.error));
  const Workload& destination = *target.workload;
  auto [source, ignored] = source_of(*config.table, peer, request, destination);
  d.forwarded_ignored = ignored;
  d.record.src = source;
  if (const Workload* src = config.table->find_by_address(source.ip())) {
    d.record.src_workload = src->uid();
  } else if (Baggage b = parse_baggage(request.baggage);
             !b.ns.empty() && !b.workload_name.empty()) {
    d.record.src_workload = b.ns + "/" + b.workload_name;  // a source our view lacks
  }
  d.record.dst = target.address;
  d.record.dst_workload = destination.uid();
  d.record.dst_identity = destination.identity;
  d.destination = &destination;
  d.upstream = target.address;
  d.admission = {peer.identity, source.ip(), destination.uid(), target.address.port(),
                 target.address.ip()};
  ConnectionAttributes attrs{peer.identity, source.ip(), &destination, target.address.port(),
                             target.address.ip()};
  AuthzDecision decision = config.authorizer->check(attrs);
  if (!decision.allowed) {
    return refuse(401, fmt::format("authorization denied: {}", decision.reason));
  }
  return d;
}

}  // namespace ambit::ztunnel
