#include "ztunnel/pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/tcp_socket.h"

namespace ambit::ztunnel {

HbonePool::HbonePool(EventLoop& loop, SocketOpener& opener,
                     std::chrono::milliseconds connect_timeout,
                     std::chrono::milliseconds idle_timeout,
                     std::atomic<uint64_t>* opened_counter,
                     std::atomic<uint64_t>* open_gauge)
    : loop_(loop),
      opener_(opener),
      connect_timeout_(connect_timeout),
      idle_timeout_(idle_timeout),
      opened_(opened_counter),
      open_(open_gauge) {}

HbonePool::~HbonePool() = default;

HboneConnection* HbonePool::get(const Key& key, SSL_CTX* client_tls) {
  auto& list = by_key_[key];
  for (HboneConnection* c : list) {
    if (c->available()) return c;
  }
  auto fd = opener_.open_socket(key.source_workload, key.address.family());
  if (!fd) {
    SPDLOG_WARN("hbone pool: {}", fd.error().message);
    return nullptr;
  }
  auto conn = std::make_unique<HboneConnection>(loop_, std::move(*fd),
                                                HboneConnection::Role::kClient, client_tls, this,
                                                key.peer);
  HboneConnection* raw = conn.get();
  connections_.emplace(raw, std::make_pair(key, std::move(conn)));
  list.push_back(raw);
  opened_->fetch_add(1, std::memory_order_relaxed);
  open_->fetch_add(1, std::memory_order_relaxed);
  raw->start_client(key.address, connect_timeout_);
  return raw;
}

void HbonePool::on_released(HboneConnection& c) {
  auto it = connections_.find(&c);
  if (it == connections_.end()) return;
  auto& list = by_key_[it->second.first];
  list.erase(std::remove(list.begin(), list.end(), &c), list.end());
  if (list.empty()) by_key_.erase(it->second.first);
  open_->fetch_sub(1, std::memory_order_relaxed);
  connections_.erase(it);  // destroys c: nothing may touch it after this
}

void HbonePool::start_idle_sweeps() {
  if (sweeping_ || closed_) return;
  sweep_interval_ = to_timespec(std::max(idle_timeout_ / 4, std::chrono::milliseconds(100)));
  loop_.arm_timer(&sweep_op_, &sweep_interval_);
  sweeping_ = true;
}

void HbonePool::on_sweep(int, uint32_t) {
  sweeping_ = false;
  if (closed_) return;
  auto now = std::chrono::steady_clock::now();
  std::vector<HboneConnection*> idle;
  for (auto& [conn, entry] : connections_) {
    if (conn->stream_count() == 0 && conn->ready() && now - conn->idle_since() >= idle_timeout_) {
      idle.push_back(conn);
    }
  }
  for (HboneConnection* c : idle) c->shutdown();
  start_idle_sweeps();
}

void HbonePool::close_all() {
  closed_ = true;
  std::vector<HboneConnection*> all;
  for (auto& [conn, entry] : connections_) all.push_back(conn);
  for (HboneConnection* c : all) c->shutdown();
}

}  // namespace ambit::ztunnel
