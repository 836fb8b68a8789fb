// ambit-probe: a TCP echo server and clients for e2e tests, the demo and benchmarks.
//
//   ambit-probe serve --port P [--echo] [--banner TEXT] [--verbose]
//   ambit-probe connect HOST:PORT --message TEXT [--expect-echo] [--timeout-ms N] [--count N]
//   ambit-probe rr HOST:PORT [--size 1024] [--count N] [--connections N] [--timeout-ms N]
//
// connect exits 0 when every reply matched, 1 on a mismatch, 2 when it cannot connect/exchange.
// rr prints one JSON line: round-trip latency percentiles, or connection rate with --connections.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/net_address.h"
#include "core/unique_fd.h"

using ambit::SocketAddress;
using ambit::UniqueFd;
using Clock = std::chrono::steady_clock;

namespace {

void set_timeouts(int fd, int timeout_ms) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

bool send_all(int fd, const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = ::send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

bool recv_exact(int fd, char* data, size_t len) {
  while (len > 0) {
    ssize_t n = ::recv(fd, data, len, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// Connects with a bounded wait; sets errno and returns an invalid fd on failure.
UniqueFd dial(const SocketAddress& to, int timeout_ms) {
  UniqueFd fd(::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fd;
  set_timeouts(fd.get(), timeout_ms);  // SO_SNDTIMEO also bounds connect()
  int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_storage ss;
  socklen_t len = to.to_sockaddr(&ss);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    int e = errno;
    fd.reset();
    errno = e;
  }
  return fd;
}

int serve(uint16_t port, bool echo, const std::string& banner, bool verbose) {
  ::signal(SIGPIPE, SIG_IGN);
  UniqueFd listener(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int off = 0, one = 1;
  setsockopt(listener.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(port);
  addr.sin6_addr = in6addr_any;
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listener.get(), 1024) != 0) {
    std::fprintf(stderr, "ambit-probe serve: cannot listen on port %u: %s\n", port,
                 std::strerror(errno));
    return 2;
  }
  std::printf("listening on port %u\n", port);
  std::fflush(stdout);
  for (;;) {
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof(peer);
    int fd = ::accept4(listener.get(), reinterpret_cast<sockaddr*>(&peer), &peer_len, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) continue;
      std::fprintf(stderr, "ambit-probe serve: accept: %s\n", std::strerror(errno));
      return 2;
    }
    if (verbose) {
      auto from = SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&peer), peer_len);
      std::printf("connection from %s\n", from ? from->to_string().c_str() : "?");
      std::fflush(stdout);
    }
    std::thread([fd, echo, banner] {
      UniqueFd conn(fd);
      int nodelay = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof(nodelay));
      if (!banner.empty() && !send_all(fd, banner.data(), banner.size())) return;
      std::vector<char> buf(64 * 1024);
      for (;;) {
        ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (echo && !send_all(fd, buf.data(), static_cast<size_t>(n))) break;
      }
    }).detach();
  }
}

int connect_and_check(const SocketAddress& to, const std::string& message, bool expect_echo,
                      int timeout_ms, int count) {
  for (int i = 0; i < count; ++i) {
    UniqueFd fd = dial(to, timeout_ms);
    if (!fd.valid()) {
      std::fprintf(stderr, "ambit-probe connect: %s: %s\n", to.to_string().c_str(),
                   std::strerror(errno));
      return 2;
    }
    if (!send_all(fd.get(), message.data(), message.size())) {
      std::fprintf(stderr, "ambit-probe connect: send to %s: %s\n", to.to_string().c_str(),
                   std::strerror(errno));
      return 2;
    }
    ::shutdown(fd.get(), SHUT_WR);
    // The server echoes and closes after our FIN: read to EOF (bounded by SO_RCVTIMEO).
    std::string reply;
    char buf[16 * 1024];
    for (;;) {
      ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        std::fprintf(stderr, "ambit-probe connect: receive from %s: %s (got %zu bytes)\n",
                     to.to_string().c_str(), std::strerror(errno), reply.size());
        return 2;
      }
      if (n == 0) break;
      reply.append(buf, static_cast<size_t>(n));
    }
    std::fwrite(reply.data(), 1, reply.size(), stdout);
    std::fputc('\n', stdout);
    if (expect_echo && (reply.size() < message.size() ||
                        reply.compare(reply.size() - message.size(), message.size(), message))) {
      std::fprintf(stderr,
                   "ambit-probe connect: %s: reply does not end with the message "
                   "(sent %zu bytes, got %zu)\n",
                   to.to_string().c_str(), message.size(), reply.size());
      return 1;
    }
  }
  return 0;
}

double percentile_us(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t idx = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[idx];
}

int request_response(const SocketAddress& to, size_t size, int count, int connections,
                     int timeout_ms, int interval_ms) {
  std::string request(size, 'r');
  std::string reply(size, '\0');
  std::vector<double> samples;
  auto exchange = [&](int fd) {
    return send_all(fd, request.data(), size) && recv_exact(fd, reply.data(), size);
  };
  auto fail = [&](const char* what) {
    std::fprintf(stderr, "ambit-probe rr: %s %s: %s\n", what, to.to_string().c_str(),
                 std::strerror(errno));
    return 2;
  };
  if (connections > 0) {
    // Connection setup rate: each connection does one exchange and closes.
    auto start = Clock::now();
    for (int i = 0; i < connections; ++i) {
      auto t0 = Clock::now();
      UniqueFd fd = dial(to, timeout_ms);
      if (!fd.valid()) return fail("connect");
      if (!exchange(fd.get())) return fail("exchange with");
      samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    double p50 = percentile_us(samples, 0.50), p99 = percentile_us(samples, 0.99);
    std::printf(
        "{\"mode\":\"connections\",\"size\":%zu,\"connections\":%d,\"conns_per_s\":%.1f,"
        "\"p50_us\":%.1f,\"p99_us\":%.1f}\n",
        size, connections, connections / secs, p50, p99);
    return 0;
  }
  UniqueFd fd = dial(to, timeout_ms);
  if (!fd.valid()) return fail("connect");
  for (int i = 0; i < count; ++i) {
    if (interval_ms > 0 && i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
    auto t0 = Clock::now();
    if (!exchange(fd.get())) return fail("exchange with");
    samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  double mean = 0;
  for (double s : samples) mean += s;
  mean /= std::max<size_t>(1, samples.size());
  double p50 = percentile_us(samples, 0.50), p99 = percentile_us(samples, 0.99);
  std::printf(
      "{\"mode\":\"rr\",\"size\":%zu,\"count\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f,"
      "\"mean_us\":%.1f}\n",
      size, count, p50, p99, mean);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ambit-probe: TCP echo server and clients for e2e tests"};
  app.require_subcommand(1);

  uint16_t port = 0;
  bool echo = false, verbose = false;
  std::string banner;
  auto* serve_cmd = app.add_subcommand("serve", "TCP server (echo with --echo)");
  serve_cmd->add_option("--port", port, "port to listen on (all addresses)")->required();
  serve_cmd->add_flag("--echo", echo, "echo every byte back");
  serve_cmd->add_option("--banner", banner, "text sent first on every connection");
  serve_cmd->add_flag("--verbose", verbose, "print a line per connection");

  std::string target, message;
  bool expect_echo = false;
  int timeout_ms = 5000, count = 1, connections = 0;
  size_t size = 1024;
  auto* connect_cmd = app.add_subcommand("connect", "send a message, read the reply to EOF");
  connect_cmd->add_option("target", target, "HOST:PORT")->required();
  connect_cmd->add_option("--message", message, "text to send")->required();
  connect_cmd->add_flag("--expect-echo", expect_echo, "fail unless the reply ends with it");
  connect_cmd->add_option("--timeout-ms", timeout_ms, "connect/send/receive timeout");
  connect_cmd->add_option("--count", count, "connections to make, one after another");

  auto* rr_cmd = app.add_subcommand("rr", "request/response latency or connection rate");
  rr_cmd->add_option("target", target, "HOST:PORT")->required();
  rr_cmd->add_option("--size", size, "request and reply size in bytes");
  rr_cmd->add_option("--count", count, "round trips on one connection");
  rr_cmd->add_option("--connections", connections, "measure N new connections instead");
  rr_cmd->add_option("--timeout-ms", timeout_ms, "per-operation timeout");
  int interval_ms = 0;
  rr_cmd->add_option("--interval-ms", interval_ms,
                     "pause between round trips (a long-lived, mostly idle connection)");

  CLI11_PARSE(app, argc, argv);
  ::signal(SIGPIPE, SIG_IGN);

  if (*serve_cmd) return serve(port, echo, banner, verbose);
  auto to = SocketAddress::parse(target);
  if (!to) {
    std::fprintf(stderr, "ambit-probe: %s\n", to.error().message.c_str());
    return 2;
  }
  if (*connect_cmd) return connect_and_check(*to, message, expect_echo, timeout_ms, count);
  return request_response(*to, size, count, connections, timeout_ms, interval_ms);
}
