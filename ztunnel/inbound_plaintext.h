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
  const SocketAddress& address() const override { return listener_->address(); }
  void stop() override { listener_->stop(); }
  void close_idle() override {}

 private:
  PlaintextInboundListener(Worker& worker, const ListenerSpec& spec)
      : worker_(worker), spec_(spec) {}
  void on_accept(UniqueFd fd);

  Worker& worker_;
  ListenerSpec spec_;
  std::unique_ptr<Listener> listener_;
};

}  // namespace ambit::ztunnel
