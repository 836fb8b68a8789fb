#include "waypoint/listener.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "waypoint/http_session.h"
#include "waypoint/waypoint_state.h"
#include "ztunnel/forwarded.h"

namespace ambit::waypoint {
namespace {

// "ip:port" or "host:port" -> the Service it names, and the port.
std::pair<const ztunnel::Service*, uint16_t> service_of(const ztunnel::WorkloadTable& table,
                                                        std::string_view authority,
                                                        std::optional<SocketAddress>* address) {
  if (auto a = SocketAddress::parse(authority)) {
    *address = *a;
    return {table.find_service_by_address(a->ip()), a->port()};
  }
  auto colon = authority.rfind(':');
  if (colon == std::string_view::npos) return {nullptr, 0};
  unsigned port = 0;
  for (char c : authority.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535) return {nullptr, 0};
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (port == 0 || port > 65535) return {nullptr, 0};
  return {table.find_service_by_hostname(authority.substr(0, colon)), static_cast<uint16_t>(port)};
}

}  // namespace

Result<std::unique_ptr<ztunnel::ListenerHandler>> WaypointState::create_listener(
    ztunnel::Worker& worker, const ztunnel::ListenerSpec& spec) const {
  return WaypointListener::create(worker, spec);
}

Result<std::unique_ptr<ztunnel::ListenerHandler>> WaypointListener::create(
    ztunnel::Worker& worker, const ztunnel::ListenerSpec& spec) {
  std::unique_ptr<WaypointListener> self(new WaypointListener(worker, spec, worker.index()));
  if (auto ok = self->open(worker, spec); !ok) return ok.error();
  return std::unique_ptr<ztunnel::ListenerHandler>(std::move(self));
}

void WaypointListener::on_accept(UniqueFd fd) {
  const auto& config = worker_.config();
  auto creds = config.credentials.find(spec_.workload);
  if (creds == config.credentials.end() || !creds->second.server) {
    SPDLOG_WARN("waypoint listener {}: no certificate for '{}' yet", address().to_string(),
                spec_.workload);
    return reset_and_close(std::move(fd));
  }
  auto conn = std::make_unique<ztunnel::HboneConnection>(
      worker_.loop(), std::move(fd), ztunnel::HboneConnection::Role::kServer,
      creds->second.server->get(), this, std::nullopt);
  auto* raw = conn.get();
  connections_.emplace(raw, std::move(conn));
  raw->start_server(creds->second.identity.trust_domain());
}

void WaypointListener::on_connect_request(ztunnel::HboneConnection& c,
                                          ztunnel::HboneConnection::Stream* stream,
                                          const ztunnel::ConnectRequest& request) {
  const auto& config = worker_.config_snapshot();
  ztunnel::ConnectionRecord record;
  record.direction = "waypoint";
  record.src = c.peer_address();
  record.src_identity = c.peer_identity();
  Downstream down;
  down.peer = c.peer_identity();
  down.source_ip = c.peer_address().ip();
  // The source agent names the client in Forwarded; believed when the address belongs to a
  // workload with the peer's identity (the agent speaks for its own pods only).
  if (auto claimed = ztunnel::parse_forwarded_for(request.forwarded)) {
    const ztunnel::Workload* owner = config->table->find_by_address(claimed->ip());
    if (owner != nullptr && owner->identity == c.peer_identity()) {
      down.source_ip = claimed->ip();
      down.source_workload = owner;
      record.src = *claimed;
      record.src_workload = owner->uid();
    }
  }
  std::optional<SocketAddress> dialled;
  auto [service, port] = service_of(*config->table, request.authority, &dialled);
  if (service == nullptr || service->find_port(port) == nullptr ||
      service->waypoint != waypoint_state(*config).waypoint_uid) {
    record.error =
        fmt::format("CONNECT {}: not a port of a Service this waypoint serves", request.authority);
    c.respond(stream, 400);
    return worker_.log_refused(std::move(record));
  }
  down.service = service;
  down.destination =
      dialled ? *dialled
              : SocketAddress(service->vips.empty() ? IpAddress() : service->vips[0], port);
  record.dst = down.destination;
  record.dst_workload = service->uid();
  c.respond(stream, 200);
  auto* session = worker_.adopt(std::make_unique<HttpSession>(worker_, *this, config, &c, stream,
                                                              std::move(down), std::move(record)));
  session->start();
}

void WaypointListener::on_released(ztunnel::HboneConnection& c) { connections_.erase(&c); }

void WaypointListener::close_idle() {
  std::vector<ztunnel::HboneConnection*> all;
  for (auto& [c, owned] : connections_) all.push_back(c);
  for (auto* c : all) c->shutdown();
}

}  // namespace ambit::waypoint
