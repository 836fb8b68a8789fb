// ambit-bench-control-load: N simulated agents on the control channel, for bench/run control.
//
// Light by design, so the benchmark measures the controller and not its clients: every agent is a
// non-blocking TLS connection (its own node credentials, issued in-process from --ca-dir) on a
// few epoll threads, not a thread per agent. Each speaks the protocol as an agent does (Subscribe,
// then an Ack for every Update it takes, a delta only on the version it has), but reads an
// Update with a wire-format scan: the version, snapshot flag and base version, a count of the
// objects, and the one watched policy decoded in full; the rest is skipped, not parsed.
//
// Output on stdout, one event per line, wall-clock nanoseconds (comparable with the driver's
// clock):
//   SNAPSHOT <first_connect_ns> <all_acked_ns> <objects_min> <objects_max> <cpu_s>
//                                               every agent has acked its first snapshot (cpu_s:
//                                               this process's CPU since it began connecting)
//   ACKED <marker> <ns>                         every agent has acked the policy change
// where <marker> is the first principal of the first rule of --watch-policy.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "control/control_channel.h"
#include "controller/ca/certificate_authority.h"
#include "core/log.h"

namespace {

using namespace ambit;
using namespace ambit::controller;
using namespace ambit::control;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Protobuf wire format, read in place: only what an Update's envelope needs.
struct WireReader {
  const uint8_t* p;
  const uint8_t* end;

  bool varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64 && p < end; shift += 7) {
      uint8_t b = *p++;
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool field(uint32_t& number, uint32_t& type) {
    uint64_t tag;
    if (!varint(tag)) return false;
    number = static_cast<uint32_t>(tag >> 3);
    type = static_cast<uint32_t>(tag & 7);
    return true;
  }
  bool bytes(std::string_view& out) {
    uint64_t n;
    if (!varint(n) || n > uint64_t(end - p)) return false;
    out = {reinterpret_cast<const char*>(p), n};
    p += n;
    return true;
  }
  bool skip(uint32_t type) {
    uint64_t v;
    std::string_view s;
    switch (type) {
      case 0:
        return varint(v);
      case 1:
        return (end - p >= 8) && (p += 8, true);
      case 2:
        return bytes(s);
      case 5:
        return (end - p >= 4) && (p += 4, true);
    }
    return false;
  }
};

WireReader reader_of(std::string_view s) {
  auto* b = reinterpret_cast<const uint8_t*>(s.data());
  return {b, b + s.size()};
}

struct ScannedUpdate {
  uint64_t version = 0, base_version = 0;
  bool snapshot = false;
  size_t added = 0, removed = 0;
  std::string marker;  // of the watched policy, when it is among `added`
};

// The watched policy's first principal, decoding only that one Resource.
std::string marker_of(std::string_view resource) {
  v1::Resource r;
  if (!r.ParseFromArray(resource.data(), static_cast<int>(resource.size()))) return {};
  if (!r.has_authorization_policy()) return {};
  const auto& p = r.authorization_policy();
  if (p.rules_size() == 0 || p.rules(0).from_size() == 0 ||
      p.rules(0).from(0).principals_size() == 0)
    return {};
  return p.rules(0).from(0).principals(0);
}

// Resource: uid (1), then the one kind set (AuthorizationPolicy is field 5).
bool is_watched(std::string_view resource, std::string_view watched_uid) {
  WireReader r = reader_of(resource);
  uint32_t number, type;
  std::string_view uid;
  bool policy = false;
  while (r.p < r.end) {
    if (!r.field(number, type)) return false;
    if (number == 1 && type == 2) {
      if (!r.bytes(uid)) return false;
      if (uid != watched_uid) return false;
    } else {
      if (number == 5) policy = true;
      if (!r.skip(type)) return false;
    }
  }
  return policy && uid == watched_uid;
}

// One field of an Update, from `u`; false when the field is not all there (or not well formed).
bool scan_update_field(WireReader& u, std::string_view watched_uid, ScannedUpdate& out) {
  uint32_t number, type;
  if (!u.field(number, type)) return false;
  uint64_t v;
  std::string_view s;
  if (number == 1 && type == 0) return u.varint(out.version);
  if (number == 2 && type == 0) {
    if (!u.varint(v)) return false;
    out.snapshot = v != 0;
    return true;
  }
  if (number == 3 && type == 2) {
    if (!u.bytes(s)) return false;
    ++out.added;
    if (is_watched(s, watched_uid)) out.marker = marker_of(s);
    return true;
  }
  if (number == 4 && type == 2) {
    if (!u.bytes(s)) return false;
    ++out.removed;
    return true;
  }
  if (number == 5 && type == 0) return u.varint(out.base_version);
  return u.skip(type);
}

// Reads ServerMessage frames as their bytes arrive, holding no more than one object of an Update
// at a time (a snapshot of 100,000 pods is ~13 MB; 1,000 agents must not each buffer one).
class UpdateScanner {
 public:
  explicit UpdateScanner(std::string_view watched_uid) : watched_uid_(watched_uid) {}

  // Consumes what it can of `bytes`, appending each Update completed to `done`. Returns the bytes
  // consumed (the rest is an incomplete field: feed it again with more), nullopt when the stream
  // is not well formed.
  std::optional<size_t> feed(std::string_view bytes, std::vector<ScannedUpdate>& done) {
    WireReader r = reader_of(bytes);
    const uint8_t* begin = r.p;
    while (true) {
      if (state_ == State::kLength) {
        if (r.end - r.p < 4) break;
        frame_left_ = size_t(r.p[0]) << 24 | size_t(r.p[1]) << 16 | size_t(r.p[2]) << 8 | r.p[3];
        if (frame_left_ > kMaxFrameBytes) return std::nullopt;
        r.p += 4;
        current_ = {};
        is_update_ = false;
        state_ = State::kMessage;
        continue;
      }
      size_t& left = state_ == State::kUpdate ? update_left_ : frame_left_;
      if (state_ == State::kUpdate && left == 0) {
        state_ = State::kMessage;
        continue;
      }
      if (state_ == State::kMessage && left == 0) {
        if (is_update_) done.push_back(std::move(current_));
        state_ = State::kLength;
        continue;
      }
      size_t available = std::min<size_t>(r.end - r.p, left);
      WireReader f{r.p, r.p + available};
      bool ok;
      if (state_ == State::kUpdate) {
        ok = scan_update_field(f, watched_uid_, current_);
      } else {
        uint32_t number, type;
        ok = f.field(number, type);
        uint64_t length = 0;
        if (ok && number == 1 && type == 2) {  // ServerMessage.update: descend into it
          ok = f.varint(length);
          if (ok) {
            is_update_ = true;
            update_left_ = length;
            state_ = State::kUpdate;
          }
        } else if (ok) {
          ok = f.skip(type);
        }
      }
      if (!ok) {
        if (available == left) return std::nullopt;  // all of it was there: malformed
        break;                                       // wait for the rest
      }
      size_t n = f.p - r.p;
      frame_left_ -= n;
      if (state_ == State::kUpdate && &left == &update_left_) update_left_ -= n;
      if (update_left_ > frame_left_) return std::nullopt;
      r.p = f.p;
    }
    return static_cast<size_t>(r.p - begin);
  }

 private:
  enum class State { kLength, kMessage, kUpdate };
  std::string_view watched_uid_;
  State state_ = State::kLength;
  size_t frame_left_ = 0, update_left_ = 0;
  bool is_update_ = false;
  ScannedUpdate current_;
};

std::string frame_of(const v1::ClientMessage& m) {
  std::string body = m.SerializeAsString();
  std::string out(4, '\0');
  uint32_t n = static_cast<uint32_t>(body.size());
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(n >> (24 - 8 * i));
  return out + body;
}

// What every agent has reached, for the events on stdout.
class Progress {
 public:
  explicit Progress(size_t agents) : agents_(agents) {}
  void connecting() {
    first_connect_ = now_ns();
    cpu_at_connect_ = cpu_seconds();
  }

  void snapshot(size_t objects) {
    std::lock_guard lock(mu_);
    objects_min_ = std::min(objects_min_, objects);
    objects_max_ = std::max(objects_max_, objects);
    if (++snapshots_ == agents_) {
      print(fmt::format("SNAPSHOT {} {} {} {} {:.3f}\n", first_connect_, now_ns(), objects_min_,
                        objects_max_, cpu_seconds() - cpu_at_connect_));
    }
  }
  void marker(const std::string& marker) {
    std::lock_guard lock(mu_);
    if (++markers_[marker] == agents_) print(fmt::format("ACKED {} {}\n", marker, now_ns()));
  }

 private:
  // This process's CPU (all threads), user + system.
  static double cpu_seconds() {
    rusage u;
    getrusage(RUSAGE_SELF, &u);
    auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return s(u.ru_utime) + s(u.ru_stime);
  }
  static void print(const std::string& line) {
    std::fputs(line.c_str(), stdout);
    std::fflush(stdout);
  }
  std::mutex mu_;
  const size_t agents_;
  int64_t first_connect_ = 0;
  double cpu_at_connect_ = 0;
  size_t snapshots_ = 0, objects_min_ = SIZE_MAX, objects_max_ = 0;
  std::map<std::string, size_t> markers_;
};

// One simulated agent: a non-blocking TLS connection driven by its thread's epoll loop.
class Agent {
 public:
  Agent(std::string node, SslCtxPtr ctx, std::string_view trust_domain, std::string_view watched,
        Progress& progress)
      : node_(std::move(node)),
        ctx_(std::move(ctx)),
        trust_domain_(trust_domain),
        watched_(watched),
        progress_(progress) {}

  Status start(const SocketAddress& controller, int epoll_fd) {
    fd_.reset(::socket(controller.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd_.valid()) return Error::format("socket: {}", std::strerror(errno));
    int one = 1;
    setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_storage ss;
    socklen_t len = controller.to_sockaddr(&ss);
    if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS)
      return Error::format("connect: {}", std::strerror(errno));
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl_.get(), fd_.get());
    SSL_set_connect_state(ssl_.get());
    epoll_event ev{EPOLLIN | EPOLLOUT, {.ptr = this}};
    epoll_fd_ = epoll_fd;
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd_.get(), &ev) != 0)
      return Error::format("epoll_ctl: {}", std::strerror(errno));
    return {};
  }

  // On readiness; an error ends the agent (and the bench: an agent never silently drops out).
  Status on_ready() {
    if (!handshaken_) {
      int rc = SSL_do_handshake(ssl_.get());
      if (rc != 1) {
        int err = SSL_get_error(ssl_.get(), rc);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
          want_events(err == SSL_ERROR_WANT_WRITE ? EPOLLIN | EPOLLOUT : EPOLLIN);
          return {};
        }
        return Error::format("{}: TLS handshake failed ({})", node_, err);
      }
      handshaken_ = true;
      auto peer = control_peer(ssl_.get(), trust_domain_);
      if (!peer || !peer->is_controller) return Error::format("{}: not the controller", node_);
      v1::ClientMessage hello;
      hello.mutable_subscribe()->set_role(v1::Subscribe::AGENT);
      hello.mutable_subscribe()->set_node(node_);
      out_ += frame_of(hello);
    }
    if (auto s = flush(); !s) return s;
    return read_available();
  }

 private:
  Status flush() {
    while (!out_.empty()) {
      size_t n = 0;
      if (SSL_write_ex(ssl_.get(), out_.data(), out_.size(), &n) != 1) {
        int err = SSL_get_error(ssl_.get(), 0);
        if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) break;
        return Error::format("{}: write failed ({})", node_, err);
      }
      out_.erase(0, n);
    }
    want_events(out_.empty() ? EPOLLIN : EPOLLIN | EPOLLOUT);
    return {};
  }

  void want_events(uint32_t want) {
    if (want == events_) return;
    epoll_event ev{want, {.ptr = this}};
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd_.get(), &ev);
    events_ = want;
  }

  // At most about 1 MiB per turn, so one agent's snapshot does not hold up the others' handshakes
  // (epoll is level-triggered: the rest is read on the next turn).
  Status read_available() {
    for (size_t turn = 0; turn < (1u << 20);) {
      // What is left over is less than one object: the buffer stays about this size.
      if (in_.size() - used_ < (64 << 10)) in_.resize(std::max<size_t>(in_.size() * 2, 128 << 10));
      size_t got = 0;
      if (SSL_read_ex(ssl_.get(), in_.data() + used_, in_.size() - used_, &got) != 1) {
        int err = SSL_get_error(ssl_.get(), 0);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return {};
        return Error::format("{}: connection lost ({})", node_, err);
      }
      used_ += got;
      turn += got;
      if (auto s = take_updates(); !s) return s;
    }
    return {};
  }

  Status take_updates() {
    std::vector<ScannedUpdate> done;
    auto n = scanner_.feed({in_.data(), used_}, done);
    if (!n) return Error::format("{}: malformed message from the controller", node_);
    std::memmove(in_.data(), in_.data() + *n, used_ - *n);
    used_ -= *n;
    for (ScannedUpdate& u : done) {
      if (auto s = on_update(u); !s) return s;
    }
    return flush();
  }

  Status on_update(const ScannedUpdate& u) {
    if (!u.snapshot && u.base_version != 0 && u.base_version != version_) {
      return Error::format("{}: delta from version {} sent to version {}", node_, u.base_version,
                           version_);
    }
    if (!u.snapshot && version_ == 0) return Error::format("{}: delta before a snapshot", node_);
    objects_ = u.snapshot ? u.added : objects_ + u.added - std::min(objects_, u.removed);
    version_ = u.version;
    v1::ClientMessage ack;
    ack.mutable_ack()->set_version(u.version);
    out_ += frame_of(ack);
    if (u.snapshot && !snapshotted_) {
      snapshotted_ = true;
      progress_.snapshot(u.added);
    }
    if (!u.snapshot && !u.marker.empty()) progress_.marker(u.marker);
    return {};
  }

  const std::string node_;
  SslCtxPtr ctx_;
  std::string_view trust_domain_;
  std::string_view watched_;
  Progress& progress_;
  UniqueFd fd_;
  SslPtr ssl_;
  int epoll_fd_ = -1;
  uint32_t events_ = EPOLLIN | EPOLLOUT;
  bool handshaken_ = false, snapshotted_ = false;
  UpdateScanner scanner_{watched_};
  std::string in_;
  size_t used_ = 0;
  std::string out_;
  uint64_t version_ = 0;
  size_t objects_ = 0;  // upper bound on deltas: a changed object counts as added
};

void run_loop(int epoll_fd, const std::atomic<bool>& stopping) {
  block_sigpipe_in_this_thread();
  epoll_event events[64];
  while (!stopping.load()) {
    int n = epoll_wait(epoll_fd, events, 64, 200);
    for (int i = 0; i < n; ++i) {
      auto* agent = static_cast<Agent*>(events[i].data.ptr);
      if (auto s = agent->on_ready(); !s) {
        // The driver sees the load client exit: no result with an agent missing.
        std::fprintf(stderr, "load: %s\n", s.error().message.c_str());
        std::fflush(stdout);
        ::_exit(1);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"simulated agents for the controller benchmark"};
  std::string controller = "127.0.0.1:15012", ca_dir, trust_domain = "cluster.local";
  std::string watch_policy = "bench/changing";
  int clients = 200, threads = 2;
  app.add_option("--controller", controller);
  app.add_option("--ca-dir", ca_dir)->required();
  app.add_option("--trust-domain", trust_domain);
  app.add_option("--clients", clients);
  app.add_option("--threads", threads, "epoll threads the agents are spread over");
  app.add_option("--watch-policy", watch_policy);
  CLI11_PARSE(app, argc, argv);
  Logging logging("warn");
  block_sigpipe_in_this_thread();

  CertificateAuthority::Options ca_options;
  ca_options.trust_domain = trust_domain;
  auto ca = CertificateAuthority::load_or_create(ca_dir, ca_options);
  auto address = SocketAddress::parse(controller);
  if (!ca || !address) {
    std::fprintf(stderr, "load: %s\n", !ca ? ca.error().message.c_str() : "bad --controller");
    return 1;
  }
  Progress progress(static_cast<size_t>(clients));
  std::vector<std::unique_ptr<Agent>> agents;
  for (int i = 0; i < clients; ++i) {
    std::string node = fmt::format("node-{}", i);
    auto creds = (*ca)->issue_node_credentials(node);
    if (!creds) return 1;
    auto ctx = make_control_context(false, *creds, (*ca)->root_pem());
    if (!ctx) {
      std::fprintf(stderr, "load: %s\n", ctx.error().message.c_str());
      return 1;
    }
    agents.push_back(
        std::make_unique<Agent>(node, std::move(*ctx), trust_domain, watch_policy, progress));
  }
  threads = std::max(1, std::min(threads, clients));
  std::vector<UniqueFd> loops;
  for (int t = 0; t < threads; ++t) loops.emplace_back(epoll_create1(EPOLL_CLOEXEC));
  progress.connecting();
  for (size_t i = 0; i < agents.size(); ++i) {
    if (auto s = agents[i]->start(*address, loops[i % threads].get()); !s) {
      std::fprintf(stderr, "load: %s\n", s.error().message.c_str());
      return 1;
    }
  }
  std::atomic<bool> stopping{false};
  std::vector<std::thread> workers;
  for (auto& loop : loops) {
    workers.emplace_back([&, fd = loop.get()] { run_loop(fd, stopping); });
  }
  // Until the driver closes stdin.
  char c;
  while (::read(0, &c, 1) > 0) {
  }
  stopping = true;
  for (auto& w : workers) w.join();
  return 0;
}
