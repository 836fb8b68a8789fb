#include "controller/config/model.h"

#include <cctype>
#include <tuple>

#include <algorithm>

namespace ambit::controller::config {

bool HttpMatchRequest::same_conditions(const HttpMatchRequest& o) const {
  auto conditions = [](const HttpMatchRequest& m) {
    return std::tie(m.uri, m.scheme, m.method, m.authority, m.headers, m.without_headers,
                    m.query_params, m.port, m.source_labels, m.source_namespace, m.ignore_uri_case);
  };
  return conditions(*this) == conditions(o);
}

std::string ServiceEntry::Port::protocol_upper() const {
  std::string upper = protocol;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return upper;
}

std::string ObjectMeta::uid() const { return ns.empty() ? name : ns + "/" + name; }

std::string ObjectMeta::describe() const { return kind + " " + uid(); }

bool VirtualService::binds_to_mesh() const {
  return gateways.empty() || std::find(gateways.begin(), gateways.end(), "mesh") != gateways.end();
}

std::string GatewayRoute::route_uid() const {
  switch (kind) {
    case Kind::kHttp:
      return "httproute/" + meta.uid();
    case Kind::kGrpc:
      return "grpcroute/" + meta.uid();
    case Kind::kTcp:
      break;
  }
  return "tcproute/" + meta.uid();
}

std::string LocalRateLimit::limit_uid() const {
  return (meta.kind == "EnvoyFilter" ? "envoyfilter/" : "localratelimit/") + meta.uid();
}

size_t ConfigModel::object_count() const {
  return namespaces.size() + service_accounts.size() + pods.size() + services.size() +
         waypoints.size() + virtual_services.size() + destination_rules.size() +
         service_entries.size() + peer_authentications.size() + authorization_policies.size() +
         service_profiles.size() + traffic_splits.size() + gateway_routes.size() +
         local_rate_limits.size() + ignored.size();
}

void ConfigModel::append(const ConfigModel& other) {
  append(other, Part::kMesh);
  append(other, Part::kRest);
}

namespace {

// Calls `fn(mine, theirs)` for each kind's two lists in `part`.
template <typename Model, typename Other, typename Fn>
void for_each_kind(Model& m, Other& o, ConfigModel::Part part, Fn&& fn) {
  if (part == ConfigModel::Part::kMesh) {
    fn(m.namespaces, o.namespaces);
    fn(m.service_accounts, o.service_accounts);
    fn(m.pods, o.pods);
    fn(m.services, o.services);
    fn(m.waypoints, o.waypoints);
    fn(m.peer_authentications, o.peer_authentications);
  } else {
    fn(m.virtual_services, o.virtual_services);
    fn(m.destination_rules, o.destination_rules);
    fn(m.service_entries, o.service_entries);
    fn(m.authorization_policies, o.authorization_policies);
    fn(m.service_profiles, o.service_profiles);
    fn(m.traffic_splits, o.traffic_splits);
    fn(m.gateway_routes, o.gateway_routes);
    fn(m.local_rate_limits, o.local_rate_limits);
    fn(m.ignored, o.ignored);
  }
}

}  // namespace

void ConfigModel::append(const ConfigModel& other, Part part) {
  for_each_kind(*this, other, part, [](auto& into, const auto& from) {
    into.insert(into.end(), from.begin(), from.end());
  });
}

void ConfigModel::clear(Part part) {
  for_each_kind(*this, *this, part, [](auto& list, auto&) { list.clear(); });
}

bool ConfigModel::has(Part part) const {
  bool any = false;
  for_each_kind(*this, *this, part,
                [&](const auto& list, const auto&) { any = any || !list.empty(); });
  return any;
}

}  // namespace ambit::controller::config
