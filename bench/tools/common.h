// Small helpers shared by the benchmark load tools (plain POSIX sockets, no project libraries).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace bench {

// Parses "a.b.c.d:port" into an IPv4 socket address.
inline std::optional<sockaddr_in> parse_endpoint(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string host(text.substr(0, colon));
  std::string port(text.substr(colon + 1));
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p <= 0 || p > 65535) return std::nullopt;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(p));
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) return std::nullopt;
  return sa;
}

inline double now_seconds() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

// Sets send/receive timeouts; on Linux the send timeout also bounds a blocking connect().
inline void set_timeouts(int fd, int timeout_ms) {
  timeval tv{};
  tv.tv_sec = timeout_ms / 1000;
  tv.tv_usec = (timeout_ms % 1000) * 1000;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

inline void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

inline bool write_all(int fd, const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

inline bool read_exact(int fd, char* data, size_t len) {
  while (len > 0) {
    ssize_t n = recv(fd, data, len, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) errno = ECONNRESET;  // closed by the peer before the whole reply arrived
    if (n <= 0) return false;
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// Opens a blocking TCP connection with timeouts; returns -1 (errno set) on failure.
inline int connect_to(const sockaddr_in& to, int timeout_ms) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  set_timeouts(fd, timeout_ms);
  set_nodelay(fd);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

// A minimal "--name value" command line: every option takes exactly one value.
class Args {
 public:
  Args(int argc, char** argv, std::string usage) : usage_(std::move(usage)) {
    for (int i = 1; i < argc; ++i) {
      std::string_view a = argv[i];
      if (a == "-h" || a == "--help") {
        std::fprintf(stdout, "%s\n", usage_.c_str());
        std::exit(0);
      }
      if (a.substr(0, 2) != "--" || i + 1 >= argc) fail("bad argument: " + std::string(a));
      values_[std::string(a.substr(2))] = argv[++i];
    }
  }

  std::string str(const std::string& name, std::optional<std::string> fallback = std::nullopt) {
    used_[name] = true;
    auto it = values_.find(name);
    if (it != values_.end()) return it->second;
    if (!fallback) fail("missing --" + name);
    return *fallback;
  }

  long num(const std::string& name, std::optional<long> fallback = std::nullopt) {
    used_[name] = true;
    auto it = values_.find(name);
    if (it == values_.end()) {
      if (!fallback) fail("missing --" + name);
      return *fallback;
    }
    char* end = nullptr;
    long v = std::strtol(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0' || v < 0) fail("--" + name + " needs a non-negative integer");
    return v;
  }

  sockaddr_in endpoint(const std::string& name) {
    std::string text = str(name);
    auto sa = parse_endpoint(text);
    if (!sa) fail("--" + name + " needs ipv4:port, got " + text);
    return *sa;
  }

  // Call after reading every option: rejects options nobody asked for.
  void done() {
    for (const auto& [k, v] : values_) {
      if (!used_.count(k)) fail("unknown option --" + k);
    }
  }

  [[noreturn]] void fail(const std::string& why) {
    std::fprintf(stderr, "error: %s\n%s\n", why.c_str(), usage_.c_str());
    std::exit(2);
  }

 private:
  std::string usage_;
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> used_;
};

}  // namespace bench
