// The `when` keys of an AuthorizationCondition (Istio's attribute names), split by who can
// evaluate them: the node agent sees the connection (source.ip, source.principal,
// destination.port...), only an L7 proxy sees requests (request.headers[...], request.auth.*,
// connection.sni...). The one list for the controller's reader and analyzer and the agent.
#pragma once

#include <string_view>

namespace ambit::v1 {

bool is_l4_condition_key(std::string_view key);
bool is_l7_condition_key(std::string_view key);

}  // namespace ambit::v1
