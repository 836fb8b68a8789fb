// The inbound plaintext listener (15006): connections that reach a workload without HBONE.
// Allowed only when the destination's PeerAuthentication is PERMISSIVE or DISABLE; a STRICT
// destination refuses them with a reset.
#pragma once

#include <memory>

#include "core/tcp_socket.h"
#include "ztunnel/worker.h"

namespace ambit::ztunnel {

class PlaintextInboundListener final : public ListenerHandler {
 public:
  static Result<std::unique_ptr<ListenerHandler>> create(Worker& worker, const ListenerSpec& spec);

 private:
  PlaintextInboundListener(Worker& worker, const ListenerSpec& spec)
      : worker_(worker), spec_(spec) {}
  void on_accept(UniqueFd fd) override;

  Worker& worker_;
  ListenerSpec spec_;
};

}  // namespace ambit::ztunnel
