#include "controller/monitor_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace ambit::controller {
namespace {

std::string http(int status, const char* reason, const char* type, const std::string& body) {
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
      status, reason, type, body.size(), body);
}

}  // namespace

Result<std::unique_ptr<MonitorServer>> MonitorServer::start(const SocketAddress& address,
                                                            Content content) {
  std::unique_ptr<MonitorServer> self(new MonitorServer());
  self->content_ = std::move(content);
  UniqueFd fd(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Error::format("socket: {}", std::strerror(errno));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_storage ss;
  socklen_t len = address.to_sockaddr(&ss);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd.get(), 64) != 0) {
    return Error::format("monitor endpoint {}: {}", address.to_string(), std::strerror(errno));
  }
  self->address_ = *SocketAddress::local_of(fd.get());
  self->listener_ = std::move(fd);
  self->stop_fd_.reset(eventfd(0, EFD_CLOEXEC));
  self->thread_ = std::thread([raw = self.get()] { raw->run(); });
  return self;
}

MonitorServer::~MonitorServer() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(stop_fd_.get(), &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

void MonitorServer::run() {
  pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
  while (true) {
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) continue;
    // One request per connection, 2 s and 8 KiB at most: a slow client cannot hold the thread.
    timeval tv{2, 0};
    setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(conn.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    std::string request;
    char buf[2048];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 8192) {
      ssize_t n = ::recv(conn.get(), buf, sizeof(buf), 0);
      if (n <= 0) break;
      request.append(buf, static_cast<size_t>(n));
    }
    std::string response = respond(request.substr(0, request.find("\r\n")));
    size_t off = 0;
    while (off < response.size()) {
      ssize_t n = ::send(conn.get(), response.data() + off, response.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
  }
}

std::string MonitorServer::respond(const std::string& line) {
  auto sp1 = line.find(' ');
  auto sp2 = line.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) {
    return http(400, "Bad Request", "text/plain", "bad request line\n");
  }
  if (line.substr(0, sp1) != "GET") return http(405, "Method Not Allowed", "text/plain", "GET only\n");
  std::string path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  path = path.substr(0, path.find('?'));
  if (path == "/metrics" || path == "/stats/prometheus") {
    return http(200, "OK", "text/plain; version=0.0.4", content_.metrics());
  }
  if (path == "/status") return http(200, "OK", "application/json", content_.status());
  if (path == "/healthz/ready") {
    return content_.ready() ? http(200, "OK", "text/plain", "ready\n")
                            : http(503, "Service Unavailable", "text/plain", "not ready\n");
  }
  return http(404, "Not Found", "text/plain", "no such endpoint: " + path + "\n");
}

}  // namespace ambit::controller
