// Local rate limits: Istio's EnvoyFilter patches that insert Envoy's local_ratelimit filter (and
// the HTTP_ROUTE / VIRTUAL_HOST patches that give it per-route settings and rate_limits
// actions), translated into ambit's model; and ambit's own LocalRateLimit kind for people who
// would rather not write EnvoyFilter. Other EnvoyFilter patches are reported and not applied:
// ambit has no Envoy to patch.
#include <fmt/format.h>

#include <array>

#include "controller/config/parse_context.h"
#include "core/http_text.h"

namespace ambit::controller::config {
namespace {

constexpr std::string_view kFilterName = "envoy.filters.http.local_ratelimit";
constexpr std::string_view kLocalRateLimitType =
    "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";
// Envoy refuses shorter fill intervals.
constexpr auto kMinFillInterval = std::chrono::milliseconds(50);

// The bucket's fill interval, `field` of the form (fill_interval, per): at least 50 ms.
void read_fill_interval(const YamlValue& value, std::string_view field, RateLimitBucket& b,
                        ParseContext& ctx) {
  if (auto d = ctx.duration(value)) {
    b.fill_interval = *d;
    if (d->value < kMinFillInterval) {
      ctx.error(codes::kInvalidValue, value,
                fmt::format("{} must be at least 50ms (Envoy refuses shorter ones)", field));
    }
  }
}

// The status a refusal answers with: 200 to 599, else an error and nullopt.
std::optional<uint32_t> read_refusal_status(const YamlValue& value, ParseContext& ctx) {
  int64_t code = value.integer();
  if (code < 200 || code > 599) {
    ctx.error(codes::kInvalidValue, value, "not an HTTP status");
    return std::nullopt;
  }
  return static_cast<uint32_t>(code);
}

RateLimitBucket read_bucket(const YamlValue& value, ParseContext& ctx) {
  auto o = value.object({"max_tokens", "tokens_per_fill", "fill_interval"});
  RateLimitBucket b;
  b.max_tokens = o.required("max_tokens").integer();
  if (b.max_tokens < 1 || b.max_tokens > UINT32_MAX) {
    ctx.error(codes::kInvalidValue, o.required("max_tokens"),
              fmt::format("max_tokens must be from 1 to {}", UINT32_MAX));
  }
  b.tokens_per_fill = integer_or_none(o, "tokens_per_fill").value_or(1);
  if (b.tokens_per_fill < 1 || b.tokens_per_fill > UINT32_MAX) {
    ctx.error(codes::kInvalidValue, o.required("tokens_per_fill"),
              fmt::format("tokens_per_fill must be from 1 to {}", UINT32_MAX));
  }
  read_fill_interval(o.required("fill_interval"), "fill_interval", b, ctx);
  return b;
}

// Envoy's RuntimeFractionalPercent ({runtime_key, default_value: {numerator, denominator}}) as
// a percentage; the runtime key has no runtime to read here, so the default is what applies.
double read_runtime_percent(const YamlValue& value, ParseContext& ctx) {
  auto o = value.object({"runtime_key", "default_value"});
  auto d = o.optional("default_value");
  if (!d) return 0;  // Envoy: a FractionalPercent left out is 0
  auto fraction = d->object({"numerator", "denominator"});
  double numerator = static_cast<double>(integer_or_none(fraction, "numerator").value_or(0));
  std::string denominator = fraction.string_or("denominator", "HUNDRED");
  double scale = 1;
  if (denominator == "TEN_THOUSAND") {
    scale = 100;
  } else if (denominator == "MILLION") {
    scale = 10000;
  } else if (denominator != "HUNDRED") {
    ctx.error(codes::kInvalidValue, fraction.required("denominator"),
              "denominator must be HUNDRED, TEN_THOUSAND or MILLION");
  }
  double percent = numerator / scale;
  if (percent < 0 || percent > 100) {
    ctx.error(codes::kInvalidValue, *d, "the fraction must be from 0 to 100 percent");
    return 0;
  }
  return percent;
}

// One entry of a configured descriptor, and one action of a route's rate_limits: what the
// action would put in the request's descriptor under `key`, as conditions on the request.
struct DescriptorEntry {
  std::string key, value;
};
struct Descriptor {
  std::vector<DescriptorEntry> entries;
  RateLimitBucket bucket;
  Origin at;
  YamlValue where;
};
struct Action {
  enum class Kind { kRequestHeader, kGenericKey, kHeaderValueMatch, kUnsupported };
  Kind kind = Kind::kUnsupported;
  std::string key;
  std::string header;           // kRequestHeader: whose value the entry carries
  std::string value;            // kGenericKey, kHeaderValueMatch: the entry's fixed value
  HttpMatchRequest conditions;  // kHeaderValueMatch
};
using RateLimitActions = std::vector<std::vector<Action>>;  // one list per rate_limits entry

// A condition that header `name` (":path", ":method", ":authority" included) matches `m`.
void require_header(HttpMatchRequest& into, const std::string& name, StringMatch m, bool inverted) {
  if (inverted) {
    into.without_headers[name] = std::move(m);
  } else if (name == ":path") {
    into.uri = std::move(m);
  } else if (name == ":method") {
    into.method = std::move(m);
  } else if (name == ":authority" || name == "host") {
    into.authority = std::move(m);
  } else {
    into.headers[name] = std::move(m);
  }
}

// Envoy's RegexMatcher ({regex, google_re2}), checked with RE2.
StringMatch read_safe_regex(const YamlValue& value, ParseContext& ctx) {
  auto regex = value.object({"regex", "google_re2"}).required("regex");
  StringMatch m{StringMatch::Kind::kRegex, regex.string()};
  ctx.check_regex(regex, m.value);
  return m;
}

// Envoy's HeaderMatcher; false (reported) for the kinds a condition cannot say.
bool read_header_matcher(const YamlValue& value, ParseContext& ctx, HttpMatchRequest& into) {
  auto o = value.object({"name", "exact_match", "prefix_match", "suffix_match", "contains_match",
                         "safe_regex_match", "present_match", "string_match", "range_match",
                         "invert_match", "treat_missing_header_as_empty"});
  std::string name = o.required("name").string();
  bool inverted = o.boolean_or("invert_match", false);
  std::optional<StringMatch> m;
  if (auto v = o.optional("exact_match")) m = StringMatch{StringMatch::Kind::kExact, v->string()};
  if (auto v = o.optional("prefix_match")) m = StringMatch{StringMatch::Kind::kPrefix, v->string()};
  if (auto v = o.optional("present_match"); v && v->boolean()) {
    m = StringMatch{StringMatch::Kind::kPrefix, ""};
  }
  if (auto v = o.optional("safe_regex_match")) m = read_safe_regex(*v, ctx);
  if (auto v = o.optional("string_match")) {
    auto s = v->object({"exact", "prefix", "suffix", "contains", "safe_regex", "ignore_case"});
    if (auto e = s.optional("exact")) m = StringMatch{StringMatch::Kind::kExact, e->string()};
    if (auto p = s.optional("prefix")) m = StringMatch{StringMatch::Kind::kPrefix, p->string()};
    if (auto r = s.optional("safe_regex")) m = read_safe_regex(*r, ctx);
  }
  if (!m) {
    ctx.warning(codes::kUnsupportedField, value,
                "only exact, prefix, present and safe_regex header matches are translated; the "
                "descriptor using this action never applies");
    return false;
  }
  require_header(into, name, std::move(*m), inverted);
  return true;
}

std::vector<Action> read_actions(const YamlValue& value, ParseContext& ctx) {
  std::vector<Action> out;
  for (const auto& item : value.items()) {
    auto o = item.object({"request_headers", "generic_key", "header_value_match", "remote_address",
                          "source_cluster", "destination_cluster", "masked_remote_address",
                          "query_parameters", "query_parameter_value_match", "metadata",
                          "dynamic_metadata", "extension"});
    Action a;
    if (auto v = o.optional("request_headers")) {
      auto rh = v->object({"header_name", "descriptor_key", "skip_if_absent"});
      a.kind = Action::Kind::kRequestHeader;
      a.header = ascii_lower(rh.required("header_name").string());
      a.key = rh.required("descriptor_key").string();
    } else if (auto v = o.optional("generic_key")) {
      auto gk = v->object({"descriptor_value", "descriptor_key"});
      a.kind = Action::Kind::kGenericKey;
      a.key = gk.string_or("descriptor_key", "generic_key");
      a.value = gk.required("descriptor_value").string();
    } else if (auto v = o.optional("header_value_match")) {
      auto hm = v->object({"descriptor_value", "descriptor_key", "expect_match", "headers"});
      a.kind = Action::Kind::kHeaderValueMatch;
      a.key = hm.string_or("descriptor_key", "header_match");
      a.value = hm.required("descriptor_value").string();
      bool ok = true;
      for (const auto& h : hm.required("headers").items()) {
        ok = read_header_matcher(h, ctx, a.conditions) && ok;
      }
      if (!hm.boolean_or("expect_match", true)) {
        ctx.warning(codes::kUnsupportedField, *v,
                    "expect_match: false is not translated; the descriptor using this action "
                    "never applies");
        ok = false;
      }
      if (!ok) a.kind = Action::Kind::kUnsupported;
    } else {
      ctx.warning(codes::kUnsupportedField, item,
                  "only request_headers, generic_key and header_value_match actions are "
                  "translated; a descriptor using this action never applies");
    }
    out.push_back(std::move(a));
  }
  return out;
}

// A descriptor as conditions on the request, through the rate_limits entry that produces its
// keys in order; nullopt when none does (Envoy would never see that descriptor).
std::optional<HttpMatchRequest> descriptor_conditions(const Descriptor& d,
                                                      const RateLimitActions& rate_limits) {
  for (const auto& actions : rate_limits) {
    if (actions.size() != d.entries.size()) continue;
    HttpMatchRequest m;
    bool fits = true;
    for (size_t i = 0; i < actions.size() && fits; ++i) {
      const Action& a = actions[i];
      const DescriptorEntry& e = d.entries[i];
      fits = a.key == e.key && a.kind != Action::Kind::kUnsupported;
      if (!fits) break;
      switch (a.kind) {
        case Action::Kind::kRequestHeader:
          require_header(m, a.header, StringMatch{StringMatch::Kind::kExact, e.value}, false);
          break;
        case Action::Kind::kGenericKey:
          fits = a.value == e.value;
          break;
        case Action::Kind::kHeaderValueMatch:
          fits = a.value == e.value;
          if (a.conditions.uri) m.uri = a.conditions.uri;
          if (a.conditions.method) m.method = a.conditions.method;
          if (a.conditions.authority) m.authority = a.conditions.authority;
          m.headers.insert(a.conditions.headers.begin(), a.conditions.headers.end());
          m.without_headers.insert(a.conditions.without_headers.begin(),
                                   a.conditions.without_headers.end());
          break;
        case Action::Kind::kUnsupported:
          break;
      }
    }
    if (fits) return m;
  }
  return std::nullopt;
}

// The LocalRateLimit filter config: settings, and the descriptors waiting for a route's actions.
struct FilterConfig {
  RateLimitSettings settings;
  std::vector<Descriptor> descriptors;
};

// `typed_config` (or a typed_per_filter_config entry): Envoy's LocalRateLimit, directly or
// wrapped in a TypedStruct as Istio's examples write it.
FilterConfig read_filter_config(const YamlValue& typed, ParseContext& ctx) {
  std::optional<YamlValue> config;
  auto type = typed.node()["@type"];
  std::string type_url = type && type.IsScalar() ? type.Scalar() : "";
  if (type_url == "type.googleapis.com/udpa.type.v1.TypedStruct" ||
      type_url == "type.googleapis.com/xds.type.v3.TypedStruct") {
    auto wrapper = typed.object({"@type", "type_url", "value"});
    if (wrapper.required("type_url").string() != kLocalRateLimitType) {
      wrapper.required("type_url").fail(fmt::format("expected {}", kLocalRateLimitType));
    }
    config = wrapper.optional("value");
  } else if (type_url == kLocalRateLimitType) {
    config = typed;
  } else {
    typed.fail(fmt::format("@type must be {} (or a TypedStruct of it)", kLocalRateLimitType));
  }
  FilterConfig out;
  if (!config) return out;
  auto o = config->object(
      {"@type", "stat_prefix", "status", "token_bucket", "filter_enabled", "filter_enforced",
       "request_headers_to_add_when_not_enforced", "response_headers_to_add", "descriptors",
       "stage", "local_rate_limit_per_downstream_connection", "local_cluster_rate_limit",
       "enable_x_ratelimit_headers", "vh_rate_limits", "always_consume_default_token_bucket",
       "rate_limited_as_resource_exhausted", "max_dynamic_descriptors"});
  RateLimitSettings& s = out.settings;
  if (auto v = o.optional("token_bucket")) s.bucket = read_bucket(*v, ctx);
  if (auto v = o.optional("filter_enabled")) s.enabled_percent = read_runtime_percent(*v, ctx);
  if (auto v = o.optional("filter_enforced")) s.enforced_percent = read_runtime_percent(*v, ctx);
  if (auto v = o.optional("status")) {
    auto st = v->object({"code"});
    if (auto code = read_refusal_status(st.required("code"), ctx)) s.status = *code;
  }
  if (auto v = o.optional("response_headers_to_add")) {
    for (const auto& item : v->items()) {
      auto h = item.object({"header", "append", "append_action", "keep_empty_value"});
      auto kv = h.required("header").object({"key", "value", "raw_value"});
      s.response_headers[ascii_lower(kv.required("key").string())] = kv.string_or("value", "");
    }
  }
  s.always_consume_default = o.boolean_or("always_consume_default_token_bucket", true);
  if (auto v = o.optional("descriptors")) {
    for (const auto& item : v->items()) {
      auto d = item.object({"entries", "token_bucket"});
      Descriptor desc{{}, read_bucket(d.required("token_bucket"), ctx), origin_of(item), item};
      for (const auto& e : d.required("entries").items()) {
        auto entry = e.object({"key", "value"});
        desc.entries.push_back({entry.required("key").string(), entry.string_or("value", "")});
      }
      out.descriptors.push_back(std::move(desc));
    }
  }
  for (const char* key : {"request_headers_to_add_when_not_enforced", "local_cluster_rate_limit",
                          "enable_x_ratelimit_headers", "vh_rate_limits", "stage",
                          "rate_limited_as_resource_exhausted", "max_dynamic_descriptors"}) {
    if (auto v = o.optional(key)) {
      ctx.warning(codes::kUnsupportedField, *v, fmt::format("{} is not supported; ignored", key));
    }
  }
  if (auto v = o.optional("local_rate_limit_per_downstream_connection"); v && v->boolean()) {
    ctx.warning(codes::kUnsupportedField, *v,
                "per-connection buckets are not supported: the waypoint's bucket is shared by "
                "every connection");
  }
  return out;
}

// The settings a route runs with: its filter config with the descriptors its actions produce.
RateLimitSettings resolve(const FilterConfig& config, const RateLimitActions& actions,
                          ParseContext& ctx) {
  RateLimitSettings s = config.settings;
  for (const auto& d : config.descriptors) {
    auto conditions = descriptor_conditions(d, actions);
    if (!conditions) {
      ctx.warning(codes::kUnsupportedField, d.where,
                  "no rate_limits action of the route produces this descriptor's keys; it never "
                  "applies");
      continue;
    }
    s.rules.push_back({std::move(*conditions), d.bucket, d.at});
  }
  return s;
}

// What the patches say for one route name ("" = every route): a config of its own, actions.
struct RoutePatch {
  std::optional<FilterConfig> config;
  std::optional<RateLimitActions> actions;
  Origin at;
};

void read_route_patch(const YamlObject& patch_match, const YamlValue& value, bool vhost,
                      ParseContext& ctx, std::map<std::string, RoutePatch>& routes) {
  std::string route_name;
  if (auto rc = patch_match.optional("routeConfiguration")) {
    auto o = rc->object({"portNumber", "portName", "gateway", "vhost", "name"});
    if (auto vh = o.optional("vhost")) {
      auto v = vh->object({"name", "domainName", "route"});
      if (auto r = v.optional("route")) {
        auto ro = r->object({"name", "action"});
        route_name = ro.string_or("name", "");
      }
    }
  }
  auto o = value.object(
      {"route", "rate_limits", "typed_per_filter_config", "name", "match", "domains", "routes"});
  RoutePatch& p = routes[route_name];
  p.at = origin_of(value);
  if (auto tpfc = o.optional("typed_per_filter_config")) {
    for (const auto& [name, key, config] : tpfc->fields()) {
      if (name != kFilterName) {
        ctx.warning(codes::kUnsupportedField, key,
                    fmt::format("{} is not applied: ambit has no Envoy to configure", name));
        continue;
      }
      p.config = read_filter_config(config, ctx);
    }
  }
  std::optional<YamlValue> rate_limits = o.optional("rate_limits");
  if (auto r = o.optional("route"); r && !vhost) {
    auto action = r->object({"rate_limits", "include_vh_rate_limits", "cluster", "timeout",
                             "retry_policy", "prefix_rewrite"});
    rate_limits = action.optional("rate_limits");
    for (const char* k : {"cluster", "timeout", "retry_policy", "prefix_rewrite"}) {
      if (auto v = action.optional(k)) {
        ctx.warning(codes::kUnsupportedField, *v,
                    fmt::format("route.{} is not applied: write it in a VirtualService", k));
      }
    }
  }
  if (rate_limits) {
    RateLimitActions actions;
    for (const auto& entry : rate_limits->items()) {
      auto e = entry.object({"actions", "stage", "disable_key", "limit", "apply_on_stream_done"});
      actions.push_back(read_actions(e.required("actions"), ctx));
    }
    p.actions = std::move(actions);
  }
}

}  // namespace

void read_envoy_filter(const YamlObject& root, ObjectMeta meta, ParseContext& ctx, ConfigModel& m) {
  LocalRateLimit rl;
  rl.meta = std::move(meta);
  auto spec = root.required("spec").object(
      {"workloadSelector", "targetRef", "targetRefs", "configPatches", "priority"});
  if (auto ws = spec.optional("workloadSelector")) {
    rl.selector = ws->object({"labels"}).required("labels").string_map();
  }
  std::vector<YamlValue> refs;
  if (auto one = spec.optional("targetRef")) refs.push_back(*one);
  if (auto many = spec.optional("targetRefs")) {
    for (const auto& r : many->items()) refs.push_back(r);
  }
  for (const auto& r : refs) rl.target_refs.push_back(read_rate_limit_target(r, rl.meta, ctx));
  std::optional<FilterConfig> filter;
  std::map<std::string, RoutePatch> routes;
  if (auto patches = spec.optional("configPatches")) {
    for (const auto& item : patches->items()) {
      auto cp = item.object({"applyTo", "match", "patch"});
      std::string apply_to = cp.required("applyTo").string();
      auto patch = cp.required("patch").object({"operation", "value", "filterClass"});
      std::string operation = patch.required("operation").string();
      std::optional<YamlObject> match;
      if (auto mv = cp.optional("match")) {
        match = mv->object({"context", "proxy", "listener", "routeConfiguration", "cluster"});
        std::string context = match->string_or("context", "ANY");
        if (context != "ANY" && context != "SIDECAR_INBOUND" && context != "WAYPOINT") {
          ctx.warning(codes::kUnsupportedField, match->required("context"),
                      fmt::format("context {}: ambit applies local rate limits at the waypoint "
                                  "of the Services the filter's workloads back",
                                  context));
        }
      }
      auto value = patch.optional("value");
      bool is_filter = apply_to == "HTTP_FILTER" && value && value->node().IsMap() &&
                       value->node()["name"] && value->node()["name"].Scalar() == kFilterName;
      if (is_filter && operation != "REMOVE") {
        auto f = value->object({"name", "typed_config"});
        if (auto tc = f.optional("typed_config")) {
          filter = read_filter_config(*tc, ctx);
        } else {
          filter = FilterConfig{};
        }
        continue;
      }
      if ((apply_to == "HTTP_ROUTE" || apply_to == "VIRTUAL_HOST") && operation == "MERGE" &&
          value && match) {
        read_route_patch(*match, *value, apply_to == "VIRTUAL_HOST", ctx, routes);
        continue;
      }
      ctx.warning(codes::kIgnoredKind, item,
                  fmt::format("{} {} is not applied: ambit has no Envoy to patch (only "
                              "envoy.filters.http.local_ratelimit is translated)",
                              operation, apply_to));
    }
  }
  if (!filter) {
    if (!routes.empty()) {
      ctx.warning(codes::kUnsupportedField, root.required("spec"),
                  "route settings for envoy.filters.http.local_ratelimit without the HTTP_FILTER "
                  "patch that inserts it: Envoy would not run them; ignored");
    }
    ctx.warning(codes::kIgnoredKind, root.required("spec"),
                "EnvoyFilter is not used by ambit beyond envoy.filters.http.local_ratelimit, "
                "which this one does not insert (ambit has no Envoy to patch); ignored");
    m.ignored.push_back({std::move(rl.meta)});
    return;
  }
  // The filter's own settings, replaced by a patch for every route (no route name) if any.
  RateLimitActions no_actions;
  const RoutePatch* all = routes.contains("") ? &routes.at("") : nullptr;
  const RateLimitActions& default_actions = all && all->actions ? *all->actions : no_actions;
  const FilterConfig& default_config = all && all->config ? *all->config : *filter;
  rl.settings = resolve(default_config, default_actions, ctx);
  for (const auto& [name, p] : routes) {
    if (name.empty()) continue;
    const FilterConfig& config = p.config ? *p.config : default_config;
    const RateLimitActions& actions = p.actions ? *p.actions : default_actions;
    rl.routes.push_back({name, resolve(config, actions, ctx), p.at});
  }
  m.local_rate_limits.push_back(std::move(rl));
}

// ambit.io/v1alpha1 LocalRateLimit:
//   spec:
//     targetRefs: [{kind: Service, name: orders}]   # or a waypoint Gateway
//     limit: {requests: 100, per: 1m, burst: 150}   # burst: the bucket's size (default requests)
//     enforcedPercent: 100                          # the rest over the limit pass, counted
//     status: 429
//     responseHeaders: {x-rate-limited: "true"}
//     rules:                                        # the first that matches uses its own limit
//     - match: {uri: {prefix: /checkout}}           # a VirtualService http match
//       limit: {requests: 10, per: 1s}
void read_local_rate_limit(const YamlObject& root, ObjectMeta meta, ParseContext& ctx,
                           ConfigModel& m) {
  LocalRateLimit rl;
  rl.meta = std::move(meta);
  auto spec = root.required("spec").object(
      {"targetRefs", "limit", "enforcedPercent", "status", "responseHeaders", "rules"});
  auto refs = spec.required("targetRefs");
  for (const auto& r : refs.items())
    rl.target_refs.push_back(read_rate_limit_target(r, rl.meta, ctx));
  if (rl.target_refs.empty()) refs.fail("at least one target is needed");
  auto limit = [&ctx](const YamlValue& value) {
    auto o = value.object({"requests", "per", "burst"});
    RateLimitBucket b;
    b.tokens_per_fill = o.required("requests").integer();
    b.max_tokens = integer_or_none(o, "burst").value_or(b.tokens_per_fill);
    if (b.tokens_per_fill < 1 || b.tokens_per_fill > UINT32_MAX) {
      ctx.error(codes::kInvalidValue, o.required("requests"), "requests must be at least 1");
    }
    if (b.max_tokens < b.tokens_per_fill || b.max_tokens > UINT32_MAX) {
      ctx.error(codes::kInvalidValue, o.required("burst"), "burst must be at least requests");
    }
    read_fill_interval(o.required("per"), "per", b, ctx);
    return b;
  };
  RateLimitSettings s;
  if (auto v = spec.optional("limit")) s.bucket = limit(*v);
  s.enabled_percent = 100;
  s.enforced_percent = 100;
  if (auto v = spec.optional("enforcedPercent")) {
    s.enforced_percent = v->number();
    if (s.enforced_percent < 0 || s.enforced_percent > 100) {
      ctx.error(codes::kInvalidValue, *v, "enforcedPercent must be from 0 to 100");
    }
  }
  if (auto v = spec.optional("status")) {
    if (auto code = read_refusal_status(*v, ctx)) s.status = *code;
  }
  if (auto v = spec.optional("responseHeaders")) {
    for (const auto& [k, val] : v->string_map()) s.response_headers[ascii_lower(k)] = val;
  }
  if (auto rules = spec.optional("rules")) {
    for (const auto& item : rules->items()) {
      auto r = item.object({"match", "limit"});
      s.rules.push_back({read_istio_http_match(r.required("match"), ctx),
                         limit(r.required("limit")), origin_of(item)});
    }
  }
  s.always_consume_default = false;  // a rule's limit replaces the default for its requests
  if (!s.bucket && s.rules.empty()) {
    root.required("spec").fail("a LocalRateLimit needs a limit, rules, or both");
  }
  rl.settings = std::move(s);
  m.local_rate_limits.push_back(std::move(rl));
}

TargetRef read_rate_limit_target(const YamlValue& value, const ObjectMeta& owner,
                                 ParseContext& ctx) {
  auto o = value.object({"group", "kind", "name", "namespace"});
  TargetRef ref;
  ref.at = origin_of(value);
  ref.group = o.string_or("group", "");
  if (ref.group == "core") ref.group.clear();
  ref.kind = o.required("kind").string();
  ref.name = o.required("name").kubernetes_name();
  ref.ns = owner.ns;
  bool service = ref.group.empty() && ref.kind == "Service";
  bool gateway = ref.group == kGatewayApiGroup && ref.kind == "Gateway";
  if (!service && !gateway) {
    ctx.error(codes::kInvalidValue, value,
              "a rate limit targets a core Service or a gateway.networking.k8s.io Gateway (a "
              "waypoint)");
  }
  if (auto ns = o.optional("namespace"); ns && ns->string() != owner.ns) {
    ctx.error(codes::kInvalidValue, *ns, "a target must be in the object's own namespace");
  }
  return ref;
}

}  // namespace ambit::controller::config
