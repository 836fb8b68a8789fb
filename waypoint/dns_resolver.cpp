#include "waypoint/dns_resolver.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace ambit::waypoint {

DnsResolver::DnsResolver(std::optional<SocketAddress> server, std::chrono::milliseconds refresh,
                         std::function<void()> on_change)
    : server_(std::move(server)),
      refresh_(refresh),
      on_change_(std::move(on_change)),
      thread_([this] { run(); }) {}

DnsResolver::~DnsResolver() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::vector<IpAddress> DnsResolver::lookup(const std::string& name) {
  std::lock_guard lock(mu_);
  auto [it, added] = answers_.try_emplace(name);
  if (added) wake_.notify_all();  // a new name: resolved at once, not at the next refresh
  return it->second;
}

Result<std::vector<IpAddress>> DnsResolver::resolve(const std::string& name,
                                                    const std::optional<SocketAddress>& server) {
  std::vector<IpAddress> out;
  if (!server) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(name.c_str(), nullptr, &hints, &res);
    if (rc != 0) return Error::format("{}: {}", name, gai_strerror(rc));
    for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
      char text[INET6_ADDRSTRLEN] = {};
      const void* src =
          a->ai_family == AF_INET
              ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
              : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
      if (inet_ntop(a->ai_family, src, text, sizeof(text)) == nullptr) continue;
      if (auto ip = IpAddress::parse(text)) out.push_back(*ip);
    }
    freeaddrinfo(res);
  } else {
    // glibc's resolver, pointed at the one server (its IPv4 address).
    struct __res_state state {};
    if (res_ninit(&state) != 0) return Error::format("{}: resolver init failed", name);
    auto addr = server->ip().to_string();
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(server->port());
    if (inet_pton(AF_INET, addr.c_str(), &sa.sin_addr) != 1) {
      res_nclose(&state);
      return Error::format("{}: DNS server {} is not an IPv4 address", name, addr);
    }
    state.nscount = 1;
    state.nsaddr_list[0] = sa;
    state.retry = 2;
    state.retrans = 1;
    unsigned char answer[4096];
    int n = res_nquery(&state, name.c_str(), ns_c_in, ns_t_a, answer, sizeof(answer));
    res_nclose(&state);
    if (n < 0) return Error::format("{}: no answer from {}", name, server->to_string());
    ns_msg msg;
    if (ns_initparse(answer, n, &msg) != 0) return Error::format("{}: unreadable answer", name);
    for (int i = 0; i < ns_msg_count(msg, ns_s_an); ++i) {
      ns_rr rr;
      if (ns_parserr(&msg, ns_s_an, i, &rr) != 0) continue;
      if (ns_rr_type(rr) != ns_t_a || ns_rr_rdlen(rr) != 4) continue;
      char text[INET_ADDRSTRLEN] = {};
      if (inet_ntop(AF_INET, ns_rr_rdata(rr), text, sizeof(text)) == nullptr) continue;
      if (auto ip = IpAddress::parse(text)) out.push_back(*ip);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.empty()) return Error::format("{}: no addresses", name);
  return out;
}

void DnsResolver::run() {
  std::unique_lock lock(mu_);
  std::set<std::string> done;  // resolved in this round
  while (!stopping_) {
    std::vector<std::string> names;
    for (const auto& [name, ips] : answers_) {
      if (!done.contains(name)) names.push_back(name);
    }
    if (names.empty()) {
      // Every name is fresh: wait for the next round, or for a new name.
      size_t known = answers_.size();
      wake_.wait_for(lock, refresh_, [&] { return stopping_ || answers_.size() != known; });
      if (answers_.size() == known) done.clear();  // the refresh is due
      continue;
    }
    lock.unlock();
    bool changed = false;
    std::vector<std::pair<std::string, std::vector<IpAddress>>> results;
    for (const auto& name : names) {
      auto ips = resolve(name, server_);
      if (!ips) {
        spdlog::warn("dns: {} (the last answer stays)", ips.error().message);
        continue;
      }
      results.emplace_back(name, std::move(*ips));
    }
    lock.lock();
    for (auto& [name, ips] : results) {
      auto& known = answers_[name];
      if (known != ips) {
        spdlog::info("dns: {} -> {} address(es)", name, ips.size());
        known = std::move(ips);
        changed = true;
      }
    }
    for (const auto& name : names) done.insert(name);
    if (changed && on_change_) {
      lock.unlock();
      on_change_();
      lock.lock();
    }
  }
}

}  // namespace ambit::waypoint
