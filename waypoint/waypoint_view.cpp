#include "waypoint/waypoint_view.h"

#include <fmt/format.h>

#include "agent/local_config.h"

namespace ambit::waypoint {
namespace {

ztunnel::ListenerSpec listener(const WaypointSettings& settings) {
  ztunnel::ListenerSpec spec;
  spec.kind = ztunnel::ListenerKind::kExtension;
  spec.address = settings.listen;
  spec.workload = settings.workload_uid;
  return spec;
}

template <typename T>
std::vector<T> messages(const agent::MeshView& view, ambit::v1::Resource::KindCase kind,
                        const T& (ambit::v1::Resource::*get)() const) {
  std::vector<T> out;
  for (const auto* r : view.resources_of(kind)) out.push_back((r->*get)());
  return out;
}

// The engine config of one view, without credentials.
Result<ztunnel::EngineConfig> engine_config(
    const WaypointSettings& settings, const std::shared_ptr<RequestStats>& stats,
    std::shared_ptr<const ztunnel::WorkloadTable> table,
    const std::vector<ambit::v1::VirtualService>& virtual_services,
    const std::vector<ambit::v1::DestinationRule>& destination_rules,
    const std::vector<ambit::v1::LocalRateLimit>& rate_limits,
    const std::vector<ambit::v1::AuthorizationPolicy>& policies) {
  ztunnel::EngineConfig config;
  config.node = settings.waypoint_uid;
  config.table = table;
  // L4 policy is the node agents'; the waypoint's are L7 (WaypointState::authorizer).
  config.authorizer =
      std::make_shared<const ztunnel::Authorizer>(std::vector<ztunnel::AuthorizationPolicy>{});
  auto state = std::make_shared<WaypointState>();
  state->waypoint_uid = settings.waypoint_uid;
  state->workload_uid = settings.workload_uid;
  state->stats = stats;
  auto routes = RouteTable::build(virtual_services, destination_rules, std::move(table),
                                  settings.default_budget, rate_limits,
                                  settings.rate_limit_buckets.get(), settings.dns.get());
  if (!routes) return routes.error();
  state->routes = *routes;
  auto authz = L7Authorizer::build(policies, settings.waypoint_uid, settings.root_namespace);
  if (!authz) return authz.error();
  state->authorizer = *authz;
  config.extension = std::move(state);
  config.listeners.push_back(listener(settings));
  return config;
}

}  // namespace

Result<ztunnel::EngineConfig> empty_config(const WaypointSettings& settings,
                                           const std::shared_ptr<RequestStats>& stats) {
  return engine_config(settings, stats, std::make_shared<const ztunnel::WorkloadTable>(), {}, {},
                       {}, {});
}

Result<ztunnel::EngineConfig> compile_view(const agent::MeshView& view,
                                           const WaypointSettings& settings,
                                           agent::CertificateSource& certificates,
                                           const std::shared_ptr<RequestStats>& stats) {
  auto local = view.to_local_config(settings.waypoint_uid);
  if (!local) return local.error();
  auto built = agent::build_workload_table(*local);
  if (!built) return built.error();
  auto table = std::make_shared<const ztunnel::WorkloadTable>(std::move(*built));

  using R = ambit::v1::Resource;
  auto made =
      engine_config(settings, stats, table, messages(view, R::kVirtualService, &R::virtual_service),
                    messages(view, R::kDestinationRule, &R::destination_rule),
                    messages(view, R::kLocalRateLimit, &R::local_rate_limit),
                    messages(view, R::kAuthorizationPolicy, &R::authorization_policy));
  if (!made) return made.error();
  ztunnel::EngineConfig& config = *made;

  // The waypoint's own certificate: its pods run as the Gateway's service account (the Gateway's
  // name, as Istio's waypoints do), which is the identity agents expect of it.
  auto slash = settings.waypoint_uid.find('/');
  Identity identity(local->trust_domain, settings.waypoint_uid.substr(0, slash),
                    settings.waypoint_uid.substr(slash + 1));
  if (auto cert = certificates.current(settings.workload_uid, identity)) {
    auto bundle = TrustBundle::from_pem(local->trust_bundle_pem);
    if (!bundle) return Error::format("trust bundle: {}", bundle.error().message);
    auto client = TlsContext::client(*cert, *bundle);
    if (!client) return client.error();
    auto server = TlsContext::server(*cert, *bundle);
    if (!server) return server.error();
    config.credentials[settings.workload_uid] =
        ztunnel::WorkloadCredentials{cert->identity(), std::move(*client), std::move(*server)};
  }
  return made;
}

}  // namespace ambit::waypoint
