// Endpoint choice for one worker: the DestinationRule's loadBalancer over a cluster's endpoints.
// Each worker has its own (WaypointListener), so nothing here is shared between threads; its
// state is keyed by cluster and endpoint address, so it carries over a config swap.
//   ROUND_ROBIN      a counter per cluster
//   RANDOM           uniform over the endpoints
//   LEAST_REQUEST    Envoy's power of two choices: two random endpoints, the one with fewer
//                    requests in flight (on this worker)
//   consistentHash   rendezvous hashing of the key (header, cookie, source IP, query
//                    parameter): a key stays on its endpoint while that endpoint exists, and
//                    only the keys of a removed endpoint move; a request without the key is
//                    placed at random, as Envoy does, except a cookie with a ttl, which the
//                    waypoint then sets (as Envoy generates it)
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "waypoint/chance.h"
#include "waypoint/http_request.h"
#include "waypoint/route_table.h"

namespace ambit::waypoint {

class LoadBalancer {
 public:
  // Null when the cluster has no endpoints. A consistent hash on a cookie with a ttl, for a
  // request without that cookie, hashes on a value made from the client's address and puts
  // the Set-Cookie for it in `set_cookie` (when given), so the client's next requests carry
  // the key that lands where this one did.
  const RouteTable::Endpoint* pick(const RouteTable& table, const Cluster& cluster,
                                   const HttpRequest& request, const Downstream& downstream,
                                   uint64_t entropy, std::string* set_cookie = nullptr) {
    return pick(table, table.cluster(cluster), request, downstream, entropy, set_cookie);
  }
  // The same, for a cluster already looked up (null: none).
  const RouteTable::Endpoint* pick(const RouteTable& table, const RouteTable::ClusterInfo* info,
                                   const HttpRequest& request, const Downstream& downstream,
                                   uint64_t entropy, std::string* set_cookie = nullptr);
  void request_started(const RouteTable::Endpoint& endpoint) { ++active_[endpoint.address]; }
  void request_finished(const RouteTable::Endpoint& endpoint);
  uint32_t active(const SocketAddress& endpoint) const;

 private:
  std::unordered_map<std::string, uint64_t> round_robin_;  // by Cluster::key()
  std::unordered_map<SocketAddress, uint32_t> active_;
};

// The consistent-hash key of a request under `policy`, or nullopt when the request has none.
std::optional<std::string> hash_key(const LbPolicy& policy, const HttpRequest& request,
                                    const Downstream& downstream);

}  // namespace ambit::waypoint
