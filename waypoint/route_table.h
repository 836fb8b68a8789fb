// The waypoint's routes: Istio VirtualService `http` rules and DestinationRule subsets and load
// balancer settings, compiled once per view (regexes with RE2, hosts resolved to the view's
// Services, subsets to their endpoints) and read by every worker without locks.
//
// Semantics, as Istio's waypoint (Envoy) applies them:
//   - the VirtualService is the one whose hosts name the Service the client dialled (exact FQDN
//     before wildcards, then by uid); none: the request goes to that Service on the dialled port;
//   - its http routes in order, the first whose match (any of its entries; each entry's
//     conditions all hold) fits wins; a VirtualService that matches nothing answers 404 (NR);
//   - a destination naming no known Service, or a subset its DestinationRule lacks: 503 (NC).
#pragma once

#include <re2/re2.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ambit/v1/mesh.pb.h"
#include "core/net_address.h"
#include "core/result.h"
#include "waypoint/cluster_load.h"
#include "waypoint/dns_resolver.h"
#include "waypoint/http_request.h"
#include "waypoint/origination_tls.h"
#include "waypoint/outlier_detector.h"
#include "waypoint/retry_policy.h"
#include "waypoint/token_bucket.h"
#include "ztunnel/workload_table.h"

namespace ambit::waypoint {

// Istio `headers` operations on a request or response, names lowercase.
struct HeaderEdits {
  std::vector<Header> set, add;
  std::vector<std::string> remove;
  bool empty() const { return set.empty() && add.empty() && remove.empty(); }
  void apply_to(std::vector<Header>& headers) const;  // remove, then set, then add
  void append(const HeaderEdits& other);
};

// Istio host patterns: an FQDN, "*.suffix" or "*" (case-insensitive).
bool host_matches(std::string_view pattern, std::string_view host);

// Where a request goes: a Service's port, optionally one of its subsets.
struct Cluster {
  const ztunnel::Service* service = nullptr;
  std::string subset;       // "" = every endpoint
  uint16_t port = 0;        // the Service port
  // "<ns>/<name>|<subset>|<port>": by the Service's uid, not its address, so a key outlives its
  // table (a keep-alive connection's Downstream comes from the table it was accepted with, its
  // next request may be routed by a newer one; round-robin counters carry over a config swap).
  std::string key() const;
};

// A DestinationRule's loadBalancer for one cluster, resolved (subset over top level, port-level
// settings over both). Unset: LEAST_REQUEST, Istio's default.
struct LbPolicy {
  enum class Kind { kLeastRequest, kRoundRobin, kRandom, kConsistentHash };
  enum class HashOn { kHeader, kCookie, kSourceIp, kQueryParameter };
  Kind kind = Kind::kLeastRequest;
  HashOn hash_on = HashOn::kHeader;
  std::string hash_key;  // header name (lowercase), cookie or query parameter name
  // httpCookie with a ttl: a request without the cookie gets one (Envoy's generated cookie),
  // Max-Age = the ttl in whole seconds (0: a session cookie), Path = cookie_path when set.
  std::optional<uint64_t> cookie_ttl_s;
  std::string cookie_path;
};

// What the waypoint speaks to a cluster's endpoints.
enum class UpstreamProtocol { kHttp1, kHttp2, kClient /* what the client spoke */ };

struct RouteResult {
  enum class Kind { kForward, kRedirect, kDirectResponse, kNoRoute, kNoCluster, kRateLimited };
  Kind kind = Kind::kNoRoute;
  // For logs and metrics: "<vs uid>#<route name or index>", "default" without a VirtualService.
  std::string route;
  Cluster cluster;                // kForward
  HeaderEdits response_headers;   // kForward: route's and the chosen destination's
  std::optional<Cluster> mirror;  // kForward: also send a copy there (fire and forget)
  // kForward: the route's timeout and retries (Istio's default retries without a route).
  const Resilience* resilience = &Resilience::istio_default();
  int status = 0;                 // kRedirect, kDirectResponse, kRateLimited
  std::string location;           // kRedirect
  std::string body;               // kDirectResponse
  // A local rate limit whose bucket was empty: its uid. The request is refused (kRateLimited,
  // with `rate_limit_headers`) when the limit is enforced for it, else it goes on, counted.
  const std::string* rate_limited_by = nullptr;
  std::vector<Header> rate_limit_headers;
};

class RouteTable {
 public:
  struct ClusterInfo;
  struct Endpoint {
    const ztunnel::Workload* workload;
    SocketAddress address;  // pod ip : target port
    UpstreamProtocol protocol = UpstreamProtocol::kClient;  // its cluster's
    const ClusterInfo* cluster = nullptr;                   // the one it is listed in
  };
  // Envoy's circuit breakers of a cluster, from DestinationRule connectionPool (resolved as lb
  // is): how many requests, retries and requests waiting for a connection may be in flight to
  // it at once across the workers (http2MaxRequests, maxRetries, http1MaxPendingRequests), and
  // how its connections are kept. 0: no limit (Istio's default).
  struct ClusterLimits {
    uint32_t max_requests = 0;
    uint32_t max_retries = 0;
    uint32_t max_pending = 0;
    ConnectionPolicy connections;
  };
  struct ClusterInfo {
    std::vector<Endpoint> endpoints;
    LbPolicy lb;
    OutlierPolicy outlier;  // resolved as lb is
    std::string key;        // Cluster::key()
    ClusterLimits limits;
    std::shared_ptr<ClusterLoad> load = std::make_shared<ClusterLoad>();  // what is in flight
    // DestinationRule tls SIMPLE / MUTUAL to endpoints outside the mesh (resolved as lb is).
    std::shared_ptr<const OriginationTls> tls;
  };

  // The error names the object and field ("VirtualService shop/reviews: http[1].match[0].uri:
  // invalid regex ...").
  static Result<std::shared_ptr<const RouteTable>> build(
      const std::vector<ambit::v1::VirtualService>& virtual_services,
      const std::vector<ambit::v1::DestinationRule>& destination_rules,
      std::shared_ptr<const ztunnel::WorkloadTable> table,
      const RetryBudgetPolicy& default_budget = kDefaultRouteBudget,
      const std::vector<ambit::v1::LocalRateLimit>& rate_limits = {},
      TokenBuckets* buckets = nullptr, DnsResolver* dns = nullptr);

  // Chooses the route and applies its request edits (rewrite, headers) to `request`. The local
  // rate limits of the dialled Service apply first, as Envoy's filter runs before its router:
  // on the request as it came, with the chosen route's settings.
  RouteResult route(HttpRequest& request, const Downstream& downstream, uint64_t entropy) const;

  // Where a connection that is not HTTP goes: for TLS with a server name (`sni`), the
  // VirtualService's first `tls` route matching it; else its first `tcp` route that matches
  // (port, destination subnets, source labels; a Gateway API TCPRoute by port, 0: any), by
  // weight; else the dialled Service and port. nullopt when the route's backend is unknown.
  // `route` receives the route's name for logs.
  std::optional<Cluster> tcp_route(const Downstream& downstream, std::string_view sni,
                                   uint64_t entropy, std::string* route) const;

  // The endpoints and load balancer of a cluster; null when the Service has no such port or
  // subset.
  const ClusterInfo* cluster(const Cluster& cluster) const;
  const ztunnel::WorkloadTable& table() const { return *table_; }
  // The endpoints' health as the tries of every worker found it, for this view.
  OutlierDetector& outliers() const { return *outliers_; }
  // The retry budgets of this view's services, and the one a route without its own gets.
  RetryBudgets& budgets() const { return *budgets_; }
  const RetryBudgetPolicy& default_budget() const { return default_budget_; }

 private:
  // route_clusters.cpp: clusters_ from table_ and the DestinationRules.
  // A DNS ServiceEntry's names are looked up in `dns` (none: they have no endpoints).
  Status build_clusters(const std::vector<ambit::v1::DestinationRule>& destination_rules,
                        DnsResolver* dns);
  // route_rate_limits.cpp: rate_limits_ from the view's LocalRateLimits.
  Status build_rate_limits(const std::vector<ambit::v1::LocalRateLimit>& rate_limits,
                           TokenBuckets& buckets);
  struct StringMatcher {
    enum class Kind { kExact, kPrefix, kRegex, kPathPrefix, kPresent } kind = Kind::kPresent;
    std::string value;
    std::shared_ptr<const RE2> regex;
    bool ignore_case = false;
    // The length of what matched as a prefix (kPrefix, kPathPrefix), for a prefix rewrite.
    bool matches(std::string_view s, size_t* prefix_len = nullptr) const;
  };
  struct Match {
    std::optional<StringMatcher> uri, scheme, method, authority;
    std::vector<std::pair<std::string, StringMatcher>> headers, without_headers, query_params;
    uint16_t port = 0;
    ztunnel::Labels source_labels;
    std::string source_namespace;
  };
  struct WeightedDestination {
    std::string host;  // FQDN
    std::string subset;
    uint16_t port = 0;
    uint32_t weight = 0;
    HeaderEdits request_headers, response_headers;
  };
  struct Route {
    std::string name;            // for logs and metrics: "<vs uid>#<route name or index>"
    std::string written_name;    // http[].name ("" when none): what rate-limit routes name
    std::vector<Match> matches;  // empty: every request
    std::vector<WeightedDestination> destinations;
    uint32_t total_weight = 0;
    std::optional<ambit::v1::HTTPRedirect> redirect;
    int direct_status = 0;
    ambit::v1::HTTPRewrite rewrite;
    HeaderEdits request_headers, response_headers;
    std::optional<WeightedDestination> mirror;
    double mirror_percent = 0;
    Resilience resilience;
  };
  struct L4Match {
    uint16_t port = 0;                   // 0: any
    std::vector<std::string> sni_hosts;  // exact, "*.suffix" or "*"; lowercase
    std::vector<Cidr> destination_subnets;
    ztunnel::Labels source_labels;
    bool matches(const Downstream& downstream, std::string_view sni) const;
  };
  struct TcpRoute {
    std::string name;   // "<vs uid>#tcp<index>", "<vs uid>#tls<index>"
    uint16_t port = 0;  // 0: every port
    std::vector<L4Match> matches;  // any of them; none: every connection (on `port`)
    std::vector<WeightedDestination> destinations;
    uint32_t total_weight = 0;
  };
  struct VirtualService {
    std::string uid;
    std::vector<std::string> hosts;
    std::vector<Route> routes;
    std::vector<TcpRoute> tcp, tls;
  };
  // Picks one of `ds` (total weight `total`) by `entropy`.
  static const WeightedDestination& pick(const std::vector<WeightedDestination>& ds, uint32_t total,
                                         uint64_t entropy);

  // One LocalRateLimit's settings for a route, compiled (see ambit.v1.RateLimitSettings).
  struct RateLimit {
    std::shared_ptr<TokenBucket> bucket;  // null: only the rules limit
    double enabled_percent = 0, enforced_percent = 0;
    int status = 429;
    std::vector<Header> headers;
    struct Rule {
      Match match;
      std::shared_ptr<TokenBucket> bucket;
    };
    std::vector<Rule> rules;
    bool always_consume_default = false;
  };
  struct RateLimitPolicy {
    std::string uid;
    std::optional<RateLimit> settings;
    std::vector<std::pair<std::string, RateLimit>> routes;  // by http route name
    const RateLimit* for_route(std::string_view route) const;
  };
  // Takes the tokens the request needs from the dialled Service's limits. When one has none,
  // `out` names it; false when that limit is enforced for this request (`out` is then
  // kRateLimited), true when the request goes on regardless (shadow mode).
  bool admit(const HttpRequest& request, const Downstream& downstream, const Route* route,
             uint64_t entropy, RouteResult& out) const;
  // Whether `limit` lets the request go (tokens taken), for a sampled request.
  bool take_tokens(const RateLimit& limit, const HttpRequest& request,
                   const Downstream& downstream) const;

  RouteTable() = default;
  // The dialled Service and port, when it is a cluster of this table.
  std::optional<Cluster> dialled(const Downstream& downstream) const;
  const VirtualService* virtual_service_for(const Downstream& downstream,
                                            const HttpRequest& request) const;
  bool matches(const Match& m, const HttpRequest& request, const Downstream& downstream,
               size_t* prefix_len) const;
  // Resolves a destination to a cluster; nullopt when the host or subset is unknown.
  std::optional<Cluster> resolve(const WeightedDestination& d, const Downstream& downstream) const;
  static Result<StringMatcher> compile(const ambit::v1::StringMatch& m, bool ignore_case,
                                       const std::string& where);
  static Result<Match> compile(const ambit::v1::HTTPMatchRequest& m, const std::string& where);

  std::shared_ptr<const ztunnel::WorkloadTable> table_;
  std::shared_ptr<OutlierDetector> outliers_ = std::make_shared<OutlierDetector>();
  std::shared_ptr<RetryBudgets> budgets_ = std::make_shared<RetryBudgets>();
  RetryBudgetPolicy default_budget_;
  std::vector<VirtualService> virtual_services_;  // by uid
  // The first VirtualService (by uid) naming each exact host, lowercase; then the ones with
  // wildcard hosts, in uid order.
  std::unordered_map<std::string, const VirtualService*> by_host_;
  std::vector<const VirtualService*> wildcards_;
  // Every (Service, port) and (Service, DestinationRule subset, port): a subset without
  // endpoints still has its entry, a subset the rule lacks has none.
  std::unordered_map<std::string, ClusterInfo> clusters_;  // by Cluster::key()
  // ServiceEntry endpoints outside the mesh, as workloads (mesh false) the clusters point at.
  std::deque<ztunnel::Workload> external_;
  std::vector<RateLimitPolicy> rate_limits_;               // by uid
  // The limits of each Service FQDN (lowercase), in uid order.
  std::unordered_map<std::string, std::vector<const RateLimitPolicy*>> rate_limits_by_host_;
};

}  // namespace ambit::waypoint
