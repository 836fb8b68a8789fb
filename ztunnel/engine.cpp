#include "ztunnel/engine.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <future>

namespace ambit::ztunnel {

size_t Engine::UpdateReport::failed() const {
  size_t n = 0;
  for (const auto& l : listeners) n += l.ok() ? 0 : 1;
  return n;
}

Result<std::unique_ptr<Engine>> Engine::start(EngineConfig config) {
  if (!config.table || !config.authorizer) {
    return Error{"engine config needs a workload table and an authorizer"};
  }
  std::unique_ptr<Engine> engine(new Engine());
  unsigned workers = config.workers;
  if (workers == 0) workers = std::max(1u, std::thread::hardware_concurrency());
  config.workers = workers;
  engine->config_ = std::make_shared<const EngineConfig>(config);
  for (unsigned i = 0; i < workers; ++i) {
    if (auto ok = engine->start_worker(i); !ok) {
      engine->drain(std::chrono::milliseconds(0));
      return ok.error();
    }
  }
  UpdateReport report = engine->update(std::move(config));
  for (const auto& l : report.listeners) {
    if (!l.ok()) {
      engine->drain(std::chrono::milliseconds(0));
      return l.error();
    }
  }
  return engine;
}

Status Engine::start_worker(unsigned index) {
  auto worker = std::make_unique<Worker>(index, config_, &stats_);
  std::promise<Status> ready;
  auto ready_future = ready.get_future();
  Worker* raw = worker.get();
  // The ring is created on the thread that will drive it (IORING_SETUP_SINGLE_ISSUER).
  std::thread thread([raw, &ready] {
    Status ok = raw->setup();
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

template <typename Fn>
auto Engine::on_worker(Worker& w, Fn fn) -> decltype(fn()) {
  auto task = std::make_shared<std::packaged_task<decltype(fn())()>>(std::move(fn));
  auto result = task->get_future();
  w.loop().post([task] { (*task)(); });
  return result.get();
}

Engine::UpdateReport Engine::update(EngineConfig next) {
  std::lock_guard lock(mutex_);
  UpdateReport report;
  if (drained_ || workers_.empty()) {
    for (size_t i = 0; i < next.listeners.size(); ++i) {
      report.listeners.emplace_back(Error{"engine stopped"});
    }
    return report;
  }
  next.node = config_->node;
  next.workers = config_->workers;
  next.connect_timeout = config_->connect_timeout;
  next.pool_idle_timeout = config_->pool_idle_timeout;
  next.connection_idle_timeout = config_->connection_idle_timeout;
  auto snapshot = std::make_shared<const EngineConfig>(std::move(next));

  // Worker 0 binds first; the others bind the same addresses, so a port 0 in the config means
  // one kernel-chosen port shared by all workers.
  report.listeners =
      on_worker(*workers_[0], [w = workers_[0].get(), snapshot] { return w->apply(snapshot, nullptr); });
  std::vector<SocketAddress> at;
  for (const auto& l : report.listeners) at.push_back(l.ok() ? *l : SocketAddress());
  for (size_t i = 1; i < workers_.size(); ++i) {
    auto results = on_worker(*workers_[i], [w = workers_[i].get(), snapshot, &at] {
      return w->apply(snapshot, &at);
    });
    for (size_t j = 0; j < results.size(); ++j) {
      if (!results[j] && report.listeners[j]) {
        SPDLOG_WARN("worker {}: listener {}: {}", i, at[j].to_string(), results[j].error().message);
      }
    }
  }
  config_ = snapshot;
  bound_ = std::move(at);
  return report;
}

std::vector<SocketAddress> Engine::listener_addresses() const {
  std::lock_guard lock(mutex_);
  return bound_;
}

std::shared_ptr<const EngineConfig> Engine::config() const {
  std::lock_guard lock(mutex_);
  return config_;
}

UniqueFd Engine::duplicate_listener_fd(const ListenerSpec& spec) {
  std::lock_guard lock(mutex_);
  if (drained_ || workers_.empty()) return UniqueFd();
  return on_worker(*workers_[0], [w = workers_[0].get(), &spec] {
    int fd = w->listener_fd(spec);
    return UniqueFd(fd < 0 ? -1 : ::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  });
}

void Engine::drain(std::chrono::milliseconds deadline) {
  std::lock_guard lock(mutex_);
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
