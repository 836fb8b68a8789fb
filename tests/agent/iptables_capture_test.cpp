// The iptables capture mode in real network namespaces: a "pod" joined by a veth pair to a
// "peer" that plays both the remote service (10.1.2.3:80) and the inbound client. As root
// only; the host's own namespace and interfaces are never touched (the veth pair is created
// inside the pod's namespace with its far end in the peer's).
#include "agent/iptables_capture.h"

#include <gtest/gtest.h>
#include <linux/netfilter_ipv4.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "agent/iptables_rules.h"
#include "agent/netns_command.h"
#include "core/netns.h"

namespace ambit::agent {
namespace {

constexpr int kWaitMs = 3000;    // for something that must happen
constexpr int kAbsenceMs = 300;  // for something that must not

Status ip(std::vector<std::string> args) {
  auto program = find_program("ip");
  if (!program) return Error{"ip (iproute2) not found"};
  auto run = run_command(Command{*program, args, "", std::chrono::milliseconds(10'000)},
                         NetnsTarget::current());
  if (!run.ok()) return run.error();
  if (!run->ok()) {
    std::string line = "ip";
    for (const auto& a : args) line += " " + a;
    return Error::format("{}: {}", line, run->describe_failure());
  }
  return {};
}

// A named network namespace (ip netns add), deleted when the object goes.
class TestNetns {
 public:
  static Result<std::unique_ptr<TestNetns>> create(const std::string& name) {
    if (auto ok = ip({"netns", "add", name}); !ok) return ok.error();
    std::unique_ptr<TestNetns> ns(new TestNetns(name));
    auto handle = NetnsHandle::open(ns->path());
    if (!handle.ok()) return handle.error();
    ns->handle_ = std::move(*handle);
    if (auto ok = ip({"-n", name, "link", "set", "lo", "up"}); !ok) return ok.error();
    return ns;
  }
  ~TestNetns() { remove(); }
  void remove() {
    if (removed_) return;
    removed_ = true;
    handle_ = NetnsHandle();
    (void)ip({"netns", "delete", name_});
  }
  const std::string& name() const { return name_; }
  std::string path() const { return "/run/netns/" + name_; }
  const NetnsHandle& handle() const { return handle_; }

 private:
  explicit TestNetns(std::string name) : name_(std::move(name)) {}
  std::string name_;
  NetnsHandle handle_;
  bool removed_ = false;
};

// Sockets keep the namespace they were created in: make them there, use them from here.
Result<UniqueFd> listener_in(const NetnsHandle& ns, const std::string& address) {
  return in_netns(ns, [&]() -> Result<UniqueFd> {
    auto addr = SocketAddress::parse(address);
    if (!addr.ok()) return addr.error();
    UniqueFd fd(::socket(addr->family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_storage ss;
    socklen_t len = addr->to_sockaddr(&ss);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
        ::listen(fd.get(), 16) != 0) {
      return Error::format("listen on {}: {}", address, std::strerror(errno));
    }
    return fd;
  });
}

Result<UniqueFd> client_in(const NetnsHandle& ns, uint32_t mark = 0) {
  return in_netns(ns, [&]() -> Result<UniqueFd> {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return Error::format("socket: {}", std::strerror(errno));
    if (mark != 0 && ::setsockopt(fd.get(), SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0) {
      return Error::format("SO_MARK: {}", std::strerror(errno));
    }
    return fd;
  });
}

// True when the handshake completes within the wait.
bool connect_within(int fd, const std::string& address, int ms) {
  auto addr = *SocketAddress::parse(address);
  sockaddr_storage ss;
  socklen_t len = addr.to_sockaddr(&ss);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    return false;
  }
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, ms) != 1) return false;
  int error = 0;
  socklen_t error_len = sizeof(error);
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_len);
  return error == 0;
}

UniqueFd accept_within(int listener, int ms) {
  pollfd p{listener, POLLIN, 0};
  if (::poll(&p, 1, ms) != 1) return UniqueFd();
  return UniqueFd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
}

std::string original_destination(int fd) {
  sockaddr_in original{};
  socklen_t len = sizeof(original);
  if (::getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &original, &len) != 0) {
    return std::string("SO_ORIGINAL_DST: ") + std::strerror(errno);
  }
  auto addr = SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&original), len);
  return addr.ok() ? addr->to_string() : addr.error().message;
}

int count_lines(const std::string& text, const std::string& line) {
  int n = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (text.compare(start, end - start, line) == 0) ++n;
    start = end + 1;
  }
  return n;
}

class IptablesCaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, iptables)";
    if (!find_program("ip")) GTEST_SKIP() << "needs ip (iproute2)";
    char dir[] = "/run/ambit-iptables-test-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr) << std::strerror(errno);
    state_dir_ = dir;
    settings_.state_dir = state_dir_ + "/state";
    auto capture = IptablesCapture::create(settings_);
    if (!capture.ok()) GTEST_SKIP() << "iptables capture unusable: " << capture.error().message;
    capture_ = std::move(*capture);

    pod_ = make_netns("pod");
    peer_ = make_netns("peer");
    ASSERT_TRUE(pod_ && peer_);
    for (auto& args : std::vector<std::vector<std::string>>{
             {"-n", pod_->name(), "link", "add", "veth0", "type", "veth", "peer", "name", "veth1",
              "netns", peer_->name()},
             {"-n", pod_->name(), "addr", "add", "10.99.0.2/24", "dev", "veth0"},
             {"-n", pod_->name(), "link", "set", "veth0", "up"},
             {"-n", pod_->name(), "route", "add", "10.1.2.0/24", "via", "10.99.0.1"},
             {"-n", peer_->name(), "addr", "add", "10.99.0.1/24", "dev", "veth1"},
             {"-n", peer_->name(), "addr", "add", "10.1.2.3/32", "dev", "lo"},
             {"-n", peer_->name(), "link", "set", "veth1", "up"}}) {
      auto ok = ip(args);
      ASSERT_TRUE(ok.ok()) << ok.error().message;
    }
  }

  void TearDown() override {
    if (capture_) {
      auto ok = capture_->uninstall();
      EXPECT_TRUE(ok.ok()) << ok.error().message;
    }
    peer_.reset();
    pod_.reset();
    if (!state_dir_.empty()) std::filesystem::remove_all(state_dir_);
  }

  std::unique_ptr<TestNetns> make_netns(const std::string& role) {
    static std::atomic<int> counter{0};
    auto ns = TestNetns::create(
        fmt::format("ambit-ipt-{}-{}-{}", ::getpid(), counter.fetch_add(1), role));
    EXPECT_TRUE(ns.ok()) << ns.error().message;
    return ns.ok() ? std::move(*ns) : nullptr;
  }

  PodSandbox sandbox(const TestNetns& ns, const std::string& uid = "default/web-0") {
    return PodSandbox{uid, ns.path(), "", {*IpAddress::parse("10.99.0.2")}};
  }

  std::string nat_table(const TestNetns& ns, const char* tool = "iptables-nft-save") {
    auto run =
        run_command(Command{*find_program(tool), {"-t", "nat"}, ""}, NetnsTarget::of(ns.handle()));
    EXPECT_TRUE(run.ok() && run->ok());
    return run.ok() ? run->out : "";
  }

  CaptureSettings settings_;
  std::string state_dir_;
  std::unique_ptr<IptablesCapture> capture_;
  std::unique_ptr<TestNetns> pod_;
  std::unique_ptr<TestNetns> peer_;
};

TEST_F(IptablesCaptureTest, RedirectsOutboundToTheAgentListenerExceptTheAgentsOwnSockets) {
  auto agent = listener_in(pod_->handle(), "127.0.0.1:15001");
  auto service = listener_in(peer_->handle(), "10.1.2.3:80");
  ASSERT_TRUE(agent.ok() && service.ok());
  auto enrolled = capture_->enroll(sandbox(*pod_), -1);
  ASSERT_TRUE(enrolled.ok()) << enrolled.error().message;

  auto app = client_in(pod_->handle());
  ASSERT_TRUE(app.ok()) << app.error().message;
  ASSERT_TRUE(connect_within(app->get(), "10.1.2.3:80", kWaitMs));
  auto captured = accept_within(agent->get(), kWaitMs);
  ASSERT_TRUE(captured.valid()) << "the app's connection did not reach the 15001 listener";
  EXPECT_EQ(original_destination(captured.get()), "10.1.2.3:80");
  EXPECT_FALSE(accept_within(service->get(), kAbsenceMs).valid());

  auto own = client_in(pod_->handle(), settings_.agent_mark);
  ASSERT_TRUE(own.ok()) << own.error().message;
  ASSERT_TRUE(connect_within(own->get(), "10.1.2.3:80", kWaitMs));
  EXPECT_TRUE(accept_within(service->get(), kWaitMs).valid())
      << "a socket with the agent's mark did not reach the real destination";
  EXPECT_FALSE(accept_within(agent->get(), kAbsenceMs).valid())
      << "a socket with the agent's mark was captured";
}

TEST_F(IptablesCaptureTest, RedirectsInboundToThePlaintextListenerButNotHbone) {
  auto inbound = listener_in(pod_->handle(), "0.0.0.0:15006");
  auto app = listener_in(pod_->handle(), "0.0.0.0:8080");
  auto hbone = listener_in(pod_->handle(), "0.0.0.0:15008");
  ASSERT_TRUE(inbound.ok() && app.ok() && hbone.ok());
  auto enrolled = capture_->enroll(sandbox(*pod_), inbound->get());
  ASSERT_TRUE(enrolled.ok()) << enrolled.error().message;

  auto client = client_in(peer_->handle());
  ASSERT_TRUE(client.ok()) << client.error().message;
  ASSERT_TRUE(connect_within(client->get(), "10.99.0.2:8080", kWaitMs));
  auto captured = accept_within(inbound->get(), kWaitMs);
  ASSERT_TRUE(captured.valid()) << "the peer's connection did not reach the 15006 listener";
  EXPECT_EQ(original_destination(captured.get()), "10.99.0.2:8080");
  EXPECT_FALSE(accept_within(app->get(), kAbsenceMs).valid());

  auto tunnel = client_in(peer_->handle());
  ASSERT_TRUE(tunnel.ok()) << tunnel.error().message;
  ASSERT_TRUE(connect_within(tunnel->get(), "10.99.0.2:15008", kWaitMs));
  EXPECT_TRUE(accept_within(hbone->get(), kWaitMs).valid()) << "HBONE did not reach 15008";
  EXPECT_FALSE(accept_within(inbound->get(), kAbsenceMs).valid()) << "HBONE was captured";
}

TEST_F(IptablesCaptureTest, EnrollIsIdempotentAndReleaseRemovesEverything) {
  for (int i = 0; i < 2; ++i) {
    auto enrolled = capture_->enroll(sandbox(*pod_), -1);
    ASSERT_TRUE(enrolled.ok()) << enrolled.error().message;
  }
  std::string nat = nat_table(*pod_);
  EXPECT_EQ(count_lines(nat, "-A OUTPUT -p tcp -j AMBIT_OUTPUT"), 1) << nat;
  EXPECT_EQ(count_lines(nat, "-A PREROUTING -p tcp -j AMBIT_PREROUTING"), 1) << nat;
  EXPECT_EQ(count_lines(nat, "-A AMBIT_OUTPUT -p tcp -j REDIRECT --to-ports 15001"), 1) << nat;
  EXPECT_EQ(count_lines(nat, "-A AMBIT_PREROUTING -p tcp -j REDIRECT --to-ports 15006"), 1) << nat;
  if (capture_->ipv6_available()) {
    std::string nat6 = nat_table(*pod_, "ip6tables-nft-save");
    EXPECT_EQ(count_lines(nat6, "-A OUTPUT -p tcp -j AMBIT_OUTPUT"), 1) << nat6;
  }
  EXPECT_EQ(capture_->enrolled(), std::vector<std::string>{"default/web-0"});

  auto released = capture_->release("default/web-0");
  ASSERT_TRUE(released.ok()) << released.error().message;
  nat = nat_table(*pod_);
  EXPECT_EQ(nat.find("AMBIT"), std::string::npos) << nat;
  EXPECT_EQ(nat_table(*pod_, "ip6tables-nft-save").find("AMBIT"), std::string::npos);
  EXPECT_TRUE(capture_->enrolled().empty());
  EXPECT_TRUE(capture_->release("default/web-0").ok()) << "release is not idempotent";

  // Traffic flows as if the agent were not there.
  auto agent = listener_in(pod_->handle(), "127.0.0.1:15001");
  auto inbound = listener_in(pod_->handle(), "0.0.0.0:15006");
  auto app = listener_in(pod_->handle(), "0.0.0.0:8080");
  auto service = listener_in(peer_->handle(), "10.1.2.3:80");
  ASSERT_TRUE(agent.ok() && inbound.ok() && app.ok() && service.ok());
  auto out = client_in(pod_->handle());
  auto in = client_in(peer_->handle());
  ASSERT_TRUE(out.ok() && in.ok());
  ASSERT_TRUE(connect_within(out->get(), "10.1.2.3:80", kWaitMs));
  EXPECT_TRUE(accept_within(service->get(), kWaitMs).valid());
  ASSERT_TRUE(connect_within(in->get(), "10.99.0.2:8080", kWaitMs));
  EXPECT_TRUE(accept_within(app->get(), kWaitMs).valid());
  EXPECT_FALSE(accept_within(agent->get(), 0).valid());
  EXPECT_FALSE(accept_within(inbound->get(), 0).valid());
}

TEST_F(IptablesCaptureTest, UninstallReleasesEveryRecordedPod) {
  ASSERT_TRUE(capture_->enroll(sandbox(*pod_, "default/web-0"), -1).ok());
  ASSERT_TRUE(capture_->enroll(sandbox(*peer_, "other/db-0"), -1).ok());
  EXPECT_EQ(capture_->enrolled(), (std::vector<std::string>{"default/web-0", "other/db-0"}));
  // A restarted agent finds what an earlier one enrolled.
  auto restarted = IptablesCapture::create(settings_);
  ASSERT_TRUE(restarted.ok()) << restarted.error().message;
  EXPECT_EQ((*restarted)->enrolled().size(), 2u);

  auto ok = (*restarted)->uninstall();
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_TRUE(capture_->enrolled().empty());
  EXPECT_FALSE(std::filesystem::exists(capture_->records_dir()));
  EXPECT_EQ(nat_table(*pod_).find("AMBIT"), std::string::npos);
  EXPECT_EQ(nat_table(*peer_).find("AMBIT"), std::string::npos);
}

TEST_F(IptablesCaptureTest, ReleasingAPodWhoseNetnsIsGoneDropsItsRecord) {
  auto doomed = make_netns("doomed");
  ASSERT_TRUE(doomed);
  auto enrolled = capture_->enroll(sandbox(*doomed, "default/gone-0"), -1);
  ASSERT_TRUE(enrolled.ok()) << enrolled.error().message;
  doomed->remove();
  auto released = capture_->release("default/gone-0");
  EXPECT_TRUE(released.ok()) << released.error().message;
  EXPECT_TRUE(capture_->enrolled().empty());
}

TEST_F(IptablesCaptureTest, EnrollRejectsAPathThatIsNotANetns) {
  auto status = capture_->enroll(PodSandbox{"default/x", state_dir_, "", {}}, -1);
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(capture_->enrolled().empty());
}

// The rule text itself: no root needed.
TEST(IptablesRules, ReleaseUndoesEnrollAndDuplicateJumpsAreRemoved) {
  CaptureSettings s;
  std::string script = iptables::enroll_script(s, iptables::Family::kIpv4, {});
  EXPECT_NE(script.find("-A AMBIT_OUTPUT -m mark --mark 0x539 -j RETURN\n"), std::string::npos);
  EXPECT_NE(script.find("-I OUTPUT 1 -p tcp -j AMBIT_OUTPUT\n"), std::string::npos);
  EXPECT_NE(iptables::enroll_script(s, iptables::Family::kIpv6, {}).find("-d ::1/128"),
            std::string::npos);

  auto state = iptables::parse_nat_state(
      "*nat\n:OUTPUT ACCEPT [0:0]\n:AMBIT_OUTPUT - [0:0]\n:AMBIT_PREROUTING - [0:0]\n"
      "-A PREROUTING -p tcp -j AMBIT_PREROUTING\n-A OUTPUT -p tcp -j AMBIT_OUTPUT\n"
      "-A OUTPUT -j AMBIT_OUTPUT\n-A OUTPUT -p tcp -j OTHER\nCOMMIT\n");
  EXPECT_EQ(state.output_jumps.size(), 2u);
  EXPECT_EQ(state.prerouting_jumps.size(), 1u);
  std::string again = iptables::enroll_script(s, iptables::Family::kIpv4, state);
  EXPECT_EQ(again.find("-I OUTPUT"), std::string::npos);
  EXPECT_NE(again.find("-D OUTPUT -j AMBIT_OUTPUT\n"), std::string::npos);
  EXPECT_EQ(iptables::release_script(state),
            "*nat\n-D OUTPUT -p tcp -j AMBIT_OUTPUT\n-D OUTPUT -j AMBIT_OUTPUT\n"
            "-D PREROUTING -p tcp -j AMBIT_PREROUTING\n-F AMBIT_OUTPUT\n-X AMBIT_OUTPUT\n"
            "-F AMBIT_PREROUTING\n-X AMBIT_PREROUTING\nCOMMIT\n");
  EXPECT_EQ(iptables::release_script(iptables::parse_nat_state("*nat\nCOMMIT\n")), "");
}

}  // namespace
}  // namespace ambit::agent
