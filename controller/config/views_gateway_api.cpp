// Gateway API routes (HTTPRoute, GRPCRoute, TCPRoute) in the VirtualService shape waypoints
// read. Gateway API merges the rules of every route attached to a parent and orders them by
// match specificity, not by where they were written; the merged list goes out per host, so the
// waypoint's first-match-wins walk gives Gateway API's answer.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "controller/config/topology.h"
#include "controller/config/views_l7.h"

namespace ambit::controller::config {
namespace {

namespace pb = ambit::v1;
using Kind = GatewayRoute::Kind;

// One route attached to one host (through a parentRef, maybe limited to a port).
struct Attachment {
  const GatewayRoute* route = nullptr;
  uint32_t port = 0;  // 0: every port

  auto key() const { return std::make_tuple(route->route_uid(), port); }
  bool operator<(const Attachment& o) const { return key() < o.key(); }
  bool operator==(const Attachment& o) const { return key() == o.key(); }
};

// One match of one rule: Gateway API orders these, across all of a host's routes.
struct MatchEntry {
  const GatewayRoute* route;
  const GatewayRouteRule* rule;
  const GatewayRouteMatch* match;
  uint32_t port;
};

// Gateway API's precedence: an exact path, then the longest prefix (a regex after both; its
// place is implementation-specific), a method, the most headers, the most query params; then
// the oldest route (no timestamp counts as newest), then "<ns>/<name>"; then the order written.
bool precedes(const MatchEntry& a, const MatchEntry& b) {
  auto rank = [](const MatchEntry& e) {
    const auto& path = e.match->path;
    int kind = path.kind == StringMatch::Kind::kExact    ? 0
               : path.kind == StringMatch::Kind::kPrefix ? 1
                                                         : 2;
    int length = kind == 1 ? -static_cast<int>(path.value.size()) : 0;
    const std::string& created = e.route->meta.creation_timestamp;
    return std::make_tuple(kind, length, e.match->method.empty(),
                           -static_cast<int>(e.match->headers.size()),
                           -static_cast<int>(e.match->query_params.size()), created.empty(),
                           created, e.route->meta.ns, e.route->meta.name);
  };
  return rank(a) < rank(b);
}

// "/foo/" is "/foo"; "/" stays.
std::string path_prefix_value(std::string value) {
  while (value.size() > 1 && value.back() == '/') value.pop_back();
  return value;
}

pb::HTTPMatchRequest to_match(const MatchEntry& e) {
  pb::HTTPMatchRequest out;
  const auto& path = e.match->path;
  if (path.kind == StringMatch::Kind::kPrefix) {
    out.mutable_uri()->set_path_prefix(path_prefix_value(path.value));
  } else {
    set_match(path, out.mutable_uri());
  }
  set_matches(e.match->headers, out.mutable_headers());
  set_matches(e.match->query_params, out.mutable_query_params());
  if (!e.match->method.empty()) out.mutable_method()->set_exact(e.match->method);
  out.set_port(e.port);
  return out;
}

std::string backend_host(const BackendRef& ref, std::string_view route_ns) {
  if (ref.is_hostname()) return ref.name;
  return service_fqdn(ref.name, ref.ns.empty() ? route_ns : std::string_view(ref.ns));
}

void set_backend(const BackendRef& ref, std::string_view route_ns, pb::Destination* out) {
  out->set_host(backend_host(ref, route_ns));
  out->set_port(ref.port.value_or(0));
}

// Header modifiers into `headers`; every filter kind a rule has into `route`.
void apply_filters(const std::vector<RouteFilter>& filters, std::string_view route_ns,
                   pb::Headers* headers, pb::HTTPRoute* route) {
  bool mirrored = false;
  using Type = RouteFilter::Type;
  using PathKind = RouteFilter::PathModifier::Kind;
  for (const auto& f : filters) {
    switch (f.type) {
      case Type::kRequestHeaderModifier:
        add_header_operations(f.headers, headers->mutable_request());
        break;
      case Type::kResponseHeaderModifier:
        add_header_operations(f.headers, headers->mutable_response());
        break;
      case Type::kUrlRewrite:
        if (route == nullptr) break;
        route->mutable_rewrite()->set_authority(f.hostname);
        if (f.path && f.path->kind == PathKind::kReplaceFullPath) {
          route->mutable_rewrite()->set_full_path(f.path->value);
        } else if (f.path) {
          route->mutable_rewrite()->set_uri(f.path->value);
        }
        break;
      case Type::kRequestRedirect: {
        if (route == nullptr) break;
        auto* r = route->mutable_redirect();
        r->set_scheme(f.scheme);
        r->set_authority(f.hostname);
        r->set_port(f.port.value_or(0));
        r->set_redirect_code(f.status_code);
        if (f.path && f.path->kind == PathKind::kReplaceFullPath) {
          r->set_uri(f.path->value);
        } else if (f.path) {
          r->set_uri_prefix(f.path->value);
        }
        break;
      }
      case Type::kRequestMirror:
        if (route == nullptr || mirrored || !f.mirror) break;
        mirrored = true;
        set_backend(*f.mirror, route_ns, route->mutable_mirror());
        route->mutable_mirror_percentage()->set_value(f.mirror_percent.value_or(100));
        break;
    }
  }
}

pb::HTTPRoute to_route(const MatchEntry& e) {
  pb::HTTPRoute out;
  const auto& rule = *e.rule;
  const std::string& ns = e.route->meta.ns;
  out.set_name(rule.name);
  *out.add_match() = to_match(e);
  pb::Headers headers;
  apply_filters(rule.filters, ns, &headers, &out);
  if (headers.ByteSizeLong() > 0) *out.mutable_headers() = std::move(headers);
  std::vector<int64_t> weights;
  for (const auto& b : rule.backends) weights.push_back(b.ref.weight);
  auto percent = percentages(weights);
  bool any_traffic = std::any_of(percent.begin(), percent.end(), [](int32_t p) { return p > 0; });
  if (!out.has_redirect() && any_traffic) {
    for (size_t i = 0; i < rule.backends.size(); ++i) {
      auto* d = out.add_route();
      set_backend(rule.backends[i].ref, ns, d->mutable_destination());
      d->set_weight(percent[i]);
      pb::Headers backend_headers;
      apply_filters(rule.backends[i].filters, ns, &backend_headers, nullptr);
      if (backend_headers.ByteSizeLong() > 0) *d->mutable_headers() = std::move(backend_headers);
    }
  } else if (!out.has_redirect()) {
    // No backend, or every weight 0: Gateway API answers 500.
    out.mutable_direct_response()->set_status(500);
  }
  out.set_timeout(duration_text(rule.request_timeout));
  out.set_backend_request_timeout(duration_text(rule.backend_request_timeout));
  return out;
}

void add_tcp_routes(const GatewayRoute& route, uint32_t port, pb::VirtualService* out) {
  for (const auto& rule : route.rules) {
    auto* tcp = out->add_tcp();
    tcp->set_port(port);
    std::vector<int64_t> weights;
    for (const auto& b : rule.backends) weights.push_back(b.ref.weight);
    auto percent = percentages(weights);
    for (size_t i = 0; i < rule.backends.size(); ++i) {
      if (percent[i] == 0) continue;
      auto* d = tcp->add_route();
      set_backend(rule.backends[i].ref, route.meta.ns, d->mutable_destination());
      d->set_weight(percent[i]);
    }
  }
}

pb::Resource to_resource(const std::vector<Attachment>& attachments,
                         const std::vector<std::string>& hosts) {
  pb::Resource r;
  auto* out = r.mutable_virtual_service();
  std::vector<MatchEntry> entries;
  std::string uid;  // sorted attachments: "<route uid>[:<port>]", joined with ","
  for (const auto& a : attachments) {
    std::string route_uid = a.route->route_uid();
    if (a.port != 0) route_uid += fmt::format(":{}", a.port);
    uid += (uid.empty() ? "" : ",") + route_uid;
    if (a.route->kind == Kind::kTcp) {
      add_tcp_routes(*a.route, a.port, out);
      continue;
    }
    for (const auto& rule : a.route->rules) {
      for (const auto& match : rule.matches) entries.push_back({a.route, &rule, &match, a.port});
    }
  }
  std::stable_sort(entries.begin(), entries.end(), precedes);
  for (const auto& e : entries) *out->add_http() = to_route(e);
  const GatewayRoute& first = *attachments.front().route;
  r.set_uid(uid);
  out->set_uid(uid);
  out->set_name(first.meta.name);
  out->set_namespace_(first.meta.ns);
  out->set_origin(first.meta.kind);
  for (const auto& h : hosts) out->add_hosts(h);
  return r;
}

// The Service port a parentRef limits the route to: `port`, or the port `sectionName` names (for
// a Service parent, Gateway API's sectionName is a port name); 0 for every port.
uint32_t parent_port(const Topology& topology, const GatewayRoute& route, const ParentRef& parent) {
  if (parent.port) return *parent.port;
  if (!parent.is_service() || parent.section_name.empty()) return 0;
  const Service* s =
      topology.find_service(parent.name, parent.ns.empty() ? route.meta.ns : parent.ns);
  if (s == nullptr) return 0;
  for (const auto& p : s->ports) {
    if (p.name == parent.section_name) return p.port;
  }
  return 0;
}

}  // namespace

GatewayRouteResources gateway_route_resources(const ConfigModel& model) {
  GatewayRouteResources result;
  if (model.gateway_routes.empty()) return result;
  Topology topology(model);
  std::map<std::string, std::vector<Attachment>> by_host;
  for (const auto& route : model.gateway_routes) {
    for (const auto& parent : route.parent_refs) {
      uint32_t port = parent_port(topology, route, parent);
      for (auto& host : topology.attached_hosts(route, parent)) {
        by_host[host].push_back({&route, port});
      }
    }
  }
  // Hosts with the same routes share one resource.
  std::map<std::vector<Attachment>, std::vector<std::string>> by_routes;
  for (auto& [host, attachments] : by_host) {
    std::sort(attachments.begin(), attachments.end());
    attachments.erase(std::unique(attachments.begin(), attachments.end()), attachments.end());
    by_routes[attachments].push_back(host);
    result.hosts.insert(host);
  }
  for (const auto& [attachments, hosts] : by_routes) {
    result.resources.push_back(to_resource(attachments, hosts));
  }
  return result;
}

}  // namespace ambit::controller::config
