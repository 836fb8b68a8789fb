// What the engine runs from: listeners, the workload table, policies, credentials and where
// local workloads' network namespaces are. Built by the agent (from a local file now, from the
// controller later). Each snapshot is immutable; Engine::update() swaps in a new one.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/identity.h"
#include "core/net_address.h"
#include "core/netns.h"
#include "core/tls_context.h"
#include "ztunnel/authorization.h"
#include "ztunnel/workload_table.h"

namespace ambit::ztunnel {

// kExtension: a listener the engine's user brings (the waypoint's HTTP listener), made by
// EngineConfig::extension.
enum class ListenerKind { kOutbound, kInbound, kInboundPlaintext, kExtension };

class ListenerHandler;
class Worker;
struct ListenerSpec;

// What a program built on the engine adds to its config snapshots: the listeners of kind
// kExtension, and whatever per-snapshot state they read (Worker::config().extension).
class EngineExtension {
 public:
  virtual ~EngineExtension() = default;
  virtual Result<std::unique_ptr<ListenerHandler>> create_listener(
      Worker& worker, const ListenerSpec& spec) const = 0;
};

struct ListenerSpec {
  ListenerKind kind = ListenerKind::kOutbound;
  SocketAddress address;
  std::string workload;  // uid of the workload this listener serves
  // Fixed original destination (no capture in front of the listener).
  std::optional<SocketAddress> destination;
  bool transparent = false;  // IP_TRANSPARENT for redirected traffic

  // Two specs name the same listener when these match (the bound port may differ from a
  // requested port 0).
  bool same_listener(const ListenerSpec& o) const {
    return kind == o.kind && address == o.address && workload == o.workload;
  }
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
  // Network namespace of each local workload that has one of its own (in-pod mode), by uid:
  // its listeners are bound there and the sockets it opens (to peers, to the app) are made
  // there, so peers and apps see the pod's address. Absent: the engine's own namespace.
  std::map<std::string, std::shared_ptr<const NetnsHandle>, std::less<>> netns;
  // SO_MARK on every socket the engine opens towards apps and peers, so capture (BPF or
  // iptables) can tell the agent's own traffic from the app's. 0: no mark.
  uint32_t socket_mark = 0;
  // Listeners of kind kExtension and their state; null when there are none.
  std::shared_ptr<const EngineExtension> extension;
  // Fixed at start; updates keep the running values of these.
  unsigned workers = 0;  // 0 = one per core
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds pool_idle_timeout{60'000};
  // A tunnelled connection that moves no byte either way for this long is closed.
  std::chrono::milliseconds connection_idle_timeout{3'600'000};
};

}  // namespace ambit::ztunnel
