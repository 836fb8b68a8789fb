// Outbound capture for real: an app process in the pod's cgroup and netns connects somewhere;
// the agent's listener inside the pod gets the connection and asks SO_ORIGINAL_DST.
#include <netinet/in.h>
#include <sys/socket.h>

#include "tests/bpf/capture_fixture.h"

namespace ambit::bpf::testing {
namespace {

TEST_F(CaptureTest, Ipv4ConnectLandsOnOutboundListenerWithOriginalDestination) {
  UniqueFd listener = pod_listener("127.0.0.1:15001");
  ASSERT_TRUE(listener.valid());
  ASSERT_EQ(
      connect_from_pod(pod_cgroup_, pod_ns_, AF_INET, *SocketAddress::parse("10.1.2.3:80"), 0), 0);

  UniqueFd conn = accept_within(listener.get(), 2000);
  ASSERT_TRUE(conn.valid()) << "the connect did not reach 127.0.0.1:15001";
  auto orig = original_dst(conn.get(), SOL_IP);
  ASSERT_TRUE(orig.ok()) << orig.error().message;
  EXPECT_EQ(orig->to_string(), "10.1.2.3:80");
  // Answered once: the entry is gone, the kernel's own answer comes back.
  EXPECT_FALSE(original_dst(conn.get(), SOL_IP).ok());
  // Other options are untouched by the getsockopt program.
  int type = 0;
  socklen_t len = sizeof(type);
  ASSERT_EQ(::getsockopt(conn.get(), SOL_SOCKET, SO_TYPE, &type, &len), 0);
  EXPECT_EQ(type, SOCK_STREAM);
}

TEST_F(CaptureTest, OriginalDstFitsAnExactSizeBuffer) {
  UniqueFd listener = pod_listener("127.0.0.1:15001");
  ASSERT_EQ(
      connect_from_pod(pod_cgroup_, pod_ns_, AF_INET, *SocketAddress::parse("10.1.2.3:80"), 0), 0);
  UniqueFd conn = accept_within(listener.get(), 2000);
  ASSERT_TRUE(conn.valid());
  auto orig = original_dst(conn.get(), SOL_IP, /*exact_buffer=*/true);
  ASSERT_TRUE(orig.ok()) << orig.error().message;
  EXPECT_EQ(orig->to_string(), "10.1.2.3:80");
}

TEST_F(CaptureTest, Ipv6ConnectLandsOnIpv6OutboundListener) {
  UniqueFd listener = pod_listener("[::1]:15001");
  ASSERT_TRUE(listener.valid());
  ASSERT_EQ(
      connect_from_pod(pod_cgroup_, pod_ns_, AF_INET6, *SocketAddress::parse("[fd00::1]:443"), 0),
      0);
  UniqueFd conn = accept_within(listener.get(), 2000);
  ASSERT_TRUE(conn.valid()) << "the connect did not reach [::1]:15001";
  auto orig = original_dst(conn.get(), SOL_IPV6);
  ASSERT_TRUE(orig.ok()) << orig.error().message;
  EXPECT_EQ(orig->to_string(), "[fd00::1]:443");
}

TEST_F(CaptureTest, V4MappedConnectOnIpv6SocketIsCapturedAsIpv4) {
  UniqueFd listener = pod_listener("127.0.0.1:15001");
  ASSERT_TRUE(listener.valid());
  ASSERT_EQ(
      connect_from_pod(pod_cgroup_, pod_ns_, AF_INET6, *SocketAddress::parse("10.1.2.3:8443"), 0),
      0);
  UniqueFd conn = accept_within(listener.get(), 2000);
  ASSERT_TRUE(conn.valid()) << "the v4-mapped connect did not reach 127.0.0.1:15001";
  auto orig = original_dst(conn.get(), SOL_IP);
  ASSERT_TRUE(orig.ok()) << orig.error().message;
  EXPECT_EQ(orig->to_string(), "10.1.2.3:8443");
}

TEST_F(CaptureTest, SocketWithAgentMarkIsNotRedirected) {
  UniqueFd outbound = pod_listener("127.0.0.1:15001");
  auto remote = listen_in(client_ns_, *SocketAddress::parse("10.99.0.1:80"));
  ASSERT_TRUE(outbound.valid() && remote.ok());

  ASSERT_EQ(connect_from_pod(pod_cgroup_, pod_ns_, AF_INET, *SocketAddress::parse("10.99.0.1:80"),
                             capture_->options().agent_mark),
            0);
  EXPECT_TRUE(accept_within(remote->get(), 2000).valid()) << "marked socket was redirected";
  EXPECT_FALSE(accept_within(outbound.get(), 100).valid());

  // The same connect without the mark is captured.
  ASSERT_EQ(
      connect_from_pod(pod_cgroup_, pod_ns_, AF_INET, *SocketAddress::parse("10.99.0.1:80"), 0), 0);
  EXPECT_TRUE(accept_within(outbound.get(), 2000).valid());
  EXPECT_FALSE(accept_within(remote->get(), 100).valid());
}

TEST_F(CaptureTest, LoopbackConnectIsNotRedirected) {
  UniqueFd outbound = pod_listener("127.0.0.1:15001");
  UniqueFd app = pod_listener("127.0.0.1:9090");
  ASSERT_TRUE(outbound.valid() && app.valid());
  ASSERT_EQ(
      connect_from_pod(pod_cgroup_, pod_ns_, AF_INET, *SocketAddress::parse("127.0.0.1:9090"), 0),
      0);
  EXPECT_TRUE(accept_within(app.get(), 2000).valid());
  EXPECT_FALSE(accept_within(outbound.get(), 100).valid());
}

TEST_F(CaptureTest, AfterDetachNothingIsRedirected) {
  UniqueFd outbound = pod_listener("127.0.0.1:15001");
  UniqueFd inbound = pod_listener("0.0.0.0:15006");
  UniqueFd app = pod_listener("0.0.0.0:8080");
  auto remote = listen_in(client_ns_, *SocketAddress::parse("10.99.0.1:80"));
  ASSERT_TRUE(outbound.valid() && inbound.valid() && app.valid() && remote.ok());
  ASSERT_TRUE(capture_->set_inbound_listener(std::span(pod_ips_).first(1), inbound.get()).ok());

  auto detached = capture_->detach_pod(kPodId, pod_ips_);
  ASSERT_TRUE(detached.ok()) << detached.error().message;
  EXPECT_TRUE(capture_->attached_pods().empty());
  EXPECT_TRUE(capture_->detach_pod(kPodId, pod_ips_).ok()) << "detach is idempotent";

  ASSERT_EQ(
      connect_from_pod(pod_cgroup_, pod_ns_, AF_INET, *SocketAddress::parse("10.99.0.1:80"), 0), 0);
  EXPECT_TRUE(accept_within(remote->get(), 2000).valid());
  EXPECT_FALSE(accept_within(outbound.get(), 100).valid());

  ASSERT_EQ(connect_from_client("10.99.0.2:8080"), 0);
  EXPECT_TRUE(accept_within(app.get(), 2000).valid());
  EXPECT_FALSE(accept_within(inbound.get(), 100).valid());
}

TEST_F(CaptureTest, RestartReusesPinnedMapsAndLinks) {
  EXPECT_EQ(capture_->attached_pods(), std::vector<std::string>{kPodId});
  UniqueFd inbound = pod_listener("0.0.0.0:15006");
  ASSERT_TRUE(capture_->set_inbound_listener(std::span(pod_ips_).first(1), inbound.get()).ok());

  // The agent goes away and comes back: pins keep capture in place, the new load finds them.
  CaptureOptions options = capture_->options();
  capture_.reset();
  ASSERT_EQ(connect_from_client("10.99.0.2:8080"), 0) << "capture must survive the agent";
  EXPECT_TRUE(accept_within(inbound.get(), 2000).valid());

  auto reloaded = CapturePrograms::load(options);
  ASSERT_TRUE(reloaded.ok()) << reloaded.error().message;
  capture_ = std::move(*reloaded);
  EXPECT_EQ(capture_->attached_pods(), std::vector<std::string>{kPodId});
  auto again = capture_->attach_pod(kPodId, pod_cgroup_fd_.get(), pod_ns_.fd(), pod_ips_);
  ASSERT_TRUE(again.ok()) << again.error().message;
  // The listener entry lived in the pinned map through the restart.
  ASSERT_EQ(connect_from_client("10.99.0.2:8080"), 0);
  EXPECT_TRUE(accept_within(inbound.get(), 2000).valid());

  UniqueFd outbound = pod_listener("127.0.0.1:15001");
  ASSERT_EQ(
      connect_from_pod(pod_cgroup_, pod_ns_, AF_INET, *SocketAddress::parse("10.1.2.3:80"), 0), 0);
  UniqueFd conn = accept_within(outbound.get(), 2000);
  ASSERT_TRUE(conn.valid());
  auto orig = original_dst(conn.get(), SOL_IP);
  ASSERT_TRUE(orig.ok()) << orig.error().message;
  EXPECT_EQ(orig->to_string(), "10.1.2.3:80");
}

TEST_F(CaptureTest, UninstallLeavesNoPins) {
  capture_.reset();
  auto removed = CapturePrograms::uninstall(pin_dir_);
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  struct stat st {};
  EXPECT_NE(::lstat(pin_dir_.c_str(), &st), 0) << pin_dir_ << " still exists";

  // And the pod is no longer captured.
  auto remote = listen_in(client_ns_, *SocketAddress::parse("10.99.0.1:80"));
  ASSERT_TRUE(remote.ok());
  ASSERT_EQ(
      connect_from_pod(pod_cgroup_, pod_ns_, AF_INET, *SocketAddress::parse("10.99.0.1:80"), 0), 0);
  EXPECT_TRUE(accept_within(remote->get(), 2000).valid());
}

}  // namespace
}  // namespace ambit::bpf::testing
