#include "ztunnel/inbound.h"

#include "ztunnel/forwarded.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace ambit::ztunnel {

Result<std::unique_ptr<ListenerHandler>> InboundListener::create(Worker& worker,
                                                                 const ListenerSpec& spec) {
  std::unique_ptr<InboundListener> self(new InboundListener(worker, spec));
  if (self->server_tls() == nullptr) {
    return Error::format("inbound listener {}: no certificate for workload '{}'",
                         spec.address.to_string(), spec.workload);
  }
  if (auto ok = self->open(worker, spec); !ok) return ok.error();
  return std::unique_ptr<ListenerHandler>(std::move(self));
}

SSL_CTX* InboundListener::server_tls() const {
  const auto& creds = worker_.config().credentials;
  auto it = creds.find(spec_.workload);
  return it == creds.end() || !it->second.server ? nullptr : it->second.server->get();
}

void InboundListener::on_accept(UniqueFd fd) {
  // The current certificate: rotation reaches new connections without touching live ones.
  SSL_CTX* tls = server_tls();
  if (tls == nullptr) {
    SPDLOG_WARN("inbound listener {}: no certificate for workload '{}' any more",
                address().to_string(), spec_.workload);
    return reset_and_close(std::move(fd));
  }
  auto conn = std::make_unique<HboneConnection>(worker_.loop(), std::move(fd),
                                                HboneConnection::Role::kServer, tls, this,
                                                std::nullopt);
  auto* raw = conn.get();
  connections_.emplace(raw, std::move(conn));
  raw->start_server();
}

void InboundListener::on_connect_request(HboneConnection& c, HboneConnection::Stream* stream,
                                         const ConnectRequest& request) {
  auto& config = worker_.config();
  worker_.stats().inbound_connections.fetch_add(1, std::memory_order_relaxed);
  ConnectionRecord record;
  record.direction = "inbound";
  record.src_identity = c.peer_identity();
  auto src_ip = parse_forwarded_for(request.forwarded);
  // The source port travels only when the HBONE connection comes from the source itself.
  record.src = (!src_ip || *src_ip == c.peer_address().ip()) ? c.peer_address()
                                                             : SocketAddress(*src_ip, 0);
  if (const Workload* src = src_ip ? config.table->find_by_address(*src_ip) : nullptr) {
    record.src_workload = src->uid();
  }
  auto dst = SocketAddress::parse(request.authority);
  if (!dst) {
    return refuse(c, stream, 400, std::move(record),
                  fmt::format("bad CONNECT authority: {}", dst.error().message));
  }
  record.dst = *dst;
  const Workload* target = config.table->find_by_address(dst->ip());
  if (target == nullptr || target->node != config.node) {
    return refuse(c, stream, 400, std::move(record),
                  fmt::format("{} is not a workload on node {}", dst->ip().to_string(),
                              config.node));
  }
  record.dst_workload = target->uid();
  record.dst_identity = target->identity;
  ConnectionAttributes attrs{c.peer_identity(), record.src.ip(), target, dst->port(), dst->ip()};
  AuthzDecision decision = config.authorizer->check(attrs);
  if (!decision.allowed) {
    return refuse(c, stream, 401, std::move(record),
                  fmt::format("authorization denied: {}", decision.reason));
  }
  auto fd = worker_.open_socket(target->uid(), dst->family());
  if (!fd) return refuse(c, stream, 503, std::move(record), fd.error().message);
  auto* relay = worker_.adopt(std::make_unique<StreamRelay>(&worker_, std::move(record),
                                                            worker_.loop(), std::move(*fd)));
  relay->attach(&c, stream);
  relay->connect_upstream(*dst, config.connect_timeout);
}

void InboundListener::refuse(HboneConnection& c, HboneConnection::Stream* stream, int status,
                             ConnectionRecord record, std::string error) {
  c.respond(stream, status);
  record.error = std::move(error);
  worker_.log_refused(std::move(record));
}

void InboundListener::on_released(HboneConnection& c) { connections_.erase(&c); }

void InboundListener::close_idle() {
  std::vector<HboneConnection*> all;
  for (auto& [c, owned] : connections_) all.push_back(c);
  for (auto* c : all) c->shutdown();
}

}  // namespace ambit::ztunnel
