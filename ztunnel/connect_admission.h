// The inbound's decision on one HBONE CONNECT: where it goes, who it is from, and whether L4
// authorization admits it. Pure over the engine's config and the request, so it can be fuzzed
// with what a peer may put in the headers.
//
// What a CONNECT may ask for, as ztunnel allows it:
//   - `:authority` is the destination ip:port, an address of the workload the listener serves
//     and, when the listener sits at the workload's own address (in-pod), the very address the
//     connection came in on; or a service hostname:port (ztunnel's multi-network path),
//     resolved to this node's endpoint of that service;
//   - the source address the policy sees is the TCP peer's, unless `Forwarded: for=` claims one
//     that the authenticated peer may speak for: its own address, an address of a workload with
//     its identity, or any address when the peer is the destination's waypoint. Anything else
//     would let one identity pass an ipBlocks ALLOW or dodge an ipBlocks DENY.
#pragma once

#include <string>
#include <string_view>

#include "core/identity.h"
#include "core/net_address.h"
#include "ztunnel/access_log.h"
#include "ztunnel/engine_config.h"
#include "ztunnel/hbone_connection.h"
#include "ztunnel/relay.h"

namespace ambit::ztunnel {

// The HBONE connection a CONNECT came on.
struct InboundPeer {
  Identity identity;      // from its certificate
  SocketAddress address;  // the TCP peer
  SocketAddress local;    // where it came in
};

struct ConnectDecision {
  int status = 200;         // 200: connect to `destination`; else the status to answer
  ConnectionRecord record;  // for the access log; record.error says why when refused
  const Workload* destination = nullptr;
  SocketAddress upstream;  // destination ip:port to connect to
  Relay::Admission admission;
  bool forwarded_ignored = false;  // a Forwarded claim the peer was not entitled to
};

// `listener_workload`: uid of the workload the listener serves (empty: any on this node).
ConnectDecision admit_connect(const EngineConfig& config, std::string_view listener_workload,
                              const InboundPeer& peer, const ConnectRequest& request);

}  // namespace ambit::ztunnel
