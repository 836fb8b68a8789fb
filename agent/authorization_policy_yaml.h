// Reads an Istio AuthorizationPolicy written in YAML (name, namespace and the spec's fields, in
// Istio's camelCase) into the L4 authorizer's form. Fields only L7 can evaluate are kept as
// "has L7" marks so the authorizer can fail safe on them.
#pragma once

#include "core/yaml_reader.h"
#include "ztunnel/authorization.h"

namespace ambit::agent {

// `item` is one element of a top-level list; errors name it (`authorizationPolicies[0]
// "default/allow-sleep"`). Throws ConfigError, like everything built on YamlValue.
ztunnel::AuthorizationPolicy read_authorization_policy(const YamlValue& item);

}  // namespace ambit::agent
