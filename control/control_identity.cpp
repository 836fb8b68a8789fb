#include "control/control_identity.h"

#include <fmt/format.h>

namespace ambit::control {

std::string node_spiffe_id(std::string_view trust_domain, std::string_view node) {
  return fmt::format("spiffe://{}/ambit/node/{}", trust_domain, node);
}
std::string waypoint_spiffe_id(std::string_view trust_domain, std::string_view waypoint_uid) {
  return fmt::format("spiffe://{}/ambit/waypoint/{}", trust_domain, waypoint_uid);
}
std::string controller_spiffe_id(std::string_view trust_domain) {
  return fmt::format("spiffe://{}/ambit/controller", trust_domain);
}

}  // namespace ambit::control
