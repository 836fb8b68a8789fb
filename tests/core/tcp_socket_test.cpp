// The io_uring socket layer against real loopback sockets.
#include "core/tcp_socket.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace ambit {
namespace {

// Echoes everything back and half-closes when the peer does.
struct EchoConn : TcpSocket::Handler {
  EchoConn(EventLoop& loop, UniqueFd fd) : socket(loop, std::move(fd), this) {}
  void on_data(TcpSocket& s, std::span<const uint8_t> d) override {
    s.write(d);
    if (s.above_high_water()) s.pause_reading();
  }
  void on_writable(TcpSocket& s) override { s.start_reading(); }
  void on_read_closed(TcpSocket& s, int err) override { s.close(); }
  void on_released(TcpSocket&) override { released = true; }
  TcpSocket socket;
  bool released = false;
};

struct Client : TcpSocket::Handler {
  Client(EventLoop& loop, UniqueFd fd, std::vector<uint8_t> payload)
      : socket(loop, std::move(fd), this), payload(std::move(payload)) {}
  void on_connected(TcpSocket& s, int err) override {
    connect_error = err;
    if (err != 0) return s.close();
    s.start_reading();
    s.write(payload);
    s.shutdown_write();
  }
  void on_data(TcpSocket&, std::span<const uint8_t> d) override {
    received.insert(received.end(), d.begin(), d.end());
  }
  void on_read_closed(TcpSocket& s, int err) override {
    read_error = err;
    eof = true;
    s.close();
  }
  void on_released(TcpSocket&) override { done = true; }
  TcpSocket socket;
  std::vector<uint8_t> payload;
  std::vector<uint8_t> received;
  int connect_error = 1;
  int read_error = 1;
  bool eof = false;
  bool done = false;
};

TEST(TcpSocket, EchoesBulkDataWithHalfClose) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop.ok()) << loop.error().message;
  EventLoop& l = **loop;
  std::vector<std::unique_ptr<EchoConn>> servers;
  auto listener = Listener::bind(l, *SocketAddress::parse("127.0.0.1:0"), {},
                                 [&](UniqueFd fd) {
                                   servers.push_back(std::make_unique<EchoConn>(l, std::move(fd)));
                                   servers.back()->socket.start_reading();
                                 });
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  (*listener)->start();

  std::vector<uint8_t> payload(8 * 1024 * 1024);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 7 + (i >> 12));
  auto fd = TcpSocket::open_stream_socket(AF_INET);
  ASSERT_TRUE(fd.ok());
  Client client(l, std::move(*fd), payload);
  client.socket.connect((*listener)->address(), std::chrono::milliseconds(2000));

  struct Stopper : Completion {
    EventLoop* loop;
    Client* client;
    void complete(int, uint32_t) override { loop->exit(); }
  } stopper;
  stopper.loop = &l;
  stopper.client = &client;
  // Poll: exit the loop when the client is done, or after a 10 s guard timer.
  __kernel_timespec guard = to_timespec(std::chrono::seconds(10));
  l.arm_timer(&stopper, &guard);
  struct Poll : Completion {
    EventLoop* loop;
    Client* client;
    __kernel_timespec ts = to_timespec(std::chrono::milliseconds(5));
    void complete(int, uint32_t) override {
      if (client->done) return loop->exit();
      loop->arm_timer(this, &ts);
    }
  } poll;
  poll.loop = &l;
  poll.client = &client;
  l.arm_timer(&poll, &poll.ts);
  l.run();

  EXPECT_EQ(client.connect_error, 0);
  EXPECT_TRUE(client.eof);
  EXPECT_EQ(client.read_error, 0);
  ASSERT_EQ(client.received.size(), payload.size());
  EXPECT_TRUE(client.received == payload);
}

TEST(TcpSocket, ConnectRefusedIsReported) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop.ok());
  EventLoop& l = **loop;
  // Bind a port and close it again so nothing listens there.
  SocketAddress dead;
  {
    auto listener = Listener::bind(l, *SocketAddress::parse("127.0.0.1:0"), {}, [](UniqueFd) {});
    ASSERT_TRUE(listener.ok());
    dead = (*listener)->address();
  }
  auto fd = TcpSocket::open_stream_socket(AF_INET);
  Client client(l, std::move(*fd), {1, 2, 3});
  client.socket.connect(dead, std::chrono::milliseconds(2000));
  struct Poll : Completion {
    EventLoop* loop;
    Client* client;
    int rounds = 0;
    __kernel_timespec ts = to_timespec(std::chrono::milliseconds(5));
    void complete(int, uint32_t) override {
      if (client->done || ++rounds > 1000) return loop->exit();
      loop->arm_timer(this, &ts);
    }
  } poll;
  poll.loop = &l;
  poll.client = &client;
  l.arm_timer(&poll, &poll.ts);
  l.run();
  EXPECT_EQ(client.connect_error, -ECONNREFUSED);
  EXPECT_TRUE(client.done);
}

}  // namespace
}  // namespace ambit
