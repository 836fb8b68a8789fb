// The inbound HBONE listener (15008): terminates mTLS, learns the client's SPIFFE identity,
// checks each CONNECT against the destination's L4 authorization, then connects to the
// destination and relays.
//
// What a CONNECT may ask for, as ztunnel allows it:
//   - `:authority` is the destination ip:port, an address of the workload this listener serves
//     and, when the listener sits at the workload's own address (in-pod), the very address
//     the connection came in on; or a service hostname:port (ztunnel's multi-network path),
//     resolved to this node's endpoint of that service;
//   - the source address the policy sees is the TCP peer's, unless `Forwarded: for=` claims one
//     that the authenticated peer may speak for (see source_of).
#pragma once

#include <memory>
#include <unordered_map>
#include <variant>

#include "core/tcp_socket.h"
#include "ztunnel/hbone_connection.h"
#include "ztunnel/worker.h"

namespace ambit::ztunnel {

class InboundListener final : public ListenerHandler, public HboneConnection::Owner {
 public:
  static Result<std::unique_ptr<ListenerHandler>> create(Worker& worker, const ListenerSpec& spec);
  void close_idle() override;
  bool finished() const override { return ListenerHandler::finished() && connections_.empty(); }

 private:
  struct Target {
    const Workload* workload = nullptr;
    SocketAddress address;
  };
  // Why a CONNECT cannot go on: the HTTP status to answer and the access log's error.
  struct Refusal {
    int status;
    std::string error;
  };

  InboundListener(Worker& worker, const ListenerSpec& spec) : worker_(worker), spec_(spec) {}
  SSL_CTX* server_tls() const;
  const std::string& trust_domain() const;
  void on_accept(UniqueFd fd) override;
  void on_connect_request(HboneConnection& c, HboneConnection::Stream* stream,
                          const ConnectRequest& request) override;
  void on_released(HboneConnection& c) override;
  std::variant<Target, Refusal> target_of(const HboneConnection& c,
                                          const std::string& authority) const;
  SocketAddress source_of(const HboneConnection& c, const ConnectRequest& request,
                          const Workload& destination) const;
  void refuse(HboneConnection& c, HboneConnection::Stream* stream, int status,
              ConnectionRecord record, std::string error);

  Worker& worker_;
  ListenerSpec spec_;
  std::unordered_map<HboneConnection*, std::unique_ptr<HboneConnection>> connections_;
};

}  // namespace ambit::ztunnel
