#include "waypoint/load_balancer.h"

#include <fmt/format.h>

#include <functional>
#include <vector>

namespace ambit::waypoint {

std::optional<std::string> hash_key(const LbPolicy& policy, const HttpRequest& request,
                                    const Downstream& downstream) {
  switch (policy.hash_on) {
    case LbPolicy::HashOn::kHeader: {
      const std::string* v = request.header(policy.hash_key);
      if (v == nullptr) return std::nullopt;
      return *v;
    }
    case LbPolicy::HashOn::kCookie: {
      auto v = request.cookie(policy.hash_key);
      if (!v) return std::nullopt;
      // A quoted value (as the waypoint sets it) hashes as its content.
      if (v->size() >= 2 && v->front() == '"' && v->back() == '"') *v = v->substr(1, v->size() - 2);
      return std::string(*v);
    }
    case LbPolicy::HashOn::kSourceIp:
      return downstream.source_ip.to_string();
    case LbPolicy::HashOn::kQueryParameter: {
      auto v = request.query_param(policy.hash_key);
      if (!v) return std::nullopt;
      return std::string(*v);
    }
  }
  return std::nullopt;
}

const RouteTable::Endpoint* LoadBalancer::pick(const RouteTable& table,
                                               const RouteTable::ClusterInfo* info,
                                               const HttpRequest& request,
                                               const Downstream& downstream, uint64_t entropy,
                                               std::string* set_cookie) {
  if (info == nullptr || info->endpoints.empty()) return nullptr;
  const auto& eps = info->endpoints;
  size_t n = eps.size();
  std::optional<std::string> key;
  if (info->lb.kind == LbPolicy::Kind::kConsistentHash) {
    key = hash_key(info->lb, request, downstream);
    const LbPolicy& lb = info->lb;
    if (!key && lb.hash_on == LbPolicy::HashOn::kCookie && lb.cookie_ttl_s) {
      // Envoy's generated cookie: a value from the client's address, set on the response.
      key = fmt::format("{:016x}", mix(std::hash<std::string>{}(downstream.source_ip.to_string())));
      if (set_cookie != nullptr) {
        *set_cookie = fmt::format("{}=\"{}\"", lb.hash_key, *key);
        if (*lb.cookie_ttl_s > 0) *set_cookie += fmt::format("; Max-Age={}", *lb.cookie_ttl_s);
        if (!lb.cookie_path.empty()) *set_cookie += "; Path=" + lb.cookie_path;
        *set_cookie += "; HttpOnly";
      }
    }
  }
  // Ejected endpoints are passed over, unless too few would be left (panic: all of them).
  thread_local std::vector<const RouteTable::Endpoint*> healthy;
  bool filtered = false;
  if (info->outlier.enabled && table.outliers().any_ejected()) {
    healthy.clear();
    for (const auto& ep : eps) {
      if (!table.outliers().ejected(info->key, ep.address)) healthy.push_back(&ep);
    }
    bool panic = healthy.empty() || healthy.size() * 100 < n * info->outlier.min_health_percent;
    if (!panic && healthy.size() < n) {
      filtered = true;
      n = healthy.size();
    }
  }
  auto at = [&](size_t i) { return filtered ? healthy[i] : &eps[i]; };
  if (n == 1) return at(0);
  switch (info->lb.kind) {
    case LbPolicy::Kind::kRoundRobin:
      return at(round_robin_[info->key]++ % n);
    case LbPolicy::Kind::kRandom:
      return at(entropy % n);
    case LbPolicy::Kind::kLeastRequest: {
      size_t a = entropy % n;
      size_t b = (a + 1 + (entropy >> 32) % (n - 1)) % n;  // another one, never a itself
      return active(at(b)->address) < active(at(a)->address) ? at(b) : at(a);
    }
    case LbPolicy::Kind::kConsistentHash: {
      if (!key) return at(entropy % n);
      uint64_t h = std::hash<std::string>{}(*key);
      const RouteTable::Endpoint* best = nullptr;
      uint64_t best_score = 0;
      for (size_t i = 0; i < n; ++i) {
        uint64_t score = mix(h ^ std::hash<SocketAddress>{}(at(i)->address));
        if (best == nullptr || score > best_score) best = at(i), best_score = score;
      }
      return best;
    }
  }
  return at(0);
}

void LoadBalancer::request_finished(const RouteTable::Endpoint& endpoint) {
  auto it = active_.find(endpoint.address);
  if (it == active_.end()) return;
  if (--it->second == 0) active_.erase(it);
}

uint32_t LoadBalancer::active(const SocketAddress& endpoint) const {
  auto it = active_.find(endpoint);
  return it == active_.end() ? 0 : it->second;
}

}  // namespace ambit::waypoint
