// What the engine runs from: listeners, the workload table, policies and credentials. Built by
// the agent (from a local file now, from the controller later); immutable once the engine runs.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/identity.h"
#include "core/net_address.h"
#include "core/tls_context.h"
#include "ztunnel/authorization.h"
#include "ztunnel/workload_table.h"

namespace ambit::ztunnel {

enum class ListenerKind { kOutbound, kInbound, kInboundPlaintext };

struct ListenerSpec {
  ListenerKind kind = ListenerKind::kOutbound;
  SocketAddress address;
  std::string workload;  // uid of the workload this listener serves
  // Fixed original destination (no capture in front of the listener).
  std::optional<SocketAddress> destination;
  bool transparent = false;  // IP_TRANSPARENT for redirected traffic
};

struct WorkloadCredentials {
  Identity identity;
  std::shared_ptr<TlsContext> client;  // presented when this workload's traffic leaves
  std::shared_ptr<TlsContext> server;  // presented on the HBONE listener serving it
};

struct EngineConfig {
  std::string node;
  std::shared_ptr<const WorkloadTable> table;
  std::shared_ptr<const Authorizer> authorizer;
  std::map<std::string, WorkloadCredentials> credentials;  // by workload uid
  std::vector<ListenerSpec> listeners;
  unsigned workers = 0;  // 0 = one per core
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds pool_idle_timeout{60'000};
  // A tunnelled connection that moves no byte either way for this long is closed.
  std::chrono::milliseconds connection_idle_timeout{3'600'000};
};

}  // namespace ambit::ztunnel
