#include "agent/capabilities.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

namespace ambit::agent {
namespace {

#ifndef CAP_BPF
#define CAP_BPF 39
#endif

// Runs missing_capabilities(needs) in a child whose effective set lost `dropped`; returns
// the child's answer joined by '\n'.
std::string missing_without(int dropped, const std::string& mode) {
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    syscall(SYS_capget, &header, data);
    data[dropped / 32].effective &= ~(1u << (dropped % 32));
    syscall(SYS_capset, &header, data);
    std::string out;
    for (const auto& m : missing_capabilities(capabilities_needed(mode))) out += m + "\n";
    (void)!write(fds[1], out.data(), out.size());
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  return out;
}

TEST(Capabilities, EachModeNamesWhatItNeeds) {
  EXPECT_TRUE(capabilities_needed("none").empty());
  auto names = [](const std::string& mode) {
    std::string all;
    for (const auto& n : capabilities_needed(mode)) all += std::string(n.name) + " ";
    return all;
  };
  EXPECT_EQ(names("iptables"), "CAP_SYS_ADMIN CAP_NET_ADMIN ");
  EXPECT_EQ(names("ebpf"), "CAP_SYS_ADMIN CAP_NET_ADMIN CAP_BPF CAP_PERFMON ");
}

TEST(Capabilities, AMissingCapabilityIsNamedWithWhatNeedsIt) {
  std::string missing = missing_without(CAP_BPF, "ebpf");
  EXPECT_NE(missing.find("CAP_BPF (needed for loading and pinning the capture programs)"),
            std::string::npos)
      << missing;
  if (geteuid() == 0) {
    EXPECT_EQ(missing.find("CAP_NET_ADMIN"), std::string::npos) << missing;
    // iptables mode does not need CAP_BPF at all.
    EXPECT_EQ(missing_without(CAP_BPF, "iptables"), "");
  }
}

}  // namespace
}  // namespace ambit::agent
