// Internal to the L7 views: the conversions views_l7.cpp (VirtualService, ServiceProfile,
// TrafficSplit, DestinationRule) and views_gateway_api.cpp (Gateway API routes) share.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ambit/v1/control.pb.h"
#include "controller/config/model.h"

namespace ambit::controller::config {

// Protobuf JSON style: whole seconds, then up to nine fractional digits ("1.5s", "0.010s").
std::string duration_text(const Duration& d);
std::string duration_text(const std::optional<Duration>& d);
void set_match(const StringMatch& in, ambit::v1::StringMatch* out);
void set_matches(const std::map<std::string, StringMatch>& in,
                 google::protobuf::Map<std::string, ambit::v1::StringMatch>* out);
void add_header_operations(const HeaderOperations& in, ambit::v1::HeaderOperations* out);
// Relative weights as whole percentages summing to 100 (largest remainders get the rounding);
// all zeros when the weights sum to 0.
std::vector<int32_t> percentages(const std::vector<int64_t>& weights);

struct GatewayRouteResources {
  std::vector<ambit::v1::Resource> resources;  // VirtualServices, unsorted
  std::set<std::string> hosts;                 // the FQDNs they are for
};
// The Gateway API routes as VirtualServices: per host, the rules of every route attached to it
// in Gateway API's precedence order; hosts with the same routes share one resource.
GatewayRouteResources gateway_route_resources(const ConfigModel& model);

}  // namespace ambit::controller::config
