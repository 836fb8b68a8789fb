// The controller's listener on 15012: accepts control clients over mutual TLS, checks that the
// certificate's node (or waypoint) is the one the client subscribes as, streams its view
// (snapshot, then deltas; a delta from the version it has when it reconnects), records its acks
// and nacks, and signs workload certificates for workloads on that client's node.
//
// One thread per connection: cheaper to reason about than an event loop, and at 1,000 clients
// (bench/run control --scale 100k) the costs are elsewhere, as long as the CPU-bound work is
// shared or bounded: one delta per pair of views and one encoded snapshot per view (shared), and
// a core's worth of snapshots sent at a time (the other sessions sleep meanwhile).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "controller/ca/certificate_authority.h"
#include "controller/push/push_state.h"
#include "controller/push/shared_results.h"
#include "controller/push/view_diff.h"
#include "core/net_address.h"
#include "core/openssl_ptr.h"
#include "core/unique_fd.h"

namespace ambit::controller {

struct PushServerOptions {
  SocketAddress listen;  // port 0 picks one (tests)
  std::chrono::seconds certificate_ttl = std::chrono::hours(24);
  std::chrono::milliseconds handshake_timeout{10'000};
  // A client that does not take a write (or finish a frame) for this long is dropped.
  std::chrono::milliseconds io_timeout{30'000};
};

// Snapshots being sent at once (see PushServer::snapshot_slots_): at most `n` holders, and the
// others sleep on a condition variable (std::counting_semaphore spins and yields first, which
// with 1,000 waiting sessions costs more CPU than the snapshots).
class SnapshotSlots {
 public:
  explicit SnapshotSlots(size_t n) : free_(n) {}
  void acquire() {
    std::unique_lock lock(mu_);
    freed_.wait(lock, [&] { return free_ > 0; });
    --free_;
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      ++free_;
    }
    freed_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable freed_;
  size_t free_;
};

// Shared by the sessions: one delta per pair of views, one encoded snapshot per view and version.
using ViewDiffs = SharedResults<std::pair<ViewPtr, ViewPtr>, ViewDiff>;
using SnapshotFrames = SharedResults<std::pair<ViewPtr, uint64_t>, std::string>;

class PushServer {
 public:
  // `ca` and `state` must outlive the server.
  static Result<std::unique_ptr<PushServer>> start(const PushServerOptions& options,
                                                   const CertificateAuthority& ca,
                                                   PushState& state);
  ~PushServer();  // stop()

  const SocketAddress& address() const { return address_; }
  // Closes the listener and every connection, and waits for their threads.
  void stop();

 private:
  PushServer(const PushServerOptions& options, const CertificateAuthority& ca, PushState& state)
      : options_(options), ca_(ca), state_(state) {}
  void accept_loop();
  void serve(UniqueFd fd, std::string peer_address);
  void reap_finished();

  PushServerOptions options_;
  const CertificateAuthority& ca_;
  PushState& state_;
  ViewDiffs diffs_{16};
  // Snapshots are made only in a slot (below), so at most slots + 2 frames are held at once.
  SnapshotFrames snapshot_frames_{2};
  // One snapshot per core at a time: a thread per client means 1,000 reconnecting agents would
  // otherwise be 1,000 runnable threads encrypting, and new handshakes would time out.
  SnapshotSlots snapshot_slots_{std::max(2u, std::thread::hardware_concurrency())};
  SslCtxPtr tls_;
  UniqueFd listener_;
  UniqueFd stop_fd_;
  SocketAddress address_;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;

  std::mutex mu_;
  uint64_t next_connection_ = 1;
  std::map<uint64_t, std::thread> connections_;
  std::map<uint64_t, int> connection_fds_;  // for shutdown() on stop
  std::vector<uint64_t> finished_;
};

}  // namespace ambit::controller
