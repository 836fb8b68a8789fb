// The optional sockmap fast path for real: an app process in the pod's cgroup and netns is
// captured to the agent's 15001 listener (made by this process, in the agent cgroup); with the
// fast path on, both ends land in ambit_sockmap and the bytes bypass TCP (the accepted socket's
// TCP counters stay at zero while the data arrives). With it off, nothing of it is loaded.
#include <bpf/bpf.h>
#include <fcntl.h>
#include <linux/types.h>
#include <netinet/in.h>
#include <linux/tcp.h>  // tcp_info with tcpi_bytes_received (glibc's lacks it)
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bpf/lib/capture_structs.h"
#include "tests/bpf/capture_fixture.h"

namespace ambit::bpf::testing {
namespace {

using namespace std::chrono_literals;

// An app in the pod: connects to `to` (captured), sends `message`, expects it echoed, then
// waits for the agent to close. Exit 0 on success. Bounded by SO_RCVTIMEO/SO_SNDTIMEO.
pid_t spawn_app(const std::string& cgroup_dir, const NetnsHandle& ns, const SocketAddress& to,
                const std::string& message) {
  std::string procs = cgroup_dir + "/cgroup.procs";
  sockaddr_storage ss{};
  socklen_t len = to.to_sockaddr(&ss);
  std::vector<char> reply(message.size());
  timeval tv{5, 0};
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  int cg = ::open(procs.c_str(), O_WRONLY);
  if (cg < 0 || ::write(cg, "0", 1) != 1) ::_exit(100);
  if (::setns(ns.fd(), CLONE_NEWNET) != 0) ::_exit(101);
  int fd = ::socket(to.family(), SOCK_STREAM, 0);
  if (fd < 0) ::_exit(102);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) ::_exit(103);
  for (size_t off = 0; off < message.size();) {
    ssize_t n = ::send(fd, message.data() + off, message.size() - off, MSG_NOSIGNAL);
    if (n <= 0) ::_exit(104);
    off += static_cast<size_t>(n);
  }
  for (size_t off = 0; off < reply.size();) {
    ssize_t n = ::recv(fd, reply.data() + off, reply.size() - off, 0);
    if (n <= 0) ::_exit(105);
    off += static_cast<size_t>(n);
  }
  if (std::memcmp(reply.data(), message.data(), message.size()) != 0) ::_exit(106);
  char end;
  if (::recv(fd, &end, 1, 0) != 0) ::_exit(107);  // the agent's close arrives after the echo
  ::_exit(0);
}

int wait_child(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(5ms);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

// Reads exactly n bytes within the deadline.
bool recv_exact(int fd, std::string& out, size_t n, int timeout_ms = 3000) {
  out.clear();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[65536];
  while (out.size() < n) {
    pollfd p{fd, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) return false;
    ssize_t got = ::recv(fd, buf, std::min(sizeof(buf), n - out.size()), 0);
    if (got <= 0) return false;
    out.append(buf, static_cast<size_t>(got));
  }
  return true;
}

bool send_all(int fd, const std::string& data) {
  for (size_t off = 0; off < data.size();) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

tcp_info tcp_info_of(int fd) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len);
  return info;
}

class SockmapTest : public CaptureTest {
 protected:
  SockmapTest() { sockmap_fast_path_ = true; }

  // Keys of the pinned ambit_sockmap (-1 when the map cannot be opened).
  std::vector<ambit_sock_key> sockmap_keys() {
    std::vector<ambit_sock_key> keys;
    UniqueFd map(bpf_obj_get((pin_dir_ + "/maps/ambit_sockmap").c_str()));
    if (!map.valid()) return keys;
    ambit_sock_key key{}, next{};
    ambit_sock_key* prev = nullptr;
    while (bpf_map_get_next_key(map.get(), prev, &next) == 0 && keys.size() < 1000) {
      keys.push_back(next);
      key = next;
      prev = &key;
    }
    return keys;
  }

  // One captured exchange of `message`; checks the fast path carried it when `fast` is true.
  void exchange(const std::string& listen_addr, const std::string& to, const std::string& message,
                bool fast) {
    UniqueFd listener = pod_listener(listen_addr);
    ASSERT_TRUE(listener.valid());
    pid_t app = spawn_app(pod_cgroup_, pod_ns_, *SocketAddress::parse(to), message);
    ASSERT_GT(app, 0);
    UniqueFd conn = accept_within(listener.get(), 3000);
    if (!conn.valid()) {
      wait_child(app, 1s);
      FAIL() << "the app's connect did not reach " << listen_addr;
    }
    std::string got;
    bool received = recv_exact(conn.get(), got, message.size());
    EXPECT_TRUE(received && got == message) << "got " << got.size() << " of " << message.size();

    auto keys = sockmap_keys();
    tcp_info info = tcp_info_of(conn.get());
    if (fast) {
      EXPECT_EQ(keys.size(), 2u) << "both ends should be in ambit_sockmap";
      size_t agent_ends = 0;
      for (const auto& k : keys) agent_ends += ntohs(k.local_port) == 15001;
      EXPECT_EQ(agent_ends, 1u);
      // Bytes redirected by sk_msg never enter the TCP stream: TCP counted none of them.
      EXPECT_EQ(info.tcpi_bytes_received, 0u) << "the data came over loopback TCP";
    } else {
      EXPECT_TRUE(keys.empty());
      EXPECT_EQ(info.tcpi_bytes_received, message.size());
    }
    EXPECT_TRUE(send_all(conn.get(), got));
    if (fast) {
      EXPECT_EQ(tcp_info_of(conn.get()).tcpi_bytes_acked, 0u);
    }
    conn.reset();
    EXPECT_EQ(wait_child(app, 6s), 0) << "the app did not get its echo and the close";
    // Closed sockets leave the map by themselves.
    auto deadline = std::chrono::steady_clock::now() + 2s;
    while (!sockmap_keys().empty() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_TRUE(sockmap_keys().empty());
  }
};

TEST_F(SockmapTest, Ipv4CapturedBytesBypassTcpBothWays) {
  exchange("127.0.0.1:15001", "10.1.2.3:80", "hello over the sockmap", /*fast=*/true);
}

TEST_F(SockmapTest, BulkMessageArrivesIntact) {
  std::string big(1 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7919) % 26);
  exchange("127.0.0.1:15001", "10.1.2.3:80", big, /*fast=*/true);
}

TEST_F(SockmapTest, Ipv6CapturedBytesBypassTcp) {
  exchange("[::1]:15001", "[fd00::1]:443", "hello over ipv6", /*fast=*/true);
}

TEST_F(SockmapTest, OtherLoopbackConnectionsAreLeftAlone) {
  // The app talking to a loopback port of its own is not captured and not in the map.
  auto own = listen_in(pod_ns_, *SocketAddress::parse("127.0.0.1:9000"));
  ASSERT_TRUE(own.ok());
  pid_t app = spawn_app(pod_cgroup_, pod_ns_, *SocketAddress::parse("127.0.0.1:9000"), "local");
  UniqueFd conn = accept_within(own->get(), 3000);
  ASSERT_TRUE(conn.valid());
  std::string got;
  EXPECT_TRUE(recv_exact(conn.get(), got, 5));
  EXPECT_TRUE(sockmap_keys().empty());
  EXPECT_EQ(tcp_info_of(conn.get()).tcpi_bytes_received, 5u);
  EXPECT_TRUE(send_all(conn.get(), got));
  conn.reset();
  EXPECT_EQ(wait_child(app, 6s), 0);
}

TEST_F(CaptureTest, SockmapFastPathIsOffByDefault) {
  EXPECT_FALSE(std::filesystem::exists(pin_dir_ + "/progs/ambit_sockmap_ops"));
  EXPECT_FALSE(std::filesystem::exists(pin_dir_ + "/agent/cgroup_sockmap_ops"));
  EXPECT_FALSE(std::filesystem::exists(pin_dir_ + "/pods/" + std::string(kPodId) +
                                       "/cgroup_sockmap_ops"));
}

}  // namespace
}  // namespace ambit::bpf::testing

namespace ambit::bpf::testing {
namespace {

// The half-close pattern (HTTP/1.0 clients, `nc -N`, ambit-probe connect): the app sends, shuts
// down its write side, then reads the reply to EOF. The reply is redirected into the app's psock
// queue; if the agent's FIN reaches the app (FIN_WAIT2 -> TIME_WAIT, the socket leaves the map)
// before the app read it, what is that reply?
TEST_F(SockmapTest, HalfClosedAppGetsTheReply) {
  UniqueFd listener = pod_listener("127.0.0.1:15001");
  ASSERT_TRUE(listener.valid());
  std::string procs = pod_cgroup_ + "/cgroup.procs";
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(80);
  to.sin_addr.s_addr = htonl(0x0a010203);
  int lost = 0, rounds = 20;
  for (int round = 0; round < rounds; ++round) {
    pid_t pid = ::fork();
    if (pid == 0) {
      int cg = ::open(procs.c_str(), O_WRONLY);
      if (cg < 0 || ::write(cg, "0", 1) != 1) ::_exit(100);
      if (::setns(pod_ns_.fd(), CLONE_NEWNET) != 0) ::_exit(101);
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      timeval tv{3, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) ::_exit(102);
      if (::send(fd, "ping", 4, 0) != 4) ::_exit(103);
      ::shutdown(fd, SHUT_WR);
      char buf[16];
      size_t got = 0;
      for (;;) {
        ssize_t n = ::recv(fd, buf + got, sizeof(buf) - got, 0);
        if (n < 0) ::_exit(errno == EAGAIN ? 110 : 111);
        if (n == 0) break;
        got += static_cast<size_t>(n);
      }
      ::_exit(got == 4 && std::memcmp(buf, "pong", 4) == 0 ? 0 : 112);
    }
    UniqueFd conn = accept_within(listener.get(), 3000);
    ASSERT_TRUE(conn.valid());
    std::string req;
    EXPECT_TRUE(recv_exact(conn.get(), req, 4));
    char eof;
    pollfd p{conn.get(), POLLIN, 0};
    ::poll(&p, 1, 2000);
    EXPECT_EQ(::recv(conn.get(), &eof, 1, 0), 0);
    EXPECT_TRUE(send_all(conn.get(), "pong"));
    conn.reset();  // as the agent does once the upstream closed
    int code = wait_child(pid, 6s);
    if (code != 0) ++lost;
    if (code != 0) std::fprintf(stderr, "round %d: app exit %d\n", round, code);
  }
  EXPECT_EQ(lost, 0) << lost << " of " << rounds << " half-closed apps lost the reply";
}

}  // namespace
}  // namespace ambit::bpf::testing
