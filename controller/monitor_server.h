// The controller's monitoring endpoint (15014), on a thread of its own:
//   GET /metrics      Prometheus text
//   GET /status       JSON: clients, node, role, versions, acks, nacks, config errors
//   GET /healthz/ready
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/net_address.h"
#include "core/result.h"
#include "core/unique_fd.h"

namespace ambit::controller {

class MonitorServer {
 public:
  struct Content {
    std::function<std::string()> metrics;
    std::function<std::string()> status;
    std::function<bool()> ready;
  };
  static Result<std::unique_ptr<MonitorServer>> start(const SocketAddress& address, Content content);
  ~MonitorServer();
  const SocketAddress& address() const { return address_; }

 private:
  MonitorServer() = default;
  void run();
  std::string respond(const std::string& request_line);

  Content content_;
  UniqueFd listener_;
  UniqueFd stop_fd_;
  SocketAddress address_;
  std::thread thread_;
};

}  // namespace ambit::controller
