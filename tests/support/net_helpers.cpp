#include "tests/support/net_helpers.h"

#include "core/tcp_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <map>
#include <stdexcept>
#include <vector>

namespace ambit::testing {

UniqueFd connect_to(const SocketAddress& to, int timeout_ms) {
  UniqueFd fd(::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_storage ss;
  socklen_t len = to.to_sockaddr(&ss);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    int e = errno;
    fd.reset();
    errno = e;
  }
  return fd;
}

bool send_all(int fd, const void* data, size_t len) {
  auto* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = ::send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

ssize_t recv_some(int fd, void* buf, size_t len) {
  while (true) {
    ssize_t n = ::recv(fd, buf, len, 0);
    if (n >= 0 || errno != EINTR) return n;
  }
}

std::string read_all(int fd, size_t max, int* err) {
  std::string out;
  char buf[65536];
  while (out.size() < max) {
    ssize_t n = recv_some(fd, buf, std::min(sizeof(buf), max - out.size()));
    if (n == 0) {
      if (err) *err = 0;
      return out;
    }
    if (n < 0) {
      if (err) *err = -errno;
      return out;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  if (err) *err = 0;
  return out;
}

uint16_t unused_port(const std::string& ip) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  socklen_t len = sizeof(a);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), len) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    return 0;
  }
  return ntohs(a.sin_port);
}

void reset_connection(UniqueFd& fd) { reset_and_close(std::move(fd)); }

EchoServer::EchoServer(const std::string& ip, Mode mode) : mode_(mode) {
  auto addr = SocketAddress(*IpAddress::parse(ip), 0);
  listen_fd_.reset(::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  int one = 1;
  setsockopt(listen_fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_storage ss;
  socklen_t len = addr.to_sockaddr(&ss);
  if (::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      ::listen(listen_fd_.get(), 4096) != 0) {
    throw std::runtime_error("echo server: cannot listen on " + ip);
  }
  address_ = *SocketAddress::local_of(listen_fd_.get());
  stop_fd_.reset(eventfd(0, EFD_CLOEXEC));
  thread_ = std::thread([this] { run(); });
}

EchoServer::~EchoServer() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(stop_fd_.get(), &one, sizeof(one));
  thread_.join();
}

void EchoServer::run() {
  UniqueFd ep(epoll_create1(EPOLL_CLOEXEC));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listen_fd_.get();
  epoll_ctl(ep.get(), EPOLL_CTL_ADD, listen_fd_.get(), &ev);
  ev.data.fd = stop_fd_.get();
  epoll_ctl(ep.get(), EPOLL_CTL_ADD, stop_fd_.get(), &ev);
  struct Conn {
    UniqueFd fd;
    std::string out;
    size_t received = 0;
    bool eof = false;
  };
  std::map<int, Conn> conns;
  std::vector<char> buf(256 * 1024);
  auto update = [&](Conn& c) {
    epoll_event e{};
    e.events = (c.eof ? 0u : uint32_t{EPOLLIN}) | (c.out.empty() ? 0u : uint32_t{EPOLLOUT});
    e.data.fd = c.fd.get();
    epoll_ctl(ep.get(), EPOLL_CTL_MOD, c.fd.get(), &e);
  };
  while (true) {
    epoll_event events[64];
    int n = epoll_wait(ep.get(), events, 64, 1000);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == stop_fd_.get()) return;
      if (fd == listen_fd_.get()) {
        while (true) {
          int c = accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) break;
          accepted_++;
          epoll_event e{};
          e.events = EPOLLIN;
          e.data.fd = c;
          epoll_ctl(ep.get(), EPOLL_CTL_ADD, c, &e);
          conns[c].fd.reset(c);
        }
        continue;
      }
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      Conn& c = it->second;
      bool drop = false;
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        while (!c.eof && c.out.size() < 4 * 1024 * 1024) {
          ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
          if (r > 0) {
            c.received += static_cast<size_t>(r);
            if (mode_ == Mode::kEcho) c.out.append(buf.data(), static_cast<size_t>(r));
            if (mode_ == Mode::kReset) {
              reset_connection(c.fd);
              drop = true;
              break;
            }
          } else if (r == 0) {
            c.eof = true;
            if (mode_ == Mode::kReplyAfterEof) c.out = "bye:" + std::to_string(c.received);
          } else {
            if (errno != EAGAIN) {
              if (errno == ECONNRESET) resets_++;
              drop = true;
            }
            break;
          }
        }
      }
      while (!drop && !c.out.empty()) {
        ssize_t w = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (w > 0) {
          c.out.erase(0, static_cast<size_t>(w));
        } else {
          if (errno != EAGAIN) drop = true;
          break;
        }
      }
      if (!drop && c.eof && c.out.empty()) drop = true;
      if (drop) {
        conns.erase(it);
      } else {
        update(c);
      }
    }
  }
}

}  // namespace ambit::testing
