// An AuthorizationPolicy of the controller API (ambit.v1) as the L4 authorizer's. The one
// conversion for both ways the agent gets policies: pushed by the controller (MeshView) and read
// from the standalone file (LocalConfig, through the controller's own reader and view), so both
// enforce the same thing.
#pragma once

#include <google/protobuf/map.h>

#include <string>

#include "ambit/v1/mesh.pb.h"
#include "core/result.h"
#include "ztunnel/authorization.h"

namespace ambit::agent {

// Fields only L7 can evaluate become "has L7" marks, so the authorizer fails safe on them.
// Errors (an action other than ALLOW/DENY, a bad address, port or condition key) name the policy.
Result<ztunnel::AuthorizationPolicy> engine_policy(const ambit::v1::AuthorizationPolicy& policy);

ztunnel::Labels labels_of(const google::protobuf::Map<std::string, std::string>& labels);

}  // namespace ambit::agent
