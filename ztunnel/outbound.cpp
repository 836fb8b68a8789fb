#include "ztunnel/outbound.h"

#include <fmt/format.h>

#include "ztunnel/forwarded.h"
#include "ztunnel/original_destination.h"

namespace ambit::ztunnel {
namespace {

std::string traceparent(uint64_t a, uint64_t b, uint64_t c) {
  return fmt::format("00-{:016x}{:016x}-{:016x}-01", a, b, c);
}

// Everything a tunnelled outbound connection needs to (re)open its CONNECT stream. The config
// snapshot keeps the workloads and credentials it points into alive across config updates.
struct StreamTarget {
  std::shared_ptr<const EngineConfig> config;
  const Workload* source;
  const WorkloadCredentials* credentials;
  const Workload* target;
  SocketAddress address;
  std::string service_host;  // set when reached through a service VIP
};

// Opens the CONNECT for relay on a pooled connection (also when retrying on a fresh one).
bool open_stream(Worker& worker, const StreamTarget& t, StreamRelay& relay) {
  HboneConnection* conn = worker.pool().get(
      {t.source->uid(), t.source->identity, t.target->hbone_address, t.target->identity},
      t.credentials->client->get());
  if (conn == nullptr) return false;
  std::vector<std::pair<std::string, std::string>> headers;
  headers.emplace_back("forwarded", format_forwarded(relay.record().src, t.service_host));
  headers.emplace_back("baggage", t.source->source_baggage);
  headers.emplace_back("traceparent",
                       traceparent(worker.entropy(), worker.entropy(), worker.entropy()));
  auto* stream = conn->open_stream(&relay, t.address.to_string(), std::move(headers));
  if (stream == nullptr) return false;
  relay.attach(conn, stream);
  return true;
}

}  // namespace

Result<std::unique_ptr<ListenerHandler>> OutboundListener::create(Worker& worker,
                                                                  const ListenerSpec& spec) {
  std::unique_ptr<OutboundListener> self(new OutboundListener(worker, spec));
  if (worker.config().table->find_by_uid(spec.workload) == nullptr) {
    return Error::format("outbound listener {}: workload '{}' is not in the workload table",
                         spec.address.to_string(), spec.workload);
  }
  if (auto ok = self->open(worker, spec); !ok) return ok.error();
  return std::unique_ptr<ListenerHandler>(std::move(self));
}

void OutboundListener::on_accept(UniqueFd fd) {
  auto& stats = worker_.stats();
  stats.outbound_connections.fetch_add(1, std::memory_order_relaxed);
  // Looked up per connection: the config may have changed since the listener opened.
  const auto& config = worker_.config_snapshot();
  ConnectionRecord record;
  record.direction = "outbound";
  if (auto peer = SocketAddress::peer_of(fd.get())) record.src = *peer;
  const Workload* source = config->table->find_by_uid(spec_.workload);
  if (source == nullptr) {
    record.error = fmt::format("workload {} is no longer in the workload table", spec_.workload);
    reset_and_close(std::move(fd));
    return worker_.log_refused(std::move(record));
  }
  record.src_workload = source->uid();
  record.src_identity = source->identity;
  // In-pod capture hands the connection over loopback; the client is the pod itself, and its
  // address is what peers must see (Forwarded, policies on source.ip, access logs).
  if (record.src.ip().is_loopback()) {
    for (const auto& a : source->addresses) {
      if (a.family() == record.src.family()) {
        record.src = SocketAddress(a, record.src.port());
        break;
      }
    }
  }

  auto dst = original_destination(fd.get(), address(), spec_.destination);
  if (!dst) {
    record.error = dst.error().message;
    reset_and_close(std::move(fd));
    return worker_.log_refused(std::move(record));
  }
  record.dst = *dst;
  // A service with a waypoint resolves to a waypoint pod; the pod that runs it is not steered.
  auto resolved = config->table->resolve(*dst, worker_.entropy(), source);
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
  if (d.via_waypoint) record.dst_waypoint = d.service->waypoint;
  auto creds = config->credentials.find(source->uid());
  if (creds == config->credentials.end() || !creds->second.client) {
    record.error = fmt::format("no certificate for source workload {}", source->uid());
    reset_and_close(std::move(fd));
    return worker_.log_refused(std::move(record));
  }
  auto* relay = worker_.adopt(
      std::make_unique<StreamRelay>(&worker_, std::move(record), worker_.loop(), std::move(fd)));
  StreamTarget target{config,     source,    &creds->second,
                      d.workload, d.address, d.service ? d.service->hostname() : std::string()};
  Worker* worker = &worker_;
  relay->reopen = [worker, target](StreamRelay& r) { return open_stream(*worker, target, r); };
  if (!open_stream(worker_, target, *relay)) {
    relay->fail("could not open an HBONE stream to " + target.target->hbone_address.to_string());
  }
}

void OutboundListener::passthrough(UniqueFd fd, ConnectionRecord record, const SocketAddress& to) {
  auto up = worker_.open_socket(spec_.workload, to.family());
  if (!up) {
    record.error = up.error().message;
    reset_and_close(std::move(fd));
    return worker_.log_refused(std::move(record));
  }
  auto* relay = worker_.adopt(std::make_unique<TcpRelay>(
      &worker_, std::move(record), worker_.loop(), std::move(fd), std::move(*up)));
  relay->connect(to, worker_.config().connect_timeout);
}

}  // namespace ambit::ztunnel
