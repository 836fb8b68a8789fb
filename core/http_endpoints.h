// Operators' HTTP endpoints (metrics, status, readiness, config dumps): plain GETs on a thread
// of their own, off the data path. One request per connection, read with a 2 s timeout and an
// 8 KiB bound, so a slow client cannot hold the thread long.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/net_address.h"
#include "core/result.h"
#include "core/unique_fd.h"

namespace ambit {

// A blocking TCP listener (SO_REUSEADDR) on address; errors name the address.
Result<UniqueFd> listen_tcp(const SocketAddress& address, int backlog);

class HttpEndpoints {
 public:
  struct Response {
    int status = 200;
    std::string content_type = "text/plain";
    std::string body;
  };
  using Handler = std::function<Response()>;
  struct Listener {
    std::string name;  // for errors: "metrics endpoint 0.0.0.0:15020: ..."
    SocketAddress address;
    std::map<std::string, Handler> routes;  // path (without query) -> handler
  };

  static Result<std::unique_ptr<HttpEndpoints>> start(std::vector<Listener> listeners);
  ~HttpEndpoints();
  // Bound addresses, in the order given.
  const std::vector<SocketAddress>& addresses() const { return addresses_; }

 private:
  HttpEndpoints() = default;
  void run();
  void serve(int fd, const Listener& listener);

  std::vector<Listener> listeners_;
  std::vector<UniqueFd> fds_;
  std::vector<SocketAddress> addresses_;
  UniqueFd stop_fd_;
  std::thread thread_;
};

}  // namespace ambit
