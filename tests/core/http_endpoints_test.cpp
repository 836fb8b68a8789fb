#include "core/http_endpoints.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <string>

#include "tests/support/net_helpers.h"

namespace ambit {
namespace {

using namespace std::chrono_literals;

class HttpEndpointsTest : public ::testing::Test {
 protected:
  void start(HttpEndpoints::Limits limits) {
    auto server =
        HttpEndpoints::start({{"test",
                               *SocketAddress::parse("127.0.0.1:0"),
                               {{"/healthz/ready",
                                 [] {
                                   return HttpEndpoints::Response{200, "text/plain", "ready\n"};
                                 }}}}},
                             limits);
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(*server);
  }
  const SocketAddress& address() { return server_->addresses().front(); }
  // One request; the answer must come within timeout_ms or the result is what arrived by then.
  std::string get(const std::string& request, int timeout_ms) {
    auto fd = testing::connect_to(address(), timeout_ms);
    if (!fd.valid()) return "connect failed";
    testing::send_all(fd.get(), request.data(), request.size());
    return testing::read_all(fd.get(), 1 << 20);
  }

  std::unique_ptr<HttpEndpoints> server_;
};

constexpr const char* kReady = "GET /healthz/ready HTTP/1.1\r\nHost: x\r\n\r\n";

TEST_F(HttpEndpointsTest, ASilentClientDoesNotDelayAReadinessProbe) {
  start({.deadline = 30s});
  // Accepted first (the listen queue is FIFO), then holds its connection sending nothing more.
  auto silent = testing::connect_to(address());
  ASSERT_TRUE(silent.valid());
  ASSERT_TRUE(testing::send_all(silent.get(), "GET /healthz", 12));
  auto r = get(kReady, 1000);
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
}

TEST_F(HttpEndpointsTest, ATricklingClientIsCutAtTheDeadline) {
  start({.deadline = 300ms});
  auto slow = testing::connect_to(address(), 10'000);
  ASSERT_TRUE(slow.valid());
  auto began = std::chrono::steady_clock::now();
  // A byte at a time never completes the request; the server must end it, not the 10 s timeout.
  int err = 1;
  std::string got;
  for (int i = 0; i < 10'000 && err != 0; ++i) {
    if (!testing::send_all(slow.get(), "x", 1)) break;
    pollfd p{slow.get(), POLLIN, 0};
    if (::poll(&p, 1, 5) == 1) got = testing::read_all(slow.get(), 1 << 16, &err);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - began, 5s);
  EXPECT_EQ(got, "");
}

TEST_F(HttpEndpointsTest, ARequestOverTheSizeBoundIsRefused) {
  start({.max_request_bytes = 1024});
  std::string big =
      "GET /healthz/ready HTTP/1.1\r\nX-Padding: " + std::string(2000, 'p') + "\r\n\r\n";
  auto r = get(big, 5000);
  EXPECT_EQ(r.rfind("HTTP/1.1 431 ", 0), 0u) << r.substr(0, 100);
  // Within the bound the same request is served.
  EXPECT_EQ(get(kReady, 5000).rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
}

TEST_F(HttpEndpointsTest, ConnectionsOverTheCapWaitTheirTurn) {
  start({.deadline = 30s, .max_connections = 1});
  auto holder = testing::connect_to(address());
  ASSERT_TRUE(holder.valid());
  ASSERT_TRUE(testing::send_all(holder.get(), "GET ", 4));
  // The only slot is taken: the probe waits (here it gives up after 300 ms)...
  EXPECT_EQ(get(kReady, 300), "");
  // ...and is served once the holder finishes.
  std::string rest = "/healthz/ready HTTP/1.1\r\n\r\n";
  ASSERT_TRUE(testing::send_all(holder.get(), rest.data(), rest.size()));
  EXPECT_EQ(testing::read_all(holder.get(), 1 << 16).rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  holder.reset();
  EXPECT_EQ(get(kReady, 5000).rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
}

}  // namespace
}  // namespace ambit
