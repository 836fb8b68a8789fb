// The agent's operator endpoints, off the data path on a thread of their own:
//   metrics   (15020)  GET /metrics, /stats/prometheus   Prometheus text
//   readiness (15021)  GET /healthz/ready                200 once the engine is up
//   admin     (15000)  all of the above plus GET /config_dump (JSON); bind it to localhost
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/http_endpoints.h"
#include "core/net_address.h"
#include "core/result.h"

namespace ambit::agent {

class AdminServer {
 public:
  struct Endpoints {
    std::optional<SocketAddress> admin;
    std::optional<SocketAddress> metrics;
    std::optional<SocketAddress> readiness;
  };
  struct Content {
    std::function<std::string()> metrics;      // Prometheus text
    std::function<std::string()> config_dump;  // JSON
    std::function<bool()> ready;
  };

  static Result<std::unique_ptr<AdminServer>> start(const Endpoints& endpoints, Content content);
  // Bound addresses, in the order admin, metrics, readiness (only those configured).
  const std::vector<SocketAddress>& addresses() const { return http_->addresses(); }

 private:
  explicit AdminServer(std::unique_ptr<HttpEndpoints> http) : http_(std::move(http)) {}
  std::unique_ptr<HttpEndpoints> http_;
};

}  // namespace ambit::agent
