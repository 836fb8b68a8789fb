#include "core/http_endpoints.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ambit {
namespace {

using Clock = std::chrono::steady_clock;

std::string reason_of(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
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
  if (!fd.valid())
    return Error::format("{}: socket: {}", address.to_string(), std::strerror(errno));
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

struct HttpEndpoints::Connection {
  enum class State { kReading, kWriting, kDraining };
  UniqueFd fd;
  size_t listener = 0;
  Clock::time_point deadline;
  State state = State::kReading;
  std::string in;
  std::string out;
  size_t sent = 0;
  bool done = false;  // closed at the end of this round
};

Result<std::unique_ptr<HttpEndpoints>> HttpEndpoints::start(std::vector<Listener> listeners) {
  return start(std::move(listeners), Limits{});
}

Result<std::unique_ptr<HttpEndpoints>> HttpEndpoints::start(std::vector<Listener> listeners,
                                                            Limits limits) {
  std::unique_ptr<HttpEndpoints> self(new HttpEndpoints());
  self->limits_ = limits;
  for (auto& l : listeners) {
    auto fd = listen_tcp(l.address, 64);
    if (!fd) return Error::format("{} endpoint {}", l.name, fd.error().message);
    fcntl(fd->get(), F_SETFL, fcntl(fd->get(), F_GETFL) | O_NONBLOCK);
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
  while (true) {
    fds.clear();
    fds.push_back({stop_fd_.get(), POLLIN, 0});
    // At the cap, listeners are not polled: new connections wait in the backlog.
    const bool accepting = connections_.size() < limits_.max_connections;
    for (auto& fd : fds_) fds.push_back({fd.get(), static_cast<short>(accepting ? POLLIN : 0), 0});
    auto now = Clock::now();
    auto next_deadline = now + std::chrono::hours(1);
    for (auto& c : connections_) {
      short events = c->state == Connection::State::kWriting ? POLLOUT : POLLIN;
      fds.push_back({c->fd.get(), events, 0});
      next_deadline = std::min(next_deadline, c->deadline);
    }
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_deadline - now).count();
    if (::poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(0, wait))) < 0 &&
        errno != EINTR) {
      return;
    }
    if (fds[0].revents) return;
    // Connections first: those accepted below were not polled this round.
    now = Clock::now();
    size_t first_connection = 1 + fds_.size();
    for (size_t i = 0; i < connections_.size(); ++i) {
      Connection& c = *connections_[i];
      short revents = fds[first_connection + i].revents;
      if (revents & (POLLERR | POLLNVAL)) {
        c.done = true;
      } else if (c.state == Connection::State::kWriting && (revents & POLLOUT)) {
        on_writable(c);
      } else if (revents & (POLLIN | POLLHUP)) {
        on_readable(c);
      }
      if (now >= c.deadline) c.done = true;
    }
    std::erase_if(connections_, [](const auto& c) { return c->done; });
    for (size_t i = 0; i < fds_.size(); ++i) {
      if (fds[1 + i].revents & POLLIN) accept_from(i);
    }
  }
}

void HttpEndpoints::accept_from(size_t listener) {
  while (connections_.size() < limits_.max_connections) {
    UniqueFd fd(::accept4(fds_[listener].get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd.valid()) return;  // EAGAIN, or an aborted connection: the next round retries
    auto c = std::make_unique<Connection>();
    c->fd = std::move(fd);
    c->listener = listener;
    c->deadline = Clock::now() + limits_.deadline;
    connections_.push_back(std::move(c));
  }
}

void HttpEndpoints::on_readable(Connection& c) {
  char buf[2048];
  ssize_t n = ::recv(c.fd.get(), buf, sizeof(buf), 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    c.done = true;
    return;
  }
  // Draining: the response is out; reading what the client still sends avoids answering it
  // with a reset that could destroy the response before the client reads it.
  if (c.state == Connection::State::kDraining) return;
  c.in.append(buf, static_cast<size_t>(n));
  auto end = c.in.find("\r\n\r\n");
  if (end == std::string::npos && c.in.size() <= limits_.max_request_bytes) return;
  Response response = end == std::string::npos || end + 4 > limits_.max_request_bytes
                          ? Response{431, "text/plain", "request too large\n"}
                          : respond_to(c.in, listeners_[c.listener]);
  c.out = http_response(response);
  c.in.clear();
  c.state = Connection::State::kWriting;
  on_writable(c);
}

void HttpEndpoints::on_writable(Connection& c) {
  while (c.sent < c.out.size()) {
    ssize_t n = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      c.done = true;
      return;
    }
    c.sent += static_cast<size_t>(n);
  }
  ::shutdown(c.fd.get(), SHUT_WR);
  c.state = Connection::State::kDraining;
}

HttpEndpoints::Response HttpEndpoints::respond_to(const std::string& request,
                                                  const Listener& listener) const {
  std::string line = request.substr(0, request.find("\r\n"));
  auto sp1 = line.find(' ');
  auto sp2 = line.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) {
    return {400, "text/plain", "bad request line\n"};
  }
  if (line.substr(0, sp1) != "GET") return {405, "text/plain", "GET only\n"};
  std::string path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  path = path.substr(0, path.find('?'));
  auto route = listener.routes.find(path);
  return route == listener.routes.end()
             ? Response{404, "text/plain", "no such endpoint: " + path + "\n"}
             : route->second();
}

}  // namespace ambit
