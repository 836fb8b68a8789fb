// HTTP/2 peers for the waypoint's tests, built on the waypoint's own Http2Codec (the e2e tests
// use real clients and servers: nghttp, h2load, curl, grpcio):
//   H2Backend     an h2c server on a loopback address, a thread per connection, answering each
//                 request with its name and what it received, and gRPC-style trailers
//                 (grpc-status: 0) when the request said `te: trailers`;
//   H2TestClient  a client session whose bytes the test moves over an HBONE stream.
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/unique_fd.h"
#include "tests/support/net_helpers.h"
#include "tests/waypoint/loopback_server.h"
#include "waypoint/http2_codec.h"
#include "ztunnel/hbone_connection.h"

namespace ambit::waypoint::testing {

inline std::string header_of(const std::vector<Header>& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (h.name == name) return h.value;
  }
  return "";
}

class H2Backend {
 public:
  struct Seen {
    HttpRequest request;
    std::string body;
    std::vector<Header> trailers;
  };

  H2Backend(const char* ip, uint16_t port, std::string name)
      : name_(std::move(name)),
        server_(ip, port, [this](UniqueFd c, const std::atomic<bool>& stop) {
          Connection(*this).serve(std::move(c), stop);
        }) {}
  bool bound() const { return server_.bound(); }
  const SocketAddress& address() const { return server_.address(); }
  std::vector<Seen> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  class Connection final : public Http2Codec::Handler {
   public:
    explicit Connection(H2Backend& backend)
        : backend_(backend), codec_(Http2Codec::Role::kServer, *this) {}
    void serve(UniqueFd c, const std::atomic<bool>& stop) {
      std::string out;
      char buf[16384];
      while (!stop) {
        out.clear();
        codec_.take_output(out);
        if (!out.empty() && !ambit::testing::send_all(c.get(), out.data(), out.size())) return;
        if (codec_.done()) return;
        pollfd p{c.get(), POLLIN, 0};
        if (poll(&p, 1, 20) <= 0) continue;
        ssize_t n = recv(c.get(), buf, sizeof(buf), 0);
        if (n <= 0) return;
        if (!codec_.feed({reinterpret_cast<uint8_t*>(buf), static_cast<size_t>(n)}, nullptr)) {
          out.clear();
          codec_.take_output(out);
          ambit::testing::send_all(c.get(), out.data(), out.size());
          return;
        }
      }
    }

   private:
    void on_request(int32_t id, HttpRequest request, bool) override {
      streams_[id].request = std::move(request);
    }
    void on_response(int32_t, int, std::vector<Header>, bool) override {}
    void on_trailers(int32_t id, std::vector<Header> t) override { streams_[id].trailers = t; }
    void on_data(int32_t id, std::span<const uint8_t> d) override {
      streams_[id].body.append(reinterpret_cast<const char*>(d.data()), d.size());
      codec_.consume(id, d.size());
    }
    void on_end(int32_t id) override {
      Seen s = streams_[id];
      {
        std::lock_guard lock(backend_.mu_);
        backend_.seen_.push_back(s);
      }
      std::string answer =
          backend_.name_ + "\n" + s.request.method + " " + s.request.path + "\n" + s.body;
      std::string type = header_of(s.request.headers, "content-type");
      std::vector<Header> headers = {{"x-served-by", backend_.name_},
                                     {"content-type", type.empty() ? "text/plain" : type}};
      bool grpc = header_of(s.request.headers, "te") == "trailers";
      if (!grpc) headers.push_back({"content-length", std::to_string(answer.size())});
      codec_.submit_response(id, 200, headers, false);
      codec_.submit_data(id, answer);
      std::vector<Header> trailers;
      if (grpc) trailers = {{"grpc-status", "0"}, {"grpc-message", "served"}};
      codec_.submit_end(id, trailers);
    }
    void on_closed(int32_t id, uint32_t) override { streams_.erase(id); }
    void on_drained(int32_t) override {}
    void on_malformed(int32_t, std::string_view) override {}

    H2Backend& backend_;
    Http2Codec codec_;
    std::map<int32_t, Seen> streams_;
  };

  std::string name_;
  mutable std::mutex mu_;
  std::vector<Seen> seen_;
  LoopbackServer server_;  // last: it serves with the members above
};

class H2TestClient final : public Http2Codec::Handler {
 public:
  struct Reply {
    int status = 0;
    std::vector<Header> headers, trailers;
    std::string body;
    bool ended = false;
    bool closed = false;
    uint32_t reset = 0;  // the stream's error code when it closed
    std::string header(std::string_view name) const { return header_of(headers, name); }
    std::string trailer(std::string_view name) const { return header_of(trailers, name); }
    std::string served_by() const { return body.substr(0, body.find('\n')); }
  };

  H2TestClient() : codec_(Http2Codec::Role::kClient, *this) {}

  static HttpRequest get(std::string path, std::vector<Header> headers = {}) {
    HttpRequest r;
    r.method = "GET";
    r.authority = "shop";
    r.path = std::move(path);
    r.headers = std::move(headers);
    return r;
  }
  // Submits a request (a body and trailers when given); its stream id.
  int32_t request(const HttpRequest& r, std::string body = "", std::vector<Header> trailers = {}) {
    bool end = body.empty() && trailers.empty();
    int32_t id = codec_.submit_request(r, end);
    if (id > 0 && !end) {
      codec_.submit_data(id, body);
      codec_.submit_end(id, std::move(trailers));
    }
    replies[id];
    return id;
  }
  // Moves bytes: what arrived on the stream (`data`, all of it so far) into the session, what
  // the session has to send into the stream.
  void pump(ztunnel::HboneConnection& conn, ztunnel::HboneConnection::Stream* stream,
            const std::string& data) {
    if (fed_ < data.size()) {
      if (!codec_.feed({reinterpret_cast<const uint8_t*>(data.data()) + fed_, data.size() - fed_},
                       &error)) {
        broken = true;
      }
      fed_ = data.size();
    }
    std::string out;
    codec_.take_output(out);
    if (!out.empty()) conn.send(stream, {reinterpret_cast<const uint8_t*>(out.data()), out.size()});
  }
  bool all_closed() const {
    for (const auto& [id, r] : replies) {
      if (!r.closed) return false;
    }
    return true;
  }

  std::map<int32_t, Reply> replies;
  bool broken = false;
  std::string error;

 private:
  void on_request(int32_t, HttpRequest, bool) override {}
  void on_response(int32_t id, int status, std::vector<Header> headers, bool) override {
    if (status >= 200) {
      replies[id].status = status;
      replies[id].headers = std::move(headers);
    }
  }
  void on_trailers(int32_t id, std::vector<Header> t) override { replies[id].trailers = t; }
  void on_data(int32_t id, std::span<const uint8_t> d) override {
    replies[id].body.append(reinterpret_cast<const char*>(d.data()), d.size());
    codec_.consume(id, d.size());
  }
  void on_end(int32_t id) override { replies[id].ended = true; }
  void on_closed(int32_t id, uint32_t code) override {
    replies[id].closed = true;
    replies[id].reset = code;
  }
  void on_drained(int32_t) override {}
  void on_malformed(int32_t, std::string_view) override {}

  Http2Codec codec_;
  size_t fed_ = 0;
};

}  // namespace ambit::waypoint::testing
