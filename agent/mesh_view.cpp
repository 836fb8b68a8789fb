#include "agent/mesh_view.h"

#include "agent/engine_policy.h"

#include "ambit/v1/resource_kind.h"

#include <fmt/format.h>

namespace ambit::agent {
namespace {

Result<std::vector<IpAddress>> ips(const google::protobuf::RepeatedPtrField<std::string>& in,
                                   const std::string& what) {
  std::vector<IpAddress> out;
  for (const auto& text : in) {
    auto ip = IpAddress::parse(text);
    if (!ip) return Error::format("{}: address '{}': {}", what, text, ip.error().message);
    out.push_back(*ip);
  }
  return out;
}

ztunnel::PeerAuthMode peer_auth(ambit::v1::PeerAuthMode mode) {
  switch (mode) {
    case ambit::v1::STRICT:
      return ztunnel::PeerAuthMode::kStrict;
    case ambit::v1::DISABLE:
      return ztunnel::PeerAuthMode::kDisable;
    default:
      return ztunnel::PeerAuthMode::kPermissive;
  }
}

// The kinds to_local_config turns into the engine's tables (and, for a waypoint, its L7 ones).
bool used_by(MeshView::Role role, const ambit::v1::Resource& r) {
  switch (r.kind_case()) {
    case ambit::v1::Resource::kNamespace:
    case ambit::v1::Resource::kWorkload:
    case ambit::v1::Resource::kService:
    case ambit::v1::Resource::kAuthorizationPolicy:
    case ambit::v1::Resource::kTrustBundle:
      return true;
    case ambit::v1::Resource::kVirtualService:
    case ambit::v1::Resource::kDestinationRule:
    case ambit::v1::Resource::kLocalRateLimit:
      return role == MeshView::Role::kWaypoint;
    default:
      return false;
  }
}

}  // namespace

Result<MeshView> MeshView::with(const ambit::v1::Update& update) const {
  MeshView next = update.snapshot() ? MeshView(role_) : *this;
  for (const auto& r : update.added()) {
    std::string kind(ambit::v1::resource_kind(r));
    if (r.uid().empty()) {
      return Error::format("update {}: a {} without uid", update.version(),
                           kind.empty() ? "resource" : kind);
    }
    // Kinds the agent does not use (L7 routing is the waypoints'), or that a newer controller
    // sends and this agent does not know (no kind set once parsed): skipped, not refused.
    if (!used_by(role_, r)) continue;
    next.resources_[{kind, r.uid()}] = r;
  }
  for (const auto& k : update.removed()) next.resources_.erase({k.kind(), k.uid()});
  next.version_ = update.version();
  return next;
}

Result<LocalConfig> MeshView::to_local_config(const std::string& node) const {
  LocalConfig config;
  config.node = node;
  config.source = fmt::format("controller view v{}", version_);
  for (const auto& [key, r] : resources_) {
    const std::string where = key.first + " " + key.second;
    switch (r.kind_case()) {
      case ambit::v1::Resource::kNamespace:
        config.namespaces.push_back({r.namespace_().name(), labels_of(r.namespace_().labels())});
        break;
      case ambit::v1::Resource::kWorkload: {
        const auto& in = r.workload();
        ztunnel::Workload w;
        w.name = in.name();
        w.ns = in.namespace_();
        w.service_account = in.service_account().empty() ? "default" : in.service_account();
        w.node = in.node();
        auto addresses = ips(in.addresses(), where);
        if (!addresses) return addresses.error();
        w.addresses = *addresses;
        w.labels = labels_of(in.labels());
        w.mesh = in.mesh();
        w.peer_auth = peer_auth(in.peer_auth());
        w.waypoint = in.waypoint();
        w.runs_waypoint = in.runs_waypoint();
        w.waypoint_guard = in.waypoint_guard();
        for (const auto& [name, port] : in.named_ports()) {
          if (port == 0 || port > 65535) {
            return Error::format("{}: named port {} = {} out of range", where, name, port);
          }
          w.named_ports[name] = static_cast<uint16_t>(port);
        }
        if (!in.hbone_address().empty()) {
          auto hbone = SocketAddress::parse(in.hbone_address());
          if (!hbone) return Error::format("{}: hbone address: {}", where, hbone.error().message);
          w.hbone_address = *hbone;
        }
        if (!in.netns().empty() && !in.cgroup().empty() && in.node() == node) {
          config.sandboxes[w.uid()] = SandboxPaths{in.netns(), in.cgroup()};
        }
        config.workloads.push_back(std::move(w));
        break;
      }
      case ambit::v1::Resource::kService: {
        const auto& in = r.service();
        ztunnel::Service s;
        s.name = in.name();
        s.ns = in.namespace_();
        auto vips = ips(in.vips(), where);
        if (!vips) return vips.error();
        s.vips = *vips;
        for (const auto& p : in.ports()) {
          if (p.port() == 0 || p.port() > 65535 || p.target_port() > 65535) {
            return Error::format("{}: port {} -> {} out of range", where, p.port(),
                                 p.target_port());
          }
          s.ports.push_back({static_cast<uint16_t>(p.port()),
                             static_cast<uint16_t>(p.target_port()), p.target_port_name(),
                             p.protocol(), p.name()});
        }
        s.selector = labels_of(in.selector());
        s.waypoint = in.waypoint();
        s.entry = in.entry();
        s.mesh_external = in.mesh_external();
        using R = ztunnel::Service::Resolution;
        switch (in.resolution()) {
          case ambit::v1::Service::STATIC:
            s.resolution = R::kStatic;
            break;
          case ambit::v1::Service::DNS:
            s.resolution = R::kDns;
            break;
          case ambit::v1::Service::DNS_ROUND_ROBIN:
            s.resolution = R::kDnsRoundRobin;
            break;
          case ambit::v1::Service::NONE:
            s.resolution = R::kNone;
            break;
          default:
            s.resolution = R::kKubernetes;
        }
        for (const auto& e : in.endpoints()) {
          ztunnel::Service::Endpoint ep{e.address(), {}, labels_of(e.labels()), e.weight()};
          if (s.resolution == R::kStatic && !IpAddress::parse(e.address()).ok()) {
            return Error::format("{}: endpoint '{}' is not an IP address", where, e.address());
          }
          for (const auto& [name, port] : e.ports()) {
            if (port == 0 || port > 65535) {
              return Error::format("{}: endpoint {} port {} = {} out of range", where, e.address(),
                                   name, port);
            }
            ep.ports[name] = static_cast<uint16_t>(port);
          }
          s.endpoints.push_back(std::move(ep));
        }
        // A ServiceEntry host that no waypoint serves is the agents' business only as an
        // address like any other (passed through as before); waypoints keep it as a place
        // routes may send to.
        if (s.from_entry() && s.waypoint.empty() && role_ != Role::kWaypoint) break;
        config.services.push_back(std::move(s));
        break;
      }
      case ambit::v1::Resource::kAuthorizationPolicy: {
        if (role_ == Role::kWaypoint) break;
        auto policy = engine_policy(r.authorization_policy());
        if (!policy) return policy.error();
        config.policies.push_back(std::move(*policy));
        break;
      }
      case ambit::v1::Resource::kTrustBundle: {
        const auto& b = r.trust_bundle();
        if (!b.trust_domain().empty()) config.trust_domain = b.trust_domain();
        for (const auto& pem : b.root_certificates_pem()) config.trust_bundle_pem += pem;
        break;
      }
      default:
        break;
    }
  }
  // Identities follow the trust domain the bundle names.
  for (auto& w : config.workloads)
    w.identity = Identity(config.trust_domain, w.ns, w.service_account);
  // Check what the engine will check, so a bad view is refused here (nack) with its reason.
  if (auto table = build_workload_table(config); !table) return table.error();
  return config;
}

std::vector<const ambit::v1::Resource*> MeshView::resources_of(
    ambit::v1::Resource::KindCase kind) const {
  std::vector<const ambit::v1::Resource*> out;
  for (const auto& [key, r] : resources_) {
    if (r.kind_case() == kind) out.push_back(&r);
  }
  return out;
}

}  // namespace ambit::agent
