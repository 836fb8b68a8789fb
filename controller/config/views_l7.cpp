// The L7 part of the views: VirtualServices (Istio's, and Linkerd ServiceProfiles and SMI
// TrafficSplits in their shape) and DestinationRules, for waypoints.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "controller/config/topology.h"
#include "controller/config/views.h"
#include "controller/config/views_l7.h"
#include "core/http_text.h"

namespace ambit::controller::config {

namespace pb = ambit::v1;

// Protobuf JSON style: whole seconds, then up to nine fractional digits ("1.5s", "0.010s").
std::string duration_text(const Duration& d) {
  int64_t ns = d.value.count();
  int64_t seconds = ns / 1'000'000'000;
  int64_t nanos = ns % 1'000'000'000;
  if (nanos == 0) return fmt::format("{}s", seconds);
  std::string frac = fmt::format("{:09d}", nanos);
  while (frac.back() == '0') frac.pop_back();
  return fmt::format("{}.{}s", seconds, frac);
}

std::string duration_text(const std::optional<Duration>& d) {
  return d ? duration_text(*d) : std::string();
}

void set_match(const StringMatch& in, pb::StringMatch* out) {
  switch (in.kind) {
    case StringMatch::Kind::kExact:
      out->set_exact(in.value);
      break;
    case StringMatch::Kind::kPrefix:
      out->set_prefix(in.value);
      break;
    case StringMatch::Kind::kRegex:
      out->set_regex(in.value);
      break;
  }
}

void set_matches(const std::map<std::string, StringMatch>& in,
                 google::protobuf::Map<std::string, pb::StringMatch>* out) {
  for (const auto& [k, v] : in) set_match(v, &(*out)[k]);
}

void add_header_operations(const HeaderOperations& in, pb::HeaderOperations* out) {
  for (const auto& [k, v] : in.set) (*out->mutable_set())[k] = v;
  for (const auto& [k, v] : in.add) (*out->mutable_add())[k] = v;
  for (const auto& h : in.remove) out->add_remove(h);
}

std::vector<int32_t> percentages(const std::vector<int64_t>& weights) {
  int64_t sum = 0;
  for (int64_t w : weights) sum += w;
  std::vector<int32_t> percent;
  std::vector<int64_t> remainder;
  int64_t given = 0;
  for (int64_t w : weights) {
    int64_t scaled = sum > 0 ? w * 100 : 0;
    percent.push_back(static_cast<int32_t>(sum > 0 ? scaled / sum : 0));
    remainder.push_back(sum > 0 ? scaled % sum : 0);
    given += percent.back();
  }
  for (int64_t left = sum > 0 ? 100 - given : 0; left > 0; --left) {
    auto best = std::max_element(remainder.begin(), remainder.end()) - remainder.begin();
    ++percent[best];
    remainder[best] = -1;
  }
  return percent;
}

namespace {

void set_headers(const HeaderManipulation& in, pb::Headers* out) {
  if (in.request) add_header_operations(*in.request, out->mutable_request());
  if (in.response) add_header_operations(*in.response, out->mutable_response());
}

bool has_headers(const HeaderManipulation& h) { return h.request || h.response; }

void set_destination(const Destination& in, std::string_view ns, pb::Destination* out) {
  out->set_host(expand_host(in.host, ns));
  out->set_subset(in.subset);
  out->set_port(in.port.value_or(0));
}

pb::HTTPMatchRequest to_match(const HttpMatchRequest& in) {
  pb::HTTPMatchRequest out;
  out.set_name(in.name);
  if (in.uri) set_match(*in.uri, out.mutable_uri());
  if (in.scheme) set_match(*in.scheme, out.mutable_scheme());
  if (in.method) set_match(*in.method, out.mutable_method());
  if (in.authority) set_match(*in.authority, out.mutable_authority());
  set_matches(in.headers, out.mutable_headers());
  set_matches(in.without_headers, out.mutable_without_headers());
  set_matches(in.query_params, out.mutable_query_params());
  out.set_port(in.port.value_or(0));
  for (const auto& [k, v] : in.source_labels) (*out.mutable_source_labels())[k] = v;
  out.set_source_namespace(in.source_namespace);
  out.set_ignore_uri_case(in.ignore_uri_case);
  return out;
}

pb::HTTPRoute to_route(const HttpRoute& in, std::string_view ns) {
  pb::HTTPRoute out;
  out.set_name(in.name);
  for (const auto& m : in.match) *out.add_match() = to_match(m);
  for (const auto& rd : in.route) {
    auto* d = out.add_route();
    set_destination(rd.destination, ns, d->mutable_destination());
    // Istio: a lone destination without a weight takes all the traffic.
    int64_t weight = rd.weight.value_or(in.route.size() == 1 ? 100 : 0);
    d->set_weight(static_cast<int32_t>(weight));
    if (has_headers(rd.headers)) set_headers(rd.headers, d->mutable_headers());
  }
  if (has_headers(in.headers)) set_headers(in.headers, out.mutable_headers());
  if (in.redirect) {
    auto* r = out.mutable_redirect();
    r->set_uri(in.redirect->uri);
    r->set_authority(in.redirect->authority);
    r->set_redirect_code(in.redirect->redirect_code);
  }
  if (in.rewrite) {
    out.mutable_rewrite()->set_uri(in.rewrite->uri);
    out.mutable_rewrite()->set_authority(in.rewrite->authority);
  }
  out.set_timeout(duration_text(in.timeout));
  if (in.retries) {
    auto* r = out.mutable_retries();
    r->set_attempts(static_cast<int32_t>(in.retries->attempts));
    r->set_per_try_timeout(duration_text(in.retries->per_try_timeout));
    std::string on;
    for (const auto& c : in.retries->retry_on) on += (on.empty() ? "" : ",") + c;
    r->set_retry_on(on);
  }
  if (in.fault) {
    auto* f = out.mutable_fault();
    if (in.fault->delay) {
      f->mutable_delay()->set_fixed_delay(duration_text(in.fault->delay->fixed_delay));
      f->mutable_delay()->mutable_percentage()->set_value(in.fault->delay->percentage);
    }
    if (in.fault->abort) {
      f->mutable_abort()->set_http_status(static_cast<int32_t>(in.fault->abort->http_status));
      f->mutable_abort()->set_grpc_status(in.fault->abort->grpc_status);
      f->mutable_abort()->mutable_percentage()->set_value(in.fault->abort->percentage);
    }
  }
  if (in.mirror) {
    set_destination(*in.mirror, ns, out.mutable_mirror());
    // Istio: a mirror without mirrorPercentage mirrors every request.
    out.mutable_mirror_percentage()->set_value(in.mirror_percentage.value_or(100));
  }
  return out;
}

pb::TCPRoute to_l4_route(const L4Route& in, std::string_view ns) {
  pb::TCPRoute out;
  for (const auto& m : in.match) {
    auto* pm = out.add_match();
    pm->set_port(m.port.value_or(0));
    for (const auto& h : m.sni_hosts) pm->add_sni_hosts(ascii_lower(h));
    for (const auto& s : m.destination_subnets) pm->add_destination_subnets(s);
    for (const auto& [k, v] : m.source_labels) (*pm->mutable_source_labels())[k] = v;
  }
  for (const auto& rd : in.route) {
    auto* d = out.add_route();
    set_destination(rd.destination, ns, d->mutable_destination());
    d->set_weight(static_cast<int32_t>(rd.weight.value_or(in.route.size() == 1 ? 100 : 0)));
  }
  return out;
}

pb::Resource from_virtual_service(const VirtualService& vs) {
  pb::Resource r;
  r.set_uid(vs.meta.uid());
  auto* out = r.mutable_virtual_service();
  out->set_uid(vs.meta.uid());
  out->set_name(vs.meta.name);
  out->set_namespace_(vs.meta.ns);
  out->set_origin("VirtualService");
  for (const auto& e : vs.export_to) out->add_export_to(e);
  for (const auto& h : vs.hosts) out->add_hosts(expand_host(h, vs.meta.ns));
  for (const auto& route : vs.http) *out->add_http() = to_route(route, vs.meta.ns);
  for (const auto& route : vs.tcp) *out->add_tcp() = to_l4_route(route, vs.meta.ns);
  for (const auto& route : vs.tls) *out->add_tls() = to_l4_route(route, vs.meta.ns);
  return r;
}

// A ServiceProfile: its routes in order (method and pathRegex matches, timeout, per-route
// retries), then a catch-all to the service, as Linkerd forwards requests no route names.
pb::Resource from_service_profile(const ServiceProfile& sp) {
  pb::Resource r;
  std::string uid = "serviceprofile/" + sp.meta.uid();
  r.set_uid(uid);
  auto* out = r.mutable_virtual_service();
  out->set_uid(uid);
  out->set_name(sp.meta.name);
  out->set_namespace_(sp.meta.ns);
  out->set_origin("ServiceProfile");
  std::string host = expand_host(sp.meta.name, sp.meta.ns);
  out->add_hosts(host);
  auto to_service = [&](pb::HTTPRoute* route) {
    auto* d = route->add_route();
    d->mutable_destination()->set_host(host);
    d->set_weight(100);
  };
  for (const auto& in : sp.routes) {
    auto* route = out->add_http();
    route->set_name(in.name);
    if (!in.method.empty() || !in.path_regex.empty()) {
      auto* m = route->add_match();
      if (!in.method.empty()) m->mutable_method()->set_exact(in.method);
      if (!in.path_regex.empty()) m->mutable_uri()->set_regex(in.path_regex);
    }
    to_service(route);
    route->set_timeout(duration_text(in.timeout));
    // Linkerd retries an isRetryable route's failures (5xx) while the budget allows, and no
    // other route's: those get no retries at all (not Istio's default). The seed's per-route
    // `retries.limit` bounds the tries; isRetryable alone allows kLinkerdRetries.
    constexpr int32_t kLinkerdRetries = 3;
    auto* retries = route->mutable_retries();
    auto it = sp.route_retries.find(in.name);
    if (it != sp.route_retries.end() && it->second.limit > 0) {
      retries->set_attempts(static_cast<int32_t>(it->second.limit));
      retries->set_per_try_timeout(duration_text(it->second.timeout));
    } else {
      retries->set_attempts(in.is_retryable ? kLinkerdRetries : 0);
    }
    retries->set_retry_on("5xx");
    if (sp.retry_budget) {
      auto* b = retries->mutable_budget();
      b->set_retry_ratio(sp.retry_budget->retry_ratio);
      b->set_min_retries_per_second(static_cast<uint32_t>(sp.retry_budget->min_retries_per_second));
      if (sp.retry_budget->ttl.value.count() > 0) b->set_ttl(duration_text(sp.retry_budget->ttl));
    }
  }
  if (!sp.routes.empty()) {
    auto* rest = out->add_http();  // requests no route names: forwarded, never retried
    to_service(rest);
    rest->mutable_retries()->set_attempts(0);
  }
  return r;
}

// A TrafficSplit: one route from the apex service to its backends, the weights (thousandths)
// turned into percentages summing to 100 (largest remainders get the rounding).
pb::Resource from_traffic_split(const TrafficSplit& ts) {
  pb::Resource r;
  std::string uid = "trafficsplit/" + ts.meta.uid();
  r.set_uid(uid);
  auto* out = r.mutable_virtual_service();
  out->set_uid(uid);
  out->set_name(ts.meta.name);
  out->set_namespace_(ts.meta.ns);
  out->set_origin("TrafficSplit");
  out->add_hosts(expand_host(ts.service, ts.meta.ns));
  auto* route = out->add_http();
  std::vector<int64_t> weights;
  for (const auto& b : ts.backends) weights.push_back(b.weight);
  auto percent = percentages(weights);
  for (size_t i = 0; i < ts.backends.size(); ++i) {
    auto* d = route->add_route();
    d->mutable_destination()->set_host(expand_host(ts.backends[i].service, ts.meta.ns));
    d->set_weight(percent[i]);
  }
  return r;
}

pb::LoadBalancerSettings to_lb(const LoadBalancer& in) {
  pb::LoadBalancerSettings out;
  using Simple = LoadBalancer::Simple;
  switch (in.simple) {
    case Simple::kRoundRobin:
      out.set_simple(pb::LoadBalancerSettings::ROUND_ROBIN);
      break;
    case Simple::kLeastRequest:
      out.set_simple(pb::LoadBalancerSettings::LEAST_REQUEST);
      break;
    case Simple::kRandom:
      out.set_simple(pb::LoadBalancerSettings::RANDOM);
      break;
    case Simple::kPassthrough:
      out.set_simple(pb::LoadBalancerSettings::PASSTHROUGH);
      break;
    case Simple::kUnspecified:
      break;
  }
  if (in.consistent_hash) {
    const auto& h = *in.consistent_hash;
    auto* c = out.mutable_consistent_hash();
    c->set_http_header_name(h.http_header_name);
    c->set_http_cookie_name(h.http_cookie_name);
    c->set_http_cookie_ttl(duration_text(h.http_cookie_ttl));
    c->set_http_cookie_path(h.http_cookie_path);
    c->set_use_source_ip(h.use_source_ip);
    c->set_http_query_parameter_name(h.http_query_parameter_name);
    c->set_minimum_ring_size(h.minimum_ring_size);
  }
  return out;
}

int32_t i32(const std::optional<int64_t>& v) { return static_cast<int32_t>(v.value_or(0)); }

pb::ConnectionPoolSettings to_pool(const ConnectionPool& in) {
  pb::ConnectionPoolSettings out;
  if (in.tcp) {
    out.mutable_tcp()->set_max_connections(i32(in.tcp->max_connections));
    out.mutable_tcp()->set_connect_timeout(duration_text(in.tcp->connect_timeout));
  }
  if (in.http) {
    auto* h = out.mutable_http();
    h->set_http1_max_pending_requests(i32(in.http->http1_max_pending_requests));
    h->set_http2_max_requests(i32(in.http->http2_max_requests));
    h->set_max_requests_per_connection(i32(in.http->max_requests_per_connection));
    h->set_max_retries(i32(in.http->max_retries));
    h->set_idle_timeout(duration_text(in.http->idle_timeout));
    h->set_use_client_protocol(in.http->use_client_protocol);
    using P = pb::ConnectionPoolSettings::HTTPSettings;
    if (in.http->h2_upgrade_policy == "UPGRADE") h->set_h2_upgrade_policy(P::UPGRADE);
    if (in.http->h2_upgrade_policy == "DO_NOT_UPGRADE") h->set_h2_upgrade_policy(P::DO_NOT_UPGRADE);
  }
  return out;
}

pb::OutlierDetection to_outlier(const OutlierDetection& in) {
  pb::OutlierDetection out;
  out.set_consecutive_5xx_errors(
      static_cast<uint32_t>(in.consecutive_5xx_errors.value_or(in.consecutive_errors.value_or(0))));
  out.set_consecutive_gateway_errors(
      static_cast<uint32_t>(in.consecutive_gateway_errors.value_or(0)));
  out.set_interval(duration_text(in.interval));
  out.set_base_ejection_time(duration_text(in.base_ejection_time));
  out.set_max_ejection_percent(i32(in.max_ejection_percent));
  out.set_min_health_percent(i32(in.min_health_percent));
  return out;
}

pb::ClientTLSSettings to_tls(const ClientTls& in) {
  pb::ClientTLSSettings out;
  pb::ClientTLSSettings::TLSmode mode = pb::ClientTLSSettings::DISABLE;
  if (pb::ClientTLSSettings::TLSmode_Parse(in.mode, &mode)) out.set_mode(mode);
  out.set_sni(in.sni);
  for (const auto& s : in.subject_alt_names) out.add_subject_alt_names(s);
  out.set_ca_certificates(in.ca_certificates);
  out.set_client_certificate(in.client_certificate);
  out.set_private_key(in.private_key);
  out.set_insecure_skip_verify(in.insecure_skip_verify);
  return out;
}

template <typename Settings, typename Out>
void fill_policy(const Settings& in, Out* out) {
  if (in.load_balancer) *out->mutable_load_balancer() = to_lb(*in.load_balancer);
  if (in.connection_pool) *out->mutable_connection_pool() = to_pool(*in.connection_pool);
  if (in.outlier_detection) *out->mutable_outlier_detection() = to_outlier(*in.outlier_detection);
  if (in.tls) *out->mutable_tls() = to_tls(*in.tls);
}

pb::TrafficPolicy to_traffic_policy(const TrafficPolicy& in) {
  pb::TrafficPolicy out;
  fill_policy(in, &out);
  for (const auto& p : in.port_level_settings) {
    auto* port = out.add_port_level_settings();
    port->set_port(p.port);
    fill_policy(p, port);
  }
  return out;
}

pb::Resource from_destination_rule(const DestinationRule& dr) {
  pb::Resource r;
  r.set_uid(dr.meta.uid());
  auto* out = r.mutable_destination_rule();
  out->set_uid(dr.meta.uid());
  out->set_name(dr.meta.name);
  out->set_namespace_(dr.meta.ns);
  out->set_host(expand_host(dr.host, dr.meta.ns));
  for (const auto& e : dr.export_to) out->add_export_to(e);
  if (dr.traffic_policy) *out->mutable_traffic_policy() = to_traffic_policy(*dr.traffic_policy);
  for (const auto& s : dr.subsets) {
    auto* subset = out->add_subsets();
    subset->set_name(s.name);
    for (const auto& [k, v] : s.labels) (*subset->mutable_labels())[k] = v;
    if (s.traffic_policy) *subset->mutable_traffic_policy() = to_traffic_policy(*s.traffic_policy);
  }
  return r;
}

}  // namespace

std::vector<pb::Resource> l7_resources(const ConfigModel& model) {
  GatewayRouteResources routes = gateway_route_resources(model);
  std::vector<pb::Resource> out = std::move(routes.resources);
  // Only mesh routing: a VirtualService bound to ingress gateways (and not to "mesh") is not
  // the waypoints' to apply. A host that Gateway API routes attach to is theirs (see
  // docs/configuration.md): the VirtualService keeps its other hosts, if any.
  for (const auto& vs : model.virtual_services) {
    if (!vs.binds_to_mesh() || (vs.http.empty() && vs.tcp.empty() && vs.tls.empty())) continue;
    pb::Resource r = from_virtual_service(vs);
    auto* hosts = r.mutable_virtual_service()->mutable_hosts();
    hosts->erase(std::remove_if(hosts->begin(), hosts->end(),
                                [&](const std::string& h) { return routes.hosts.contains(h); }),
                 hosts->end());
    if (!hosts->empty()) out.push_back(std::move(r));
  }
  for (const auto& sp : model.service_profiles) out.push_back(from_service_profile(sp));
  for (const auto& ts : model.traffic_splits) out.push_back(from_traffic_split(ts));
  for (const auto& dr : model.destination_rules) out.push_back(from_destination_rule(dr));
  std::sort(out.begin(), out.end(), [](const pb::Resource& a, const pb::Resource& b) {
    return a.kind_case() != b.kind_case() ? a.kind_case() < b.kind_case() : a.uid() < b.uid();
  });
  return out;
}

namespace {

pb::TokenBucket to_bucket(const RateLimitBucket& in) {
  pb::TokenBucket out;
  out.set_max_tokens(static_cast<uint32_t>(in.max_tokens));
  out.set_tokens_per_fill(static_cast<uint32_t>(in.tokens_per_fill));
  out.set_fill_interval(duration_text(in.fill_interval));
  return out;
}

pb::RateLimitSettings to_rate_limit_settings(const RateLimitSettings& in) {
  pb::RateLimitSettings out;
  if (in.bucket) *out.mutable_bucket() = to_bucket(*in.bucket);
  out.set_enabled_percent(in.enabled_percent);
  out.set_enforced_percent(in.enforced_percent);
  out.set_status(in.status);
  for (const auto& [k, v] : in.response_headers) (*out.mutable_response_headers_to_add())[k] = v;
  for (const auto& rule : in.rules) {
    auto* r = out.add_rules();
    *r->mutable_match() = to_match(rule.match);
    *r->mutable_bucket() = to_bucket(rule.bucket);
  }
  out.set_always_consume_default(in.always_consume_default);
  return out;
}

}  // namespace

std::vector<std::string> rate_limited_services(const Topology& topology, const LocalRateLimit& rl) {
  std::set<std::string> uids;
  if (!rl.target_refs.empty()) {
    for (const auto& ref : rl.target_refs) {
      if (ref.kind == "Service") {
        if (topology.find_service(ref.name, ref.ns) != nullptr)
          uids.insert(ref.ns + "/" + ref.name);
        continue;
      }
      for (const auto& s : topology.model().services) {
        if (topology.waypoint_of(s) == ref.ns + "/" + ref.name) uids.insert(s.meta.uid());
      }
    }
  } else {
    for (const Pod* pod : topology.selected_pods(rl.meta.ns, rl.selector, true)) {
      for (const Service* s : topology.services_of(*pod)) uids.insert(s->meta.uid());
    }
  }
  return {uids.begin(), uids.end()};
}

std::vector<pb::Resource> rate_limit_resources(const Topology& topology,
                                               const std::vector<LocalRateLimit>& limits) {
  std::vector<pb::Resource> out;
  for (const auto& rl : limits) {
    std::vector<std::string> uids = rate_limited_services(topology, rl);
    if (uids.empty()) continue;
    pb::Resource r;
    r.set_uid(rl.limit_uid());
    auto* limit = r.mutable_local_rate_limit();
    limit->set_uid(rl.limit_uid());
    limit->set_name(rl.meta.name);
    limit->set_namespace_(rl.meta.ns);
    for (const auto& uid : uids) {
      auto slash = uid.find('/');
      limit->add_hosts(service_fqdn(uid.substr(slash + 1), uid.substr(0, slash)));
    }
    if (rl.settings) *limit->mutable_settings() = to_rate_limit_settings(*rl.settings);
    for (const auto& route : rl.routes) {
      auto* rr = limit->add_routes();
      rr->set_route(route.name);
      *rr->mutable_settings() = to_rate_limit_settings(route.settings);
    }
    out.push_back(std::move(r));
  }
  return out;
}

bool l7_for_waypoint(const pb::Resource& resource, const std::vector<std::string>& service_hosts,
                     std::string_view waypoint_ns) {
  if (!l7_for_hosts(resource, service_hosts)) return false;
  auto visible = [&](const auto& export_to, const std::string& ns) {
    return exported_to(std::vector<std::string>(export_to.begin(), export_to.end()), ns,
                       waypoint_ns);
  };
  if (resource.has_virtual_service()) {
    const auto& vs = resource.virtual_service();
    return visible(vs.export_to(), vs.namespace_());
  }
  if (resource.has_local_rate_limit()) return true;  // its hosts are Services, named exactly
  const auto& dr = resource.destination_rule();
  return visible(dr.export_to(), dr.namespace_());
}

bool policy_for_waypoint(const pb::AuthorizationPolicy& policy, std::string_view waypoint_uid,
                         const std::vector<std::string>& served_service_uids) {
  auto served = [&](const std::string& uid) {
    return std::find(served_service_uids.begin(), served_service_uids.end(), uid) !=
           served_service_uids.end();
  };
  if (policy.target_refs().empty()) {
    // Selector policies of the namespaces it serves, and the root namespace's.
    if (policy.namespace_() == kRootNamespace) return true;
    return std::any_of(served_service_uids.begin(), served_service_uids.end(),
                       [&](const std::string& uid) {
                         return uid.substr(0, uid.find('/')) == policy.namespace_();
                       });
  }
  return std::any_of(policy.target_refs().begin(), policy.target_refs().end(), [&](const auto& t) {
    std::string uid = t.namespace_() + "/" + t.name();
    if (t.kind() == "Gateway") return uid == waypoint_uid;
    if (t.kind() == "GatewayClass") return true;  // every waypoint is of a waypoint class
    if (t.kind() == "Service") return served(uid);
    return false;  // ServiceEntry: which waypoint serves it is not in the view
  });
}

std::vector<pb::Resource> waypoint_policies(const ConfigModel& model) {
  std::vector<pb::Resource> out;
  for (const auto& ap : model.authorization_policies) {
    if (ap.target_refs.empty()) continue;
    auto policy = authorization_policy_resource(ap);
    if (!policy) continue;
    pb::Resource r;
    r.set_uid(ap.meta.uid());
    *r.mutable_authorization_policy() = std::move(*policy);
    out.push_back(std::move(r));
  }
  return out;
}

bool l7_for_hosts(const pb::Resource& resource, const std::vector<std::string>& service_hosts) {
  auto any = [&](std::string_view host) {
    return std::any_of(service_hosts.begin(), service_hosts.end(),
                       [&](const std::string& s) { return hosts_match(host, s); });
  };
  if (resource.has_virtual_service()) {
    const auto& hosts = resource.virtual_service().hosts();
    return std::any_of(hosts.begin(), hosts.end(), any);
  }
  if (resource.has_destination_rule()) return any(resource.destination_rule().host());
  if (resource.has_local_rate_limit()) {
    const auto& hosts = resource.local_rate_limit().hosts();
    return std::any_of(hosts.begin(), hosts.end(), [&](const std::string& h) {
      return std::find(service_hosts.begin(), service_hosts.end(), h) != service_hosts.end();
    });
  }
  return false;
}

}  // namespace ambit::controller::config
