// Internal to the loader: what the per-kind readers share. Each reader gets the document's root
// (apiVersion, kind, metadata, spec, status), the metadata already read, and a ParseContext to
// report value problems that do not make the object unreadable.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/config/diagnostics.h"
#include "controller/config/model.h"
#include "core/yaml_reader.h"

namespace ambit::controller::config {

class ParseContext {
 public:
  explicit ParseContext(std::vector<Diagnostic>& out) : out_(&out) {}
  // Strict reading (a file of the agent's own format): every problem, warnings included, is
  // thrown as a ConfigError instead of recorded, as the rest of that format's reader does.
  ParseContext() = default;

  void report(std::string_view code, Severity severity, const ConfigError& problem);
  void report(std::string_view code, Severity severity, const YamlValue& at,
              std::string_view message);
  void error(std::string_view code, const YamlValue& at, std::string_view message) {
    report(code, Severity::kError, at, message);
  }
  void warning(std::string_view code, const YamlValue& at, std::string_view message) {
    report(code, Severity::kWarning, at, message);
  }

  // Value readers that report (and return nullopt / false) instead of failing the object.
  std::optional<Duration> duration(const YamlValue& value);
  std::optional<Duration> duration(const YamlObject& object, std::string_view key);
  bool check_regex(const YamlValue& value, const std::string& regex);
  void check_principals(const YamlObject& source, std::string_view key);

 private:
  std::vector<Diagnostic>* out_ = nullptr;
};

Origin origin_of(const YamlValue& value);
Origin origin_of(const YamlObject& object);

// Small readers shared by the kinds.
std::vector<std::string> strings_or_empty(const YamlObject& o, std::string_view key);
std::optional<int64_t> integer_or_none(const YamlObject& o, std::string_view key);
std::optional<uint32_t> port_or_none(const YamlObject& o, std::string_view key);
// Istio's exportTo: ".", "*", "~" or namespace names; "*" and "~" stand alone; no duplicates.
// Bad values are reported (AMB0006) and left out.
std::vector<std::string> read_export_to(const YamlObject& spec, ParseContext& ctx);
std::vector<std::string> check_export_to(const std::vector<std::string>& values,
                                         const YamlValue& at, ParseContext& ctx);
// {matchLabels: {...}} (AuthorizationPolicy, PeerAuthentication, DestinationRule selectors).
std::optional<StringMap> match_labels(const YamlObject& o, std::string_view key, Origin& at);

// Per-kind readers (kubernetes.cpp, virtual_service.cpp, destination_rule.cpp,
// service_entry.cpp, security.cpp, linkerd_smi.cpp). `root` is the whole document.
void read_namespace(const YamlObject& root, ObjectMeta meta, ParseContext& ctx, ConfigModel& m);
void read_service_account(const YamlObject& root, ObjectMeta meta, ParseContext& ctx,
                          ConfigModel& m);
void read_pod(const YamlObject& root, ObjectMeta meta, ParseContext& ctx, ConfigModel& m);
void read_service(const YamlObject& root, ObjectMeta meta, ParseContext& ctx, ConfigModel& m);
// Returns false when the Gateway is not a waypoint (another class): the caller ignores it.
bool read_gateway(const YamlObject& root, ObjectMeta meta, ParseContext& ctx, ConfigModel& m);
void read_virtual_service(const YamlObject& root, ObjectMeta meta, ParseContext& ctx,
                          ConfigModel& m);
void read_destination_rule(const YamlObject& root, ObjectMeta meta, ParseContext& ctx,
                           ConfigModel& m);
void read_service_entry(const YamlObject& root, ObjectMeta meta, ParseContext& ctx, ConfigModel& m);
void read_peer_authentication(const YamlObject& root, ObjectMeta meta, ParseContext& ctx,
                              ConfigModel& m);
void read_authorization_policy(const YamlObject& root, ObjectMeta meta, ParseContext& ctx,
                               ConfigModel& m);
// The spec's fields of an AuthorizationPolicy, from `spec` (the document's spec, or a list item
// that carries them beside its name).
void read_authorization_policy_spec(const YamlObject& spec, ParseContext& ctx,
                                    AuthorizationPolicy& policy);
void read_service_profile(const YamlObject& root, ObjectMeta meta, ParseContext& ctx,
                          ConfigModel& m);
void read_traffic_split(const YamlObject& root, ObjectMeta meta, ParseContext& ctx, ConfigModel& m);
// gateway.networking.k8s.io routes (gateway_api.cpp).
void read_http_route(const YamlObject& root, ObjectMeta meta, ParseContext& ctx, ConfigModel& m);
void read_grpc_route(const YamlObject& root, ObjectMeta meta, ParseContext& ctx, ConfigModel& m);
void read_tcp_route(const YamlObject& root, ObjectMeta meta, ParseContext& ctx, ConfigModel& m);

// Istio's EnvoyFilter (its envoy.filters.http.local_ratelimit patches) and ambit's LocalRateLimit
// (local_rate_limit.cpp).
void read_envoy_filter(const YamlObject& root, ObjectMeta meta, ParseContext& ctx, ConfigModel& m);
void read_local_rate_limit(const YamlObject& root, ObjectMeta meta, ParseContext& ctx,
                           ConfigModel& m);
TargetRef read_rate_limit_target(const YamlValue& value, const ObjectMeta& owner,
                                 ParseContext& ctx);

// A VirtualService http match (virtual_service.cpp), also the rules' of a LocalRateLimit.
HttpMatchRequest read_istio_http_match(const YamlValue& value, ParseContext& ctx);

// Shared by VirtualService and DestinationRule readers.
std::optional<TrafficPolicy> read_traffic_policy(const YamlValue& value, ParseContext& ctx);

}  // namespace ambit::controller::config
