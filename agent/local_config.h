// The agent's local configuration: one YAML file that tells the engine which workloads and
// services exist, which policies apply, where this node's certificates are and which listeners
// to open. It stands in for the controller's push until the controller exists; the format is
// documented in docs/local-config.md.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/net_address.h"
#include "core/result.h"
#include "ztunnel/authorization.h"
#include "ztunnel/engine_config.h"
#include "ztunnel/workload.h"
#include "ztunnel/workload_table.h"

namespace ambit::agent {

using ztunnel::AuthorizationPolicy;
using ztunnel::ListenerKind;
using ztunnel::Service;
using ztunnel::Workload;
using ztunnel::WorkloadTable;

std::string_view to_string(ListenerKind kind);  // "outbound" | "inbound" | "inboundPlaintext"

struct ListenerConfig {
  ListenerKind kind = ListenerKind::kOutbound;
  SocketAddress address;
  // Uid of the pod this listener serves. Empty only for an inbound (HBONE) listener shared by
  // every workload on the node; it then serves whichever local workload a CONNECT names.
  std::string workload;
  // Fixed original destination (no capture); else local address / SO_ORIGINAL_DST.
  std::optional<SocketAddress> destination;
};

struct CertificatePaths {
  std::string workload;  // uid
  std::string certificate, private_key;
};

struct NamespaceConfig {
  std::string name;
  ztunnel::Labels labels;
  // ambit.io/dataplane-mode=ambient (or Istio's istio.io/dataplane-mode=ambient).
  bool ambient() const;
};

// Where a pod on this node lives: what in-pod capture needs.
struct SandboxPaths {
  std::string netns;   // nsfs file of the pod's network namespace
  std::string cgroup;  // its cgroup v2 directory
};

// A CA the agent signs its own pods' certificates with in standalone mode, until the
// controller's CA does it.
struct CertificateAuthorityPaths {
  std::string certificate, private_key;
};

struct LocalConfig {
  std::string node;
  std::string trust_domain = "cluster.local";
  std::string trust_bundle;  // path; empty when not given
  std::string trust_bundle_pem;  // in memory (pushed by the controller); wins over the path
  std::vector<Workload> workloads;
  std::vector<Service> services;
  std::vector<AuthorizationPolicy> policies;
  std::vector<CertificatePaths> certificates;
  std::vector<ListenerConfig> listeners;
  std::vector<NamespaceConfig> namespaces;
  std::map<std::string, SandboxPaths> sandboxes;  // by workload uid
  std::optional<CertificateAuthorityPaths> certificate_authority;
  std::string source;  // the file it came from, for error messages
};

// Reads and parses the file; relative trustBundle/certificate/privateKey paths are resolved
// against the file's directory.
Result<LocalConfig> load_local_config(const std::string& path);

// Parses and validates (names, addresses, references between objects, conflicts the workload
// table would refuse). Paths are left as written. source_name prefixes every error.
Result<LocalConfig> parse_local_config(std::string_view yaml, const std::string& source_name);

// The table the engine resolves destinations with. Errors name the offending object.
Result<WorkloadTable> build_workload_table(const LocalConfig& config);

}  // namespace ambit::agent
