// networking.istio.io DestinationRule: the host's traffic policy (load balancer, connection
// pool, outlier detection, client TLS, per-port settings) and its subsets.
#include <fmt/format.h>

#include "controller/config/parse_context.h"

namespace ambit::controller::config {
namespace {

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
      hash.http_cookie_ttl = ctx.duration(k, "ttl");
    }
    hash.minimum_ring_size =
        static_cast<uint64_t>(integer_or_none(c, "minimumRingSize").value_or(0));
    if (lb.simple != LoadBalancer::Simple::kUnspecified) {
      ctx.error(codes::kInvalidValue, *ch, "simple and consistentHash cannot both be set");
    }
    lb.consistent_hash = hash;
  }
  for (const char* unsupported : {"localityLbSetting", "warmupDurationSecs", "warmup"}) {
    if (auto v = o.optional(unsupported)) {
      ctx.warning(codes::kUnsupportedField, *v,
                  fmt::format("{} is not supported by ambit yet; ignored", unsupported));
    }
  }
  return lb;
}

std::optional<int64_t> positive(const YamlObject& o, std::string_view key, ParseContext& ctx) {
  auto v = o.optional(key);
  if (!v) return std::nullopt;
  int64_t n = v->integer();
  if (n < 0) ctx.error(codes::kInvalidValue, *v, "cannot be negative");
  return n;
}

ConnectionPool read_connection_pool(const YamlValue& value, ParseContext& ctx) {
  auto o = value.object({"tcp", "http"});
  ConnectionPool pool;
  if (auto tcp = o.optional("tcp")) {
    auto t = tcp->object({"maxConnections", "connectTimeout", "tcpKeepalive",
                          "maxConnectionDuration", "idleTimeout"});
    ConnectionPool::Tcp out;
    out.max_connections = positive(t, "maxConnections", ctx);
    out.connect_timeout = ctx.duration(t, "connectTimeout");
    ctx.duration(t, "maxConnectionDuration");
    ctx.duration(t, "idleTimeout");
    if (auto ka = t.optional("tcpKeepalive")) {
      auto k = ka->object({"probes", "time", "interval"});
      ctx.duration(k, "time");
      ctx.duration(k, "interval");
    }
    pool.tcp = out;
  }
  if (auto http = o.optional("http")) {
    auto h = http->object({"http1MaxPendingRequests", "http2MaxRequests",
                           "maxRequestsPerConnection", "maxRetries", "idleTimeout",
                           "h2UpgradePolicy", "useClientProtocol", "maxConcurrentStreams"});
    ConnectionPool::Http out;
    out.http1_max_pending_requests = positive(h, "http1MaxPendingRequests", ctx);
    out.http2_max_requests = positive(h, "http2MaxRequests", ctx);
    out.max_requests_per_connection = positive(h, "maxRequestsPerConnection", ctx);
    out.max_retries = positive(h, "maxRetries", ctx);
    out.idle_timeout = ctx.duration(h, "idleTimeout");
    pool.http = out;
  }
  return pool;
}

OutlierDetection read_outlier_detection(const YamlValue& value, ParseContext& ctx) {
  auto o = value.object({"consecutiveErrors", "consecutive5xxErrors", "consecutiveGatewayErrors",
                         "consecutiveLocalOriginFailures", "splitExternalLocalOriginErrors",
                         "interval", "baseEjectionTime", "maxEjectionPercent", "minHealthPercent"});
  OutlierDetection od;
  od.consecutive_errors = positive(o, "consecutiveErrors", ctx);
  od.consecutive_5xx_errors = positive(o, "consecutive5xxErrors", ctx);
  od.consecutive_gateway_errors = positive(o, "consecutiveGatewayErrors", ctx);
  od.interval = ctx.duration(o, "interval");
  od.base_ejection_time = ctx.duration(o, "baseEjectionTime");
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
