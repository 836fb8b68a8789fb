// A TCP server on a loopback address for the waypoint's test backends: accepts on a thread and
// serves each connection on a thread of its own, until it is destroyed. Declare it as the last
// member of the backend that owns it, so it starts after, and stops before, what serve() uses.
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "core/net_address.h"
#include "core/unique_fd.h"

namespace ambit::waypoint::testing {

class LoopbackServer {
 public:
  // serve(fd, stop) runs per connection and returns when the peer is done or `stop` is set.
  using Serve = std::function<void(UniqueFd, const std::atomic<bool>& stop)>;

  LoopbackServer(const char* ip, uint16_t port, Serve serve) : serve_(std::move(serve)) {
    fd_ = UniqueFd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    int one = 1;
    setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    auto addr = SocketAddress(*IpAddress::parse(ip), port);
    sockaddr_storage ss{};
    socklen_t len = addr.to_sockaddr(&ss);
    bound_ =
        bind(fd_.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0 && listen(fd_.get(), 64) == 0;
    if (bound_) address_ = *SocketAddress::local_of(fd_.get());
    thread_ = std::thread([this] { run(); });
  }
  ~LoopbackServer() {
    stop_ = true;
    thread_.join();
    for (auto& t : connections_) t.join();
  }
  bool bound() const { return bound_; }
  const SocketAddress& address() const { return address_; }
  size_t accepted() const { return accepted_; }

 private:
  void run() {
    while (!stop_) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      // Everything waiting, not one per wake-up: a burst of connections is served at once.
      for (int c; (c = accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) {
        ++accepted_;
        connections_.emplace_back([this, c] { serve_(UniqueFd(c), stop_); });
      }
    }
  }

  Serve serve_;
  UniqueFd fd_;
  bool bound_ = false;
  SocketAddress address_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> accepted_{0};
  std::thread thread_;
  std::vector<std::thread> connections_;
};

}  // namespace ambit::waypoint::testing
