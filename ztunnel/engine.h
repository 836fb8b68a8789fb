// The ztunnel engine: N workers (one per core by default), each with its own io_uring loop,
// listeners and HBONE pool. Knows nothing of Kubernetes: it runs an EngineConfig.
#pragma once

#include <chrono>
#include <memory>
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

  // Stops accepting, lets live connections finish until the deadline, resets the rest, and
  // returns when every worker has exited.
  void drain(std::chrono::milliseconds deadline);

  // Actual bound address of each configured listener, in config order.
  const std::vector<SocketAddress>& listener_addresses() const { return bound_; }
  const EngineStats& stats() const { return stats_; }
  unsigned worker_count() const { return static_cast<unsigned>(workers_.size()); }

 private:
  Engine() = default;
  Status start_worker(unsigned index, const std::vector<ListenerSpec>& listeners,
                      std::vector<SocketAddress>* bound);

  std::shared_ptr<const EngineConfig> config_;
  EngineStats stats_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::vector<SocketAddress> bound_;
  bool drained_ = false;
};

}  // namespace ambit::ztunnel
