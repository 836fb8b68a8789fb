// Blocking socket helpers and a small epoll echo server for tests. Every call is bounded by
// socket timeouts so a broken data path fails the test instead of hanging it.
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include "core/net_address.h"
#include "core/unique_fd.h"

namespace ambit::testing {

// Connects with send/receive timeouts set; returns an invalid fd and errno on failure.
UniqueFd connect_to(const SocketAddress& to, int timeout_ms = 10'000);
bool send_all(int fd, const void* data, size_t len);
// recv() that retries EINTR: a thread that once drove an io_uring can see stray task-work
// interruptions, which a socket with SO_RCVTIMEO reports as EINTR.
ssize_t recv_some(int fd, void* buf, size_t len);
// Reads until EOF, error or max bytes; returns what was read. err receives 0 on EOF or -errno.
std::string read_all(int fd, size_t max, int* err = nullptr);
void reset_connection(UniqueFd& fd);  // closes with RST
// A TCP port on `ip` that nothing listens on (bound once, then let go): connections are refused.
uint16_t unused_port(const std::string& ip);

class EchoServer {
 public:
  enum class Mode {
    kEcho,             // echo everything; close after the peer's FIN
    kReplyAfterEof,    // read to EOF, then send "bye:<n bytes>" and close
    kReset,            // accept, read a little, then reset
  };
  EchoServer(const std::string& ip, Mode mode = Mode::kEcho);
  ~EchoServer();
  const SocketAddress& address() const { return address_; }
  uint64_t accepted() const { return accepted_.load(); }
  // Errors seen on accepted connections (e.g. ECONNRESET from a peer's reset).
  uint64_t resets_seen() const { return resets_.load(); }

 private:
  void run();
  Mode mode_;
  UniqueFd listen_fd_;
  UniqueFd stop_fd_;
  SocketAddress address_;
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> resets_{0};
  std::thread thread_;
};

}  // namespace ambit::testing
