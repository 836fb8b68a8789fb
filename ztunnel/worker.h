// One worker thread: its io_uring loop, its own listeners (SO_REUSEPORT), its own HBONE pool and
// the relays it carries. Workers share only immutable config snapshots and relaxed counters.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <unordered_map>
#include <vector>

#include "core/event_loop.h"
#include "core/tcp_socket.h"
#include "core/timer_queue.h"
#include "ztunnel/engine_config.h"
#include "ztunnel/pool.h"
#include "ztunnel/relay.h"

namespace ambit::ztunnel {

struct EngineStats {
  std::atomic<uint64_t> outbound_connections{0};
  std::atomic<uint64_t> inbound_connections{0};
  std::atomic<uint64_t> refused_connections{0};
  std::atomic<uint64_t> active_connections{0};
  std::atomic<uint64_t> bytes_sent{0};
  std::atomic<uint64_t> bytes_received{0};
  std::atomic<uint64_t> hbone_connections_opened{0};
  std::atomic<uint64_t> hbone_connections_open{0};  // outbound pool connections alive now
  // Live inbound connections closed because a policy change no longer admits them.
  std::atomic<uint64_t> connections_closed_by_policy{0};
};

class Worker;

// Something that accepts on a listener; owned by the worker.
class ListenerHandler {
 public:
  virtual ~ListenerHandler() = default;
  const SocketAddress& address() const { return listener_->address(); }
  int fd() const { return listener_->fd(); }
  void stop() { listener_->stop(); }  // stop accepting
  // Drain finished: let go of idle transport connections.
  virtual void close_idle() {}
  // Stopped, its socket closed, and nothing it owns still in use: it may be destroyed.
  virtual bool finished() const { return listener_->closed(); }

 protected:
  // Binds the spec's address (SO_REUSEPORT, IP_TRANSPARENT if asked) inside the workload's
  // network namespace when it has one, and starts accepting.
  Status open(Worker& worker, const ListenerSpec& spec);
  virtual void on_accept(UniqueFd fd) = 0;

 private:
  std::unique_ptr<Listener> listener_;
};

class Worker final : public Relay::Owner, public HbonePool::SocketOpener {
 public:
  Worker(unsigned index, std::shared_ptr<const EngineConfig> config, EngineStats* stats);
  ~Worker();

  // Called on the worker thread before run(): creates the loop and the pool.
  Status setup();
  void run();
  // On the worker thread: switch to `next`, stop the listeners it no longer has (connections
  // they carry go on) and bind the ones it adds. Returns, per listener of `next`, its bound
  // address or why it could not be bound; `bind_at` (same order) overrides the addresses, so
  // every worker binds the port worker 0 got for a port 0.
  std::vector<Result<SocketAddress>> apply(std::shared_ptr<const EngineConfig> next,
                                           const std::vector<SocketAddress>* bind_at);
  // The listening socket of `spec` on this worker, -1 if it has none. Worker thread only.
  int listener_fd(const ListenerSpec& spec) const;
  // A TCP socket for traffic of a local workload: made in the workload's network namespace
  // (when it has one) and marked as the agent's own.
  Result<UniqueFd> open_socket(std::string_view workload_uid, int family) override;
  // Thread-safe: stop accepting, let live connections finish up to the deadline, then exit.
  void drain(std::chrono::milliseconds deadline);

  EventLoop& loop() { return *loop_; }
  // Short timers of the relays on this worker (request timeouts, retry back-offs).
  TimerQueue& timers() { return *timers_; }
  unsigned index() const { return index_; }
  const EngineConfig& config() const { return *config_; }
  // Relays that outlive a config swap keep the snapshot they point into alive with this.
  const std::shared_ptr<const EngineConfig>& config_snapshot() const { return config_; }
  HbonePool& pool() { return *pool_; }
  EngineStats& stats() { return *stats_; }
  uint64_t entropy() { return rng_(); }

  template <typename R>
  R* adopt(std::unique_ptr<R> relay) {
    R* raw = relay.get();
    relays_.emplace(raw, TrackedRelay{std::move(relay), 0, std::chrono::steady_clock::now()});
    stats_->active_connections.fetch_add(1, std::memory_order_relaxed);
    return raw;
  }
  // A connection refused before any relay existed: log it like any other.
  void log_refused(ConnectionRecord record);

 private:
  void on_relay_done(Relay& relay) override;
  // After a config swap: close the live inbound connections the new policies refuse.
  void recheck_admissions();
  void begin_drain(std::chrono::milliseconds deadline);
  void on_drain_deadline(int res, uint32_t flags);
  void maybe_finish_drain();
  void on_idle_sweep(int res, uint32_t flags);
  void arm_idle_sweep();

  struct TrackedRelay {
    std::unique_ptr<Relay> relay;
    uint64_t activity_seen;
    std::chrono::steady_clock::time_point quiet_since;
  };

  unsigned index_;
  std::shared_ptr<const EngineConfig> config_;
  EngineStats* stats_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<TimerQueue> timers_;  // before relays_: their timers go first
  std::unique_ptr<HbonePool> pool_;
  struct OpenListener {
    ListenerSpec spec;
    std::unique_ptr<ListenerHandler> handler;
  };
  std::vector<OpenListener> listeners_;
  // Stopped listeners waiting for their last connection before they are destroyed.
  std::vector<std::unique_ptr<ListenerHandler>> retired_;
  std::unordered_map<Relay*, TrackedRelay> relays_;
  std::mt19937_64 rng_;
  MemberCompletion<Worker, &Worker::on_drain_deadline> drain_op_{this};
  __kernel_timespec drain_deadline_{};
  MemberCompletion<Worker, &Worker::on_idle_sweep> idle_sweep_op_{this};
  __kernel_timespec idle_sweep_interval_{};
  bool draining_ = false;
  bool drain_timer_armed_ = false;
};

}  // namespace ambit::ztunnel
