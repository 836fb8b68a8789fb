// The inbound HBONE listener (15008): terminates mTLS, learns the client's SPIFFE identity,
// checks each CONNECT against the destination's L4 authorization, then connects to the
// destination and relays. What a CONNECT may ask for is decided in connect_admission.h.
#pragma once

#include <memory>
#include <unordered_map>

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
  InboundListener(Worker& worker, const ListenerSpec& spec) : worker_(worker), spec_(spec) {}
  // The served workload's current credentials (rotation reaches new connections); null when
  // it has no server certificate.
  const WorkloadCredentials* credentials() const;
  void on_accept(UniqueFd fd) override;
  void on_connect_request(HboneConnection& c, HboneConnection::Stream* stream,
                          const ConnectRequest& request) override;
  void on_released(HboneConnection& c) override;
  void refuse(HboneConnection& c, HboneConnection::Stream* stream, int status,
              ConnectionRecord record);

  Worker& worker_;
  ListenerSpec spec_;
  std::unordered_map<HboneConnection*, std::unique_ptr<HboneConnection>> connections_;
};

}  // namespace ambit::ztunnel
