// Operators' HTTP endpoints (metrics, status, readiness, config dumps): plain GETs on a thread
// of their own, off the data path. Connections are served concurrently by one poll() loop, each
// bounded in time (a whole-request deadline, not a per-read timeout, so trickling bytes does not
// extend it) and in size, and their number is capped: a slow or idle client cannot delay a
// readiness probe.
//
// Not cpp-httplib (Debian's 0.11.4): its read timeout restarts on every byte received and its
// thread pool queues accepted connections without bound, so a few trickling clients hold every
// thread; and not the io_uring loop, which is for the data path: these endpoints see a few
// requests a second.
#pragma once

#include <chrono>
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
  struct Limits {
    // From accept to the last byte of the response; then the connection is closed.
    std::chrono::milliseconds deadline{2000};
    size_t max_request_bytes = 8192;  // request line and headers; larger gets 431
    // Past this, new connections wait in the listen backlog until one finishes.
    size_t max_connections = 64;
  };

  static Result<std::unique_ptr<HttpEndpoints>> start(std::vector<Listener> listeners);
  static Result<std::unique_ptr<HttpEndpoints>> start(std::vector<Listener> listeners,
                                                      Limits limits);
  ~HttpEndpoints();
  // Bound addresses, in the order given.
  const std::vector<SocketAddress>& addresses() const { return addresses_; }

 private:
  struct Connection;
  HttpEndpoints() = default;
  void run();
  void accept_from(size_t listener);
  void on_readable(Connection& c);
  void on_writable(Connection& c);
  Response respond_to(const std::string& request, const Listener& listener) const;

  Limits limits_;
  std::vector<Listener> listeners_;
  std::vector<UniqueFd> fds_;
  std::vector<SocketAddress> addresses_;
  std::vector<std::unique_ptr<Connection>> connections_;
  UniqueFd stop_fd_;
  std::thread thread_;
};

}  // namespace ambit
