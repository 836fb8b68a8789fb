// The outbound listener (15001): a captured connection from a workload is resolved against the
// workload table and carried over a pooled HBONE connection, or passed through in plaintext
// when its destination is outside the mesh.
#pragma once

#include <memory>

#include "core/tcp_socket.h"
#include "ztunnel/worker.h"

namespace ambit::ztunnel {

class OutboundListener final : public ListenerHandler {
 public:
  static Result<std::unique_ptr<ListenerHandler>> create(Worker& worker, const ListenerSpec& spec);

 private:
  OutboundListener(Worker& worker, const ListenerSpec& spec) : worker_(worker), spec_(spec) {}
  void on_accept(UniqueFd fd) override;
  void passthrough(UniqueFd fd, ConnectionRecord record, const SocketAddress& to);

  Worker& worker_;
  ListenerSpec spec_;
};

}  // namespace ambit::ztunnel
