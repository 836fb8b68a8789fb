// The mesh end to end on a netns cluster: two nodes, each running a real ambit-agent in its
// node namespace, pods with their own netns and cgroup, traffic from real processes inside the
// pods, and a packet capture on the node-to-node link. Run once per capture mode.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "core/x509.h"
#include "tests/e2e/netlab/cluster.h"

namespace ambit::netlab {
namespace {

using namespace std::chrono_literals;

constexpr const char* kVip = "10.96.0.20";

bool have_tool(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

// Why this machine cannot run a capture mode, or empty when it can.
std::string unavailable(const std::string& mode) {
  if (geteuid() != 0) return "needs root (network namespaces, cgroups, BPF)";
  if (mode == "ebpf" && !std::filesystem::exists("/sys/kernel/btf/vmlinux")) {
    return "kernel without BTF";
  }
  if (mode == "iptables" && !have_tool("iptables-restore")) return "iptables is not installed";
  return {};
}

struct PodDecl {
  std::string name, node, ns, service_account;
  std::map<std::string, std::string> labels;
};

class MeshTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (auto why = unavailable(GetParam()); !why.empty()) GTEST_SKIP() << why;
    std::string name = "m" + std::to_string(getpid() % 100000) + GetParam().substr(0, 1);
    ClusterSpec spec{name, {{"node0", {}}, {"node1", {}}}};
    for (const auto& p : pods_) {
      for (auto& n : spec.nodes) {
        if (n.name == p.node) n.pods.push_back({p.name, p.ns, p.labels});
      }
    }
    auto cluster = Cluster::create(spec);
    ASSERT_TRUE(cluster.ok()) << cluster.error().message;
    sweep_stale_capture_state();
    cluster_ = std::move(*cluster);
    dir_ = cluster_->run_dir() + "/mesh";
    std::filesystem::create_directories(dir_);
    make_ca();
    marker_ = "ambit-e2e-marker-" + std::to_string(std::random_device{}());
  }

  void TearDown() override {
    agents_.clear();
    if (!cluster_) return;
    // Whatever a test left enrolled is removed, so no pin or rule outlives the cluster.
    for (const auto& n : cluster_->nodes()) uninstall(n.name);
    cluster_.reset();
    std::error_code ec;
    std::filesystem::remove("/run/ambit-e2e", ec);  // only if empty
  }

  // Capture state of clusters that no longer exist (a run killed before its teardown): removed
  // with the agent's own --uninstall, as an operator would.
  void sweep_stale_capture_state() {
    namespace fs = std::filesystem;
    std::error_code ec;
    for (const auto& root : {fs::path("/sys/fs/bpf"), fs::path("/run/ambit-e2e")}) {
      for (const auto& entry : fs::directory_iterator(root, ec)) {
        std::string name = entry.path().filename().string();
        std::string rest = name.starts_with("ambit-e2e-") ? name.substr(10) : name;
        if (root == "/sys/fs/bpf" && !name.starts_with("ambit-e2e-")) continue;
        std::string owner = rest.substr(0, rest.rfind('-'));
        if (fs::exists(std::string(Cluster::kRunRoot) + "/" + owner)) continue;
        std::string node = rest.substr(rest.rfind('-') + 1);
        SpawnOptions o;
        o.argv = {AMBIT_AGENT_PATH, "--uninstall", "--state-dir", "/run/ambit-e2e/" + rest,
                  "--bpf-pin-dir", "/sys/fs/bpf/ambit-e2e-" + rest};
        (void)run_command(o, {}, 20s);
      }
    }
  }

  void make_ca() {
    auto key = generate_p256_key();
    auto now = std::chrono::system_clock::now();
    auto cert = make_ca_certificate(key.get(), "ambit e2e root", now - 1h, now + 48h);
    ASSERT_TRUE(cert.ok());
    std::ofstream(dir_ + "/ca.pem") << certificate_to_pem(cert->get());
    ASSERT_TRUE(write_private_file(dir_ + "/ca.key", private_key_to_pem(key.get())).ok());
  }

  std::string state_dir(const std::string& node) const {
    return "/run/ambit-e2e/" + cluster_->name() + "-" + node;
  }
  std::string pin_dir(const std::string& node) const {
    return "/sys/fs/bpf/ambit-e2e-" + cluster_->name() + "-" + node;
  }
  std::string config_path(const std::string& node) const {
    return dir_ + "/agent-" + node + ".yaml";
  }

  // One view of the cluster, written for every node (each agent reads its own file).
  void write_config() {
    for (const auto& n : cluster_->nodes()) {
      std::ostringstream y;
      y << "node: " << n.name << "\ntrustDomain: cluster.local\n"
        << "certificateAuthority: {certificate: ca.pem, privateKey: ca.key}\n"
        << "namespaces:\n";
      for (const auto& [ns, labels] : namespaces_) {
        y << "- name: " << ns << "\n  labels: {";
        for (const auto& [k, v] : labels) y << k << ": " << v << ", ";
        y << "}\n";
      }
      y << "workloads:\n";
      for (const auto& decl : pods_) {
        const Pod* p = cluster_->find_pod(decl.name);
        if (p == nullptr) continue;
        y << "- name: " << p->name << "\n  namespace: " << p->ns << "\n  node: " << p->node
          << "\n  serviceAccount: " << decl.service_account << "\n  addresses: ["
          << p->ip.to_string() << "]\n  netns: " << p->netns_path << "\n  cgroup: "
          << p->cgroup_path << "\n  labels: {app: " << p->name;
        for (const auto& [k, v] : decl.labels) y << ", " << k << ": " << v;
        y << "}\n";
        if (strict_.contains(p->name)) y << "  peerAuthentication: STRICT\n";
      }
      y << "services:\n- name: api\n  namespace: shop\n  addresses: [" << kVip
        << "]\n  ports: [{port: 80, targetPort: 8080}]\n  selector: {app: api}\n";
      std::string tmp = config_path(n.name) + ".tmp";
      std::ofstream(tmp) << y.str();
      std::filesystem::rename(tmp, config_path(n.name));  // atomic, as an operator's tools do
    }
  }

  Process& start_agent(const std::string& node) {
    auto p = cluster_->spawn_in_node(
        node, {AMBIT_AGENT_PATH, "--config", config_path(node), "--workers", "1", "--capture",
               GetParam(), "--state-dir", state_dir(node), "--bpf-pin-dir", pin_dir(node),
               "--resync-ms", "1000", "--log-level", "info"});
    EXPECT_TRUE(p.ok()) << p.error().message;
    agents_[node] = std::move(*p);
    return *agents_[node];
  }

  void uninstall(const std::string& node) {
    SpawnOptions o;
    o.argv = {AMBIT_AGENT_PATH, "--uninstall", "--state-dir", state_dir(node), "--bpf-pin-dir",
              pin_dir(node)};
    o.netns_path = cluster_->node(node).netns_path;
    auto out = run_command(o, {}, 20s);
    EXPECT_TRUE(out.ok()) << (out.ok() ? "" : out.error().message);
  }

  // Waits (bounded) until the agent's log contains text; false on timeout or agent exit.
  bool wait_for_log(const std::string& node, const std::string& text,
                    std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (agents_[node]->stderr_text().find(text) != std::string::npos) return true;
      if (!agents_[node]->running()) break;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  std::string agent_log(const std::string& node) { return agents_[node]->stderr_text(); }

  size_t count_in_log(const std::string& node, const std::string& text) {
    std::string log = agent_log(node);
    size_t n = 0;
    for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
    return n;
  }

  // Waits (bounded) until text has appeared at least `times` times in the agent's log.
  bool wait_for_count(const std::string& node, const std::string& text, size_t times,
                      std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (count_in_log(node, text) >= times) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  void start_agents_and_wait(const std::vector<std::string>& enrolled) {
    write_config();
    for (const auto& n : cluster_->nodes()) start_agent(n.name);
    for (const auto& uid : enrolled) {
      const Pod& p = cluster_->pod(uid.substr(uid.find('/') + 1));
      ASSERT_TRUE(wait_for_log(p.node, "enrolled pod " + uid))
          << "agent on " << p.node << " did not enroll " << uid << ":\n" << agent_log(p.node);
    }
  }

  void serve(const std::string& pod, uint16_t port = 8080) {
    auto p = cluster_->spawn_in_pod(pod, {AMBIT_PROBE_PATH, "serve", "--port",
                                          std::to_string(port), "--echo"});
    ASSERT_TRUE(p.ok()) << p.error().message;
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while ((*p)->stdout_text().find("listening") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
    ASSERT_NE((*p)->stdout_text().find("listening"), std::string::npos) << (*p)->stderr_text();
    servers_.push_back(std::move(*p));
  }

  // Runs the probe client in a pod: true when the echo came back intact.
  bool echo_from(const std::string& pod, const std::string& to, const std::string& message,
                 int timeout_ms = 3000) {
    SpawnOptions o;
    o.argv = {AMBIT_PROBE_PATH, "connect", to, "--message", message, "--expect-echo",
              "--timeout-ms", std::to_string(timeout_ms)};
    o.netns_path = cluster_->pod(pod).netns_path;
    o.cgroup_path = cluster_->pod(pod).cgroup_path;
    return run_command(o, {}, std::chrono::milliseconds(timeout_ms + 5000)).ok();
  }

  std::string at(const std::string& pod, uint16_t port = 8080) {
    return cluster_->pod(pod).ip.to_string() + ":" + std::to_string(port);
  }

  std::string run_in_pod(const std::string& pod, std::vector<std::string> argv) {
    SpawnOptions o;
    o.argv = std::move(argv);
    o.netns_path = cluster_->pod(pod).netns_path;
    auto out = run_command(o, {}, 20s);
    return out.ok() ? *out : "error: " + out.error().message;
  }

  std::vector<PodDecl> pods_ = {
      {"client", "node0", "shop", "client", {}},
      {"web", "node0", "shop", "web", {}},
      {"api", "node1", "shop", "api", {}},
      {"outsider", "node1", "plain", "default", {}},
  };
  std::map<std::string, std::map<std::string, std::string>> namespaces_ = {
      {"shop", {{"ambit.io/dataplane-mode", "ambient"}}}, {"plain", {}}};
  std::set<std::string> strict_;
  std::unique_ptr<Cluster> cluster_;
  std::map<std::string, std::unique_ptr<Process>> agents_;
  std::vector<std::unique_ptr<Process>> servers_;
  std::string dir_;
  std::string marker_;
};

TEST_P(MeshTest, CapturedTrafficCrossesNodesOnlyInsideMutualTls) {
  start_agents_and_wait({"shop/client", "shop/web", "shop/api"});
  serve("api");
  serve("web");
  auto capture = cluster_->capture_fabric();
  ASSERT_TRUE(capture->start().ok());

  EXPECT_TRUE(echo_from("client", at("api"), marker_ + "-cross-node"));
  EXPECT_TRUE(echo_from("client", at("web"), marker_ + "-same-node"));
  // A Service VIP exists only in the mesh (no kube-proxy here): reaching it proves capture.
  EXPECT_TRUE(echo_from("client", std::string(kVip) + ":80", marker_ + "-vip"));
  capture->stop();

  EXPECT_FALSE(capture->contains(marker_)) << "plaintext crossed the node-to-node link";
  EXPECT_TRUE(capture->saw_tcp_port(15008)) << "no HBONE on the node-to-node link";
  EXPECT_FALSE(capture->saw_tcp_port(8080)) << "the app port travelled in the clear";

  std::string a = agent_log("node0"), b = agent_log("node1");
  EXPECT_NE(a.find("src.identity=\"spiffe://cluster.local/ns/shop/sa/client\""), std::string::npos) << a;
  EXPECT_NE(a.find("dst.identity=\"spiffe://cluster.local/ns/shop/sa/api\""), std::string::npos) << a;
  EXPECT_NE(b.find("direction=\"inbound\""), std::string::npos) << b;
  EXPECT_NE(b.find("src.identity=\"spiffe://cluster.local/ns/shop/sa/client\""), std::string::npos) << b;
}

TEST_P(MeshTest, UnlabelledNamespacesAndOptedOutPodsAreNotCaptured) {
  start_agents_and_wait({"shop/client", "shop/web", "shop/api"});
  serve("api");
  serve("web");

  // A pod of an unlabelled namespace talks in plaintext: the marker is on the wire (to a
  // PERMISSIVE pod on the other node, which accepts plaintext).
  auto plain = cluster_->capture_fabric();
  ASSERT_TRUE(plain->start().ok());
  EXPECT_TRUE(echo_from("outsider", at("web"), marker_ + "-plain"));
  plain->stop();
  EXPECT_TRUE(plain->contains(marker_ + "-plain")) << "outsider's traffic should not be tunnelled";

  // Removing the namespace label releases its pods within seconds.
  namespaces_["shop"] = {};
  write_config();
  ASSERT_TRUE(wait_for_log("node0", "released pod shop/client")) << agent_log("node0");
  ASSERT_TRUE(wait_for_log("node1", "released pod shop/api")) << agent_log("node1");
  auto released = cluster_->capture_fabric();
  ASSERT_TRUE(released->start().ok());
  EXPECT_TRUE(echo_from("client", at("api"), marker_ + "-released"));
  released->stop();
  EXPECT_TRUE(released->contains(marker_ + "-released"));

  // Label back: captured again. Then the client opts out with its pod label.
  namespaces_["shop"] = {{"istio.io/dataplane-mode", "ambient"}};
  write_config();
  ASSERT_TRUE(wait_for_count("node0", "enrolled pod shop/client", 2)) << agent_log("node0");
  ASSERT_TRUE(wait_for_count("node1", "enrolled pod shop/api", 2)) << agent_log("node1");
  auto again = cluster_->capture_fabric();
  ASSERT_TRUE(again->start().ok());
  EXPECT_TRUE(echo_from("client", at("api"), marker_ + "-again"));
  again->stop();
  EXPECT_FALSE(again->contains(marker_ + "-again"));

  pods_[0].labels = {{"ambit.io/dataplane-mode", "none"}};
  write_config();
  ASSERT_TRUE(wait_for_count("node0", "released pod shop/client", 2)) << agent_log("node0");
  auto opted_out = cluster_->capture_fabric();
  ASSERT_TRUE(opted_out->start().ok());
  EXPECT_TRUE(echo_from("client", at("api"), marker_ + "-opted-out"));
  opted_out->stop();
  EXPECT_TRUE(opted_out->contains(marker_ + "-opted-out"));
}

TEST_P(MeshTest, NewPodInAnEnrolledNamespaceIsCapturedBeforeItsTrafficFlows) {
  start_agents_and_wait({"shop/client", "shop/api"});
  serve("api");
  // The pod appears (its sandbox exists, nothing runs in it yet) and the agent learns of it.
  ASSERT_TRUE(cluster_->add_pod("node0", {"late", "shop", {}}).ok());
  pods_.push_back({"late", "node0", "shop", "late", {}});
  auto announced = std::chrono::steady_clock::now();
  write_config();
  ASSERT_TRUE(wait_for_log("node0", "enrolled pod shop/late")) << agent_log("node0");
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - announced);
  RecordProperty("enrolled_after_ms", std::to_string(ms.count()));
  // Its first connection already goes through the mesh.
  auto capture = cluster_->capture_fabric();
  ASSERT_TRUE(capture->start().ok());
  EXPECT_TRUE(echo_from("late", at("api"), marker_ + "-late"));
  capture->stop();
  EXPECT_FALSE(capture->contains(marker_ + "-late"));
  std::string a = agent_log("node0");
  EXPECT_NE(a.find("src.identity=\"spiffe://cluster.local/ns/shop/sa/late\""), std::string::npos) << a;
}

TEST_P(MeshTest, StrictPodRefusesPlaintextFromOutsideTheMesh) {
  strict_ = {"api"};
  start_agents_and_wait({"shop/client", "shop/api"});
  serve("api");
  EXPECT_FALSE(echo_from("outsider", at("api"), marker_ + "-plaintext", 1500));
  EXPECT_TRUE(echo_from("client", at("api"), marker_ + "-mtls"));
  std::string b = agent_log("node1");
  EXPECT_NE(b.find("requires mTLS (STRICT)"), std::string::npos) << b;
}

TEST_P(MeshTest, AgentKilledAndRestartedRecoversAndDropsStaleState) {
  pods_.push_back({"gone", "node1", "shop", "gone", {}});
  ASSERT_TRUE(cluster_->add_pod("node1", {"gone", "shop", {}}).ok());
  start_agents_and_wait({"shop/client", "shop/api", "shop/gone"});
  serve("api");
  ASSERT_TRUE(echo_from("client", at("api"), marker_ + "-before"));

  ASSERT_TRUE(agents_["node1"]->kill(SIGKILL).ok());
  ASSERT_TRUE(agents_["node1"]->wait_for_exit(5s).ok());
  // The pod is still enrolled while its agent is away: its traffic fails closed.
  EXPECT_FALSE(echo_from("client", at("api"), marker_ + "-agent-down", 1500));

  // While the agent was down, one of its pods went away.
  ASSERT_TRUE(cluster_->remove_pod("gone").ok());
  write_config();
  start_agent("node1");
  ASSERT_TRUE(wait_for_log("node1", "enrolled pod shop/api")) << agent_log("node1");
  ASSERT_TRUE(wait_for_log("node1", "released pod shop/gone")) << agent_log("node1");
  EXPECT_TRUE(echo_from("client", at("api"), marker_ + "-after"));
  // Nothing of the stale pod is left in the capture state (pins or records).
  for (const auto& root : {pin_dir("node1"), state_dir("node1")}) {
    if (!std::filesystem::exists(root)) continue;
    for (const auto& f : std::filesystem::recursive_directory_iterator(root)) {
      EXPECT_EQ(f.path().string().find("gone", root.size()), std::string::npos) << f.path();
    }
  }
}

TEST_P(MeshTest, UninstallLeavesTheNodeClean) {
  start_agents_and_wait({"shop/client", "shop/api"});
  serve("api");
  ASSERT_TRUE(echo_from("client", at("api"), marker_ + "-meshed"));
  for (auto& [node, agent] : agents_) {
    ASSERT_TRUE(agent->kill(SIGTERM).ok());
    auto code = agent->wait_for_exit(15s);
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(*code, 0) << agent->stderr_text();
  }
  for (const auto& n : cluster_->nodes()) uninstall(n.name);

  for (const auto& n : cluster_->nodes()) {
    EXPECT_FALSE(std::filesystem::exists(pin_dir(n.name))) << pin_dir(n.name);
    bool records = std::filesystem::exists(state_dir(n.name)) &&
                   !std::filesystem::is_empty(state_dir(n.name));
    EXPECT_FALSE(records) << state_dir(n.name);
  }
  for (const char* pod : {"client", "api"}) {
    std::string listeners = run_in_pod(pod, {"ss", "-Hltn"});
    for (const char* port : {":15001", ":15006", ":15008"}) {
      EXPECT_EQ(listeners.find(port), std::string::npos) << pod << ": " << listeners;
    }
    if (have_tool("iptables-save")) {
      std::string rules = run_in_pod(pod, {"iptables-save"});
      EXPECT_EQ(rules.find("AMBIT"), std::string::npos) << pod << ": " << rules;
    }
    std::string progs = run_in_pod(pod, {"bpftool", "cgroup", "show", cluster_->pod(pod).cgroup_path});
    EXPECT_EQ(progs.find("ambit"), std::string::npos) << pod << ": " << progs;
  }
  // Nothing steers the pods' traffic any more: plain TCP, visible on the wire.
  auto capture = cluster_->capture_fabric();
  ASSERT_TRUE(capture->start().ok());
  EXPECT_TRUE(echo_from("client", at("api"), marker_ + "-uninstalled"));
  capture->stop();
  EXPECT_TRUE(capture->contains(marker_ + "-uninstalled"));
}

INSTANTIATE_TEST_SUITE_P(Capture, MeshTest, ::testing::Values("ebpf", "iptables"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ambit::netlab
