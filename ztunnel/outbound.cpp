#include "ztunnel/outbound.h"

#include <fmt/format.h>

#include "ztunnel/forwarded.h"
#include "ztunnel/original_destination.h"

namespace ambit::ztunnel {
namespace {

std::string traceparent(uint64_t a, uint64_t b, uint64_t c) {
  return fmt::format("00-{:016x}{:016x}-{:016x}-01", a, b, c);
}

}  // namespace

Result<std::unique_ptr<ListenerHandler>> OutboundListener::create(Worker& worker,
                                                                  const ListenerSpec& spec) {
  std::unique_ptr<OutboundListener> self(new OutboundListener(worker, spec));
  self->source_ = worker.config().table->find_by_uid(spec.workload);
  if (self->source_ == nullptr) {
    return Error::format("outbound listener {}: workload '{}' is not in the workload table",
                         spec.address.to_string(), spec.workload);
  }
  auto creds = worker.config().credentials.find(spec.workload);
  if (creds != worker.config().credentials.end()) self->credentials_ = &creds->second;
  if (auto ok = self->open(worker, spec); !ok) return ok.error();
  return std::unique_ptr<ListenerHandler>(std::move(self));
}

void OutboundListener::on_accept(UniqueFd fd) {
  auto& stats = worker_.stats();
  stats.outbound_connections.fetch_add(1, std::memory_order_relaxed);
  ConnectionRecord record;
  record.direction = "outbound";
  if (auto peer = SocketAddress::peer_of(fd.get())) record.src = *peer;
  record.src_workload = source_->uid();
  record.src_identity = source_->identity;

  auto dst = original_destination(fd.get(), address(), spec_.destination);
  if (!dst) {
    record.error = dst.error().message;
    reset_and_close(std::move(fd));
    return worker_.log_refused(std::move(record));
  }
  record.dst = *dst;
  auto resolved = worker_.config().table->resolve(*dst, worker_.entropy());
  if (!resolved) {
    record.error = resolved.error().message;
    reset_and_close(std::move(fd));
    return worker_.log_refused(std::move(record));
  }
  const Destination& d = *resolved;
  record.dst = d.address;
  if (!d.uses_hbone()) {
    if (d.workload) record.dst_workload = d.workload->uid();
    return passthrough(std::move(fd), std::move(record), d.address);
  }
  record.dst_workload = d.workload->uid();
  record.dst_identity = d.workload->identity;
  record.hbone_address = d.workload->hbone_address;
  if (credentials_ == nullptr || !credentials_->client) {
    record.error = fmt::format("no certificate for source workload {}", source_->uid());
    reset_and_close(std::move(fd));
    return worker_.log_refused(std::move(record));
  }
  auto* relay = worker_.adopt(
      std::make_unique<StreamRelay>(&worker_, std::move(record), worker_.loop(), std::move(fd)));
  const Workload* target = d.workload;
  SocketAddress address = d.address;
  relay->reopen = [this, target, address](StreamRelay& r) { return open_stream(r, *target, address); };
  if (!open_stream(*relay, *target, address)) {
    relay->fail("could not open an HBONE stream to " + target->hbone_address.to_string());
  }
}

bool OutboundListener::open_stream(StreamRelay& relay, const Workload& target,
                                   const SocketAddress& address) {
  HboneConnection* conn = worker_.pool().get(source_->identity, credentials_->client->get(),
                                             target.hbone_address, target.identity);
  if (conn == nullptr) return false;
  std::vector<std::pair<std::string, std::string>> headers;
  headers.emplace_back("forwarded", format_forwarded_for(relay.record().src.ip()));
  headers.emplace_back("traceparent",
                       traceparent(worker_.entropy(), worker_.entropy(), worker_.entropy()));
  auto* stream = conn->open_stream(&relay, address.to_string(), std::move(headers));
  if (stream == nullptr) return false;
  relay.attach(conn, stream);
  return true;
}

void OutboundListener::passthrough(UniqueFd fd, ConnectionRecord record, const SocketAddress& to) {
  auto up = TcpSocket::open_stream_socket(to.family());
  if (!up) {
    record.error = up.error().message;
    reset_and_close(std::move(fd));
    return worker_.log_refused(std::move(record));
  }
  auto* relay = worker_.adopt(std::make_unique<TcpRelay>(&worker_, std::move(record),
                                                         worker_.loop(), std::move(fd),
                                                         std::move(*up)));
  relay->connect(to, worker_.config().connect_timeout);
}

}  // namespace ambit::ztunnel
