// ambit-bench-echo: a TCP echo server for request/response benchmarks.
//
// Every byte received on a connection is sent back on it. One epoll loop per thread, level-triggered;
// with --threads > 1 each thread has its own SO_REUSEPORT listener. When the peer does not read its
// replies, the connection stops reading until its backlog is flushed (no unbounded buffering).
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>

#include <memory>
#include <thread>
#include <vector>

#include "common.h"

namespace {

constexpr size_t kReadChunk = 64 * 1024;

struct Conn {
  int fd = -1;
  std::string pending;  // bytes read but not yet echoed
};

int open_listener(const sockaddr_in& addr, bool reuseport) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 4096) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void close_conn(int ep, Conn* c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
  close(c->fd);
  delete c;
}

void watch(int ep, Conn* c, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = c;
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

// Sends what is pending; returns false when the connection is broken.
bool flush(Conn* c) {
  while (!c->pending.empty()) {
    ssize_t n = send(c->fd, c->pending.data(), c->pending.size(), MSG_NOSIGNAL);
    if (n > 0) {
      c->pending.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
  return true;
}

void on_readable(int ep, Conn* c, char* buf) {
  for (int i = 0; i < 16; ++i) {  // bounded per wake-up so one connection cannot starve the others
    ssize_t n = recv(c->fd, buf, kReadChunk, 0);
    if (n == 0) return close_conn(ep, c);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      return close_conn(ep, c);
    }
    c->pending.assign(buf, static_cast<size_t>(n));
    if (!flush(c)) return close_conn(ep, c);
    if (!c->pending.empty()) return watch(ep, c, EPOLLOUT);  // wait for the peer to read
    if (static_cast<size_t>(n) < kReadChunk) return;
  }
}

void serve(int listen_fd) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    perror("epoll_create1");
    std::exit(1);
  }
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.ptr = nullptr;  // nullptr marks the listener
  epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &lev);

  std::vector<char> buf(kReadChunk);
  std::vector<epoll_event> events(512);
  for (;;) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_wait");
      std::exit(1);
    }
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<Conn*>(events[i].data.ptr);
      if (c == nullptr) {
        for (int k = 0; k < 256; ++k) {
          int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;  // EAGAIN, or a transient error such as EMFILE: try again on the next wake-up
          bench::set_nodelay(fd);
          auto* conn = new Conn{fd, {}};
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.ptr = conn;
          if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            delete conn;
          }
        }
        continue;
      }
      if (events[i].events & EPOLLOUT) {
        if (!flush(c)) {
          close_conn(ep, c);
        } else if (c->pending.empty()) {
          watch(ep, c, EPOLLIN);
        }
      } else if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        on_readable(ep, c, buf.data());
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv,
                   "usage: ambit-bench-echo --listen IP:PORT [--threads N]\n"
                   "  TCP echo server (epoll). Prints 'listening IP:PORT' when ready; stop it with SIGTERM.");
  sockaddr_in addr = args.endpoint("listen");
  long threads = args.num("threads", 1);
  args.done();
  if (threads < 1 || threads > 64) args.fail("--threads must be 1..64");

  signal(SIGPIPE, SIG_IGN);
  std::vector<int> listeners;
  for (long i = 0; i < threads; ++i) {
    int fd = open_listener(addr, threads > 1);
    if (fd < 0) {
      perror("listen");
      return 1;
    }
    listeners.push_back(fd);
  }
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &addr.sin_addr, text, sizeof text);
  std::printf("listening %s:%u\n", text, ntohs(addr.sin_port));
  std::fflush(stdout);

  std::vector<std::thread> workers;
  for (size_t i = 1; i < listeners.size(); ++i) workers.emplace_back(serve, listeners[i]);
  serve(listeners[0]);
}
