#include "ztunnel/inbound_plaintext.h"

#include <fmt/format.h>

#include "ztunnel/original_destination.h"

namespace ambit::ztunnel {

Result<std::unique_ptr<ListenerHandler>> PlaintextInboundListener::create(
    Worker& worker, const ListenerSpec& spec) {
  std::unique_ptr<PlaintextInboundListener> self(new PlaintextInboundListener(worker, spec));
  if (auto ok = self->open(worker, spec); !ok) return ok.error();
  return std::unique_ptr<ListenerHandler>(std::move(self));
}

void PlaintextInboundListener::on_accept(UniqueFd fd) {
  auto& config = worker_.config();
  worker_.stats().inbound_connections.fetch_add(1, std::memory_order_relaxed);
  ConnectionRecord record;
  record.direction = "inbound";
  if (auto peer = SocketAddress::peer_of(fd.get())) record.src = *peer;
  if (const Workload* src = config.table->find_by_address(record.src.ip())) {
    record.src_workload = src->uid();
  }
  auto refuse = [&](std::string error) {
    reset_and_close(std::move(fd));
    record.error = std::move(error);
    worker_.log_refused(std::move(record));
  };
  auto dst = original_destination(fd.get(), address(), spec_.destination);
  if (!dst) return refuse(dst.error().message);
  record.dst = *dst;
  const Workload* target = config.table->find_by_address(dst->ip());
  if (target == nullptr || target->node != config.node) {
    return refuse(
        fmt::format("{} is not a workload on node {}", dst->ip().to_string(), config.node));
  }
  record.dst_workload = target->uid();
  if (target->peer_auth == PeerAuthMode::kStrict) {
    return refuse(
        fmt::format("plaintext connection refused: {} requires mTLS (STRICT)", target->uid()));
  }
  ConnectionAttributes attrs{std::nullopt, record.src.ip(), target, dst->port(), dst->ip()};
  AuthzDecision decision = config.authorizer->check(attrs);
  if (!decision.allowed) return refuse(fmt::format("authorization denied: {}", decision.reason));
  auto up = worker_.open_socket(target->uid(), dst->family());
  if (!up) return refuse(up.error().message);
  auto* relay = worker_.adopt(std::make_unique<TcpRelay>(
      &worker_, std::move(record), worker_.loop(), std::move(fd), std::move(*up)));
  relay->set_admission({std::nullopt, attrs.source_ip, target->uid(), dst->port(), dst->ip()});
  relay->connect(*dst, config.connect_timeout);
}

}  // namespace ambit::ztunnel
