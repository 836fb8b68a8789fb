// Value syntaxes of Istio's API, checked the way Istio checks them.
#pragma once

#include <chrono>
#include <string_view>

#include "core/result.h"

namespace ambit::controller::config {

// A duration as Istio's YAML accepts it (Go/protobuf style): one or more <number><unit> with
// units h, m, s, ms, us (µs), ns and decimal numbers ("1s", "500ms", "1m", "1h", "0.5s",
// "1h30m"); "0" alone is zero. Negative durations are refused.
Result<std::chrono::nanoseconds> parse_duration(std::string_view text);

// An AuthorizationPolicy principal, a string compared as Istio compares it: exactly, or as a
// pattern with one '*' at the start or the end ("*", "cluster.local/ns/shop/*", "*/sa/web").
// Refused: empty, a 'spiffe://' prefix (Istio adds it, so it would never match), '*' elsewhere.
Status check_principal(std::string_view principal);
// "<trust-domain>/ns/<namespace>/sa/<service-account>": the form of the identities a mesh issues.
bool is_mesh_principal(std::string_view principal);

// True when RE2 compiles `regex`; else the error names what RE2 said.
Status check_regex(std::string_view regex);

}  // namespace ambit::controller::config
