#include "controller/push/push_state.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/json_text.h"

namespace ambit::controller {
namespace {

constexpr size_t kHistoryPerClient = 4;
constexpr size_t kPublishedVersionsKept = 256;

const char* role_name(v1::Subscribe::Role role) {
  return role == v1::Subscribe::WAYPOINT ? "waypoint" : "agent";
}

}  // namespace

PushState::PushState()
    : next_version_(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count())) {}

uint64_t PushState::publish(std::shared_ptr<const ViewSource> source) {
  std::vector<std::function<void()>> wake;
  uint64_t number;
  {
    std::lock_guard lock(mu_);
    number = next_version_++;
    auto v = std::make_shared<Version>();
    v->number = number;
    v->source = std::move(source);
    v->published = Clock::now();
    published_[number] = v->published;
    while (published_.size() > kPublishedVersionsKept) published_.erase(published_.begin());
    current_ = std::move(v);
    for (auto& [id, fn] : watchers_) wake.push_back(fn);
  }
  for (auto& fn : wake) fn();
  return number;
}

std::shared_ptr<const PushState::Version> PushState::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

uint64_t PushState::watch(std::function<void()> wake) {
  std::lock_guard lock(mu_);
  uint64_t id = next_watch_++;
  watchers_[id] = std::move(wake);
  return id;
}

void PushState::unwatch(uint64_t handle) {
  std::lock_guard lock(mu_);
  watchers_.erase(handle);
}

std::string PushState::client_key(v1::Subscribe::Role role, const std::string& node) {
  return fmt::format("{}/{}", role_name(role), node);
}

uint64_t PushState::connected(const std::string& key, v1::Subscribe::Role role,
                              const std::string& node, const std::string& peer) {
  std::lock_guard lock(mu_);
  Client& c = clients_[key];
  c.role = role;
  c.node = node;
  c.peer = peer;
  c.connected = true;
  return ++c.generation;
}

void PushState::disconnected(const std::string& key, uint64_t generation) {
  std::lock_guard lock(mu_);
  auto it = clients_.find(key);
  if (it != clients_.end() && it->second.generation == generation) it->second.connected = false;
}

ViewPtr PushState::view_at(const std::string& key, uint64_t version) const {
  std::lock_guard lock(mu_);
  auto it = clients_.find(key);
  if (it == clients_.end()) return nullptr;
  auto h = it->second.history.find(version);
  return h == it->second.history.end() ? nullptr : h->second;
}

void PushState::sent(const std::string& key, uint64_t version, ViewPtr view, bool snapshot) {
  std::lock_guard lock(mu_);
  Client& c = clients_[key];
  c.sent_version = version;
  c.history[version] = std::move(view);
  // Keep the acked version (the usual resume point) and the most recent ones.
  while (c.history.size() > kHistoryPerClient) {
    auto victim = c.history.begin();
    if (victim->first == c.acked_version) ++victim;
    c.history.erase(victim);
  }
  ++c.pushes;
  ++pushes_;
  if (snapshot) {
    ++c.snapshots;
    ++snapshots_;
  }
}

void PushState::acked(const std::string& key, uint64_t version) {
  std::lock_guard lock(mu_);
  Client& c = clients_[key];
  if (version > c.acked_version) c.acked_version = version;
  // Views older than the acked one are no resume point any more.
  while (!c.history.empty() && c.history.begin()->first < c.acked_version) {
    c.history.erase(c.history.begin());
  }
  ++c.acks;
  ++acks_;
  if (auto it = published_.find(version); it != published_.end()) {
    double seconds = std::chrono::duration<double>(Clock::now() - it->second).count();
    size_t b = 0;
    while (b < std::size(kBuckets) && seconds > kBuckets[b]) ++b;
    ++latency_counts_[b];
    latency_sum_ += seconds;
    ++latency_count_;
  }
}

void PushState::nacked(const std::string& key, uint64_t version, const std::string& reason) {
  std::lock_guard lock(mu_);
  Client& c = clients_[key];
  c.nack_version = version;
  c.nack_reason = reason;
  c.history.erase(version);  // not a state the client has
  ++c.nacks;
  ++nacks_;
}

void PushState::certificate(const std::string& key, bool issued) {
  std::lock_guard lock(mu_);
  Client& c = clients_[key];
  ++(issued ? c.certs_issued : c.certs_refused);
  ++(issued ? certs_issued_ : certs_refused_);
}

void PushState::refused_connection() {
  std::lock_guard lock(mu_);
  ++refused_connections_;
}

std::string PushState::status_json() const {
  std::lock_guard lock(mu_);
  nlohmann::json out;
  out["version"] = current_ ? current_->number : 0;
  nlohmann::json clients = nlohmann::json::array();
  size_t connected = 0;
  for (const auto& [key, c] : clients_) {
    connected += c.connected ? 1 : 0;
    nlohmann::json j{{"node", c.node},
                     {"role", role_name(c.role)},
                     {"connected", c.connected},
                     {"peer", c.peer},
                     {"sent_version", c.sent_version},
                     {"acked_version", c.acked_version},
                     {"in_sync", current_ && c.acked_version == current_->number},
                     {"pushes", c.pushes},
                     {"snapshots", c.snapshots},
                     {"acks", c.acks},
                     {"nacks", c.nacks},
                     {"certificates_issued", c.certs_issued},
                     {"certificates_refused", c.certs_refused}};
    if (c.nack_version != 0) {
      j["last_nack"] = {{"version", c.nack_version}, {"reason", c.nack_reason}};
    }
    clients.push_back(std::move(j));
  }
  out["clients_connected"] = connected;
  out["clients"] = std::move(clients);
  out["config_errors"] = current_ ? current_->source->config_errors() : std::vector<std::string>{};
  out["certificates"] = {{"issued", certs_issued_}, {"refused", certs_refused_}};
  out["refused_connections"] = refused_connections_;
  return json_text(out) + "\n";
}

std::string PushState::metrics_text() const {
  std::lock_guard lock(mu_);
  size_t connected = 0, nacking = 0;
  for (const auto& [key, c] : clients_) {
    connected += c.connected ? 1 : 0;
    nacking += (c.connected && c.nack_version > c.acked_version) ? 1 : 0;
  }
  std::string m;
  auto line = [&](const char* name, const char* type, const char* help, auto value) {
    m += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  line("ambit_controller_config_version", "gauge", "Current configuration version.",
       current_ ? current_->number : 0);
  line("ambit_controller_config_errors", "gauge",
       "Errors in the configuration as it was last read (their changes were not applied).",
       current_ ? current_->source->config_errors().size() : 0);
  line("ambit_controller_clients_connected", "gauge", "Control clients connected.", connected);
  line("ambit_controller_clients_nacking", "gauge", "Connected clients whose last answer was a nack.",
       nacking);
  line("ambit_controller_pushes_total", "counter", "Updates sent (snapshots and deltas).", pushes_);
  line("ambit_controller_snapshots_total", "counter", "Snapshots sent.", snapshots_);
  line("ambit_controller_acks_total", "counter", "Updates acknowledged.", acks_);
  line("ambit_controller_nacks_total", "counter", "Updates rejected by a client.", nacks_);
  line("ambit_controller_certificates_issued_total", "counter", "Workload certificates signed.",
       certs_issued_);
  line("ambit_controller_certificates_refused_total", "counter", "Certificate requests refused.",
       certs_refused_);
  line("ambit_controller_connections_refused_total", "counter",
       "Control connections refused (TLS, identity or subscribe).", refused_connections_);
  const char* h = "ambit_controller_push_latency_seconds";
  m += fmt::format("# HELP {} Configuration version published to client ack.\n# TYPE {} histogram\n",
                   h, h);
  uint64_t cumulative = 0;
  for (size_t b = 0; b < std::size(kBuckets); ++b) {
    cumulative += latency_counts_[b];
    m += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", h, kBuckets[b], cumulative);
  }
  cumulative += latency_counts_[std::size(kBuckets)];
  m += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", h, cumulative, h,
                   latency_sum_, h, latency_count_);
  return m;
}

}  // namespace ambit::controller
