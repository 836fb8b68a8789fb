// The user's configuration as typed C++ objects: the Kubernetes kinds the mesh reads, Istio's
// networking and security kinds, Linkerd's ServiceProfile, SMI's TrafficSplit and the waypoint
// Gateways. Filled by load_config (loader.h), checked by analyze (analyzer.h), turned into the
// controller API by the views (views.h).
//
// Values keep Istio's spelling and semantics; defaults that Istio applies at evaluation time
// (e.g. "no weight on a single destination means 100") are left to the consumers and documented
// where they matter. Positions (`Origin`) are kept for the fields that cross-object checks blame.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ambit::controller::config {

using StringMap = std::map<std::string, std::string>;

// Where a field was written, within its object's file.
struct Origin {
  int line = 0;       // 1-based; 0 when unknown
  std::string field;  // "spec.http[0].route[1].destination.subset"
};

struct ObjectMeta {
  std::string api_version, kind;
  std::string name;
  std::string ns;  // "default" when not given; empty for cluster-scoped kinds (Namespace)
  StringMap labels, annotations;
  std::string file;
  int line = 0;  // the line of the document's first key
  // metadata.creationTimestamp as written (RFC 3339, "2024-05-01T10:00:00Z"); empty when not
  // given. Gateway API breaks ties between routes by it, oldest first.
  std::string creation_timestamp;

  std::string uid() const;       // "<ns>/<name>", or "<name>" when cluster-scoped
  std::string describe() const;  // "VirtualService shop/reviews"
};

// A protobuf-style duration as Istio accepts it: "1s", "500ms", "1m", "1h", "0.5s", "1h30m".
struct Duration {
  std::string text;
  std::chrono::nanoseconds value{0};
};

// --- Kubernetes -------------------------------------------------------------------------------

struct Namespace {
  ObjectMeta meta;
};

struct ServiceAccount {
  ObjectMeta meta;
};

// A pod, or in standalone mode a workload declared as one.
struct Pod {
  ObjectMeta meta;
  std::string node_name;                    // spec.nodeName
  std::string service_account = "default";  // spec.serviceAccountName
  std::vector<std::string> addresses;       // status.podIPs (or status.podIP), in order
  std::string netns, cgroup;                // annotations ambit.io/netns, ambit.io/cgroup
  // spec.containers[].ports[] that have a name: name -> containerPort.
  std::map<std::string, uint32_t> named_ports;
};

struct ServicePort {
  uint32_t port = 0;
  uint32_t target_port = 0;      // 0: same as port (or the named port's number, per pod)
  std::string target_port_name;  // a named targetPort: each pod's container port of that name
  Origin target_port_at;
  std::string name, app_protocol, protocol = "TCP";
};

struct Service {
  ObjectMeta meta;
  std::vector<std::string> cluster_ips;  // spec.clusterIPs, else spec.clusterIP; "None" dropped
  std::vector<ServicePort> ports;
  StringMap selector;  // empty: a selector-less Service (no endpoints from Pods)
  Origin selector_at;
  // Annotation networking.istio.io/exportTo, split on ','; empty: exported everywhere.
  std::vector<std::string> export_to;
};

// A Gateway API Gateway whose class is ambit-waypoint (or istio-waypoint): a waypoint proxy.
// Services, namespaces and pods pick it with the label ambit.io/use-waypoint=<name>.
struct Waypoint {
  ObjectMeta meta;
  std::string gateway_class;
};

// --- networking.istio.io ----------------------------------------------------------------------

struct StringMatch {
  enum class Kind { kExact, kPrefix, kRegex };
  Kind kind = Kind::kExact;
  std::string value;
  bool operator==(const StringMatch&) const = default;
};

struct HttpMatchRequest {
  std::string name;
  std::optional<StringMatch> uri, scheme, method, authority;
  std::map<std::string, StringMatch> headers, without_headers, query_params;
  std::optional<uint32_t> port;
  StringMap source_labels;
  std::string source_namespace;
  bool ignore_uri_case = false;
  // The same requests match: every condition equal (the name is only a label).
  bool same_conditions(const HttpMatchRequest& other) const;
};

struct Destination {
  std::string host, subset;
  std::optional<uint32_t> port;
  Origin at;  // the destination object
  Origin host_at, subset_at;
};

// Header manipulation (VirtualService `headers`, Gateway API header modifier filters).
struct HeaderOperations {
  StringMap set, add;
  std::vector<std::string> remove;
};

struct HeaderManipulation {
  std::optional<HeaderOperations> request, response;
};

struct RouteDestination {
  Destination destination;
  std::optional<int64_t> weight;  // absent: Istio treats a lone destination as 100
  HeaderManipulation headers;
};

struct HttpRetry {
  int64_t attempts = 0;
  std::optional<Duration> per_try_timeout;
  std::vector<std::string> retry_on;  // split on ','
};

struct HttpFault {
  struct Delay {
    double percentage = 100;  // percentage.value (or the deprecated integer `percent`)
    Duration fixed_delay;
  };
  struct Abort {
    double percentage = 100;
    uint32_t http_status = 0;  // 0 when grpc_status is set
    std::string grpc_status;   // Istio's grpcStatus: a gRPC status name ("UNAVAILABLE")
  };
  std::optional<Delay> delay;
  std::optional<Abort> abort;
};

struct HttpRewrite {
  std::string uri, authority;
};

struct HttpRedirect {
  std::string uri, authority;
  uint32_t redirect_code = 301;
};

struct HttpRoute {
  std::string name;
  std::vector<HttpMatchRequest> match;
  std::vector<RouteDestination> route;
  std::optional<HttpRedirect> redirect;
  std::optional<HttpRewrite> rewrite;
  std::optional<Duration> timeout;
  std::optional<HttpRetry> retries;
  std::optional<HttpFault> fault;
  std::optional<Destination> mirror;
  std::optional<double> mirror_percentage;
  HeaderManipulation headers;
  Origin at;  // the route object (http[i])
};

// tcp: and tls: routes; tls matches carry SNI hosts.
struct L4Route {
  struct Match {
    std::optional<uint32_t> port;
    std::vector<std::string> destination_subnets, sni_hosts;
    StringMap source_labels;
  };
  std::vector<Match> match;
  std::vector<RouteDestination> route;
  Origin at;
};

struct VirtualService {
  ObjectMeta meta;
  std::vector<std::string> hosts;
  std::vector<Origin> hosts_at;  // one per host
  std::vector<std::string> gateways, export_to;
  std::vector<Origin> gateways_at;  // one per gateway
  std::vector<HttpRoute> http;
  std::vector<L4Route> tcp, tls;

  // Mesh routing (waypoints'): no `gateways`, or "mesh" among them.
  bool binds_to_mesh() const;
};

struct LoadBalancer {
  enum class Simple { kUnspecified, kRoundRobin, kLeastRequest, kRandom, kPassthrough };
  Simple simple = Simple::kUnspecified;  // LEAST_CONN is read as LEAST_REQUEST, as Istio does
  struct ConsistentHash {
    std::string http_header_name, http_cookie_name, http_cookie_path, http_query_parameter_name;
    std::optional<Duration> http_cookie_ttl;
    bool use_source_ip = false;
    uint64_t minimum_ring_size = 0;
  };
  std::optional<ConsistentHash> consistent_hash;
};

struct ConnectionPool {
  struct Tcp {
    std::optional<int64_t> max_connections;
    std::optional<Duration> connect_timeout;
  };
  struct Http {
    std::optional<int64_t> http1_max_pending_requests, http2_max_requests,
        max_requests_per_connection, max_retries;
    std::optional<Duration> idle_timeout;
    std::string h2_upgrade_policy;  // "", DEFAULT, DO_NOT_UPGRADE, UPGRADE
    bool use_client_protocol = false;
  };
  std::optional<Tcp> tcp;
  std::optional<Http> http;
};

struct OutlierDetection {
  // `consecutiveErrors` (deprecated in Istio, used by the seed) is kept as written; Istio maps it
  // to consecutive5xxErrors (gateway errors) — consumers use consecutive_5xx_errors first.
  std::optional<int64_t> consecutive_errors, consecutive_5xx_errors, consecutive_gateway_errors;
  std::optional<Duration> interval, base_ejection_time;
  std::optional<int64_t> max_ejection_percent, min_health_percent;
};

struct ClientTls {
  std::string mode;  // DISABLE | SIMPLE | MUTUAL | ISTIO_MUTUAL
  std::string sni;
  std::vector<std::string> subject_alt_names;
  std::string ca_certificates, client_certificate, private_key;  // file paths
  bool insecure_skip_verify = false;
};

struct TrafficPolicy {
  std::optional<LoadBalancer> load_balancer;
  std::optional<ConnectionPool> connection_pool;
  std::optional<OutlierDetection> outlier_detection;
  std::optional<ClientTls> tls;
  struct PortSettings {
    uint32_t port = 0;
    std::optional<LoadBalancer> load_balancer;
    std::optional<ConnectionPool> connection_pool;
    std::optional<OutlierDetection> outlier_detection;
    std::optional<ClientTls> tls;
  };
  std::vector<PortSettings> port_level_settings;
};

struct Subset {
  std::string name;
  StringMap labels;
  std::optional<TrafficPolicy> traffic_policy;
  Origin at;
};

struct DestinationRule {
  ObjectMeta meta;
  std::string host;
  Origin host_at;
  std::optional<TrafficPolicy> traffic_policy;
  std::vector<Subset> subsets;
  std::optional<StringMap> workload_selector;  // workloadSelector.matchLabels
  Origin workload_selector_at;
  std::vector<std::string> export_to;
};

struct ServiceEntry {
  ObjectMeta meta;
  std::vector<std::string> hosts, addresses;
  struct Port {
    uint32_t number = 0, target_port = 0;
    std::string name, protocol;  // as written
    // The protocol in upper case: Istio compares protocol names without case ("tcp" is TCP).
    std::string protocol_upper() const;
  };
  std::vector<Port> ports;
  enum class Location { kMeshExternal, kMeshInternal };
  Location location = Location::kMeshExternal;
  enum class Resolution { kNone, kStatic, kDns, kDnsRoundRobin };
  Resolution resolution = Resolution::kNone;
  struct Endpoint {
    std::string address, network, locality;
    std::map<std::string, uint32_t> ports;
    StringMap labels;
    uint32_t weight = 0;
  };
  std::vector<Endpoint> endpoints;
  std::optional<StringMap> workload_selector;  // workloadSelector.labels
  Origin workload_selector_at;
  std::vector<std::string> export_to, subject_alt_names;
};

// --- security.istio.io ------------------------------------------------------------------------

enum class MtlsMode { kUnset, kPermissive, kStrict, kDisable };

struct PeerAuthentication {
  ObjectMeta meta;
  std::optional<StringMap> selector;  // selector.matchLabels; absent = namespace-wide
  Origin selector_at;
  MtlsMode mode = MtlsMode::kUnset;
  std::map<uint32_t, MtlsMode> port_level_mtls;
};

struct TargetRef {
  std::string group, kind, name, ns;
  Origin at;
};

struct AuthorizationPolicy {
  ObjectMeta meta;
  std::optional<StringMap> selector;  // selector.matchLabels; absent = whole namespace
  Origin selector_at;
  enum class Action { kAllow, kDeny, kAudit, kCustom };
  Action action = Action::kAllow;
  std::string provider;  // CUSTOM: provider.name
  bool dry_run = false;  // annotation istio.io/dry-run: "true": evaluated by Istio, not enforced
  // A policy's targetRefs entry: a waypoint Gateway, a Service (enforced by its waypoint), a
  // ServiceEntry, or (in the root namespace) a GatewayClass. Group and namespace as written
  // ("" for core; namespace empty = the policy's).
  std::vector<TargetRef> target_refs;
  struct Source {
    std::vector<std::string> principals, not_principals, request_principals, not_request_principals,
        namespaces, not_namespaces, ip_blocks, not_ip_blocks, remote_ip_blocks,
        not_remote_ip_blocks;
    // "<ns>/<sa>", the namespace filled in where the policy wrote only "<sa>".
    std::vector<std::string> service_accounts, not_service_accounts;
    std::vector<std::string> trust_domains, not_trust_domains;  // Istio string patterns
  };
  struct Operation {
    std::vector<std::string> hosts, not_hosts, ports, not_ports, methods, not_methods, paths,
        not_paths;
  };
  struct Condition {
    std::string key;
    std::vector<std::string> values, not_values;
  };
  struct Rule {
    std::vector<Source> from;
    std::vector<Operation> to;
    std::vector<Condition> when;
    Origin at;
  };
  std::vector<Rule> rules;  // none + ALLOW: allows nothing (the "deny all" policy)
};

// --- gateway.networking.k8s.io routes -----------------------------------------------------------

// A parentRef: the Service (GAMMA) or the waypoint Gateway a route attaches to.
struct ParentRef {
  std::string group = "gateway.networking.k8s.io", kind = "Gateway";
  std::string ns;  // empty: the route's namespace
  std::string name, section_name;
  std::optional<uint32_t> port;
  Origin at;

  bool is_service() const { return (group.empty() || group == "core") && kind == "Service"; }
  bool is_gateway() const { return group == "gateway.networking.k8s.io" && kind == "Gateway"; }
};

// A backendRef: a Service, or (Istio's extension) a ServiceEntry host, kind Hostname in group
// networking.istio.io, whose name is the host.
struct BackendRef {
  std::string group, kind = "Service";
  std::string ns;  // empty: the route's namespace
  std::string name;
  std::optional<uint32_t> port;  // required for a Service
  int64_t weight = 1;            // 0: no traffic
  Origin at;

  bool is_service() const { return (group.empty() || group == "core") && kind == "Service"; }
  bool is_hostname() const { return group == "networking.istio.io" && kind == "Hostname"; }
};

struct RouteFilter {
  enum class Type {
    kRequestHeaderModifier,
    kResponseHeaderModifier,
    kUrlRewrite,
    kRequestRedirect,
    kRequestMirror,
  };
  // A path modifier of URLRewrite and RequestRedirect.
  struct PathModifier {
    enum class Kind { kReplaceFullPath, kReplacePrefixMatch };
    Kind kind = Kind::kReplaceFullPath;
    std::string value;
  };
  Type type = Type::kRequestHeaderModifier;
  HeaderOperations headers;  // the header modifiers
  std::string hostname;      // URLRewrite, RequestRedirect
  std::optional<PathModifier> path;
  std::string scheme;                    // RequestRedirect
  std::optional<uint32_t> port;          // RequestRedirect
  uint32_t status_code = 302;            // RequestRedirect (Gateway API's default)
  std::optional<BackendRef> mirror;      // RequestMirror
  std::optional<double> mirror_percent;  // RequestMirror percent or fraction, 0-100
  Origin at;
};

// One match of a rule. GRPCRoute method matches are read as the path they stand for
// (/<service>/<method> exact, /<service>/ prefix, or a regex), so both kinds share this.
struct GatewayRouteMatch {
  // kExact; kPrefix is Gateway API's PathPrefix (whole path segments); kRegex.
  StringMatch path{StringMatch::Kind::kPrefix, "/"};
  std::map<std::string, StringMatch> headers, query_params;  // kExact or kRegex
  std::string method;                                        // HTTPRoute; empty: any
  Origin at;
};

struct GatewayRouteRule {
  std::string name;
  std::vector<GatewayRouteMatch> matches;  // never empty: none written is PathPrefix "/"
  std::vector<RouteFilter> filters;
  struct Backend {
    BackendRef ref;
    std::vector<RouteFilter> filters;
  };
  std::vector<Backend> backends;
  std::optional<Duration> request_timeout, backend_request_timeout;
  Origin at;
};

// HTTPRoute, GRPCRoute or TCPRoute (TCPRoute rules have backends only).
struct GatewayRoute {
  enum class Kind { kHttp, kGrpc, kTcp };
  ObjectMeta meta;
  Kind kind = Kind::kHttp;
  std::vector<ParentRef> parent_refs;
  std::vector<std::string> hostnames;
  std::vector<GatewayRouteRule> rules;

  // "httproute/<ns>/<name>" (grpcroute/, tcproute/): the uid of its routes in the views.
  std::string route_uid() const;
};

// --- Linkerd and SMI --------------------------------------------------------------------------

struct ServiceProfile {
  ObjectMeta meta;  // name: the service's FQDN, <svc>.<ns>.svc.cluster.local
  struct Route {
    std::string name;
    std::string method, path_regex;  // condition (all/any/not are kept out for now)
    std::optional<Duration> timeout;
    bool is_retryable = false;
    Origin at;
  };
  std::vector<Route> routes;
  struct RetryBudget {
    double retry_ratio = 0.2;
    int64_t min_retries_per_second = 10;
    Duration ttl;
  };
  std::optional<RetryBudget> retry_budget;
  // Not in Linkerd's schema but written in the seed document: per-route `retries: {limit,
  // timeout}`. Accepted (with a warning that Linkerd would ignore it) and kept.
  struct RouteRetries {
    int64_t limit = 0;
    std::optional<Duration> timeout;
  };
  std::map<std::string, RouteRetries> route_retries;  // by route name
};

struct TrafficSplit {
  ObjectMeta meta;
  std::string service;  // the apex service (spec.service)
  Origin service_at;
  struct Backend {
    std::string service;
    int64_t weight = 0;  // in thousandths when written as a quantity ("500m"), else as written
    Origin at;
  };
  std::vector<Backend> backends;
};

// --- Local rate limits ---------------------------------------------------------------------------

// Envoy's token bucket: full at first, tokens_per_fill more every fill_interval, up to max_tokens.
struct RateLimitBucket {
  int64_t max_tokens = 0;
  int64_t tokens_per_fill = 1;
  Duration fill_interval;
};

// The settings of Envoy's local_ratelimit filter (or of one route's typed_per_filter_config),
// descriptors already turned into request conditions.
struct RateLimitSettings {
  std::optional<RateLimitBucket> bucket;             // absent: only the rules limit
  double enabled_percent = 0, enforced_percent = 0;  // Envoy's defaults: off
  uint32_t status = 429;
  StringMap response_headers;
  struct Rule {
    HttpMatchRequest match;  // every condition holds
    RateLimitBucket bucket;
    Origin at;
  };
  std::vector<Rule> rules;
  bool always_consume_default = true;  // Envoy's always_consume_default_token_bucket
};

// A local rate limit at the waypoint of the Services it names: an Istio EnvoyFilter that inserts
// envoy.filters.http.local_ratelimit (workloadSelector or targetRefs), or ambit's own
// LocalRateLimit (ambit.io/v1alpha1, targetRefs).
struct LocalRateLimit {
  ObjectMeta meta;
  std::optional<StringMap> selector;   // the Services whose pods it picks; absent: the namespace
  std::vector<TargetRef> target_refs;  // Services, or waypoint Gateways (the Services they serve)
  std::optional<RateLimitSettings> settings;
  struct Route {
    std::string name;  // a VirtualService http route's name
    RateLimitSettings settings;
    Origin at;
  };
  std::vector<Route> routes;

  // "envoyfilter/<ns>/<name>" or "localratelimit/<ns>/<name>".
  std::string limit_uid() const;
};

// --- The whole configuration -------------------------------------------------------------------

// Kinds that are read and understood but that the mesh does not act on (Istio Gateway,
// EnvoyFilter, Deployment, ConfigMap...), kept so tools can list them.
struct IgnoredObject {
  ObjectMeta meta;
};

struct ConfigModel {
  std::vector<Namespace> namespaces;
  std::vector<ServiceAccount> service_accounts;
  std::vector<Pod> pods;
  std::vector<Service> services;
  std::vector<Waypoint> waypoints;
  std::vector<VirtualService> virtual_services;
  std::vector<DestinationRule> destination_rules;
  std::vector<ServiceEntry> service_entries;
  std::vector<PeerAuthentication> peer_authentications;
  std::vector<AuthorizationPolicy> authorization_policies;
  std::vector<ServiceProfile> service_profiles;
  std::vector<TrafficSplit> traffic_splits;
  std::vector<GatewayRoute> gateway_routes;
  std::vector<LocalRateLimit> local_rate_limits;
  std::vector<IgnoredObject> ignored;

  size_t object_count() const;
  // Adds every object of `other` (several files' models make the directory's model).
  void append(const ConfigModel& other);

  // The kinds the mesh part of agents' views is made from (Namespaces, ServiceAccounts, Pods,
  // Services, waypoints, PeerAuthentications: config::agent_mesh_resources), and the rest. A
  // directory keeps its summed model between versions and sums again only the part a change hit.
  enum class Part { kMesh, kRest };
  void append(const ConfigModel& other, Part part);
  void clear(Part part);
  bool has(Part part) const;
};

// Istio's root namespace: a selector-less PeerAuthentication there is the mesh-wide policy.
inline constexpr const char* kRootNamespace = "istio-system";
// Gateway API's group (waypoint Gateways, routes, policy targets).
inline constexpr const char* kGatewayApiGroup = "gateway.networking.k8s.io";
// The DNS domain of Service hostnames (<svc>.<ns>.svc.<domain>).
inline constexpr const char* kClusterDomain = "cluster.local";

}  // namespace ambit::controller::config
