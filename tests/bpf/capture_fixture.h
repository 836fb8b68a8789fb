// A pod for the capture tests: netns "pod" (10.99.0.2, fd99::2 on a veth) wired to netns
// "client" (10.99.0.1, fd99::1), a pod cgroup, this process in an "agent" cgroup, and the
// capture loaded under /sys/fs/bpf/ambit-test-<pid> with the pod attached.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "bpf/bpffs.h"
#include "bpf/capture_programs.h"
#include "tests/bpf/capture_test_env.h"

namespace ambit::bpf::testing {

class CaptureTest : public ::testing::Test {
 protected:
  static constexpr const char* kPodId = "pod-a";

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (BPF, netns, cgroups)";
    auto missing = CapturePrograms::missing_hooks();
    if (!missing.empty())
      GTEST_SKIP() << "kernel lacks: " << fmt::format("{}", fmt::join(missing, "; "));

    pin_dir_ = fmt::format("/sys/fs/bpf/ambit-test-{}", ::getpid());
    ASSERT_TRUE(CapturePrograms::uninstall(pin_dir_).ok());
    pod_ips_ = {*IpAddress::parse("10.99.0.2"), *IpAddress::parse("fd99::2")};

    cgroups_.emplace();
    ASSERT_TRUE(cgroups_->status().ok()) << cgroups_->status().error().message;
    auto agent = cgroups_->make("agent");
    auto pod = cgroups_->make("pod");
    ASSERT_TRUE(agent.ok() && pod.ok());
    agent_cgroup_ = *agent;
    pod_cgroup_ = *pod;
    auto entered = cgroups_->enter("agent");
    ASSERT_TRUE(entered.ok()) << entered.error().message;

    auto pod_ns = new_netns();
    auto client_ns = new_netns();
    ASSERT_TRUE(pod_ns.ok() && client_ns.ok());
    pod_ns_ = std::move(*pod_ns);
    client_ns_ = std::move(*client_ns);
    for (const auto& [ns, cmd] : std::vector<std::pair<NetnsHandle*, std::string>>{
             {&pod_ns_, "ip link set lo up"},
             {&client_ns_, "ip link set lo up"},
             {&pod_ns_,
              "ip link add vpod type veth peer name vclient netns " + netns_path(client_ns_)},
             {&pod_ns_, "ip addr add 10.99.0.2/24 dev vpod"},
             {&pod_ns_, "ip addr add fd99::2/64 dev vpod nodad"},
             {&pod_ns_, "ip link set vpod up"},
             {&client_ns_, "ip addr add 10.99.0.1/24 dev vclient"},
             {&client_ns_, "ip addr add fd99::1/64 dev vclient nodad"},
             {&client_ns_, "ip link set vclient up"},
         }) {
      auto ran = run_in(*ns, cmd);
      ASSERT_TRUE(ran.ok()) << ran.error().message;
    }

    CaptureOptions options;
    options.pin_dir = pin_dir_;
    options.agent_cgroup = agent_cgroup_;
    auto loaded = CapturePrograms::load(options);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    capture_ = std::move(*loaded);
    auto cg = open_dir(pod_cgroup_);
    ASSERT_TRUE(cg.ok()) << cg.error().message;
    pod_cgroup_fd_ = std::move(*cg);
    auto attached = capture_->attach_pod(kPodId, pod_cgroup_fd_.get(), pod_ns_.fd(), pod_ips_);
    ASSERT_TRUE(attached.ok()) << attached.error().message;
  }

  void TearDown() override {
    capture_.reset();
    if (!pin_dir_.empty()) {
      auto removed = CapturePrograms::uninstall(pin_dir_);
      EXPECT_TRUE(removed.ok()) << removed.error().message;
    }
    cgroups_.reset();
  }

  // The agent's listener inside the pod's netns.
  UniqueFd pod_listener(const std::string& addr) {
    auto fd = listen_in(pod_ns_, *SocketAddress::parse(addr));
    EXPECT_TRUE(fd.ok()) << fd.error().message;
    return fd.ok() ? std::move(*fd) : UniqueFd();
  }

  int connect_from_client(const std::string& addr, int timeout_ms = 2000) {
    return *in_netns(client_ns_, [&]() -> Result<int> {
      return connect_within(*SocketAddress::parse(addr), timeout_ms);
    });
  }

  std::string pin_dir_;
  std::vector<IpAddress> pod_ips_;
  std::optional<TestCgroups> cgroups_;
  std::string agent_cgroup_, pod_cgroup_;
  NetnsHandle pod_ns_, client_ns_;
  UniqueFd pod_cgroup_fd_;
  std::unique_ptr<CapturePrograms> capture_;
};

}  // namespace ambit::bpf::testing
