#include "controller/config/model.h"

namespace ambit::controller::config {

std::string ObjectMeta::uid() const { return ns.empty() ? name : ns + "/" + name; }

std::string ObjectMeta::describe() const { return kind + " " + uid(); }

size_t ConfigModel::object_count() const {
  return namespaces.size() + service_accounts.size() + pods.size() + services.size() +
         waypoints.size() + virtual_services.size() + destination_rules.size() +
         service_entries.size() + peer_authentications.size() + authorization_policies.size() +
         service_profiles.size() + traffic_splits.size() + ignored.size();
}

}  // namespace ambit::controller::config
