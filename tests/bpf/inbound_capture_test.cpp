// Inbound capture: the sk_lookup program run on constructed contexts (BPF_PROG_RUN) and for real
// on connections arriving over a veth from another namespace.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "tests/bpf/capture_fixture.h"

namespace ambit::bpf::testing {
namespace {

struct LookupRun {
  int err = 0;  // errno of BPF_PROG_TEST_RUN, 0 if it ran
  uint32_t verdict = 0;
  uint64_t selected_cookie = 0;
};

LookupRun run_lookup(int prog_fd, const char* local_ip4, uint16_t local_port,
                     uint32_t ingress_ifindex = 0, const char* remote_ip4 = "10.99.0.1") {
  bpf_sk_lookup ctx{};
  ctx.family = AF_INET;
  ctx.protocol = IPPROTO_TCP;
  inet_pton(AF_INET, remote_ip4, &ctx.remote_ip4);
  ctx.remote_port = htons(40000);
  inet_pton(AF_INET, local_ip4, &ctx.local_ip4);
  ctx.local_port = local_port;
  ctx.ingress_ifindex = ingress_ifindex;
  LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &ctx, .ctx_out = &ctx, .ctx_size_in = sizeof(ctx),
              .ctx_size_out = sizeof(ctx));
  LookupRun run;
  if (bpf_prog_test_run_opts(prog_fd, &opts) != 0) {
    run.err = errno;
    return run;
  }
  run.verdict = opts.retval;
  run.selected_cookie = ctx.cookie;
  return run;
}

uint64_t cookie_of(int fd) {
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  ::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len);
  return cookie;
}

TEST_F(CaptureTest, ProgRunSkLookupVerdicts) {
  int prog = capture_->inbound_program_fd();
  LookupRun probe = run_lookup(prog, "10.99.0.2", 8080);
  if (probe.err == 524 /* ENOTSUPP */ || probe.err == EOPNOTSUPP || probe.err == EINVAL) {
    GTEST_SKIP() << "BPF_PROG_RUN for sk_lookup unsupported here: " << std::strerror(probe.err);
  }
  ASSERT_EQ(probe.err, 0) << std::strerror(probe.err);
  EXPECT_EQ(probe.verdict, SK_DROP) << "enrolled, no listener: fail closed";

  EXPECT_EQ(run_lookup(prog, "10.99.0.9", 8080).verdict, SK_PASS) << "not enrolled";
  for (uint16_t port : {15008, 15001, 15006}) {
    LookupRun run = run_lookup(prog, "10.99.0.2", port);
    EXPECT_EQ(run.verdict, SK_PASS) << "port " << port;
    EXPECT_EQ(run.selected_cookie, 0u) << "port " << port;
  }

  UniqueFd listener = pod_listener("0.0.0.0:15006");
  ASSERT_TRUE(capture_->set_inbound_listener(std::span(pod_ips_).first(1), listener.get()).ok());
  LookupRun steered = *in_netns(
      pod_ns_, [&]() -> Result<LookupRun> { return run_lookup(prog, "10.99.0.2", 8080); });
  EXPECT_EQ(steered.verdict, SK_PASS);
  EXPECT_EQ(steered.selected_cookie, cookie_of(listener.get()));
}

TEST_F(CaptureTest, ProgRunSkLookupPassesConnectionsFromThePodItself) {
  LookupRun run = run_lookup(capture_->inbound_program_fd(), "10.99.0.2", 8080, 0, "10.99.0.2");
  ASSERT_EQ(run.err, 0) << std::strerror(run.err);
  EXPECT_EQ(run.verdict, SK_PASS);
  EXPECT_EQ(run.selected_cookie, 0u);
}

TEST_F(CaptureTest, ProgRunSkLookupPassesLoopbackIngress) {
  LookupRun run = run_lookup(capture_->inbound_program_fd(), "10.99.0.2", 8080, /*lo=*/1);
  if (run.err == EINVAL) {
    GTEST_SKIP() << "this kernel's BPF_PROG_RUN rejects a nonzero ingress_ifindex in the "
                    "sk_lookup context (EINVAL); the real-traffic tests cover the in-pod path";
  }
  ASSERT_EQ(run.err, 0) << std::strerror(run.err);
  EXPECT_EQ(run.verdict, SK_PASS);
  EXPECT_EQ(run.selected_cookie, 0u);
}

TEST_F(CaptureTest, InboundConnectionIsSteeredToInboundListener) {
  UniqueFd inbound = pod_listener("0.0.0.0:15006");
  UniqueFd app = pod_listener("0.0.0.0:8080");
  UniqueFd hbone = pod_listener("0.0.0.0:15008");
  ASSERT_TRUE(inbound.valid() && app.valid() && hbone.valid());
  ASSERT_TRUE(capture_->set_inbound_listener(std::span(pod_ips_).first(1), inbound.get()).ok());

  ASSERT_EQ(connect_from_client("10.99.0.2:8080"), 0);
  UniqueFd conn = accept_within(inbound.get(), 2000);
  ASSERT_TRUE(conn.valid()) << "not steered to :15006";
  EXPECT_FALSE(accept_within(app.get(), 100).valid());
  auto local = SocketAddress::local_of(conn.get());
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->to_string(), "10.99.0.2:8080") << "original destination is the local address";

  ASSERT_EQ(connect_from_client("10.99.0.2:15008"), 0);
  EXPECT_TRUE(accept_within(hbone.get(), 2000).valid()) << "HBONE must not be steered";
  EXPECT_FALSE(accept_within(inbound.get(), 100).valid());
}

TEST_F(CaptureTest, Ipv6InboundConnectionIsSteeredToDualStackListener) {
  UniqueFd inbound = pod_listener("[::]:15006");  // listen_in sets V6ONLY: IPv6 only here
  ASSERT_TRUE(inbound.valid());
  ASSERT_TRUE(capture_->set_inbound_listener(std::span(pod_ips_).last(1), inbound.get()).ok());
  ASSERT_EQ(connect_from_client("[fd99::2]:8080"), 0);
  UniqueFd conn = accept_within(inbound.get(), 2000);
  ASSERT_TRUE(conn.valid()) << "not steered to [::]:15006";
  EXPECT_EQ(SocketAddress::local_of(conn.get())->to_string(), "[fd99::2]:8080");
}

TEST_F(CaptureTest, LoopbackConnectionReachesTheApp) {
  UniqueFd inbound = pod_listener("0.0.0.0:15006");
  UniqueFd app = pod_listener("0.0.0.0:8080");
  ASSERT_TRUE(capture_->set_inbound_listener(std::span(pod_ips_).first(1), inbound.get()).ok());
  // The agent's own connection to the app, made inside the pod's netns (source = pod IP).
  int err = *in_netns(pod_ns_, [&]() -> Result<int> {
    return connect_within(*SocketAddress::parse("10.99.0.2:8080"), 2000);
  });
  ASSERT_EQ(err, 0);
  EXPECT_TRUE(accept_within(app.get(), 2000).valid());
  EXPECT_FALSE(accept_within(inbound.get(), 100).valid());
}

TEST_F(CaptureTest, EnrolledPodFailsClosedWithoutListener) {
  UniqueFd app = pod_listener("0.0.0.0:8080");
  UniqueFd inbound = pod_listener("0.0.0.0:15006");
  ASSERT_TRUE(capture_->set_inbound_listener(std::span(pod_ips_).first(1), inbound.get()).ok());
  inbound.reset();  // the agent goes down: the kernel drops the socket from the SOCKHASH

  // sk_lookup's SK_DROP means "no socket": TCP answers the SYN with a RST.
  int err = connect_from_client("10.99.0.2:8080", 1000);
  EXPECT_TRUE(err == ECONNREFUSED || err == ETIMEDOUT) << std::strerror(err);
  EXPECT_FALSE(accept_within(app.get(), 100).valid()) << "reached the app around the mesh";
}

}  // namespace
}  // namespace ambit::bpf::testing
