// The ztunnel engine: N workers (one per core by default), each with its own io_uring loop,
// listeners and HBONE pool. Knows nothing of Kubernetes: it runs an EngineConfig, and a newer
// one when the agent's view changes.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "ztunnel/engine_config.h"
#include "ztunnel/worker.h"

namespace ambit::ztunnel {

class Engine {
 public:
  // Binds every listener on every worker before returning; an error names the listener.
  static Result<std::unique_ptr<Engine>> start(EngineConfig config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  struct UpdateReport {
    // Per listener of the new config, in its order: the bound address, or why it isn't bound.
    std::vector<Result<SocketAddress>> listeners;
    size_t failed() const;
  };
  // Switches every worker to `next` (workers, timeouts and node are kept from the running
  // config): new connections see the new table, policies and certificates; connections already
  // open go on. Listeners that `next` adds are bound on every worker; listeners it drops stop
  // accepting. A listener that cannot be bound is reported and left out; the rest applies.
  // Thread-safe; returns once every worker has switched.
  UpdateReport update(EngineConfig next);

  // Stops accepting, lets live connections finish until the deadline, resets the rest, and
  // returns when every worker has exited.
  void drain(std::chrono::milliseconds deadline);

  // Actual bound address of each listener of the current config, in its order (port 0 where a
  // listener could not be bound).
  std::vector<SocketAddress> listener_addresses() const;
  // A duplicate of worker 0's listening socket for `spec` (for steering traffic to it, e.g. a
  // BPF socket map; the kernel spreads among the workers' SO_REUSEPORT group). Invalid if none.
  UniqueFd duplicate_listener_fd(const ListenerSpec& spec);
  std::shared_ptr<const EngineConfig> config() const;
  const EngineStats& stats() const { return stats_; }
  unsigned worker_count() const { return static_cast<unsigned>(workers_.size()); }

 private:
  Engine() = default;
  Status start_worker(unsigned index);
  // Runs fn on the worker's thread and waits for its result.
  template <typename Fn>
  auto on_worker(Worker& w, Fn fn) -> decltype(fn());

  mutable std::mutex mutex_;  // serialises update() and guards config_/bound_
  std::shared_ptr<const EngineConfig> config_;
  std::vector<SocketAddress> bound_;
  EngineStats stats_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  bool drained_ = false;
};

}  // namespace ambit::ztunnel
