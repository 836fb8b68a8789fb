#include "controller/config/model.h"

#include <algorithm>

namespace ambit::controller::config {

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

size_t ConfigModel::object_count() const {
  return namespaces.size() + service_accounts.size() + pods.size() + services.size() +
         waypoints.size() + virtual_services.size() + destination_rules.size() +
         service_entries.size() + peer_authentications.size() + authorization_policies.size() +
         service_profiles.size() + traffic_splits.size() + gateway_routes.size() +
         ignored.size();
}

void ConfigModel::append(const ConfigModel& other) {
  auto add = [](auto& into, const auto& from) { into.insert(into.end(), from.begin(), from.end()); };
  add(namespaces, other.namespaces);
  add(service_accounts, other.service_accounts);
  add(pods, other.pods);
  add(services, other.services);
  add(waypoints, other.waypoints);
  add(virtual_services, other.virtual_services);
  add(destination_rules, other.destination_rules);
  add(service_entries, other.service_entries);
  add(peer_authentications, other.peer_authentications);
  add(authorization_policies, other.authorization_policies);
  add(service_profiles, other.service_profiles);
  add(traffic_splits, other.traffic_splits);
  add(gateway_routes, other.gateway_routes);
  add(ignored, other.ignored);
}

}  // namespace ambit::controller::config
