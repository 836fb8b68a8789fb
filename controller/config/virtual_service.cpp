// networking.istio.io VirtualService: hosts, http routes (matches, weighted destinations,
// retries, timeouts, faults, rewrites, redirects, mirrors), tcp and tls routes.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>

#include "controller/config/parse_context.h"
#include "core/grpc_status.h"

namespace ambit::controller::config {
namespace {

std::optional<StringMatch> read_string_match(const YamlValue& value, ParseContext& ctx) {
  auto o = value.object({"exact", "prefix", "regex"});
  std::optional<StringMatch> match;
  int kinds = 0;
  for (auto [key, kind] : std::array<std::pair<const char*, StringMatch::Kind>, 3>{
           {{"exact", StringMatch::Kind::kExact},
            {"prefix", StringMatch::Kind::kPrefix},
            {"regex", StringMatch::Kind::kRegex}}}) {
    if (auto v = o.optional(key)) {
      ++kinds;
      match = StringMatch{kind, v->string()};
      if (kind == StringMatch::Kind::kRegex) ctx.check_regex(*v, match->value);
    }
  }
  if (kinds != 1) {
    ctx.error(codes::kInvalidValue, value,
              "a string match needs exactly one of exact, prefix, regex");
  }
  return match;
}

std::map<std::string, StringMatch> read_match_map(const YamlValue& value, ParseContext& ctx) {
  std::map<std::string, StringMatch> out;
  if (!value.node().IsMap()) value.fail("expected a mapping of name to string match");
  for (const auto& [name, key, item] : value.fields()) {
    // `headers: {x: {}}` matches presence in Istio; keep it as a prefix match on "".
    if (item.node().IsMap() && item.node().size() == 0) {
      out[name] = StringMatch{StringMatch::Kind::kPrefix, ""};
      continue;
    }
    if (auto m = read_string_match(item, ctx)) out[name] = *m;
  }
  return out;
}

// headers: {request: {set, add, remove}, response: {...}}
HeaderManipulation read_headers(const YamlValue& value) {
  auto o = value.object({"request", "response"});
  HeaderManipulation h;
  auto operations = [](const YamlValue& v) {
    auto ops = v.object({"set", "add", "remove"});
    HeaderOperations out;
    if (auto set = ops.optional("set")) out.set = set->string_map();
    if (auto add = ops.optional("add")) out.add = add->string_map();
    out.remove = strings_or_empty(ops, "remove");
    return out;
  };
  if (auto v = o.optional("request")) h.request = operations(*v);
  if (auto v = o.optional("response")) h.response = operations(*v);
  return h;
}

Destination read_destination(const YamlValue& value) {
  auto o = value.object({"host", "subset", "port"});
  Destination d;
  auto host = o.required("host");
  d.host = host.string();
  d.host_at = origin_of(host);
  if (auto subset = o.optional("subset")) {
    d.subset = subset->string();
    d.subset_at = origin_of(*subset);
  }
  if (auto port = o.optional("port")) d.port = port->object({"number"}).required("number").port();
  d.at = origin_of(value);
  return d;
}

std::vector<RouteDestination> read_route(const YamlValue& list, ParseContext& ctx) {
  std::vector<RouteDestination> out;
  for (const auto& item : list.items()) {
    auto o = item.object({"destination", "weight", "headers"});
    RouteDestination rd;
    rd.destination = read_destination(o.required("destination"));
    if (auto w = o.optional("weight")) {
      rd.weight = w->integer();
      if (*rd.weight < 0 || *rd.weight > std::numeric_limits<int32_t>::max()) {
        ctx.error(codes::kInvalidValue, *w,
                  "a weight is a whole number from 0 (relative to the others)");
      }
    }
    if (auto h = o.optional("headers")) rd.headers = read_headers(*h);
    out.push_back(std::move(rd));
  }
  // Istio: weights are relative (a destination gets weight/sum); a lone destination gets all.
  int64_t sum = 0;
  for (const auto& rd : out) sum += rd.weight.value_or(0);
  if (out.size() > 1 && sum == 0) {
    ctx.error(codes::kRouteWeights, list,
              "the destinations' weights sum to 0: no destination would get traffic");
  }
  return out;
}

bool is_retry_condition(std::string_view c) {
  static constexpr std::array<std::string_view, 16> kKnown = {"5xx",
                                                              "gateway-error",
                                                              "reset",
                                                              "connect-failure",
                                                              "envoy-ratelimited",
                                                              "retriable-4xx",
                                                              "refused-stream",
                                                              "retriable-status-codes",
                                                              "retriable-headers",
                                                              "cancelled",
                                                              "deadline-exceeded",
                                                              "internal",
                                                              "resource-exhausted",
                                                              "unavailable",
                                                              "reset-before-request",
                                                              "http3-post-connect-failure"};
  if (std::find(kKnown.begin(), kKnown.end(), c) != kKnown.end()) return true;
  return c.size() == 3 &&
         std::all_of(c.begin(), c.end(), [](char x) { return x >= '0' && x <= '9'; });
}

HttpRetry read_retries(const YamlValue& value, ParseContext& ctx) {
  auto o = value.object({"attempts", "perTryTimeout", "retryOn", "retryRemoteLocalities"});
  HttpRetry r;
  if (auto a = o.optional("attempts")) {
    r.attempts = a->integer();
    if (r.attempts < 0) ctx.error(codes::kInvalidValue, *a, "attempts cannot be negative");
  }
  r.per_try_timeout = ctx.duration(o, "perTryTimeout");
  if (auto on = o.optional("retryOn")) {
    std::string text = on->string();
    size_t start = 0;
    while (start <= text.size()) {
      size_t comma = text.find(',', start);
      std::string c = text.substr(start, comma == std::string::npos ? comma : comma - start);
      c.erase(0, c.find_first_not_of(' '));
      c.erase(c.find_last_not_of(' ') + 1);
      if (!c.empty()) {
        if (!is_retry_condition(c)) {
          ctx.error(codes::kInvalidValue, *on, fmt::format("'{}' is not a retry condition", c));
        }
        r.retry_on.push_back(c);
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  o.boolean_or("retryRemoteLocalities", false);
  return r;
}

double read_percentage(const YamlObject& o, ParseContext& ctx) {
  double value = 100;
  if (auto p = o.optional("percentage")) {
    auto v = p->object({"value"}).optional("value");
    value = v ? v->number() : 0;
    if (value < 0 || value > 100) {
      ctx.error(codes::kInvalidValue, *p, "percentage.value must be from 0 to 100");
    }
  } else if (auto p = o.optional("percent")) {
    value = static_cast<double>(p->integer());
  }
  return value;
}

HttpFault read_fault(const YamlValue& value, ParseContext& ctx) {
  auto o = value.object({"delay", "abort"});
  HttpFault f;
  if (auto d = o.optional("delay")) {
    auto delay = d->object({"percentage", "percent", "fixedDelay", "exponentialDelay"});
    HttpFault::Delay out;
    out.percentage = read_percentage(delay, ctx);
    if (auto fixed = ctx.duration(delay.required("fixedDelay"))) out.fixed_delay = *fixed;
    f.delay = out;
  }
  if (auto a = o.optional("abort")) {
    auto abort = a->object({"percentage", "httpStatus", "grpcStatus", "http2Error"});
    HttpFault::Abort out;
    out.percentage = read_percentage(abort, ctx);
    if (auto grpc = abort.optional("grpcStatus")) {
      out.grpc_status = grpc->string();
      if (!grpc_status_code(out.grpc_status)) {
        ctx.error(
            codes::kInvalidValue, *grpc,
            fmt::format("'{}' is not a gRPC status name (UNAVAILABLE, ...)", out.grpc_status));
      }
    } else {
      auto status = abort.required("httpStatus");
      int64_t code = status.integer();
      if (code < 200 || code > 599) {
        ctx.error(codes::kInvalidValue, status,
                  fmt::format("{} is not an HTTP status (200-599)", code));
      }
      out.http_status = static_cast<uint32_t>(code);
    }
    f.abort = out;
  }
  if (!f.delay && !f.abort) value.fail("a fault needs a delay or an abort");
  return f;
}

HttpRoute read_vs_http_route(const YamlValue& value, ParseContext& ctx) {
  auto o = value.object({"name", "match", "route", "redirect", "rewrite", "timeout", "retries",
                         "fault", "mirror", "mirrorPercentage", "mirrorPercent", "headers",
                         "corsPolicy", "directResponse", "delegate", "mirrors"});
  HttpRoute r;
  r.at = origin_of(value);
  r.name = o.string_or("name", "");
  if (auto v = o.optional("match")) {
    for (const auto& item : v->items()) r.match.push_back(read_istio_http_match(item, ctx));
  }
  if (auto v = o.optional("route")) r.route = read_route(*v, ctx);
  if (auto v = o.optional("redirect")) {
    auto rd = v->object({"uri", "authority", "redirectCode", "scheme", "port"});
    r.redirect =
        HttpRedirect{rd.string_or("uri", ""), rd.string_or("authority", ""),
                     static_cast<uint32_t>(integer_or_none(rd, "redirectCode").value_or(301))};
  }
  if (auto v = o.optional("rewrite")) {
    auto rw = v->object({"uri", "authority"});
    r.rewrite = HttpRewrite{rw.string_or("uri", ""), rw.string_or("authority", "")};
  }
  if (r.route.empty() && !r.redirect && !o.has("directResponse") && !o.has("delegate")) {
    value.fail("an http route needs a route, a redirect or a direct response");
  }
  if (r.redirect && !r.route.empty()) {
    ctx.error(codes::kInvalidValue, o.required("redirect"),
              "a route cannot both redirect and route");
  }
  r.timeout = ctx.duration(o, "timeout");
  if (auto v = o.optional("retries")) r.retries = read_retries(*v, ctx);
  if (auto v = o.optional("fault")) r.fault = read_fault(*v, ctx);
  if (auto v = o.optional("mirror")) r.mirror = read_destination(*v);
  if (auto v = o.optional("mirrorPercentage")) {
    auto value_field = v->object({"value"}).optional("value");
    r.mirror_percentage = value_field ? value_field->number() : 0;
  } else if (auto v = o.optional("mirrorPercent")) {
    r.mirror_percentage = static_cast<double>(v->integer());
  }
  if (auto v = o.optional("headers")) r.headers = read_headers(*v);
  for (const char* unsupported : {"corsPolicy", "directResponse", "delegate", "mirrors"}) {
    if (auto v = o.optional(unsupported)) {
      ctx.warning(codes::kUnsupportedField, *v,
                  fmt::format("{} is not supported by ambit yet; ignored", unsupported));
    }
  }
  return r;
}

L4Route read_l4_route(const YamlValue& value, ParseContext& ctx, bool tls) {
  auto o = value.object({"match", "route"});
  L4Route r;
  r.at = origin_of(value);
  if (auto v = o.optional("match")) {
    for (const auto& item : v->items()) {
      auto mo = tls ? item.object({"sniHosts", "port", "destinationSubnets", "sourceLabels",
                                   "sourceNamespace", "gateways"})
                    : item.object({"port", "destinationSubnets", "sourceLabels", "sourceNamespace",
                                   "gateways"});
      L4Route::Match m;
      m.port = port_or_none(mo, "port");
      if (auto subnets = mo.optional("destinationSubnets")) {
        subnets->cidrs();
        m.destination_subnets = subnets->strings();
      }
      m.sni_hosts = strings_or_empty(mo, "sniHosts");
      if (tls && m.sni_hosts.empty()) mo.fail_field("sniHosts", "required in a tls match");
      if (auto labels = mo.optional("sourceLabels")) m.source_labels = labels->string_map();
      r.match.push_back(std::move(m));
    }
  }
  r.route = read_route(o.required("route"), ctx);
  return r;
}

}  // namespace

HttpMatchRequest read_istio_http_match(const YamlValue& value, ParseContext& ctx) {
  auto o = value.object({"name", "uri", "scheme", "method", "authority", "headers",
                         "withoutHeaders", "queryParams", "port", "sourceLabels", "sourceNamespace",
                         "gateways", "ignoreUriCase"});
  HttpMatchRequest m;
  m.name = o.string_or("name", "");
  if (auto v = o.optional("uri")) m.uri = read_string_match(*v, ctx);
  if (auto v = o.optional("scheme")) m.scheme = read_string_match(*v, ctx);
  if (auto v = o.optional("method")) m.method = read_string_match(*v, ctx);
  if (auto v = o.optional("authority")) m.authority = read_string_match(*v, ctx);
  if (auto v = o.optional("headers")) m.headers = read_match_map(*v, ctx);
  if (auto v = o.optional("withoutHeaders")) m.without_headers = read_match_map(*v, ctx);
  if (auto v = o.optional("queryParams")) m.query_params = read_match_map(*v, ctx);
  m.port = port_or_none(o, "port");
  if (auto v = o.optional("sourceLabels")) m.source_labels = v->string_map();
  m.source_namespace = o.string_or("sourceNamespace", "");
  m.ignore_uri_case = o.boolean_or("ignoreUriCase", false);
  if (o.has("gateways")) o.required("gateways").strings();
  return m;
}

void read_virtual_service(const YamlObject& root, ObjectMeta meta, ParseContext& ctx,
                          ConfigModel& m) {
  VirtualService vs;
  vs.meta = std::move(meta);
  auto spec = root.required("spec").object({"hosts", "gateways", "http", "tcp", "tls", "exportTo"});
  if (auto hosts = spec.optional("hosts")) {
    for (const auto& item : hosts->items()) {
      vs.hosts.push_back(item.string());
      vs.hosts_at.push_back(origin_of(item));
    }
  }
  if (vs.hosts.empty()) {
    // Istio: a VirtualService without hosts is a delegate, included by another one's
    // http[].delegate; on its own it routes nothing, and it may not name gateways.
    if (spec.has("gateways")) {
      ctx.error(codes::kInvalidValue, spec.required("gateways"),
                "a delegate VirtualService (one without hosts) cannot set gateways");
    } else {
      ctx.warning(codes::kUnsupportedField, *root.optional("spec"),
                  "no hosts: a delegate VirtualService, which ambit does not apply yet");
    }
  }
  if (auto gateways = spec.optional("gateways")) {
    for (const auto& item : gateways->items()) {
      vs.gateways.push_back(item.string());
      vs.gateways_at.push_back(origin_of(item));
    }
  }
  vs.export_to = read_export_to(spec, ctx);
  if (auto http = spec.optional("http")) {
    for (const auto& item : http->items()) vs.http.push_back(read_vs_http_route(item, ctx));
  }
  if (auto tcp = spec.optional("tcp")) {
    for (const auto& item : tcp->items()) vs.tcp.push_back(read_l4_route(item, ctx, false));
  }
  if (auto tls = spec.optional("tls")) {
    for (const auto& item : tls->items()) vs.tls.push_back(read_l4_route(item, ctx, true));
  }
  if (vs.http.empty() && vs.tcp.empty() && vs.tls.empty()) {
    // Istio refuses it too. A misspelt section ("htpp:") is the usual cause: name it.
    std::string unknown;
    for (const auto& key : spec.unknown_keys()) {
      unknown += fmt::format("{}'{}'", unknown.empty() ? "" : ", ", key);
    }
    ctx.error(codes::kInvalidValue, *root.optional("spec"),
              unknown.empty() ? "a VirtualService needs http, tcp or tls routes"
                              : fmt::format("a VirtualService needs http, tcp or tls routes (is {} "
                                            "a misspelling of one?)",
                                            unknown));
  }
  if (!vs.binds_to_mesh()) {
    ctx.warning(codes::kUnsupportedField, spec.required("gateways"),
                "this VirtualService binds only to gateways (not 'mesh'); ambit ignores it");
  }
  m.virtual_services.push_back(std::move(vs));
}

}  // namespace ambit::controller::config
