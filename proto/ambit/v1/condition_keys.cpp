#include "ambit/v1/condition_keys.h"

namespace ambit::v1 {

bool is_l4_condition_key(std::string_view key) {
  constexpr std::string_view kL4[] = {"source.ip",
                                      "remote.ip",
                                      "source.namespace",
                                      "source.principal",
                                      "source.serviceAccount",
                                      "source.trustDomain",
                                      "destination.ip",
                                      "destination.port"};
  for (auto k : kL4) {
    if (key == k) return true;
  }
  return false;
}

bool is_l7_condition_key(std::string_view key) {
  constexpr std::string_view kPrefixes[] = {"request.headers[", "request.regex.headers[",
                                            "request.auth.", "connection.sni",
                                            "experimental.envoy.filters."};
  for (auto prefix : kPrefixes) {
    if (key.starts_with(prefix)) return true;
  }
  return false;
}

}  // namespace ambit::v1
