// The kind a Resource carries, spelled as ResourceKey.kind: "Namespace", "Workload", "Service",
// "AuthorizationPolicy", "TrustBundle", "VirtualService", "DestinationRule"; empty when unset.
// The one place that maps the oneof to names, for the controller, the agent and the tests.
#pragma once

#include <string_view>

#include "ambit/v1/control.pb.h"

namespace ambit::v1 {

std::string_view resource_kind(const Resource& resource);

}  // namespace ambit::v1
