// The names of DNS-resolved ServiceEntry endpoints (Istio `resolution: DNS` and
// DNS_ROUND_ROBIN), kept resolved by a thread of their own, as Envoy's STRICT_DNS and
// LOGICAL_DNS clusters are: every name the route table wants is looked up again every refresh
// (Envoy's dns_refresh_rate, 5 s), and a change in any answer calls on_change, after which the
// waypoint compiles its view again with the new addresses. Until a name has an answer its
// cluster has no endpoints (503 UH); an answer that fails later keeps the last good one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/net_address.h"

namespace ambit::waypoint {

class DnsResolver {
 public:
  // `server`: the DNS server to ask (UDP, A records); nullopt: the system's resolver
  // (getaddrinfo: /etc/hosts, then /etc/resolv.conf, as the pod's).
  DnsResolver(std::optional<SocketAddress> server, std::chrono::milliseconds refresh,
              std::function<void()> on_change);
  ~DnsResolver();
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  // The addresses `name` resolved to (sorted), and from now on it is kept resolved; empty
  // until its first answer.
  std::vector<IpAddress> lookup(const std::string& name);

  // One lookup, now, on the calling thread: the addresses, or why not.
  static Result<std::vector<IpAddress>> resolve(const std::string& name,
                                                const std::optional<SocketAddress>& server);

 private:
  void run();

  const std::optional<SocketAddress> server_;
  const std::chrono::milliseconds refresh_;
  const std::function<void()> on_change_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::map<std::string, std::vector<IpAddress>> answers_;  // by name; wanted once asked for
  bool stopping_ = false;
  std::thread thread_;  // last: it runs with the members above
};

}  // namespace ambit::waypoint
