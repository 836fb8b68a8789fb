#include "agent/engine_setup.h"

#include <fmt/format.h>

namespace ambit::agent {

Result<ztunnel::EngineConfig> engine_config_from(const LocalConfig& config) {
  ztunnel::EngineConfig out;
  out.node = config.node;
  auto table = build_workload_table(config);
  if (!table) return table.error();
  out.table = std::make_shared<const ztunnel::WorkloadTable>(std::move(*table));
  out.authorizer = std::make_shared<const ztunnel::Authorizer>(config.policies);

  if (!config.certificates.empty()) {
    if (config.trust_bundle.empty()) {
      return Error{"trustBundle: required when workloads carry certificates"};
    }
    auto bundle = TrustBundle::load_pem_file(config.trust_bundle);
    if (!bundle) return Error::format("trustBundle {}: {}", config.trust_bundle,
                                      bundle.error().message);
    for (const auto& paths : config.certificates) {
      const ztunnel::Workload* w = out.table->find_by_uid(paths.workload);
      auto cert = WorkloadCertificate::load_pem_files(paths.certificate, paths.private_key);
      if (!cert) {
        return Error::format("workload {}: certificate {}: {}", paths.workload, paths.certificate,
                             cert.error().message);
      }
      if (w != nullptr && cert->identity() != w->identity) {
        return Error::format("workload {}: certificate {} is for {}, not {}", paths.workload,
                             paths.certificate, cert->identity().to_string(),
                             w->identity.to_string());
      }
      auto client = TlsContext::client(*cert, *bundle);
      if (!client) return Error::format("workload {}: {}", paths.workload, client.error().message);
      auto server = TlsContext::server(*cert, *bundle);
      if (!server) return Error::format("workload {}: {}", paths.workload, server.error().message);
      out.credentials[paths.workload] =
          ztunnel::WorkloadCredentials{cert->identity(), std::move(*client), std::move(*server)};
    }
  }
  for (const auto& l : config.listeners) {
    ztunnel::ListenerSpec spec;
    spec.kind = l.kind;
    spec.address = l.address;
    spec.workload = l.workload;
    spec.destination = l.destination;
    out.listeners.push_back(std::move(spec));
  }
  return out;
}

}  // namespace ambit::agent
