// The HBONE connection pool of one worker: connections keyed by (source workload and identity,
// destination address, expected destination identity), up to 100 streams each, closed after sitting
// idle for the idle timeout. Each worker has its own pool, so nothing here is shared or locked.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/event_loop.h"
#include "core/identity.h"
#include "core/net_address.h"
#include "ztunnel/hbone_connection.h"

namespace ambit::ztunnel {

class HbonePool final : public HboneConnection::Owner {
 public:
  // Makes the TCP socket of a new connection, in the source workload's network namespace.
  class SocketOpener {
   public:
    virtual Result<UniqueFd> open_socket(std::string_view workload_uid, int family) = 0;

   protected:
    ~SocketOpener() = default;
  };

  struct Key {
    // The source workload: sockets are made in its netns, so two pods never share a
    // connection even when they run as the same identity.
    std::string source_workload;
    Identity source;
    SocketAddress address;
    Identity peer;
    bool operator==(const Key&) const = default;
  };

  HbonePool(EventLoop& loop, SocketOpener& opener, std::chrono::milliseconds connect_timeout,
            std::chrono::milliseconds idle_timeout, std::atomic<uint64_t>* opened_counter,
            std::atomic<uint64_t>* open_gauge);
  ~HbonePool();

  // A connection with room for one more stream, opened if none has.
  HboneConnection* get(const Key& key, SSL_CTX* client_tls);
  void start_idle_sweeps();
  void close_all();
  size_t connection_count() const { return connections_.size(); }

 private:
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<std::string>{}(k.source_workload) ^ std::hash<Identity>{}(k.source) ^ (std::hash<SocketAddress>{}(k.address) * 31) ^
             (std::hash<Identity>{}(k.peer) * 131);
    }
  };

  void on_released(HboneConnection& c) override;
  void on_sweep(int res, uint32_t flags);

  EventLoop& loop_;
  SocketOpener& opener_;
  std::chrono::milliseconds connect_timeout_;
  std::chrono::milliseconds idle_timeout_;
  std::unordered_map<Key, std::vector<HboneConnection*>, KeyHash> by_key_;
  std::unordered_map<HboneConnection*, std::pair<Key, std::unique_ptr<HboneConnection>>>
      connections_;
  MemberCompletion<HbonePool, &HbonePool::on_sweep> sweep_op_{this};
  __kernel_timespec sweep_interval_{};
  bool sweeping_ = false;
  bool closed_ = false;
  std::atomic<uint64_t>* opened_;
  std::atomic<uint64_t>* open_;
};

}  // namespace ambit::ztunnel
