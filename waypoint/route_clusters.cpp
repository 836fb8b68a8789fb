// The clusters of a view: every Service port, and every DestinationRule subset of it, with its
// endpoints and the traffic policy that applies to it (subset over top level, port-level
// settings over both): load balancer, upstream protocol, outlier detection, circuit breakers.
#include <fmt/format.h>

#include <algorithm>

#include "core/http_text.h"
#include "waypoint/route_table.h"

namespace ambit::waypoint {
namespace pb = ambit::v1;
namespace {

bool lb_set(const pb::LoadBalancerSettings& lb) {
  return lb.simple() != pb::LoadBalancerSettings::UNSPECIFIED || lb.has_consistent_hash();
}

// The loadBalancer that applies to `port` under `policy`, if it says one.
const pb::LoadBalancerSettings* lb_of(const pb::TrafficPolicy& policy, uint32_t port) {
  for (const auto& pl : policy.port_level_settings()) {
    if (pl.port() == port && pl.has_load_balancer() && lb_set(pl.load_balancer())) {
      return &pl.load_balancer();
    }
  }
  if (policy.has_load_balancer() && lb_set(policy.load_balancer())) return &policy.load_balancer();
  return nullptr;
}

// The connectionPool that applies to `port` under `policy`, if it says one (a port's, or a
// subset's, replaces the one above it whole, as Istio merges them).
const pb::ConnectionPoolSettings* pool_of(const pb::TrafficPolicy& policy, uint32_t port) {
  for (const auto& pl : policy.port_level_settings()) {
    if (pl.port() == port && pl.has_connection_pool()) return &pl.connection_pool();
  }
  return policy.has_connection_pool() ? &policy.connection_pool() : nullptr;
}

const pb::ConnectionPoolSettings::HTTPSettings* http_of(const pb::ConnectionPoolSettings* pool) {
  return pool != nullptr && pool->has_http() ? &pool->http() : nullptr;
}

// A duration the controller wrote, or `otherwise` when none was (or 0).
std::chrono::milliseconds duration_or(const std::string& text,
                                      std::chrono::milliseconds otherwise) {
  if (text.empty()) return otherwise;
  auto d = parse_duration(text);
  if (!d || d->count() <= 0) return otherwise;
  return std::max(std::chrono::milliseconds(1),
                  std::chrono::duration_cast<std::chrono::milliseconds>(*d));
}

RouteTable::ClusterLimits limits_of(const pb::ConnectionPoolSettings* pool) {
  RouteTable::ClusterLimits l;
  if (pool == nullptr) return l;
  auto count = [](int32_t n) { return static_cast<uint32_t>(std::max(0, n)); };
  if (pool->has_http()) {
    const auto& http = pool->http();
    l.max_requests = count(http.http2_max_requests());
    l.max_retries = count(http.max_retries());
    l.max_pending = count(http.http1_max_pending_requests());
    l.connections.max_requests_per_connection = count(http.max_requests_per_connection());
    l.connections.idle_timeout = duration_or(http.idle_timeout(), l.connections.idle_timeout);
  }
  if (pool->has_tcp()) {
    l.connections.max_connections = count(pool->tcp().max_connections());
    l.connections.connect_timeout =
        duration_or(pool->tcp().connect_timeout(), l.connections.connect_timeout);
  }
  return l;
}

// The tls that applies to `port` under `policy`, if it says one.
const pb::ClientTLSSettings* tls_of(const pb::TrafficPolicy& policy, uint32_t port) {
  for (const auto& pl : policy.port_level_settings()) {
    if (pl.port() == port && pl.has_tls()) return &pl.tls();
  }
  return policy.has_tls() ? &policy.tls() : nullptr;
}

// The outlierDetection that applies to `port` under `policy`, if it says one.
const pb::OutlierDetection* outlier_of(const pb::TrafficPolicy& policy, uint32_t port) {
  for (const auto& pl : policy.port_level_settings()) {
    if (pl.port() == port && pl.has_outlier_detection()) return &pl.outlier_detection();
  }
  return policy.has_outlier_detection() ? &policy.outlier_detection() : nullptr;
}

// Istio's choice of upstream protocol: HTTP2 and GRPC ports speak HTTP/2, HTTP ports HTTP/1.1
// unless h2UpgradePolicy is UPGRADE, ports of no declared HTTP protocol (sniffed) what the
// client spoke; useClientProtocol makes every port speak what the client spoke.
UpstreamProtocol upstream_protocol(const ztunnel::ServicePort& port,
                                   const pb::ConnectionPoolSettings::HTTPSettings* pool) {
  if (pool != nullptr && pool->use_client_protocol()) return UpstreamProtocol::kClient;
  if (port.protocol == "HTTP2" || port.protocol == "GRPC") return UpstreamProtocol::kHttp2;
  if (port.protocol == "HTTP") {
    bool upgrade = pool != nullptr &&
                   pool->h2_upgrade_policy() == pb::ConnectionPoolSettings::HTTPSettings::UPGRADE;
    return upgrade ? UpstreamProtocol::kHttp2 : UpstreamProtocol::kHttp1;
  }
  return UpstreamProtocol::kClient;
}

LbPolicy lb_policy(const pb::LoadBalancerSettings* lb) {
  LbPolicy out;
  if (lb == nullptr) return out;
  if (lb->has_consistent_hash()) {
    const auto& ch = lb->consistent_hash();
    out.kind = LbPolicy::Kind::kConsistentHash;
    if (!ch.http_header_name().empty()) {
      out.hash_on = LbPolicy::HashOn::kHeader;
      out.hash_key = ascii_lower(ch.http_header_name());
    } else if (!ch.http_cookie_name().empty()) {
      out.hash_on = LbPolicy::HashOn::kCookie;
      out.hash_key = ch.http_cookie_name();
      out.cookie_path = ch.http_cookie_path();
      if (!ch.http_cookie_ttl().empty()) {
        // The controller writes durations as "<seconds>[.<fraction>]s".
        out.cookie_ttl_s = std::strtoull(ch.http_cookie_ttl().c_str(), nullptr, 10);
      }
    } else if (ch.use_source_ip()) {
      out.hash_on = LbPolicy::HashOn::kSourceIp;
    } else if (!ch.http_query_parameter_name().empty()) {
      out.hash_on = LbPolicy::HashOn::kQueryParameter;
      out.hash_key = ch.http_query_parameter_name();
    } else {
      out.kind = LbPolicy::Kind::kRandom;  // nothing to hash on
    }
    return out;
  }
  switch (lb->simple()) {
    case pb::LoadBalancerSettings::ROUND_ROBIN:
      out.kind = LbPolicy::Kind::kRoundRobin;
      break;
    case pb::LoadBalancerSettings::RANDOM:
    case pb::LoadBalancerSettings::PASSTHROUGH:  // no original destination behind a VIP here
      out.kind = LbPolicy::Kind::kRandom;
      break;
    default:
      out.kind = LbPolicy::Kind::kLeastRequest;
  }
  return out;
}

// The DestinationRule for a Service: the exact host before the longest wildcard, then by uid.
const pb::DestinationRule* rule_for(const std::vector<const pb::DestinationRule*>& rules,
                                    const std::string& hostname) {
  const pb::DestinationRule* best = nullptr;
  size_t best_len = 0;
  for (const auto* dr : rules) {
    if (!host_matches(dr->host(), hostname)) continue;
    size_t len = dr->host() == "*" ? 1 : dr->host().starts_with("*.") ? dr->host().size() : ~0u;
    if (best == nullptr || len > best_len) best = dr, best_len = len;
  }
  return best;
}

}  // namespace

Status RouteTable::build_clusters(const std::vector<pb::DestinationRule>& destination_rules,
                                  DnsResolver* dns) {
  std::vector<const pb::DestinationRule*> drs;
  for (const auto& dr : destination_rules) drs.push_back(&dr);
  std::sort(drs.begin(), drs.end(), [](auto* a, auto* b) { return a->uid() < b->uid(); });
  for (const ztunnel::Service* s : table_->services()) {
    const pb::DestinationRule* dr = rule_for(drs, s->hostname());
    std::vector<const ztunnel::Workload*> all = table_->endpoints_of(*s);
    // The waypoint reaches a Service's pods over HBONE only.
    std::erase_if(all, [](const ztunnel::Workload* w) { return !w->mesh || w->addresses.empty(); });
    // A ServiceEntry's listed endpoints, reached straight (by their own port of the entry
    // port's name, else the target port). Under DNS resolution a name (the host itself when
    // none is listed) stands for every address it resolves to (DNS_ROUND_ROBIN: the first);
    // under NONE the entry's own addresses are its endpoints.
    std::vector<const ztunnel::Service::Endpoint*> listed;
    size_t first_external = external_.size();
    auto add_external = [&](const ztunnel::Service::Endpoint& e, const IpAddress& ip) {
      ztunnel::Workload w;
      w.name = s->name + "/" + ip.to_string();
      w.ns = s->ns;
      w.addresses = {ip};
      w.labels = e.labels;
      w.mesh = false;
      external_.push_back(std::move(w));
      listed.push_back(&e);
    };
    using Resolution = ztunnel::Service::Resolution;
    bool by_dns = s->resolution == Resolution::kDns || s->resolution == Resolution::kDnsRoundRobin;
    if (s->from_entry() && s->selector.empty()) {
      static const ztunnel::Service::Endpoint kTheHost{};
      std::vector<const ztunnel::Service::Endpoint*> named;
      for (const auto& e : s->endpoints) named.push_back(&e);
      if (named.empty() && by_dns) named.push_back(&kTheHost);
      if (s->resolution == Resolution::kNone) {
        // Passthrough: the address the client dialled is the endpoint. Its VIPs are the only
        // addresses steered here, so each is one (a CIDR block is not steered: see views.cpp).
        for (const auto& vip : s->vips) add_external(kTheHost, vip);
        named.clear();
      }
      for (const auto* e : named) {
        const std::string& name = e->address.empty() ? s->name : e->address;
        if (auto ip = IpAddress::parse(name)) {
          add_external(*e, *ip);
        } else if (by_dns && dns != nullptr) {
          auto ips = dns->lookup(name);
          if (s->resolution == Resolution::kDnsRoundRobin && ips.size() > 1) ips.resize(1);
          for (const auto& ip : ips) add_external(*e, ip);
        }
      }
    }
    auto endpoints = [&](const ztunnel::ServicePort& port, const ztunnel::Labels* subset,
                         UpstreamProtocol protocol) {
      std::vector<Endpoint> out;
      for (const auto* w : all) {
        if (subset != nullptr && !ztunnel::selector_matches(*subset, w->labels)) continue;
        auto target = port.target_on(*w);
        if (!target) continue;
        out.push_back({w, SocketAddress(w->addresses.front(), *target), protocol});
      }
      for (size_t i = 0; i < listed.size(); ++i) {
        const ztunnel::Workload& w = external_[first_external + i];
        if (subset != nullptr && !ztunnel::selector_matches(*subset, w.labels)) continue;
        auto own = listed[i]->ports.find(port.name);
        uint16_t target = own != listed[i]->ports.end() ? own->second
                          : port.target_port != 0       ? port.target_port
                                                        : port.port;
        out.push_back({&w, SocketAddress(w.addresses.front(), target), protocol});
      }
      return out;
    };
    auto outlier = [&](const pb::OutlierDetection* od,
                       std::string_view at) -> Result<OutlierPolicy> {
      if (od == nullptr) return OutlierPolicy{};
      return OutlierPolicy::parse(
          *od, fmt::format("DestinationRule {}: {}outlierDetection", dr->uid(), at));
    };
    // TLS the waypoint originates: to endpoints it dials straight (a ServiceEntry's), SIMPLE
    // or MUTUAL; HBONE is mTLS already.
    auto origination = [&](const pb::ClientTLSSettings* tls,
                           std::string_view at) -> Result<std::shared_ptr<const OriginationTls>> {
      if (tls == nullptr || listed.empty() ||
          (tls->mode() != pb::ClientTLSSettings::SIMPLE &&
           tls->mode() != pb::ClientTLSSettings::MUTUAL)) {
        return std::shared_ptr<const OriginationTls>();
      }
      return OriginationTls::build(*tls, s->hostname(),
                                   fmt::format("DestinationRule {}: {}", dr->uid(), at));
    };
    for (const auto& port : s->ports) {
      const pb::LoadBalancerSettings* top = dr ? lb_of(dr->traffic_policy(), port.port) : nullptr;
      const auto* top_pool = dr ? pool_of(dr->traffic_policy(), port.port) : nullptr;
      const auto* top_outlier = dr ? outlier_of(dr->traffic_policy(), port.port) : nullptr;
      auto top_od = outlier(top_outlier, "trafficPolicy.");
      if (!top_od) return top_od.error();
      const auto* top_tls = dr ? tls_of(dr->traffic_policy(), port.port) : nullptr;
      auto top_origination = origination(top_tls, "trafficPolicy.");
      if (!top_origination) return top_origination.error();
      std::string key = Cluster{s, "", port.port}.key();
      clusters_[key] = {endpoints(port, nullptr, upstream_protocol(port, http_of(top_pool))),
                        lb_policy(top), *top_od, key, limits_of(top_pool)};
      clusters_[key].tls = *top_origination;
      if (dr == nullptr) continue;
      for (int i = 0; i < dr->subsets_size(); ++i) {
        const auto& subset = dr->subsets(i);
        ztunnel::Labels labels(subset.labels().begin(), subset.labels().end());
        const pb::LoadBalancerSettings* own = lb_of(subset.traffic_policy(), port.port);
        const auto* own_pool = pool_of(subset.traffic_policy(), port.port);
        const auto* own_outlier = outlier_of(subset.traffic_policy(), port.port);
        auto od = own_outlier != nullptr
                      ? outlier(own_outlier, fmt::format("subsets[{}].trafficPolicy.", i))
                      : top_od;
        if (!od) return od.error();
        const auto* own_tls = tls_of(subset.traffic_policy(), port.port);
        auto subset_origination =
            own_tls != nullptr ? origination(own_tls, fmt::format("subsets[{}].trafficPolicy.", i))
                               : top_origination;
        if (!subset_origination) return subset_origination.error();
        std::string subset_key = Cluster{s, subset.name(), port.port}.key();
        clusters_[subset_key] = {
            endpoints(port, &labels,
                      upstream_protocol(port, http_of(own_pool != nullptr ? own_pool : top_pool))),
            lb_policy(own != nullptr ? own : top), *od, subset_key,
            limits_of(own_pool != nullptr ? own_pool : top_pool)};
        clusters_[subset_key].tls = *subset_origination;
      }
    }
  }
  for (auto& [key, info] : clusters_) {
    for (auto& ep : info.endpoints) ep.cluster = &info;
  }
  return {};
}

}  // namespace ambit::waypoint
