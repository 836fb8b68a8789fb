// gRPC status codes by their canonical names (grpc/doc/statuscodes.md), as Istio's grpcStatus
// fault and Envoy's gRPC retry conditions name them.
#pragma once

#include <optional>
#include <string_view>
#include <utility>

namespace ambit {

inline constexpr std::pair<std::string_view, int> kGrpcStatusNames[] = {
    {"OK", 0},
    {"CANCELLED", 1},
    {"UNKNOWN", 2},
    {"INVALID_ARGUMENT", 3},
    {"DEADLINE_EXCEEDED", 4},
    {"NOT_FOUND", 5},
    {"ALREADY_EXISTS", 6},
    {"PERMISSION_DENIED", 7},
    {"RESOURCE_EXHAUSTED", 8},
    {"FAILED_PRECONDITION", 9},
    {"ABORTED", 10},
    {"OUT_OF_RANGE", 11},
    {"UNIMPLEMENTED", 12},
    {"INTERNAL", 13},
    {"UNAVAILABLE", 14},
    {"DATA_LOSS", 15},
    {"UNAUTHENTICATED", 16},
};

inline std::optional<int> grpc_status_code(std::string_view name) {
  for (auto [n, code] : kGrpcStatusNames) {
    if (n == name) return code;
  }
  return std::nullopt;
}

}  // namespace ambit
