// The netns cluster harness itself: connectivity, capture, cgroups, lifecycle, cleanup.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "tests/e2e/netlab/cgroup_dir.h"
#include "tests/e2e/netlab/cluster.h"

namespace ambit::netlab {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kProbe = AMBIT_PROBE_PATH;
constexpr const char* kNetlab = AMBIT_NETLAB_PATH;
constexpr uint16_t kPort = 7000;

// Unique per test and per process, so parallel runs never share a name.
std::string cluster_name(const char* tag) {
  return fmt::format("{}{}", tag, ::getpid() % 100000);
}

ClusterSpec two_by_two(const std::string& name) {
  return ClusterSpec{name,
                     {NodeSpec{"node1", {PodSpec{"a1", "ns-a", {{"app", "a"}}}, PodSpec{"a2", "ns-a", {}}}},
                      NodeSpec{"node2", {PodSpec{"b1", "ns-b", {}}, PodSpec{"b2", "ns-b", {}}}}}};
}

std::set<std::string> root_links() {
  SpawnOptions o;
  o.argv = {"ip", "-o", "link", "show"};
  auto out = run_command(o);
  std::set<std::string> names;
  if (!out) return names;
  std::istringstream in(*out);
  std::string line;
  while (std::getline(in, line)) {
    // "3: name@peer: <...>"
    size_t a = line.find(": "), b = line.find_first_of(":@", a + 2);
    if (a != std::string::npos && b != std::string::npos) names.insert(line.substr(a + 2, b - a - 2));
  }
  return names;
}

bool looks_like_netlab_link(const std::string& name) {
  return name == "br0" || name == "cni0" || name.rfind("vp", 0) == 0 ||
         (name.size() > 1 && name[0] == 'n' && std::isdigit(static_cast<unsigned char>(name[1])));
}

class NetlabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: network namespaces, mounts, cgroups";
    links_before_ = root_links();
  }
  void TearDown() override {
    if (::geteuid() != 0) return;
    // Nothing is ever created in the caller's namespace.
    for (const auto& name : root_links()) {
      if (!links_before_.count(name)) {
        EXPECT_FALSE(looks_like_netlab_link(name)) << "netlab interface in the root netns: " << name;
      }
    }
  }

  std::unique_ptr<Cluster> make(const ClusterSpec& spec) {
    auto c = Cluster::create(spec);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    return c.ok() ? std::move(*c) : nullptr;
  }

  // Starts an echo server in the pod and waits until it listens.
  std::unique_ptr<Process> serve(Cluster& c, const std::string& pod) {
    auto p = c.spawn_in_pod(pod, {kProbe, "serve", "--port", std::to_string(kPort), "--echo"});
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
    if (!p.ok()) return nullptr;
    auto deadline = std::chrono::steady_clock::now() + seconds(5);
    while ((*p)->stdout_text().find("listening") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    EXPECT_NE((*p)->stdout_text().find("listening"), std::string::npos) << (*p)->stderr_text();
    return std::move(*p);
  }

  // Runs a probe client in `from` against `to`; returns its exit code (-1 if it hung).
  int echo(Cluster& c, const std::string& from, const std::string& to, const std::string& message) {
    std::string target = c.pod(to).ip.to_string() + ":" + std::to_string(kPort);
    auto p = c.spawn_in_pod(from, {kProbe, "connect", target, "--message", message,
                                   "--expect-echo", "--timeout-ms", "3000"});
    if (!p.ok()) {
      ADD_FAILURE() << p.error().message;
      return -1;
    }
    auto code = (*p)->wait_for_exit(seconds(10));
    if (!code.ok()) {
      ADD_FAILURE() << code.error().message;
      return -1;
    }
    if (*code != 0) ADD_FAILURE() << from << " -> " << to << ": " << (*p)->stderr_text();
    else EXPECT_NE((*p)->stdout_text().find(message), std::string::npos);
    return *code;
  }

  std::set<std::string> links_before_;
};

TEST_F(NetlabTest, PodToPodSameNodeAndCrossNode) {
  auto c = make(two_by_two(cluster_name("pp")));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->node("node1").ip.to_string(), "10.10.0.1");
  EXPECT_EQ(c->node("node2").pod_cidr.to_string(), "10.244.1.0/24");
  EXPECT_EQ(c->pod("a1").ip.to_string(), "10.244.0.10");
  EXPECT_EQ(c->pod("b2").ip.to_string(), "10.244.1.11");
  auto s_a2 = serve(*c, "a2");
  auto s_b1 = serve(*c, "b1");
  ASSERT_TRUE(s_a2 && s_b1);
  EXPECT_EQ(echo(*c, "a1", "a2", "same-node-hello"), 0);
  EXPECT_EQ(echo(*c, "a1", "b1", "cross-node-hello"), 0);
  EXPECT_EQ(echo(*c, "b2", "a2", "cross-node-back"), 0);
}

TEST_F(NetlabTest, FabricCaptureSeesCrossNodePlaintext) {
  auto c = make(two_by_two(cluster_name("cap")));
  ASSERT_TRUE(c);
  auto s_b1 = serve(*c, "b1");
  auto s_a2 = serve(*c, "a2");
  ASSERT_TRUE(s_b1 && s_a2);
  auto capture = c->capture_fabric();
  ASSERT_TRUE(capture->start().ok());
  EXPECT_EQ(echo(*c, "a1", "b1", "cross-marker-7f3a9c"), 0);
  EXPECT_EQ(echo(*c, "a1", "a2", "local-marker-51c0de"), 0);
  capture->stop();
  EXPECT_TRUE(capture->contains("cross-marker-7f3a9c"));
  EXPECT_FALSE(capture->contains("local-marker-51c0de")) << "same-node traffic crossed the fabric";
  EXPECT_TRUE(capture->saw_tcp_port(kPort));
  EXPECT_GT(capture->frames(), 0u);
  EXPECT_GT(capture->bytes(), 0u);
}

TEST_F(NetlabTest, ProcessesRunInTheirCgroupAndNetns) {
  auto c = make(two_by_two(cluster_name("cg")));
  ASSERT_TRUE(c);
  auto check = [&](Process& p, const std::string& cgroup, const std::string& netns) {
    std::string self = read_text_file(fmt::format("/proc/{}/cgroup", p.pid()));
    std::string relative = cgroup.substr(cgroup2_root().size());
    EXPECT_NE(self.find("0::" + relative + "\n"), std::string::npos) << self;
    struct stat proc_ns {}, file_ns {};
    ASSERT_EQ(::stat(fmt::format("/proc/{}/ns/net", p.pid()).c_str(), &proc_ns), 0);
    ASSERT_EQ(::stat(netns.c_str(), &file_ns), 0);
    EXPECT_EQ(proc_ns.st_ino, file_ns.st_ino);
  };
  auto in_pod = c->spawn_in_pod("b2", {"sleep", "30"});
  ASSERT_TRUE(in_pod.ok()) << in_pod.error().message;
  auto in_node = c->spawn_in_node("node1", {"sleep", "30"});
  ASSERT_TRUE(in_node.ok()) << in_node.error().message;
  // execve has happened once spawn returns; the cgroup and netns were set before it.
  check(**in_pod, c->pod("b2").cgroup_path, c->pod("b2").netns_path);
  check(**in_node, c->node("node1").agent_cgroup_path, c->node("node1").netns_path);
  EXPECT_TRUE((*in_pod)->running());
  ASSERT_TRUE((*in_pod)->kill(SIGTERM).ok());
  auto code = (*in_pod)->wait_for_exit(seconds(5));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 128 + SIGTERM);

  auto missing = c->spawn_in_pod("b2", {"/nonexistent/binary"});
  EXPECT_FALSE(missing.ok());
}

TEST_F(NetlabTest, PodsComeAndGo) {
  auto c = make(two_by_two(cluster_name("ar")));
  ASSERT_TRUE(c);
  auto added = c->add_pod("node2", PodSpec{"late", "ns-b", {}});
  ASSERT_TRUE(added.ok()) << added.error().message;
  EXPECT_EQ((*added)->ip.to_string(), "10.244.1.12");
  auto server = serve(*c, "late");
  ASSERT_TRUE(server);
  EXPECT_EQ(echo(*c, "a1", "late", "hello-late-pod"), 0);
  std::string netns = (*added)->netns_path, cgroup = (*added)->cgroup_path;

  ASSERT_TRUE(c->remove_pod("late").ok());
  auto code = server->wait_for_exit(seconds(5));  // cgroup.kill reached it
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 128 + SIGKILL);
  EXPECT_FALSE(fs::exists(netns));
  EXPECT_FALSE(fs::exists(cgroup));
  EXPECT_EQ(c->find_pod("late"), nullptr);
  EXPECT_FALSE(c->add_pod("node2", PodSpec{"a1", "x", {}}).ok()) << "duplicate pod name";

  // The freed address is reused, and the new pod works.
  auto again = c->add_pod("node2", PodSpec{"again", "ns-b", {}});
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ((*again)->ip.to_string(), "10.244.1.12");
  auto server2 = serve(*c, "again");
  EXPECT_EQ(echo(*c, "a2", "again", "hello-again"), 0);
}

TEST_F(NetlabTest, TeardownLeavesNothingBehind) {
  std::string name = cluster_name("td");
  std::string run_dir, cgroup_dir;
  std::unique_ptr<Process> survivor;
  {
    auto c = make(two_by_two(name));
    ASSERT_TRUE(c);
    run_dir = c->run_dir();
    cgroup_dir = c->cgroup_dir();
    EXPECT_TRUE(fs::exists(run_dir + "/cluster.json"));
    EXPECT_TRUE(fs::exists(c->pod("a1").netns_path));
    auto p = c->spawn_in_pod("a1", {"sleep", "60"});
    ASSERT_TRUE(p.ok());
    survivor = std::move(*p);
  }
  auto code = survivor->wait_for_exit(seconds(5));
  ASSERT_TRUE(code.ok()) << "teardown left a pod process running";
  EXPECT_EQ(*code, 128 + SIGKILL);
  EXPECT_FALSE(fs::exists(run_dir));
  EXPECT_FALSE(fs::exists(cgroup_dir));
  std::string mounts = read_text_file("/proc/self/mountinfo");
  EXPECT_EQ(mounts.find(run_dir + "/"), std::string::npos) << "netns mount left behind";
}

TEST_F(NetlabTest, SweepRemovesClusterOfKilledOwner) {
  std::string name = cluster_name("sw");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    auto c = Cluster::create(ClusterSpec{name, {NodeSpec{"node1", {PodSpec{"p", "ns", {}}}}}});
    char ok = c.ok() ? '1' : '0';
    (void)!::write(ready[1], &ok, 1);
    if (c.ok()) (void)(*c)->spawn_in_pod("p", {"sleep", "60"}, {});
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(ok, '1');
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);

  std::string run_dir = std::string(Cluster::kRunRoot) + "/" + name;
  ASSERT_TRUE(fs::exists(run_dir));
  EXPECT_FALSE(Cluster::read_owner(name).alive);
  ASSERT_TRUE(Cluster::sweep_stale().ok());
  EXPECT_FALSE(fs::exists(run_dir));
  EXPECT_FALSE(fs::exists(cgroup2_root() + "/ambit-netlab-" + name));
  EXPECT_EQ(read_text_file("/proc/self/mountinfo").find(run_dir + "/"), std::string::npos);
}

TEST_F(NetlabTest, CliUpExecDown) {
  std::string name = cluster_name("cli");
  SpawnOptions up;
  up.argv = {kNetlab, "up", name, "--nodes", "2", "--pods", "node1:ns-a/client,node2:ns-b/server"};
  auto json = run_command(up);
  ASSERT_TRUE(json.ok()) << json.error().message;
  EXPECT_NE(json->find("\"server\""), std::string::npos) << *json;
  EXPECT_TRUE(Cluster::read_owner(name).alive);

  SpawnOptions serve_opts;
  serve_opts.argv = {kNetlab, "exec", name, "server", "--", kProbe, "serve", "--port", "7000",
                     "--echo"};
  auto server = Process::spawn(serve_opts);
  ASSERT_TRUE(server.ok());
  SpawnOptions connect;
  connect.argv = {kNetlab, "exec", name, "client", "--", kProbe, "connect", "10.244.1.10:7000",
                  "--message", "via-cli", "--expect-echo", "--timeout-ms", "2000"};
  // The server may need a moment to listen.
  Result<std::string> reply = Error{"not tried"};
  for (int i = 0; i < 50 && !(reply = run_command(connect)).ok(); ++i) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_NE(reply->find("via-cli"), std::string::npos);

  SpawnOptions down;
  down.argv = {kNetlab, "down", name};
  ASSERT_TRUE(run_command(down).ok());
  auto code = (*server)->wait_for_exit(seconds(5));
  ASSERT_TRUE(code.ok()) << "down left the server running";
  EXPECT_FALSE(fs::exists(std::string(Cluster::kRunRoot) + "/" + name));
  EXPECT_TRUE(run_command(down).ok()) << "down is idempotent";
}

}  // namespace
}  // namespace ambit::netlab
