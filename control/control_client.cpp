#include "control/control_client.h"

#include <poll.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <random>

#include <google/protobuf/arena.h>

#include "control/control_channel.h"
#include "core/log.h"
#include "core/x509.h"

namespace ambit::control {

Result<ControlClientOptions> client_options(const std::string& controller_address,
                                            const std::string& name,
                                            const std::string& credentials_dir,
                                            std::string_view stem) {
  if (credentials_dir.empty()) return Error{"--credentials is required with --controller"};
  auto at = SocketAddress::parse(controller_address);
  if (!at) return Error::format("--controller {}: {}", controller_address, at.error().message);
  ControlClientOptions options;
  options.controller = *at;
  options.node = name;
  const std::string s(stem);
  for (auto [file, slot] : {std::pair{s + ".pem", &options.credentials.certificate_chain_pem},
                            std::pair{s + ".key", &options.credentials.key_pem},
                            std::pair{std::string("root.pem"), &options.root_pem}}) {
    auto text = read_pem_file(credentials_dir + "/" + file);
    if (!text) return Error::format("--credentials {}: {}", credentials_dir, text.error().message);
    *slot = std::move(*text);
  }
  return options;
}

ControlClient::ControlClient(ControlClientOptions options, UpdateHandler on_update)
    : options_(std::move(options)), on_update_(std::move(on_update)) {
  version_ = options_.have_version;
}

Result<std::unique_ptr<ControlClient>> ControlClient::start(ControlClientOptions options,
                                                            UpdateHandler on_update) {
  std::unique_ptr<ControlClient> client(
      new ControlClient(std::move(options), std::move(on_update)));
  auto tls = make_control_context(false, client->options_.credentials, client->options_.root_pem);
  if (!tls) return tls.error();
  client->tls_ = std::move(*tls);
  client->wake_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  client->thread_ = std::thread([raw = client.get()] { raw->run(); });
  return client;
}

ControlClient::~ControlClient() { stop(); }

void ControlClient::stop() {
  if (stopping_.exchange(true)) return;
  wake();
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  for (auto& [id, p] : pending_) p.answer.set_value(Error{"control client stopped"});
  pending_.clear();
}

void ControlClient::wake() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_.get(), &one, sizeof(one));
}

Result<std::string> ControlClient::request_certificate(const std::string& workload_uid,
                                                       const std::string& csr_pem,
                                                       std::chrono::milliseconds timeout) {
  std::future<Result<std::string>> answer;
  uint64_t id;
  {
    std::lock_guard lock(mu_);
    if (stopping_.load()) return Error{"control client stopped"};
    id = next_request_++;
    PendingCertificate& p = pending_[id];
    p.request.set_id(id);
    p.request.set_workload_uid(workload_uid);
    p.request.set_csr_pem(csr_pem);
    answer = p.answer.get_future();
  }
  wake();
  if (answer.wait_for(timeout) == std::future_status::ready) return answer.get();
  std::lock_guard lock(mu_);
  if (pending_.erase(id) == 0) return answer.get();  // answered meanwhile
  return Error::format("certificate request for '{}' timed out after {} ms", workload_uid,
                       timeout.count());
}

void ControlClient::run() {
  block_sigpipe_in_this_thread();
  std::mt19937_64 rng(std::random_device{}());
  auto backoff = options_.backoff_initial;
  while (!stopping_.load()) {
    uint64_t before = version_.load();
    auto started = std::chrono::steady_clock::now();
    Status s = session();
    connected_ = false;
    if (stopping_.load()) break;
    spdlog::info("control client {}: {}; reconnecting", options_.node, s.error().message);
    // A session that lasted or made progress was healthy: start the backoff over.
    if (version_.load() != before ||
        std::chrono::steady_clock::now() - started > std::chrono::seconds(10)) {
      backoff = options_.backoff_initial;
    }
    // Full jitter over the upper half, so 200 agents do not reconnect in lockstep.
    auto low = backoff.count() / 2;
    std::uniform_int_distribution<long> pick(low, std::max<long>(low, backoff.count()));
    std::unique_lock lock(mu_);
    stop_cv_.wait_for(lock, std::chrono::milliseconds(pick(rng)), [&] { return stopping_.load(); });
    backoff = std::min(backoff * 2, options_.backoff_max);
  }
}

Status ControlClient::session() {
  auto conn = ControlConnection::connect(options_.controller, tls_.get(), options_.connect_timeout);
  if (!conn) return conn.error();
  ControlConnection& c = **conn;
  auto peer = control_peer(c.ssl(), options_.trust_domain);
  if (!peer) return Error::format("controller: {}", peer.error().message);
  if (!peer->is_controller) return Error{"the server is not the controller"};
  c.set_io_timeout(std::chrono::seconds(30));

  v1::ClientMessage hello;
  auto* sub = hello.mutable_subscribe();
  sub->set_role(options_.role);
  sub->set_node(options_.node);
  sub->set_have_version(version_.load());
  if (auto s = c.write_message(hello); !s) return s;
  connected_ = true;
  ++connections_;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, p] : pending_) p.sent = false;  // resend what the last connection lost
  }

  std::vector<std::string> frames;
  while (!stopping_.load()) {
    std::vector<v1::ClientMessage> outgoing;
    {
      std::lock_guard lock(mu_);
      for (auto& [id, p] : pending_) {
        if (p.sent) continue;
        p.sent = true;
        *outgoing.emplace_back().mutable_certificate_request() = p.request;
      }
    }
    for (const auto& m : outgoing) {
      if (auto s = c.write_message(m); !s) return s;
    }
    if (!c.has_buffered()) {
      pollfd fds[2] = {{c.fd(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
      if (::poll(fds, 2, 1000) < 0 && errno != EINTR) return Error{"poll failed"};
      if (fds[1].revents & POLLIN) {
        uint64_t n;
        [[maybe_unused]] auto r = ::read(wake_fd_.get(), &n, sizeof(n));
      }
      if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    }
    if (auto s = c.read_frames(frames); !s) return s;
    for (const std::string& frame : frames) {
      // A snapshot of a large mesh is ~10^4 objects: an arena makes parsing and freeing them one
      // allocation-free pass each.
      google::protobuf::Arena arena;
      auto& message = *google::protobuf::Arena::CreateMessage<v1::ServerMessage>(&arena);
      if (!message.ParseFromString(frame)) return Error{"unparseable message from the controller"};
      if (message.has_certificate_response()) {
        const auto& r = message.certificate_response();
        std::lock_guard lock(mu_);
        auto it = pending_.find(r.id());
        if (it == pending_.end()) continue;  // timed out meanwhile
        if (r.error().empty()) {
          it->second.answer.set_value(r.certificate_chain_pem());
        } else {
          it->second.answer.set_value(Error{r.error()});
        }
        pending_.erase(it);
        continue;
      }
      if (!message.has_update()) continue;
      const v1::Update& update = message.update();
      if (!update.snapshot() && update.base_version() != 0 &&
          update.base_version() != version_.load()) {
        // Built on a state we do not have (an update we nacked was in flight): resubscribe.
        return Error::format("delta from version {} does not apply to version {}",
                             update.base_version(), version_.load());
      }
      Status applied = on_update_(update);
      v1::ClientMessage answer;
      if (applied) {
        version_ = update.version();
        answer.mutable_ack()->set_version(update.version());
      } else {
        answer.mutable_nack()->set_version(update.version());
        answer.mutable_nack()->set_reason(applied.error().message);
      }
      if (auto s = c.write_message(answer); !s) return s;
    }
    frames.clear();
  }
  return Error{"stopping"};
}

}  // namespace ambit::control
