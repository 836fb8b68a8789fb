// The waypoint's HBONE listener (15008): terminates mTLS with the waypoint's own certificate,
// takes each CONNECT (":authority" = the Service VIP:port or hostname:port the client dialled,
// the peer's SPIFFE identity = the client's) and hands the stream to an HttpSession. One per
// worker; it also holds the worker's load-balancer state.
#pragma once

#include <memory>
#include <unordered_map>

#include "waypoint/load_balancer.h"
#include "ztunnel/hbone_connection.h"
#include "ztunnel/worker.h"

namespace ambit::waypoint {

class WaypointListener final : public ztunnel::ListenerHandler,
                               public ztunnel::HboneConnection::Owner {
 public:
  static Result<std::unique_ptr<ztunnel::ListenerHandler>> create(
      ztunnel::Worker& worker, const ztunnel::ListenerSpec& spec);
  void close_idle() override;
  bool finished() const override {
    return ListenerHandler::finished() && connections_.empty() && sessions_ == 0;
  }

  LoadBalancer& load_balancer() { return load_balancer_; }
  unsigned shard() const { return shard_; }
  // Sessions keep the listener (and its load balancer) alive past a config swap.
  void session_started() { ++sessions_; }
  void session_finished() { --sessions_; }

 private:
  WaypointListener(ztunnel::Worker& worker, const ztunnel::ListenerSpec& spec, unsigned shard)
      : worker_(worker), spec_(spec), shard_(shard) {}
  void on_accept(UniqueFd fd) override;
  void on_connect_request(ztunnel::HboneConnection& c, ztunnel::HboneConnection::Stream* stream,
                          const ztunnel::ConnectRequest& request) override;
  void on_released(ztunnel::HboneConnection& c) override;

  ztunnel::Worker& worker_;
  ztunnel::ListenerSpec spec_;
  unsigned shard_;
  LoadBalancer load_balancer_;
  size_t sessions_ = 0;
  std::unordered_map<ztunnel::HboneConnection*, std::unique_ptr<ztunnel::HboneConnection>>
      connections_;
};

}  // namespace ambit::waypoint
