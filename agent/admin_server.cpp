#include "agent/admin_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include <cstring>

namespace ambit::agent {
namespace {

Result<UniqueFd> listen_on(const SocketAddress& address) {
  UniqueFd fd(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Error::format("socket: {}", std::strerror(errno));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_storage ss;
  socklen_t len = address.to_sockaddr(&ss);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd.get(), 64) != 0) {
    return Error::format("{}: {}", address.to_string(), std::strerror(errno));
  }
  return fd;
}

std::string http_response(int status, const char* reason, const char* type,
                          const std::string& body) {
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
      status, reason, type, body.size(), body);
}

}  // namespace

Result<std::unique_ptr<AdminServer>> AdminServer::start(const Endpoints& endpoints,
                                                        Content content) {
  std::unique_ptr<AdminServer> self(new AdminServer());
  self->content_ = std::move(content);
  auto add = [&](const std::optional<SocketAddress>& address, Kind kind,
                 const char* what) -> Status {
    if (!address) return {};
    auto fd = listen_on(*address);
    if (!fd) return Error::format("{} endpoint {}", what, fd.error().message);
    self->addresses_.push_back(*SocketAddress::local_of(fd->get()));
    self->listeners_.emplace_back(std::move(*fd), kind);
    return {};
  };
  if (auto ok = add(endpoints.admin, Kind::kAdmin, "admin"); !ok) return ok.error();
  if (auto ok = add(endpoints.metrics, Kind::kMetrics, "metrics"); !ok) return ok.error();
  if (auto ok = add(endpoints.readiness, Kind::kReadiness, "readiness"); !ok) return ok.error();
  self->stop_fd_.reset(eventfd(0, EFD_CLOEXEC));
  self->thread_ = std::thread([raw = self.get()] { raw->run(); });
  return self;
}

AdminServer::~AdminServer() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(stop_fd_.get(), &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

void AdminServer::run() {
  std::vector<pollfd> fds;
  for (auto& [fd, kind] : listeners_) fds.push_back({fd.get(), POLLIN, 0});
  fds.push_back({stop_fd_.get(), POLLIN, 0});
  while (true) {
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return;
    if (fds.back().revents) return;
    for (size_t i = 0; i + 1 < fds.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      UniqueFd conn(::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC));
      if (conn.valid()) serve(conn.get(), listeners_[i].second);
    }
  }
}

// One request per connection, read with a 2 s timeout and an 8 KiB bound: enough for curl and
// Prometheus, and a slow client cannot hold the thread long.
void AdminServer::serve(int fd, Kind kind) {
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  std::string request;
  char buf[2048];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 8192) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    request.append(buf, static_cast<size_t>(n));
  }
  auto line_end = request.find("\r\n");
  std::string line = request.substr(0, line_end);
  auto sp1 = line.find(' ');
  auto sp2 = line.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
  std::string response;
  if (sp1 == std::string::npos || sp2 == std::string::npos) {
    response = http_response(400, "Bad Request", "text/plain", "bad request line\n");
  } else {
    std::string path = line.substr(sp1 + 1, sp2 - sp1 - 1);
    path = path.substr(0, path.find('?'));
    response = respond(kind, line.substr(0, sp1), path);
  }
  size_t off = 0;
  while (off < response.size()) {
    ssize_t n = ::send(fd, response.data() + off, response.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

std::string AdminServer::respond(Kind kind, const std::string& method, const std::string& path) {
  if (method != "GET") return http_response(405, "Method Not Allowed", "text/plain", "GET only\n");
  bool admin = kind == Kind::kAdmin;
  if (path == "/healthz/ready" && (admin || kind == Kind::kReadiness)) {
    return content_.ready() ? http_response(200, "OK", "text/plain", "ready\n")
                            : http_response(503, "Service Unavailable", "text/plain", "not ready\n");
  }
  if ((path == "/metrics" || path == "/stats/prometheus") && (admin || kind == Kind::kMetrics)) {
    return http_response(200, "OK", "text/plain; version=0.0.4", content_.metrics());
  }
  if (path == "/config_dump" && admin) {
    return http_response(200, "OK", "application/json", content_.config_dump());
  }
  return http_response(404, "Not Found", "text/plain", "no such endpoint: " + path + "\n");
}

}  // namespace ambit::agent
