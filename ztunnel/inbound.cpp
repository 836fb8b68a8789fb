#include "ztunnel/inbound.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>

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

}  // namespace

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

const std::string& InboundListener::trust_domain() const {
  static const std::string kNone;
  const auto& creds = worker_.config().credentials;
  auto it = creds.find(spec_.workload);
  return it == creds.end() ? kNone : it->second.identity.trust_domain();
}

void InboundListener::on_accept(UniqueFd fd) {
  // The current certificate: rotation reaches new connections without touching live ones.
  SSL_CTX* tls = server_tls();
  if (tls == nullptr) {
    SPDLOG_WARN("inbound listener {}: no certificate for workload '{}' any more",
                address().to_string(), spec_.workload);
    return reset_and_close(std::move(fd));
  }
  auto conn = std::make_unique<HboneConnection>(
      worker_.loop(), std::move(fd), HboneConnection::Role::kServer, tls, this, std::nullopt);
  auto* raw = conn.get();
  connections_.emplace(raw, std::move(conn));
  raw->start_server(trust_domain());
}

std::variant<InboundListener::Target, InboundListener::Refusal> InboundListener::target_of(
    const HboneConnection& c, const std::string& authority) const {
  const auto& config = worker_.config();
  const WorkloadTable& table = *config.table;
  auto serves = [&](const Workload& w) {
    return w.node == config.node && (spec_.workload.empty() || w.uid() == spec_.workload);
  };
  if (auto dst = SocketAddress::parse(authority)) {
    const Workload* w = table.find_by_address(dst->ip());
    if (w == nullptr || !serves(*w)) {
      return Refusal{400, fmt::format("{} is not a workload this listener serves on node {}",
                                      dst->ip().to_string(), config.node)};
    }
    // In-pod, the listener sits at the pod's own address: a CONNECT must name the address it
    // came in on (ztunnel's rule), so one pod's tunnel cannot be steered to another address.
    const IpAddress& local = c.local_address().ip();
    if (table.find_by_address(local) != nullptr && local != dst->ip()) {
      return Refusal{400, fmt::format("CONNECT to {} arrived on {}", dst->ip().to_string(),
                                      local.to_string())};
    }
    return Target{w, *dst};
  }
  auto host_port = split_host_port(authority);
  const Service* service = host_port ? table.find_service_by_hostname(host_port->first) : nullptr;
  if (service == nullptr) {
    return Refusal{400, fmt::format("bad CONNECT authority: {} is neither ip:port nor a known "
                                    "service hostname:port",
                                    authority)};
  }
  const ServicePort* port = service->find_port(host_port->second);
  if (port == nullptr) {
    return Refusal{400,
                   fmt::format("service {} has no port {}", service->uid(), host_port->second)};
  }
  uint16_t target_port = port->target_port == 0 ? port->port : port->target_port;
  for (const Workload* w : table.endpoints_of(*service)) {
    if (serves(*w) && !w->addresses.empty())
      return Target{w, SocketAddress(w->addresses[0], target_port)};
  }
  return Refusal{400, fmt::format("service {} has no endpoint this listener serves on node {}",
                                  service->uid(), config.node)};
}

// Forwarded is the peer's word. It is taken only where the peer is entitled to give it: the
// claimed address is the peer's own, or belongs to a workload with the peer's identity, or the
// peer is the waypoint of the destination (it carries other clients' connections). Anything
// else would let one identity pass an ipBlocks ALLOW or dodge an ipBlocks DENY.
SocketAddress InboundListener::source_of(const HboneConnection& c, const ConnectRequest& request,
                                         const Workload& destination) const {
  const SocketAddress& peer = c.peer_address();
  auto claimed = parse_forwarded_for(request.forwarded);
  if (!claimed) return peer;
  if (claimed->ip() == peer.ip()) return claimed->port() != 0 ? *claimed : peer;
  const Workload* owner = worker_.config().table->find_by_address(claimed->ip());
  if (owner != nullptr && owner->identity == c.peer_identity()) return *claimed;
  if (!destination.waypoint.empty() && destination.waypoint_identity() == c.peer_identity()) {
    return *claimed;
  }
  SPDLOG_WARN(
      "inbound {}: ignored Forwarded for={} from {} ({}): that address is neither the "
      "peer's nor a workload with its identity; policies see {}",
      address().to_string(), claimed->ip().to_string(), peer.to_string(),
      c.peer_identity().to_string(), peer.ip().to_string());
  return peer;
}

void InboundListener::on_connect_request(HboneConnection& c, HboneConnection::Stream* stream,
                                         const ConnectRequest& request) {
  auto& config = worker_.config();
  worker_.stats().inbound_connections.fetch_add(1, std::memory_order_relaxed);
  ConnectionRecord record;
  record.direction = "inbound";
  record.src_identity = c.peer_identity();
  record.src = c.peer_address();
  auto target = target_of(c, request.authority);
  if (auto* no = std::get_if<Refusal>(&target)) {
    return refuse(c, stream, no->status, std::move(record), std::move(no->error));
  }
  auto [destination, dst] = std::get<Target>(target);
  record.src = source_of(c, request, *destination);
  if (const Workload* src = config.table->find_by_address(record.src.ip())) {
    record.src_workload = src->uid();
  } else if (Baggage b = parse_baggage(request.baggage);
             !b.ns.empty() && !b.workload_name.empty()) {
    record.src_workload = b.ns + "/" + b.workload_name;  // a source our view lacks
  }
  record.dst = dst;
  record.dst_workload = destination->uid();
  record.dst_identity = destination->identity;
  ConnectionAttributes attrs{c.peer_identity(), record.src.ip(), destination, dst.port(), dst.ip()};
  AuthzDecision decision = config.authorizer->check(attrs);
  if (!decision.allowed) {
    return refuse(c, stream, 401, std::move(record),
                  fmt::format("authorization denied: {}", decision.reason));
  }
  auto fd = worker_.open_socket(destination->uid(), dst.family());
  if (!fd) return refuse(c, stream, 503, std::move(record), fd.error().message);
  auto* relay = worker_.adopt(
      std::make_unique<StreamRelay>(&worker_, std::move(record), worker_.loop(), std::move(*fd)));
  relay->set_admission(
      {c.peer_identity(), attrs.source_ip, destination->uid(), dst.port(), dst.ip()});
  relay->attach(&c, stream);
  relay->connect_upstream(dst, config.connect_timeout);
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
