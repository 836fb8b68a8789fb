// networking.istio.io DestinationRule: the host's traffic policy (load balancer, connection
// pool, outlier detection, client TLS, per-port settings) and its subsets.
#include <fmt/format.h>

#include <limits>

#include "controller/config/parse_context.h"

namespace ambit::controller::config {
namespace {

std::optional<int64_t> non_negative(const YamlObject& o, std::string_view key, ParseContext& ctx) {
  auto v = o.optional(key);
  if (!v) return std::nullopt;
  int64_t n = v->integer();
  if (n < 0) ctx.error(codes::kInvalidValue, *v, "cannot be negative");
  return n;
}

// A traffic-policy duration as Istio validates it: at least 1ms, in whole milliseconds.
std::optional<Duration> policy_duration(const YamlObject& o, std::string_view key,
                                        ParseContext& ctx) {
  auto d = ctx.duration(o, key);
  if (!d) return d;
  using std::chrono::milliseconds;
  if (d->value < milliseconds(1) || d->value % milliseconds(1) != std::chrono::nanoseconds(0)) {
    ctx.error(codes::kBadDuration, *o.optional(key),
              fmt::format("'{}' must be at least 1ms, in whole milliseconds (as Istio requires)",
                          d->text));
  }
  return d;
}

std::optional<double> number_in(const YamlObject& o, std::string_view key, double low, double high,
                                ParseContext& ctx) {
  auto v = o.optional(key);
  if (!v) return std::nullopt;
  double n = v->number();
  if (n < low || n > high) {
    ctx.error(codes::kInvalidValue, *v,
              high == std::numeric_limits<double>::max()
                  ? fmt::format("must be at least {}", low)
                  : fmt::format("must be from {} to {}", low, high));
  }
  return n;
}

// Slow start. Not applied by ambit yet (AMB0015), but checked as Istio checks it.
void check_warmup(const YamlObject& lb, ParseContext& ctx) {
  policy_duration(lb, "warmupDurationSecs", ctx);
  auto warmup = lb.optional("warmup");
  if (!warmup) return;
  auto w = warmup->object({"duration", "minimumPercent", "aggression"});
  w.required("duration");
  policy_duration(w, "duration", ctx);
  number_in(w, "minimumPercent", 0, 100, ctx);
  number_in(w, "aggression", 1, std::numeric_limits<double>::max(), ctx);
}

LoadBalancer read_load_balancer(const YamlValue& value, ParseContext& ctx) {
  auto o = value.object(
      {"simple", "consistentHash", "localityLbSetting", "warmupDurationSecs", "warmup"});
  LoadBalancer lb;
  if (auto simple = o.optional("simple")) {
    std::string s = simple->string();
    using S = LoadBalancer::Simple;
    if (s == "ROUND_ROBIN") {
      lb.simple = S::kRoundRobin;
    } else if (s == "LEAST_REQUEST" || s == "LEAST_CONN") {
      lb.simple = S::kLeastRequest;
    } else if (s == "RANDOM") {
      lb.simple = S::kRandom;
    } else if (s == "PASSTHROUGH") {
      lb.simple = S::kPassthrough;
    } else if (s == "UNSPECIFIED") {
      lb.simple = S::kUnspecified;
    } else {
      ctx.error(codes::kInvalidValue, *simple,
                fmt::format("'{}' is not a load balancer (ROUND_ROBIN | LEAST_REQUEST | RANDOM | "
                            "PASSTHROUGH)",
                            s));
    }
  }
  if (auto ch = o.optional("consistentHash")) {
    auto c = ch->object({"httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName",
                         "minimumRingSize", "ringHash", "maglev"});
    LoadBalancer::ConsistentHash hash;
    hash.http_header_name = c.string_or("httpHeaderName", "");
    hash.http_query_parameter_name = c.string_or("httpQueryParameterName", "");
    hash.use_source_ip = c.boolean_or("useSourceIp", false);
    if (auto cookie = c.optional("httpCookie")) {
      auto k = cookie->object({"name", "path", "ttl"});
      hash.http_cookie_name = k.required("name").string();
      hash.http_cookie_path = k.string_or("path", "");
      hash.http_cookie_ttl = ctx.duration(k, "ttl");
    }
    hash.minimum_ring_size =
        static_cast<uint64_t>(non_negative(c, "minimumRingSize", ctx).value_or(0));
    if (lb.simple != LoadBalancer::Simple::kUnspecified) {
      ctx.error(codes::kInvalidValue, *ch, "simple and consistentHash cannot both be set");
    }
    lb.consistent_hash = hash;
  }
  check_warmup(o, ctx);
  for (const char* unsupported : {"localityLbSetting", "warmupDurationSecs", "warmup"}) {
    if (auto v = o.optional(unsupported)) {
      ctx.warning(codes::kUnsupportedField, *v,
                  fmt::format("{} is not supported by ambit yet; ignored", unsupported));
    }
  }
  return lb;
}

ConnectionPool read_connection_pool(const YamlValue& value, ParseContext& ctx) {
  auto o = value.object({"tcp", "http"});
  ConnectionPool pool;
  if (auto tcp = o.optional("tcp")) {
    auto t = tcp->object({"maxConnections", "connectTimeout", "tcpKeepalive",
                          "maxConnectionDuration", "idleTimeout"});
    ConnectionPool::Tcp out;
    out.max_connections = non_negative(t, "maxConnections", ctx);
    out.connect_timeout = policy_duration(t, "connectTimeout", ctx);
    policy_duration(t, "maxConnectionDuration", ctx);
    policy_duration(t, "idleTimeout", ctx);
    if (auto ka = t.optional("tcpKeepalive")) {
      auto k = ka->object({"probes", "time", "interval"});
      non_negative(k, "probes", ctx);
      policy_duration(k, "time", ctx);
      policy_duration(k, "interval", ctx);
    }
    pool.tcp = out;
  }
  if (auto http = o.optional("http")) {
    auto h = http->object({"http1MaxPendingRequests", "http2MaxRequests",
                           "maxRequestsPerConnection", "maxRetries", "idleTimeout",
                           "h2UpgradePolicy", "useClientProtocol", "maxConcurrentStreams"});
    ConnectionPool::Http out;
    out.http1_max_pending_requests = non_negative(h, "http1MaxPendingRequests", ctx);
    out.http2_max_requests = non_negative(h, "http2MaxRequests", ctx);
    out.max_requests_per_connection = non_negative(h, "maxRequestsPerConnection", ctx);
    out.max_retries = non_negative(h, "maxRetries", ctx);
    out.idle_timeout = policy_duration(h, "idleTimeout", ctx);
    out.use_client_protocol = h.boolean_or("useClientProtocol", false);
    if (auto up = h.optional("h2UpgradePolicy")) {
      out.h2_upgrade_policy = up->string();
      if (out.h2_upgrade_policy != "DEFAULT" && out.h2_upgrade_policy != "DO_NOT_UPGRADE" &&
          out.h2_upgrade_policy != "UPGRADE") {
        ctx.error(codes::kInvalidValue, *up,
                  fmt::format("'{}' is not an h2UpgradePolicy (DEFAULT | DO_NOT_UPGRADE | UPGRADE)",
                              out.h2_upgrade_policy));
      }
    }
    non_negative(h, "maxConcurrentStreams", ctx);
    pool.http = out;
  }
  return pool;
}

OutlierDetection read_outlier_detection(const YamlValue& value, ParseContext& ctx) {
  auto o = value.object({"consecutiveErrors", "consecutive5xxErrors", "consecutiveGatewayErrors",
                         "consecutiveLocalOriginFailures", "splitExternalLocalOriginErrors",
                         "interval", "baseEjectionTime", "maxEjectionPercent", "minHealthPercent"});
  OutlierDetection od;
  od.consecutive_errors = non_negative(o, "consecutiveErrors", ctx);
  od.consecutive_5xx_errors = non_negative(o, "consecutive5xxErrors", ctx);
  od.consecutive_gateway_errors = non_negative(o, "consecutiveGatewayErrors", ctx);
  non_negative(o, "consecutiveLocalOriginFailures", ctx);
  od.interval = policy_duration(o, "interval", ctx);
  od.base_ejection_time = policy_duration(o, "baseEjectionTime", ctx);
  for (const char* key : {"maxEjectionPercent", "minHealthPercent"}) {
    auto v = o.optional(key);
    if (!v) continue;
    int64_t n = v->integer();
    if (n < 0 || n > 100) ctx.error(codes::kInvalidValue, *v, "a percentage is from 0 to 100");
    (std::string_view(key) == "maxEjectionPercent" ? od.max_ejection_percent
                                                   : od.min_health_percent) = n;
  }
  return od;
}

ClientTls read_client_tls(const YamlValue& value, ParseContext& ctx) {
  auto o = value.object({"mode", "sni", "subjectAltNames", "credentialName", "clientCertificate",
                         "privateKey", "caCertificates", "insecureSkipVerify"});
  ClientTls tls;
  auto mode = o.required("mode");
  tls.mode = mode.string();
  if (tls.mode != "DISABLE" && tls.mode != "SIMPLE" && tls.mode != "MUTUAL" &&
      tls.mode != "ISTIO_MUTUAL") {
    ctx.error(
        codes::kInvalidValue, mode,
        fmt::format("'{}' is not a TLS mode (DISABLE | SIMPLE | MUTUAL | ISTIO_MUTUAL)", tls.mode));
  }
  tls.sni = o.string_or("sni", "");
  tls.subject_alt_names = strings_or_empty(o, "subjectAltNames");
  tls.ca_certificates = o.string_or("caCertificates", "");
  tls.client_certificate = o.string_or("clientCertificate", "");
  tls.private_key = o.string_or("privateKey", "");
  tls.insecure_skip_verify = o.boolean_or("insecureSkipVerify", false);
  if (auto cred = o.optional("credentialName")) {
    ctx.warning(codes::kUnsupportedField, *cred,
                "credentialName (a Kubernetes Secret) is not read; give the files as "
                "caCertificates, clientCertificate and privateKey");
  }
  if (tls.mode == "MUTUAL" && (tls.client_certificate.empty() || tls.private_key.empty()) &&
      !o.optional("credentialName")) {
    ctx.error(codes::kInvalidValue, mode,
              "MUTUAL needs clientCertificate and privateKey (the waypoint's own certificate)");
  }
  return tls;
}

}  // namespace

std::optional<TrafficPolicy> read_traffic_policy(const YamlValue& value, ParseContext& ctx) {
  auto o = value.object({"loadBalancer", "connectionPool", "outlierDetection", "tls",
                         "portLevelSettings", "tunnel", "proxyProtocol"});
  TrafficPolicy p;
  if (auto v = o.optional("loadBalancer")) p.load_balancer = read_load_balancer(*v, ctx);
  if (auto v = o.optional("connectionPool")) p.connection_pool = read_connection_pool(*v, ctx);
  if (auto v = o.optional("outlierDetection"))
    p.outlier_detection = read_outlier_detection(*v, ctx);
  if (auto v = o.optional("tls")) p.tls = read_client_tls(*v, ctx);
  if (auto v = o.optional("portLevelSettings")) {
    for (const auto& item : v->items()) {
      auto s = item.object({"port", "loadBalancer", "connectionPool", "outlierDetection", "tls"});
      TrafficPolicy::PortSettings ps;
      ps.port = s.required("port").object({"number"}).required("number").port();
      if (auto x = s.optional("loadBalancer")) ps.load_balancer = read_load_balancer(*x, ctx);
      if (auto x = s.optional("connectionPool")) ps.connection_pool = read_connection_pool(*x, ctx);
      if (auto x = s.optional("outlierDetection")) {
        ps.outlier_detection = read_outlier_detection(*x, ctx);
      }
      if (auto x = s.optional("tls")) ps.tls = read_client_tls(*x, ctx);
      p.port_level_settings.push_back(std::move(ps));
    }
  }
  for (const char* unsupported : {"tunnel", "proxyProtocol"}) {
    if (auto v = o.optional(unsupported)) {
      ctx.warning(codes::kUnsupportedField, *v,
                  fmt::format("{} is not supported by ambit; ignored", unsupported));
    }
  }
  return p;
}

void read_destination_rule(const YamlObject& root, ObjectMeta meta, ParseContext& ctx,
                           ConfigModel& m) {
  DestinationRule dr;
  dr.meta = std::move(meta);
  auto spec = root.required("spec").object(
      {"host", "trafficPolicy", "subsets", "exportTo", "workloadSelector"});
  auto host = spec.required("host");
  dr.host = host.string();
  dr.host_at = origin_of(host);
  if (auto v = spec.optional("trafficPolicy")) dr.traffic_policy = read_traffic_policy(*v, ctx);
  if (auto v = spec.optional("subsets")) {
    for (const auto& item : v->items()) {
      auto s = item.object({"name", "labels", "trafficPolicy"});
      Subset subset;
      subset.name = s.required("name").string();
      if (auto labels = s.optional("labels")) subset.labels = labels->string_map();
      if (auto tp = s.optional("trafficPolicy"))
        subset.traffic_policy = read_traffic_policy(*tp, ctx);
      subset.at = origin_of(item);
      for (const auto& other : dr.subsets) {
        if (other.name == subset.name) {
          ctx.error(codes::kInvalidValue, s.required("name"),
                    fmt::format("subset '{}' is defined twice", subset.name));
        }
      }
      dr.subsets.push_back(std::move(subset));
    }
  }
  dr.export_to = read_export_to(spec, ctx);
  dr.workload_selector = match_labels(spec, "workloadSelector", dr.workload_selector_at);
  m.destination_rules.push_back(std::move(dr));
}

}  // namespace ambit::controller::config
