#include "ztunnel/worker.h"

#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ztunnel/inbound.h"
#include "ztunnel/inbound_plaintext.h"
#include "ztunnel/outbound.h"

namespace ambit::ztunnel {

Status ListenerHandler::open(Worker& worker, const ListenerSpec& spec) {
  Listener::Options options;
  options.transparent = spec.transparent;
  auto bind = [&] {
    return Listener::bind(worker.loop(), spec.address, options,
                          [this](UniqueFd fd) { on_accept(std::move(fd)); });
  };
  const auto& netns = worker.config().netns;
  auto ns = netns.find(spec.workload);
  auto listener = ns == netns.end() ? bind() : in_netns(*ns->second, bind);
  if (!listener) return listener.error();
  listener_ = std::move(*listener);
  listener_->start();
  return {};
}

Worker::Worker(unsigned index, std::shared_ptr<const EngineConfig> config, EngineStats* stats)
    : index_(index), config_(std::move(config)), stats_(stats), rng_(std::random_device{}()) {}

Worker::~Worker() {
  // The ring goes first: no completion may reach an object destroyed below.
  loop_.reset();
}

Status Worker::setup() {
  auto loop = EventLoop::create();
  if (!loop) return loop.error();
  loop_ = std::move(*loop);
  timers_ = std::make_unique<TimerQueue>(*loop_);
  pool_ = std::make_unique<HbonePool>(*loop_, *this, config_->connect_timeout,
                                      config_->pool_idle_timeout, &stats_->hbone_connections_opened,
                                      &stats_->hbone_connections_open);
  pool_->start_idle_sweeps();
  idle_sweep_interval_ =
      to_timespec(std::clamp(config_->connection_idle_timeout / 4, std::chrono::milliseconds(50),
                             std::chrono::milliseconds(10'000)));
  arm_idle_sweep();
  return {};
}

std::vector<Result<SocketAddress>> Worker::apply(std::shared_ptr<const EngineConfig> next,
                                                 const std::vector<SocketAddress>* bind_at) {
  // config_ is set from construction on: every apply() has a snapshot to compare with.
  bool policy_changed = config_->authorizer != next->authorizer || config_->table != next->table;
  config_ = std::move(next);
  if (policy_changed) recheck_admissions();
  const auto& specs = config_->listeners;
  // Pair each spec with the open listener it names (each open listener serves one spec: two
  // specs may look alike when both ask for port 0). Unpaired listeners stop accepting now and
  // are destroyed once idle; the connections they carry go on.
  std::vector<OpenListener> open;
  std::vector<ListenerHandler*> paired(specs.size(), nullptr);
  for (auto& l : listeners_) {
    size_t i = 0;
    while (i < specs.size() && (paired[i] != nullptr || !specs[i].same_listener(l.spec))) ++i;
    if (i < specs.size()) {
      paired[i] = l.handler.get();
      open.push_back(std::move(l));
    } else {
      l.handler->stop();
      l.handler->close_idle();
      retired_.push_back(std::move(l.handler));
    }
  }
  listeners_ = std::move(open);
  std::vector<Result<SocketAddress>> results;
  results.reserve(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    if (paired[i] != nullptr) {
      results.emplace_back(paired[i]->address());
      continue;
    }
    if (draining_) {
      results.emplace_back(Error{"draining: no new listeners"});
      continue;
    }
    ListenerSpec spec = specs[i];
    if (bind_at != nullptr) {
      if ((*bind_at)[i].port() == 0) {
        results.emplace_back(Error{"not bound on the first worker"});
        continue;
      }
      spec.address = (*bind_at)[i];
    }
    Result<std::unique_ptr<ListenerHandler>> handler = Error{};
    switch (spec.kind) {
      case ListenerKind::kOutbound:
        handler = OutboundListener::create(*this, spec);
        break;
      case ListenerKind::kInbound:
        handler = InboundListener::create(*this, spec);
        break;
      case ListenerKind::kInboundPlaintext:
        handler = PlaintextInboundListener::create(*this, spec);
        break;
      case ListenerKind::kExtension:
        if (config_->extension) {
          handler = config_->extension->create_listener(*this, spec);
        } else {
          handler = Error::format("listener {}: no extension makes it", spec.address.to_string());
        }
        break;
    }
    if (!handler) {
      results.emplace_back(handler.error());
      continue;
    }
    results.emplace_back((*handler)->address());
    listeners_.push_back(OpenListener{specs[i], std::move(*handler)});
  }
  return results;
}

int Worker::listener_fd(const ListenerSpec& spec) const {
  for (const auto& l : listeners_) {
    if (l.spec.same_listener(spec)) return l.handler->fd();
  }
  return -1;
}

Result<UniqueFd> Worker::open_socket(std::string_view workload_uid, int family) {
  auto open = [family] { return TcpSocket::open_stream_socket(family); };
  auto ns = config_->netns.find(workload_uid);
  auto fd = ns == config_->netns.end() ? open() : in_netns(*ns->second, open);
  if (!fd) return fd;
  if (uint32_t mark = config_->socket_mark;
      mark != 0 && setsockopt(fd->get(), SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0) {
    return Error::format("SO_MARK {:#x}: {}", mark, std::strerror(errno));
  }
  return fd;
}

void Worker::run() { loop_->run(); }

void Worker::drain(std::chrono::milliseconds deadline) {
  loop_->post([this, deadline] { begin_drain(deadline); });
}

void Worker::begin_drain(std::chrono::milliseconds deadline) {
  if (draining_) return;
  draining_ = true;
  for (auto& l : listeners_) l.handler->stop();
  if (!relays_.empty()) {
    SPDLOG_INFO("worker {}: draining {} connections (deadline {} ms)", index_, relays_.size(),
                deadline.count());
    drain_deadline_ = to_timespec(deadline);
    loop_->arm_timer(&drain_op_, &drain_deadline_);
    drain_timer_armed_ = true;
  }
  maybe_finish_drain();
}

void Worker::on_drain_deadline(int, uint32_t) {
  drain_timer_armed_ = false;
  if (relays_.empty()) return;
  SPDLOG_WARN("worker {}: drain deadline passed, resetting {} connections", index_, relays_.size());
  std::vector<Relay*> live;
  for (auto& [r, tracked] : relays_) live.push_back(r);
  for (Relay* r : live) r->abort("drain deadline passed");
}

void Worker::maybe_finish_drain() {
  if (!draining_ || !relays_.empty()) return;
  if (drain_timer_armed_) {
    loop_->cancel(&drain_op_);
    drain_timer_armed_ = false;
  }
  pool_->close_all();
  for (auto& l : listeners_) l.handler->close_idle();
  for (auto& l : retired_) l->close_idle();
  loop_->exit();
}

void Worker::arm_idle_sweep() { loop_->arm_timer(&idle_sweep_op_, &idle_sweep_interval_); }

// Looks at byte counters, not per-packet timestamps: the data path pays nothing for this.
void Worker::on_idle_sweep(int, uint32_t) {
  std::erase_if(retired_, [](const auto& l) { return l->finished(); });
  auto now = std::chrono::steady_clock::now();
  std::vector<Relay*> idle;
  for (auto& [r, tracked] : relays_) {
    uint64_t activity = r->activity();
    if (activity != tracked.activity_seen) {
      tracked.activity_seen = activity;
      tracked.quiet_since = now;
    } else if (now - tracked.quiet_since >= config_->connection_idle_timeout) {
      idle.push_back(r);
    }
  }
  for (Relay* r : idle) {
    r->abort(
        fmt::format("idle timeout: no data for {} ms", config_->connection_idle_timeout.count()));
  }
  if (!draining_ || !relays_.empty()) arm_idle_sweep();
}

// ztunnel's behaviour: an incident's DENY must not leave open tunnels running. The check runs on
// the worker that owns the connections, so the data path takes no lock for it.
void Worker::recheck_admissions() {
  std::vector<std::pair<Relay*, std::string>> refused;
  for (auto& [r, tracked] : relays_) {
    const auto& a = r->admission();
    if (!a) continue;
    // A destination gone from the view is being unenrolled; its listener's retirement decides.
    const Workload* destination = config_->table->find_by_uid(a->destination);
    if (destination == nullptr) continue;
    if (!a->source_identity && destination->peer_auth == PeerAuthMode::kStrict) {
      refused.emplace_back(r, fmt::format("plaintext no longer allowed: {} requires mTLS (STRICT)",
                                          destination->uid()));
      continue;
    }
    ConnectionAttributes attrs{a->source_identity, a->source_ip, destination, a->destination_port,
                               a->destination_ip};
    AuthzDecision decision = config_->authorizer->check(attrs);
    if (!decision.allowed) refused.emplace_back(r, std::move(decision.reason));
  }
  for (auto& [r, why] : refused) {
    stats_->connections_closed_by_policy.fetch_add(1, std::memory_order_relaxed);
    SPDLOG_WARN("worker {}: closing live connection {} -> {} after a policy change: {}", index_,
                r->record().src.to_string(), r->record().dst.to_string(), why);
    r->abort("authorization policy changed: " + why);
  }
}

void Worker::log_refused(ConnectionRecord record) {
  stats_->refused_connections.fetch_add(1, std::memory_order_relaxed);
  write_access_log(record);
}

void Worker::on_relay_done(Relay& relay) {
  auto& rec = relay.record();
  stats_->bytes_sent.fetch_add(rec.bytes_sent, std::memory_order_relaxed);
  stats_->bytes_received.fetch_add(rec.bytes_received, std::memory_order_relaxed);
  stats_->active_connections.fetch_sub(1, std::memory_order_relaxed);
  write_access_log(rec);
  relays_.erase(&relay);
  maybe_finish_drain();
}

}  // namespace ambit::ztunnel
