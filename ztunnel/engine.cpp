#include "ztunnel/engine.h"

#include <spdlog/spdlog.h>

#include <future>

namespace ambit::ztunnel {

Result<std::unique_ptr<Engine>> Engine::start(EngineConfig config) {
  if (!config.table || !config.authorizer) {
    return Error{"engine config needs a workload table and an authorizer"};
  }
  std::unique_ptr<Engine> engine(new Engine());
  unsigned workers = config.workers;
  if (workers == 0) workers = std::max(1u, std::thread::hardware_concurrency());
  engine->config_ = std::make_shared<const EngineConfig>(std::move(config));

  // Worker 0 binds first; the others bind the same addresses, so a port 0 in the config means
  // one kernel-chosen port shared by all workers.
  if (auto ok = engine->start_worker(0, engine->config_->listeners, &engine->bound_); !ok) {
    engine->drain(std::chrono::milliseconds(0));
    return ok.error();
  }
  std::vector<ListenerSpec> same = engine->config_->listeners;
  for (size_t i = 0; i < same.size(); ++i) same[i].address = engine->bound_[i];
  for (unsigned i = 1; i < workers; ++i) {
    if (auto ok = engine->start_worker(i, same, nullptr); !ok) {
      engine->drain(std::chrono::milliseconds(0));
      return ok.error();
    }
  }
  return engine;
}

Status Engine::start_worker(unsigned index, const std::vector<ListenerSpec>& listeners,
                            std::vector<SocketAddress>* bound) {
  auto worker = std::make_unique<Worker>(index, config_, &stats_);
  std::promise<Status> ready;
  auto ready_future = ready.get_future();
  Worker* raw = worker.get();
  // The ring is created on the thread that will drive it (IORING_SETUP_SINGLE_ISSUER).
  std::thread thread([raw, &listeners, bound, &ready] {
    Status ok = raw->setup(listeners, bound);
    bool good = ok.ok();
    ready.set_value(std::move(ok));
    if (good) raw->run();
  });
  Status ok = ready_future.get();
  if (!ok) {
    thread.join();
    return ok;
  }
  workers_.push_back(std::move(worker));
  threads_.push_back(std::move(thread));
  return {};
}

void Engine::drain(std::chrono::milliseconds deadline) {
  if (drained_) return;
  drained_ = true;
  for (auto& w : workers_) w->drain(deadline);
  for (auto& t : threads_) t.join();
  threads_.clear();
}

Engine::~Engine() {
  drain(std::chrono::milliseconds(0));
  workers_.clear();
}

}  // namespace ambit::ztunnel
