// gateway.networking.k8s.io routes: HTTPRoute, GRPCRoute and TCPRoute, as Istio's ambient mode
// reads them for waypoints (parentRefs naming a Service or the waypoint Gateway). Gateway API's
// defaults are applied here (no matches: PathPrefix "/"; weight 1; redirect status 302), so the
// model says what the route does.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "controller/config/parse_context.h"

namespace ambit::controller::config {
namespace {

using Kind = GatewayRoute::Kind;

std::vector<ParentRef> read_parent_refs(const YamlObject& spec) {
  std::vector<ParentRef> out;
  for_each_item(spec, "parentRefs", [&](const YamlValue& item, size_t) {
    auto o = item.object({"group", "kind", "namespace", "name", "sectionName", "port"});
    ParentRef ref;
    ref.group = o.string_or("group", ref.group);
    ref.kind = o.string_or("kind", ref.kind);
    if (auto ns = o.optional("namespace")) ref.ns = ns->kubernetes_name();
    ref.name = o.required("name").kubernetes_name();
    ref.section_name = o.string_or("sectionName", "");
    ref.port = port_or_none(o, "port");
    ref.at = origin_of(item);
    out.push_back(std::move(ref));
  });
  return out;
}

BackendRef read_backend_ref(const YamlObject& o, ParseContext& ctx, bool with_weight) {
  BackendRef ref;
  ref.group = o.string_or("group", "");
  ref.kind = o.string_or("kind", ref.kind);
  if (auto ns = o.optional("namespace")) ref.ns = ns->kubernetes_name();
  auto name = o.required("name");
  ref.name = ref.is_hostname() ? name.string() : name.kubernetes_name();
  ref.port = port_or_none(o, "port");
  ref.at = Origin{o.line(), o.path()};
  if (ref.is_service() && !ref.port) {
    ctx.error(codes::kInvalidValue, name,
              "a backendRef to a Service needs a port (Gateway API requires it)");
  }
  if (!ref.is_service() && !ref.is_hostname()) {
    ctx.error(codes::kInvalidValue, name,
              fmt::format("backendRef kind {} (group '{}') is not supported: use a Service, or "
                          "kind Hostname in group networking.istio.io",
                          ref.kind, ref.group));
  }
  if (with_weight) {
    if (auto w = o.optional("weight")) {
      ref.weight = w->integer();
      if (ref.weight < 0 || ref.weight > 1'000'000) {
        ctx.error(codes::kInvalidValue, *w, "a weight is from 0 to 1000000");
      }
    }
  }
  return ref;
}

// set/add: [{name, value}], remove: [name]
HeaderOperations read_header_modifier(const YamlValue& value) {
  auto o = value.object({"set", "add", "remove"});
  HeaderOperations out;
  auto pairs = [&](const char* key, StringMap& into) {
    for_each_item(o, key, [&](const YamlValue& item, size_t) {
      auto h = item.object({"name", "value"});
      into[h.required("name").string()] = h.required("value").string();
    });
  };
  pairs("set", out.set);
  pairs("add", out.add);
  out.remove = strings_or_empty(o, "remove");
  return out;
}

RouteFilter::PathModifier read_path_modifier(const YamlValue& value) {
  auto o = value.object({"type", "replaceFullPath", "replacePrefixMatch"});
  using PathKind = RouteFilter::PathModifier::Kind;
  auto type = o.required("type");
  std::string t = type.string();
  if (t == "ReplaceFullPath") {
    return {PathKind::kReplaceFullPath, o.required("replaceFullPath").string()};
  }
  if (t == "ReplacePrefixMatch") {
    return {PathKind::kReplacePrefixMatch, o.required("replacePrefixMatch").string()};
  }
  type.fail(fmt::format("'{}' is not a path modifier (ReplaceFullPath | ReplacePrefixMatch)", t));
}

double read_mirror_percent(const YamlObject& o, ParseContext& ctx) {
  if (auto p = o.optional("percent")) {
    int64_t v = p->integer();
    if (v < 0 || v > 100) ctx.error(codes::kInvalidValue, *p, "percent is from 0 to 100");
    return static_cast<double>(v);
  }
  auto f = o.optional("fraction");
  if (!f) return 100;
  auto fraction = f->object({"numerator", "denominator"});
  int64_t numerator = fraction.required("numerator").integer();
  int64_t denominator = integer_or_none(fraction, "denominator").value_or(100);
  if (denominator <= 0 || numerator < 0 || numerator > denominator) {
    ctx.error(codes::kInvalidValue, *f,
              "a fraction needs 0 <= numerator <= denominator and a positive denominator");
    return 0;
  }
  return 100.0 * static_cast<double>(numerator) / static_cast<double>(denominator);
}

std::vector<RouteFilter> read_filters(const YamlObject& parent, ParseContext& ctx, Kind kind) {
  std::vector<RouteFilter> out;
  for_each_item(parent, "filters", [&](const YamlValue& item, size_t) {
    auto o = item.object({"type", "requestHeaderModifier", "responseHeaderModifier", "urlRewrite",
                          "requestRedirect", "requestMirror", "extensionRef", "cors"});
    RouteFilter f;
    f.at = origin_of(item);
    auto type = o.required("type");
    std::string t = type.string();
    // The filter's settings live in the field named like its type (camelCase).
    auto settings = [&](const char* key) { return o.required(key); };
    bool http_only = t == "URLRewrite" || t == "RequestRedirect";
    if (http_only && kind != Kind::kHttp) {
      ctx.error(codes::kInvalidValue, type, fmt::format("{} is an HTTPRoute filter", t));
      return;
    }
    if (t == "RequestHeaderModifier") {
      f.type = RouteFilter::Type::kRequestHeaderModifier;
      f.headers = read_header_modifier(settings("requestHeaderModifier"));
    } else if (t == "ResponseHeaderModifier") {
      f.type = RouteFilter::Type::kResponseHeaderModifier;
      f.headers = read_header_modifier(settings("responseHeaderModifier"));
    } else if (t == "URLRewrite") {
      f.type = RouteFilter::Type::kUrlRewrite;
      auto rw = settings("urlRewrite").object({"hostname", "path"});
      f.hostname = rw.string_or("hostname", "");
      if (auto p = rw.optional("path")) f.path = read_path_modifier(*p);
    } else if (t == "RequestRedirect") {
      f.type = RouteFilter::Type::kRequestRedirect;
      auto rd =
          settings("requestRedirect").object({"scheme", "hostname", "path", "port", "statusCode"});
      f.scheme = rd.string_or("scheme", "");
      if (!f.scheme.empty() && f.scheme != "http" && f.scheme != "https") {
        ctx.error(codes::kInvalidValue, rd.required("scheme"),
                  fmt::format("'{}' is not a redirect scheme (http | https)", f.scheme));
      }
      f.hostname = rd.string_or("hostname", "");
      if (auto p = rd.optional("path")) f.path = read_path_modifier(*p);
      f.port = port_or_none(rd, "port");
      if (auto code = rd.optional("statusCode")) {
        int64_t c = code->integer();
        if (c != 301 && c != 302 && c != 303 && c != 307 && c != 308) {
          ctx.error(codes::kInvalidValue, *code,
                    fmt::format("{} is not a redirect status (301, 302, 303, 307, 308)", c));
        }
        f.status_code = static_cast<uint32_t>(c);
      }
    } else if (t == "RequestMirror") {
      f.type = RouteFilter::Type::kRequestMirror;
      auto m = settings("requestMirror").object({"backendRef", "percent", "fraction"});
      auto backend =
          m.required("backendRef").object({"group", "kind", "namespace", "name", "port"});
      f.mirror = read_backend_ref(backend, ctx, false);
      f.mirror_percent = read_mirror_percent(m, ctx);
    } else if (t == "ExtensionRef" || t == "CORS") {
      ctx.warning(codes::kUnsupportedField, type,
                  fmt::format("filter type {} is not supported by ambit; ignored", t));
      return;
    } else {
      type.fail(fmt::format("'{}' is not a filter type", t));
    }
    out.push_back(std::move(f));
  });
  auto count = [&](RouteFilter::Type type) {
    return std::count_if(out.begin(), out.end(), [&](const auto& f) { return f.type == type; });
  };
  if (count(RouteFilter::Type::kRequestRedirect) > 0 && count(RouteFilter::Type::kUrlRewrite) > 0) {
    ctx.error(codes::kInvalidValue, parent.required("filters"),
              "RequestRedirect and URLRewrite cannot be used together");
  }
  if (count(RouteFilter::Type::kRequestMirror) > 1) {
    ctx.warning(codes::kUnsupportedField, parent.required("filters"),
                "only the first RequestMirror filter is applied; the others are ignored");
  }
  return out;
}

// [{type: Exact | RegularExpression, name, value}] into a map by name. Header names are
// case-insensitive in Gateway API: they are kept lowercase, as HTTP/2 sends them.
std::map<std::string, StringMatch> read_named_matches(const YamlObject& parent, const char* key,
                                                      ParseContext& ctx) {
  std::map<std::string, StringMatch> out;
  for_each_item(parent, key, [&](const YamlValue& item, size_t) {
    auto o = item.object({"type", "name", "value"});
    StringMatch m;
    m.value = o.required("value").string();
    std::string type = o.string_or("type", "Exact");
    if (type == "RegularExpression") {
      m.kind = StringMatch::Kind::kRegex;
      ctx.check_regex(o.required("value"), m.value);
    } else if (type != "Exact") {
      ctx.error(codes::kInvalidValue, o.required("type"),
                fmt::format("'{}' is not a match type (Exact | RegularExpression)", type));
    }
    std::string name = o.required("name").string();
    if (std::string_view(key) == "headers") {
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return std::tolower(c); });
    }
    // Gateway API: only the first match on a name counts.
    out.emplace(name, std::move(m));
  });
  return out;
}

GatewayRouteMatch read_http_match(const YamlValue& item, ParseContext& ctx) {
  auto o = item.object({"path", "headers", "queryParams", "method"});
  GatewayRouteMatch m;
  m.at = origin_of(item);
  if (auto p = o.optional("path")) {
    auto path = p->object({"type", "value"});
    std::string type = path.string_or("type", "PathPrefix");
    m.path.value = path.string_or("value", "/");
    if (type == "Exact") {
      m.path.kind = StringMatch::Kind::kExact;
    } else if (type == "RegularExpression") {
      m.path.kind = StringMatch::Kind::kRegex;
      ctx.check_regex(path.required("value"), m.path.value);
    } else if (type != "PathPrefix") {
      ctx.error(codes::kInvalidValue, path.required("type"),
                fmt::format("'{}' is not a path match type (Exact | PathPrefix | "
                            "RegularExpression)",
                            type));
    }
    if (m.path.kind != StringMatch::Kind::kRegex && !m.path.value.starts_with('/')) {
      ctx.error(codes::kInvalidValue, *p, "an Exact or PathPrefix path must start with '/'");
    }
  }
  m.headers = read_named_matches(o, "headers", ctx);
  m.query_params = read_named_matches(o, "queryParams", ctx);
  if (auto method = o.optional("method")) {
    static constexpr std::string_view kMethods[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                    "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    m.method = method->string();
    if (std::find(std::begin(kMethods), std::end(kMethods), m.method) == std::end(kMethods)) {
      ctx.error(codes::kInvalidValue, *method,
                fmt::format("'{}' is not an HTTP method Gateway API allows", m.method));
    }
  }
  return m;
}

// GRPCRoute method {type, service, method} as the path it stands for: /<service>/<method>.
GatewayRouteMatch read_grpc_match(const YamlValue& item, ParseContext& ctx) {
  auto o = item.object({"method", "headers"});
  GatewayRouteMatch m;
  m.at = origin_of(item);
  if (auto v = o.optional("method")) {
    auto method = v->object({"type", "service", "method"});
    std::string service = method.string_or("service", "");
    std::string name = method.string_or("method", "");
    if (service.empty() && name.empty()) v->fail("a method match needs a service or a method");
    std::string type = method.string_or("type", "Exact");
    if (type == "RegularExpression") {
      m.path = {StringMatch::Kind::kRegex,
                fmt::format("/{}/{}", service.empty() ? "[^/]+" : service,
                            name.empty() ? "[^/]+" : name)};
      ctx.check_regex(*v, m.path.value);
    } else if (type == "Exact") {
      if (service.empty()) {
        // Any service's method of that name.
        m.path = {StringMatch::Kind::kRegex, fmt::format("/[^/]+/{}", name)};
      } else if (name.empty()) {
        m.path = {StringMatch::Kind::kPrefix, "/" + service + "/"};
      } else {
        m.path = {StringMatch::Kind::kExact, fmt::format("/{}/{}", service, name)};
      }
    } else {
      ctx.error(codes::kInvalidValue, method.required("type"),
                fmt::format("'{}' is not a match type (Exact | RegularExpression)", type));
    }
  }
  m.headers = read_named_matches(o, "headers", ctx);
  return m;
}

GatewayRouteRule read_rule(const YamlValue& item, ParseContext& ctx, Kind kind) {
  auto o = kind == Kind::kTcp ? item.object({"name", "backendRefs"})
           : kind == Kind::kGrpc
               ? item.object({"name", "matches", "filters", "backendRefs", "sessionPersistence"})
               : item.object({"name", "matches", "filters", "backendRefs", "timeouts", "retry",
                              "sessionPersistence"});
  GatewayRouteRule rule;
  rule.at = origin_of(item);
  rule.name = o.string_or("name", "");
  for_each_item(o, "matches", [&](const YamlValue& m, size_t) {
    rule.matches.push_back(kind == Kind::kGrpc ? read_grpc_match(m, ctx) : read_http_match(m, ctx));
  });
  if (rule.matches.empty()) rule.matches.push_back(GatewayRouteMatch{});
  if (kind != Kind::kTcp) rule.filters = read_filters(o, ctx, kind);
  for_each_item(o, "backendRefs", [&](const YamlValue& b, size_t) {
    auto bo = b.object({"group", "kind", "namespace", "name", "port", "weight", "filters"});
    GatewayRouteRule::Backend backend;
    backend.ref = read_backend_ref(bo, ctx, true);
    if (kind != Kind::kTcp) backend.filters = read_filters(bo, ctx, kind);
    for (const auto& f : backend.filters) {
      if (f.type == RouteFilter::Type::kRequestHeaderModifier ||
          f.type == RouteFilter::Type::kResponseHeaderModifier) {
        continue;
      }
      ctx.warning(codes::kUnsupportedField, bo.required("filters"),
                  "on a backendRef only header modifier filters are applied; others are ignored");
      break;
    }
    rule.backends.push_back(std::move(backend));
  });
  if (auto t = o.optional("timeouts")) {
    auto timeouts = t->object({"request", "backendRequest"});
    rule.request_timeout = ctx.duration(timeouts, "request");
    rule.backend_request_timeout = ctx.duration(timeouts, "backendRequest");
  }
  for (const char* unsupported : {"retry", "sessionPersistence"}) {
    if (auto v = o.optional(unsupported)) {
      ctx.warning(codes::kUnsupportedField, *v,
                  fmt::format("{} is not supported by ambit yet; ignored", unsupported));
    }
  }
  bool redirects = std::any_of(rule.filters.begin(), rule.filters.end(), [](const auto& f) {
    return f.type == RouteFilter::Type::kRequestRedirect;
  });
  if (kind == Kind::kTcp && rule.backends.empty()) {
    ctx.error(codes::kInvalidValue, item, "a TCPRoute rule needs backendRefs");
  } else if (!rule.backends.empty() &&
             std::all_of(rule.backends.begin(), rule.backends.end(),
                         [](const auto& b) { return b.ref.weight == 0; })) {
    ctx.warning(codes::kRouteWeights, o.required("backendRefs"),
                "every backend has weight 0: requests matching this rule get HTTP 500 (TCP: the "
                "connection is refused), as Gateway API specifies");
  } else if (rule.backends.empty() && !redirects && kind != Kind::kTcp) {
    ctx.warning(codes::kRouteWeights, item,
                "a rule with no backendRefs and no redirect answers HTTP 500, as Gateway API "
                "specifies");
  }
  return rule;
}

void read_route(const YamlObject& root, ObjectMeta meta, ParseContext& ctx, ConfigModel& m,
                Kind kind) {
  GatewayRoute route;
  route.meta = std::move(meta);
  route.kind = kind;
  auto spec = kind == Kind::kTcp
                  ? root.required("spec").object({"parentRefs", "rules"})
                  : root.required("spec").object({"parentRefs", "hostnames", "rules"});
  route.parent_refs = read_parent_refs(spec);
  if (route.parent_refs.empty()) {
    ctx.warning(codes::kUnknownParentRef, root.required("spec"),
                "a route without parentRefs attaches to nothing");
  }
  route.hostnames = strings_or_empty(spec, "hostnames");
  for_each_item(spec, "rules", [&](const YamlValue& item, size_t) {
    route.rules.push_back(read_rule(item, ctx, kind));
  });
  if (route.rules.empty() && kind == Kind::kTcp) {
    spec.fail_field("rules", "a TCPRoute needs at least one rule");
  }
  if (route.rules.empty()) {
    // Gateway API's default: one rule matching every request, with no backend.
    ctx.warning(codes::kRouteWeights, root.required("spec"),
                "a route without rules matches every request and answers HTTP 500");
    route.rules.push_back(GatewayRouteRule{});
    route.rules.back().matches.push_back(GatewayRouteMatch{});
  }
  m.gateway_routes.push_back(std::move(route));
}

}  // namespace

void read_http_route(const YamlObject& root, ObjectMeta meta, ParseContext& ctx, ConfigModel& m) {
  read_route(root, std::move(meta), ctx, m, Kind::kHttp);
}

void read_grpc_route(const YamlObject& root, ObjectMeta meta, ParseContext& ctx, ConfigModel& m) {
  read_route(root, std::move(meta), ctx, m, Kind::kGrpc);
}

void read_tcp_route(const YamlObject& root, ObjectMeta meta, ParseContext& ctx, ConfigModel& m) {
  read_route(root, std::move(meta), ctx, m, Kind::kTcp);
}

}  // namespace ambit::controller::config
