// What the push server remembers, apart from any one connection: the configuration versions,
// and per client (role + node) what it was sent and what it acked, so a client that reconnects
// resumes with a delta, and /status and /metrics can say who is behind and who rejected what.
// Outlives PushServer instances (a restarted listener keeps the history).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "controller/view_source.h"

namespace ambit::controller {

class PushState {
 public:
  using Clock = std::chrono::steady_clock;
  struct Version {
    uint64_t number = 0;
    std::shared_ptr<const ViewSource> source;
    Clock::time_point published;
  };

  // Versions start at the wall clock in microseconds, so a restarted controller never reuses a
  // number a client still holds from the previous run (that client gets a snapshot instead).
  PushState();

  // A new configuration state: the next version, and every watcher is woken.
  uint64_t publish(std::shared_ptr<const ViewSource> source);
  // Null until the first publish.
  std::shared_ptr<const Version> current() const;

  // Called (from publish's thread) on every new version; returns a handle for unwatch.
  uint64_t watch(std::function<void()> wake);
  void unwatch(uint64_t handle);

  // --- Per client ---
  static std::string client_key(v1::Subscribe::Role role, const std::string& node);
  // Returns the connection's generation; a stale connection's disconnect is then ignored.
  uint64_t connected(const std::string& key, v1::Subscribe::Role role, const std::string& node,
                     const std::string& peer);
  void disconnected(const std::string& key, uint64_t generation);
  // The view the client had at `version`, if still remembered.
  ViewPtr view_at(const std::string& key, uint64_t version) const;
  void sent(const std::string& key, uint64_t version, ViewPtr view, bool snapshot);
  void acked(const std::string& key, uint64_t version);
  void nacked(const std::string& key, uint64_t version, const std::string& reason);
  void certificate(const std::string& key, bool issued);
  void refused_connection();

  std::string status_json() const;
  std::string metrics_text() const;

 private:
  struct Client {
    v1::Subscribe::Role role = v1::Subscribe::AGENT;
    std::string node;
    std::string peer;
    bool connected = false;
    uint64_t generation = 0;
    uint64_t sent_version = 0;
    uint64_t acked_version = 0;
    uint64_t nack_version = 0;
    std::string nack_reason;
    uint64_t pushes = 0, snapshots = 0, acks = 0, nacks = 0, certs_issued = 0, certs_refused = 0;
    std::map<uint64_t, ViewPtr> history;  // recently sent views by version
  };

  mutable std::mutex mu_;
  std::shared_ptr<const Version> current_;
  uint64_t next_version_;
  std::map<uint64_t, Clock::time_point> published_;  // recent versions, for push latency
  std::map<uint64_t, std::function<void()>> watchers_;
  uint64_t next_watch_ = 1;
  std::map<std::string, Client> clients_;

  // Push latency: config version published -> client ack, seconds.
  static constexpr double kBuckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  uint64_t latency_counts_[std::size(kBuckets) + 1] = {};
  double latency_sum_ = 0;
  uint64_t latency_count_ = 0;
  uint64_t pushes_ = 0, snapshots_ = 0, acks_ = 0, nacks_ = 0;
  uint64_t certs_issued_ = 0, certs_refused_ = 0, refused_connections_ = 0;
};

}  // namespace ambit::controller
