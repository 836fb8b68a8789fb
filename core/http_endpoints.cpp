#include "core/http_endpoints.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ambit {
namespace {

std::string reason_of(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

std::string http_response(const HttpEndpoints::Response& r) {
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
      r.status, reason_of(r.status), r.content_type, r.body.size(), r.body);
}

}  // namespace

Result<UniqueFd> listen_tcp(const SocketAddress& address, int backlog) {
  UniqueFd fd(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Error::format("{}: socket: {}", address.to_string(), std::strerror(errno));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_storage ss;
  socklen_t len = address.to_sockaddr(&ss);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      ::listen(fd.get(), backlog) != 0) {
    return Error::format("{}: {}", address.to_string(), std::strerror(errno));
  }
  return fd;
}

Result<std::unique_ptr<HttpEndpoints>> HttpEndpoints::start(std::vector<Listener> listeners) {
  std::unique_ptr<HttpEndpoints> self(new HttpEndpoints());
  for (auto& l : listeners) {
    auto fd = listen_tcp(l.address, 64);
    if (!fd) return Error::format("{} endpoint {}", l.name, fd.error().message);
    self->addresses_.push_back(*SocketAddress::local_of(fd->get()));
    self->fds_.push_back(std::move(*fd));
  }
  self->listeners_ = std::move(listeners);
  self->stop_fd_.reset(eventfd(0, EFD_CLOEXEC));
  self->thread_ = std::thread([raw = self.get()] { raw->run(); });
  return self;
}

HttpEndpoints::~HttpEndpoints() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(stop_fd_.get(), &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

void HttpEndpoints::run() {
  std::vector<pollfd> fds;
  for (auto& fd : fds_) fds.push_back({fd.get(), POLLIN, 0});
  fds.push_back({stop_fd_.get(), POLLIN, 0});
  while (true) {
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return;
    if (fds.back().revents) return;
    for (size_t i = 0; i + 1 < fds.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      UniqueFd conn(::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC));
      if (conn.valid()) serve(conn.get(), listeners_[i]);
    }
  }
}

void HttpEndpoints::serve(int fd, const Listener& listener) {
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
  std::string line = request.substr(0, request.find("\r\n"));
  auto sp1 = line.find(' ');
  auto sp2 = line.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
  Response response;
  if (sp1 == std::string::npos || sp2 == std::string::npos) {
    response = {400, "text/plain", "bad request line\n"};
  } else if (line.substr(0, sp1) != "GET") {
    response = {405, "text/plain", "GET only\n"};
  } else {
    std::string path = line.substr(sp1 + 1, sp2 - sp1 - 1);
    path = path.substr(0, path.find('?'));
    auto route = listener.routes.find(path);
    response = route == listener.routes.end()
                   ? Response{404, "text/plain", "no such endpoint: " + path + "\n"}
                   : route->second();
  }
  std::string text = http_response(response);
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::send(fd, text.data() + off, text.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

}  // namespace ambit
