// The mesh's view of a pod (Workload) and of a Kubernetes Service, as the L4 data path needs them.
// Plain data: the agent fills these from its configuration, the WorkloadTable indexes them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/identity.h"
#include "core/net_address.h"
#include "core/result.h"

namespace ambit::ztunnel {

// PeerAuthentication mTLS mode of a destination workload, as in Istio.
enum class PeerAuthMode { kStrict, kPermissive, kDisable };

std::string_view to_string(PeerAuthMode mode);  // "STRICT" | "PERMISSIVE" | "DISABLE"
Result<PeerAuthMode> parse_peer_auth_mode(std::string_view text);

using Labels = std::map<std::string, std::string>;

// True when every key=value of `selector` is in `labels`. An empty selector matches everything;
// callers for which "empty" means "nothing" (Service endpoints) check that themselves.
bool selector_matches(const Labels& selector, const Labels& labels);

struct Workload {
  std::string name, ns, service_account, node;
  std::string uid() const;  // "<ns>/<name>"
  Identity identity;        // spiffe://<td>/ns/<ns>/sa/<sa>
  std::vector<IpAddress> addresses;
  Labels labels;
  SocketAddress hbone_address;  // where peers send HBONE (its node's or pod's 15008)
  PeerAuthMode peer_auth = PeerAuthMode::kPermissive;
  bool mesh = true;  // false: not in the mesh, reached in plaintext (passthrough)
  // "<ns>/<name>" of the waypoint that serves traffic to this workload; empty: none.
  std::string waypoint;
  // The identity the waypoint presents: its Gateway's name is its service account, as for
  // Istio's waypoints. Empty when the workload has no waypoint.
  Identity waypoint_identity() const;
  // Set on a pod that runs a waypoint ("<ns>/<gateway>"): it speaks HBONE itself (hbone_address
  // is its own), is not captured, and its connections to the services it serves are not steered
  // back to the waypoint.
  std::string runs_waypoint;
  // The workload's L7 policy lives in its waypoint: connections that bypass the waypoint are
  // refused unless an L4 ALLOW policy that selects the workload admits them (authorization.h).
  bool waypoint_guard = false;
  // The `baggage` header describing it as a source (ztunnel/baggage.h). Derived, not
  // configured: WorkloadTable::add_workload fills it once, so no connection formats it.
  std::string source_baggage;
  // Named container ports (name -> port), for Services whose targetPort is a name.
  std::map<std::string, uint16_t> named_ports;
};

struct ServicePort {
  uint16_t port;
  uint16_t target_port;  // 0 means "same as port", as in Kubernetes
  // Set: the target is each endpoint's container port of that name (target_port unused).
  std::string target_port_name = {};
  // Istio's protocol of the port (from appProtocol or the port name): "HTTP", "HTTP2", "GRPC",
  // "TCP"... The waypoint speaks HTTP/2 to endpoints of HTTP2 and GRPC ports.
  std::string protocol = {};
  std::string name = {};  // as the Service (or ServiceEntry) names it

  // The port to reach `endpoint` on; nullopt when the port is named and the endpoint declares
  // no port of that name (it is then not an endpoint of this port).
  std::optional<uint16_t> target_on(const Workload& endpoint) const;
};

struct Service {
  std::string name, ns;
  std::vector<IpAddress> vips;
  std::vector<ServicePort> ports;
  Labels selector;  // empty: no endpoints (a selector-less Kubernetes Service)
  // "<ns>/<name>" of the waypoint its traffic is sent to; empty: none (straight to endpoints).
  std::string waypoint;

  // An Istio ServiceEntry host (name is the host): where its endpoints come from (kKubernetes:
  // the selector's pods), whether they are outside the mesh, and the endpoints it lists.
  enum class Resolution { kKubernetes, kStatic, kDns, kDnsRoundRobin, kNone };
  Resolution resolution = Resolution::kKubernetes;
  bool mesh_external = false;
  struct Endpoint {
    std::string address;                    // an IP (kStatic) or a DNS name (kDns)
    std::map<std::string, uint16_t> ports;  // by port name: the port to dial instead
    Labels labels;
    uint32_t weight = 0;
  };
  std::vector<Endpoint> endpoints;
  std::string entry;  // "<ns>/<name>" of its ServiceEntry; empty for a Kubernetes Service

  std::string uid() const;  // "<ns>/<name>"
  // "<name>.<ns>.svc.cluster.local" (a ServiceEntry's: its host), the name ztunnel sends in
  // Forwarded host= and in a hostname :authority.
  std::string hostname() const;
  bool from_entry() const { return !entry.empty(); }
  const ServicePort* find_port(uint16_t port) const;
};

// The Kubernetes cluster domain of service hostnames.
inline constexpr std::string_view kClusterDomain = "cluster.local";

}  // namespace ambit::ztunnel
