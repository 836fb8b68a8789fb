#include "ambit/v1/resource_kind.h"

namespace ambit::v1 {

std::string_view resource_kind(const Resource& resource) {
  switch (resource.kind_case()) {
    case Resource::kNamespace: return "Namespace";
    case Resource::kWorkload: return "Workload";
    case Resource::kService: return "Service";
    case Resource::kAuthorizationPolicy: return "AuthorizationPolicy";
    case Resource::kTrustBundle: return "TrustBundle";
    case Resource::kVirtualService: return "VirtualService";
    case Resource::kDestinationRule: return "DestinationRule";
    case Resource::kLocalRateLimit:
      return "LocalRateLimit";
    case Resource::KIND_NOT_SET: break;
  }
  return {};
}

}  // namespace ambit::v1
