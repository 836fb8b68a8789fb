#include "controller/push/push_server.h"

#include "core/http_endpoints.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "control/control_channel.h"
#include "controller/push/view_diff.h"
#include "core/log.h"

namespace ambit::controller {

using control::ControlConnection;

namespace {

using control::block_sigpipe_in_this_thread;
using control::control_peer;
using control::encode_update_frame;
using control::make_control_context;
using control::UpdateParts;

constexpr size_t kWriteChunkBytes = 64u << 10;

class SnapshotSlot {
 public:
  explicit SnapshotSlot(SnapshotSlots& slots) : slots_(slots) { slots_.acquire(); }
  ~SnapshotSlot() { slots_.release(); }
  SnapshotSlot(const SnapshotSlot&) = delete;
  SnapshotSlot& operator=(const SnapshotSlot&) = delete;

 private:
  SnapshotSlots& slots_;
};

// One subscribed client on one connection; runs on the connection's thread.
class ClientSession {
 public:
  ClientSession(ControlConnection& conn, PushState& state, ViewDiffs& diffs,
                SnapshotFrames& snapshot_frames, SnapshotSlots& snapshot_slots,
                const CertificateAuthority& ca, const PushServerOptions& options, std::string key,
                v1::Subscribe subscribe)
      : conn_(conn),
        state_(state),
        diffs_(diffs),
        snapshot_frames_(snapshot_frames),
        snapshot_slots_(snapshot_slots),
        ca_(ca),
        options_(options),
        key_(std::move(key)),
        subscribe_(std::move(subscribe)) {}

  // Returns when the client goes away, on an I/O error, or when `stopping` is set.
  void run(const std::atomic<bool>& stopping) {
    UniqueFd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    int wake_fd = wake.get();
    uint64_t watch = state_.watch([wake_fd] {
      uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof(one));
    });
    if (subscribe_.have_version() != 0) {
      base_view_ = state_.view_at(key_, subscribe_.have_version());
      if (base_view_) base_version_ = subscribe_.have_version();
    }
    Status status = push_if_needed();
    std::vector<std::string> frames;
    while (status && !stopping.load()) {
      if (!conn_.has_buffered()) {
        pollfd fds[2] = {{conn_.fd(), POLLIN, 0}, {wake_fd, POLLIN, 0}};
        if (::poll(fds, 2, 1000) < 0 && errno != EINTR) {
          status = Error::format("poll: {}", std::strerror(errno));
          break;
        }
        if (fds[1].revents & POLLIN) {
          uint64_t n;
          [[maybe_unused]] auto r = ::read(wake_fd, &n, sizeof(n));
        }
        if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
          status = push_if_needed();
          continue;
        }
      }
      status = conn_.read_frames(frames);
      for (std::string& frame : frames) {
        if (!status) break;
        status = handle(frame);
      }
      frames.clear();
      if (status) status = push_if_needed();
    }
    state_.unwatch(watch);
    if (!status && !stopping.load()) {
      spdlog::info("control: {} disconnected: {}", key_, status.error().message);
    }
  }

 private:
  Status push_if_needed() {
    auto current = state_.current();
    if (!current || current->number == sent_version_) return {};
    ViewPtr view = current->source->view_for(subscribe_);
    if (!view) view = std::make_shared<View>();
    UpdateParts parts;
    parts.version = current->number;
    if (base_view_) {
      auto diff = diffs_.get({base_view_, view}, [&] { return diff_views(*base_view_, *view); });
      parts.base_version = base_version_;
      parts.added.reserve(diff->added.size());
      for (const ViewResource* r : diff->added) parts.added.push_back(&r->encoded());
      parts.removed = diff->removed;
      // In pieces: a delta of many objects is not held whole per client.
      if (auto s =
              encode_update_frame(parts, kWriteChunkBytes,
                                  [&](std::string_view bytes) { return conn_.write_raw(bytes); });
          !s) {
        return s;
      }
    } else {
      parts.snapshot = true;
      parts.added_from = [&v = *view](size_t i) -> const std::string& { return v[i]->encoded(); };
      parts.added_from_count = view->size();
      // A snapshot is CPU-bound work (encrypting the whole view): a few at a time, so 1,000
      // agents reconnecting at once do not starve the handshakes and deltas of the others. Its
      // frame is encoded once for all the clients that have this very view.
      SnapshotSlot slot(snapshot_slots_);
      auto frame =
          snapshot_frames_.get({view, parts.version}, [&] { return encode_update_frame(parts); });
      if (frame->empty()) {
        return Error::format("the snapshot of version {} is over the {} byte frame limit",
                             parts.version, control::kMaxFrameBytes);
      }
      if (auto s = conn_.write_raw(*frame); !s) return s;
    }
    state_.sent(key_, current->number, view, parts.snapshot);
    sent_version_ = current->number;
    base_view_ = std::move(view);
    base_version_ = current->number;
    return {};
  }

  Status handle(const std::string& frame) {
    v1::ClientMessage message;
    if (!message.ParseFromString(frame)) return Error{"unparseable client message"};
    switch (message.message_case()) {
      case v1::ClientMessage::kAck:
        state_.acked(key_, message.ack().version());
        acked_version_ = std::max(acked_version_, message.ack().version());
        return {};
      case v1::ClientMessage::kNack: {
        const auto& nack = message.nack();
        spdlog::warn("control: {} rejected version {}: {}", key_, nack.version(), nack.reason());
        state_.nacked(key_, nack.version(), nack.reason());
        // The client kept its previous state: diff the next push against what it acked.
        if (nack.version() == base_version_) {
          base_view_ = acked_version_ != 0 ? state_.view_at(key_, acked_version_) : nullptr;
          base_version_ = base_view_ ? acked_version_ : 0;
        }
        return {};
      }
      case v1::ClientMessage::kCertificateRequest:
        return answer_certificate(message.certificate_request());
      case v1::ClientMessage::kSubscribe:
        return Error{"subscribed twice on one connection"};
      case v1::ClientMessage::MESSAGE_NOT_SET:
        break;
    }
    return Error{"empty client message"};
  }

  Status answer_certificate(const v1::CertificateRequest& request) {
    v1::ServerMessage reply;
    auto* response = reply.mutable_certificate_response();
    response->set_id(request.id());
    auto refuse = [&](std::string why) {
      spdlog::warn("control: refused a certificate for workload '{}' to {}: {}",
                   request.workload_uid().substr(0, 256), key_, why);
      state_.certificate(key_, false);
      response->set_error(std::move(why));
    };
    auto current = state_.current();
    std::optional<Identity> identity;
    if (!current) {
      refuse("the controller has no configuration yet");
    } else if (!current->source->workload_on_node(request.workload_uid(), subscribe_.node())) {
      refuse(fmt::format("workload '{}' is not on {} '{}'", request.workload_uid().substr(0, 256),
                         subscribe_.role() == v1::Subscribe::WAYPOINT ? "waypoint" : "node",
                         subscribe_.node()));
    } else if (!(identity = current->source->identity_of(request.workload_uid()))) {
      refuse(fmt::format("workload '{}' has no identity", request.workload_uid().substr(0, 256)));
    } else if (auto chain = ca_.sign(request.csr_pem(), *identity, options_.certificate_ttl);
               !chain) {
      refuse(chain.error().message);
    } else {
      spdlog::info("control: issued {} for workload '{}' to {}", identity->to_string(),
                   request.workload_uid(), key_);
      state_.certificate(key_, true);
      response->set_certificate_chain_pem(std::move(*chain));
    }
    return conn_.write_message(reply);
  }

  ControlConnection& conn_;
  PushState& state_;
  ViewDiffs& diffs_;
  SnapshotFrames& snapshot_frames_;
  SnapshotSlots& snapshot_slots_;
  const CertificateAuthority& ca_;
  const PushServerOptions& options_;
  const std::string key_;
  const v1::Subscribe subscribe_;
  ViewPtr base_view_;  // what the client has (as far as we know), null: send a snapshot
  uint64_t base_version_ = 0;
  uint64_t sent_version_ = 0;
  uint64_t acked_version_ = 0;
};

Result<v1::Subscribe> read_subscribe(ControlConnection& conn, std::chrono::milliseconds timeout) {
  std::vector<std::string> frames;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (frames.empty()) {
    if (!conn.has_buffered()) {
      pollfd p{conn.fd(), POLLIN, 0};
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        return Error{"no Subscribe in time"};
      }
    }
    if (auto s = conn.read_frames(frames); !s) return s.error();
  }
  v1::ClientMessage first;
  if (!first.ParseFromString(frames.front()) || !first.has_subscribe()) {
    return Error{"the first message must be a Subscribe"};
  }
  if (frames.size() > 1) return Error{"messages after Subscribe before its snapshot"};
  return first.subscribe();
}

}  // namespace

Result<std::unique_ptr<PushServer>> PushServer::start(const PushServerOptions& options,
                                                      const CertificateAuthority& ca,
                                                      PushState& state) {
  std::unique_ptr<PushServer> server(new PushServer(options, ca, state));
  auto creds = ca.issue_controller_credentials();
  if (!creds) return Error::format("controller credentials: {}", creds.error().message);
  auto tls = make_control_context(true, *creds, ca.root_pem());
  if (!tls) return tls.error();
  server->tls_ = std::move(*tls);

  auto fd = listen_tcp(options.listen, 1024);
  if (!fd) return Error::format("control listener {}", fd.error().message);
  server->address_ = *SocketAddress::local_of(fd->get());
  server->listener_ = std::move(*fd);
  server->stop_fd_.reset(eventfd(0, EFD_CLOEXEC));
  server->acceptor_ = std::thread([raw = server.get()] { raw->accept_loop(); });
  spdlog::info("control: listening on {} (mTLS)", server->address_.to_string());
  return server;
}

PushServer::~PushServer() { stop(); }

void PushServer::stop() {
  if (stopping_.exchange(true)) return;
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(stop_fd_.get(), &one, sizeof(one));
  if (acceptor_.joinable()) acceptor_.join();
  std::map<uint64_t, std::thread> threads;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, fd] : connection_fds_) ::shutdown(fd, SHUT_RDWR);
    threads.swap(connections_);
  }
  for (auto& [id, t] : threads) t.join();
  listener_.reset();
}

void PushServer::accept_loop() {
  pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
  while (!stopping_.load()) {
    if (::poll(fds, 2, 1000) < 0 && errno != EINTR) return;
    reap_finished();
    if (fds[1].revents & POLLIN) return;
    if (!(fds[0].revents & POLLIN)) continue;
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    UniqueFd fd(::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC));
    if (!fd.valid()) continue;
    auto peer = SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    std::string peer_text = peer ? peer->to_string() : "?";
    std::lock_guard lock(mu_);
    uint64_t id = next_connection_++;
    connection_fds_[id] = fd.get();
    connections_[id] = std::thread([this, id, f = std::move(fd), peer_text]() mutable {
      serve(std::move(f), peer_text);
      std::lock_guard lock(mu_);
      connection_fds_.erase(id);
      finished_.push_back(id);
    });
  }
}

void PushServer::reap_finished() {
  std::vector<std::thread> done;
  {
    std::lock_guard lock(mu_);
    for (uint64_t id : finished_) {
      if (auto it = connections_.find(id); it != connections_.end()) {
        done.push_back(std::move(it->second));
        connections_.erase(it);
      }
    }
    finished_.clear();
  }
  for (auto& t : done) t.join();
}

void PushServer::serve(UniqueFd fd, std::string peer_address) {
  block_sigpipe_in_this_thread();
  auto conn =
      ControlConnection::handshake(std::move(fd), tls_.get(), true, options_.handshake_timeout);
  if (!conn) {
    spdlog::warn("control: refused {}: {}", peer_address, conn.error().message);
    state_.refused_connection();
    return;
  }
  auto peer = control_peer((*conn)->ssl(), ca_.trust_domain());
  if (!peer || peer->is_controller) {
    spdlog::warn("control: refused {}: {}", peer_address,
                 peer ? "a controller identity cannot subscribe" : peer.error().message);
    state_.refused_connection();
    return;
  }
  auto subscribe = read_subscribe(**conn, options_.handshake_timeout);
  if (!subscribe) {
    spdlog::warn("control: refused {} ({}): {}", peer_address, peer->name,
                 subscribe.error().message);
    state_.refused_connection();
    return;
  }
  if (subscribe->role() != peer->role || subscribe->node() != peer->name) {
    spdlog::warn("control: refused {}: its certificate is for {} '{}' but it subscribed as {} '{}'",
                 peer_address, peer->role == v1::Subscribe::WAYPOINT ? "waypoint" : "node",
                 peer->name, subscribe->role() == v1::Subscribe::WAYPOINT ? "waypoint" : "node",
                 subscribe->node().substr(0, 256));
    state_.refused_connection();
    return;
  }
  (*conn)->set_io_timeout(options_.io_timeout);
  std::string key = PushState::client_key(peer->role, peer->name);
  spdlog::info("control: {} connected from {} (has version {})", key, peer_address,
               subscribe->have_version());
  uint64_t generation = state_.connected(key, peer->role, peer->name, peer_address);
  ClientSession session(**conn, state_, diffs_, snapshot_frames_, snapshot_slots_, ca_, options_,
                        key, std::move(*subscribe));
  session.run(stopping_);
  state_.disconnected(key, generation);
}

}  // namespace ambit::controller
