#include "ztunnel/inbound.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "ztunnel/connect_admission.h"

namespace ambit::ztunnel {

Result<std::unique_ptr<ListenerHandler>> InboundListener::create(Worker& worker,
                                                                 const ListenerSpec& spec) {
  std::unique_ptr<InboundListener> self(new InboundListener(worker, spec));
  if (self->credentials() == nullptr) {
    return Error::format("inbound listener {}: no certificate for workload '{}'",
                         spec.address.to_string(), spec.workload);
  }
  if (auto ok = self->open(worker, spec); !ok) return ok.error();
  return std::unique_ptr<ListenerHandler>(std::move(self));
}

const WorkloadCredentials* InboundListener::credentials() const {
  const auto& creds = worker_.config().credentials;
  auto it = creds.find(spec_.workload);
  return it == creds.end() || !it->second.server ? nullptr : &it->second;
}

void InboundListener::on_accept(UniqueFd fd) {
  // The current certificate: rotation reaches new connections without touching live ones.
  const WorkloadCredentials* creds = credentials();
  if (creds == nullptr) {
    SPDLOG_WARN("inbound listener {}: no certificate for workload '{}' any more",
                address().to_string(), spec_.workload);
    return reset_and_close(std::move(fd));
  }
  auto conn = std::make_unique<HboneConnection>(worker_.loop(), std::move(fd),
                                                HboneConnection::Role::kServer,
                                                creds->server->get(), this, std::nullopt);
  auto* raw = conn.get();
  connections_.emplace(raw, std::move(conn));
  raw->start_server(creds->identity.trust_domain());
}

void InboundListener::on_connect_request(HboneConnection& c, HboneConnection::Stream* stream,
                                         const ConnectRequest& request) {
  auto& config = worker_.config();
  worker_.stats().inbound_connections.fetch_add(1, std::memory_order_relaxed);
  InboundPeer peer{c.peer_identity(), c.peer_address(), c.local_address()};
  ConnectDecision d = admit_connect(config, spec_.workload, peer, request);
  if (d.forwarded_ignored) {
    SPDLOG_WARN(
        "inbound {}: ignored Forwarded '{}' from {} ({}): it names neither the peer "
        "nor a workload with its identity; policies see {}",
        address().to_string(), request.forwarded, peer.address.to_string(),
        peer.identity.to_string(), peer.address.ip().to_string());
  }
  if (d.status != 200) return refuse(c, stream, d.status, std::move(d.record));
  auto fd = worker_.open_socket(d.destination->uid(), d.upstream.family());
  if (!fd) {
    d.record.error = fd.error().message;
    return refuse(c, stream, 503, std::move(d.record));
  }
  auto* relay = worker_.adopt(
      std::make_unique<StreamRelay>(&worker_, std::move(d.record), worker_.loop(), std::move(*fd)));
  relay->set_admission(std::move(d.admission));
  relay->attach(&c, stream);
  relay->connect_upstream(d.upstream, config.connect_timeout);
}

void InboundListener::refuse(HboneConnection& c, HboneConnection::Stream* stream, int status,
                             ConnectionRecord record) {
  c.respond(stream, status);
  worker_.log_refused(std::move(record));
}

void InboundListener::on_released(HboneConnection& c) { connections_.erase(&c); }

void InboundListener::close_idle() {
  std::vector<HboneConnection*> all;
  for (auto& [c, owned] : connections_) all.push_back(c);
  for (auto* c : all) c->shutdown();
}

}  // namespace ambit::ztunnel
