// The fixture of the end-to-end tests that run the whole mesh: a netns cluster (nodes and pods
// a test names), ambit-controller on node1 reading a directory of YAML the test writes, an
// ambit-agent per node taking its view and certificates from it, and helpers to run things in
// pods and read logs and endpoints.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include "tests/e2e/netlab/cluster.h"

namespace ambit::netlab {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class ControlledMesh : public ::testing::Test {
 protected:
  // The cluster's nodes and pods (the cluster's name is made here).
  virtual std::vector<NodeSpec> nodes() const = 0;

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, cgroups, BPF)";
    if (!fs::exists("/sys/kernel/btf/vmlinux")) GTEST_SKIP() << "kernel without BTF";
    std::string name = "c" + std::to_string(getpid() % 100000);
    ClusterSpec spec{name, nodes()};
    auto cluster = Cluster::create(spec);
    ASSERT_TRUE(cluster.ok()) << cluster.error().message;
    cluster_ = std::move(*cluster);
    dir_ = cluster_->run_dir() + "/control";
    fs::create_directories(dir_ + "/config");
    for (const auto& n : cluster_->nodes()) {
      SpawnOptions o;
      o.argv = {AMBIT_CONTROLLER_PATH,
                "bootstrap-node",
                "--ca-dir",
                dir_ + "/ca",
                "--node",
                n.name,
                "--out",
                dir_ + "/" + n.name};
      auto out = run_command(o, {}, 20s);
      ASSERT_TRUE(out.ok()) << out.error().message;
    }
    controller_address_ = cluster_->node("node1").ip.to_string() + ":15012";
  }

  void TearDown() override {
    agents_.clear();
    controller_.reset();
    if (!cluster_) return;
    for (const auto& n : cluster_->nodes()) {
      SpawnOptions o;
      o.argv = {AMBIT_AGENT_PATH,  "--uninstall",   "--state-dir",
                state_dir(n.name), "--bpf-pin-dir", pin_dir(n.name)};
      (void)run_command(o, {}, 20s);
    }
    cluster_.reset();
  }

  std::string state_dir(const std::string& node) const {
    return "/run/ambit-e2e/" + cluster_->name() + "-" + node;
  }
  std::string pin_dir(const std::string& node) const {
    return "/sys/fs/bpf/ambit-e2e-" + cluster_->name() + "-" + node;
  }

  // `labels`: a YAML flow map's entries ("app: shop, version: v1"); default "app: <pod name>".
  std::string pod_yaml(const std::string& name, const std::string& sa,
                       const std::string& labels = {}) const {
    const Pod& p = cluster_->pod(name);
    std::ostringstream y;
    y << "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " << p.name << "\n  namespace: " << p.ns
      << "\n  labels: {" << (labels.empty() ? "app: " + p.name : labels)
      << "}\n  annotations:\n    ambit.io/netns: " << p.netns_path
      << "\n    ambit.io/cgroup: " << p.cgroup_path << "\nspec:\n  nodeName: " << p.node
      << "\n  serviceAccountName: " << sa << "\nstatus:\n  podIP: " << p.ip.to_string() << "\n";
    return y.str();
  }

  void write_file(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/config/" + name;
    std::ofstream(path + ".tmp") << text;
    fs::rename(path + ".tmp", path);  // atomic, as an operator's tools (or kubectl) would
  }
  void remove_file(const std::string& name) { fs::remove(dir_ + "/config/" + name); }

  void start_controller(const std::string& ttl = "24h") {
    auto p = cluster_->spawn_in_node(
        "node1", {AMBIT_CONTROLLER_PATH, "--config-dir", dir_ + "/config", "--ca-dir", dir_ + "/ca",
                  "--listen", controller_address_, "--monitor", "127.0.0.1:15014", "--cert-ttl",
                  ttl, "--log-level", "info"});
    ASSERT_TRUE(p.ok()) << p.error().message;
    controller_ = std::move(*p);
  }

  void start_agent(const std::string& node) {
    auto p = cluster_->spawn_in_node(
        node,
        {AMBIT_AGENT_PATH, "--controller", controller_address_, "--node", node, "--credentials",
         dir_ + "/" + node, "--workers", "1", "--capture", "ebpf", "--state-dir", state_dir(node),
         "--bpf-pin-dir", pin_dir(node), "--resync-ms", "1000"});
    ASSERT_TRUE(p.ok()) << p.error().message;
    agents_[node] = std::move(*p);
  }

  static size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }
  bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds timeout = 15s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  bool agent_log_has(const std::string& node, const std::string& text, size_t times = 1) {
    return wait_for([&] { return count(agents_[node]->stderr_text(), text) >= times; });
  }
  std::string agent_log(const std::string& node) { return agents_[node]->stderr_text(); }

  void serve(const std::string& pod) {
    auto p = cluster_->spawn_in_pod(pod, {AMBIT_PROBE_PATH, "serve", "--port", "8080", "--echo"});
    ASSERT_TRUE(p.ok()) << p.error().message;
    ASSERT_TRUE(
        wait_for([&] { return (*p)->stdout_text().find("listening") != std::string::npos; }, 5s));
    servers_.push_back(std::move(*p));
  }

  bool echo_from(const std::string& pod, const std::string& to, const std::string& message,
                 int timeout_ms = 3000) {
    SpawnOptions o;
    o.argv = {AMBIT_PROBE_PATH,
              "connect",
              to,
              "--message",
              message,
              "--expect-echo",
              "--timeout-ms",
              std::to_string(timeout_ms)};
    o.netns_path = cluster_->pod(pod).netns_path;
    o.cgroup_path = cluster_->pod(pod).cgroup_path;
    return run_command(o, {}, std::chrono::milliseconds(timeout_ms + 5000)).ok();
  }

  // GET on the controller's monitoring endpoint (127.0.0.1:15014 in node1's namespace).
  std::string http_get_in_node1(const std::string& path) {
    SpawnOptions o;
    o.argv = {"python3", "-c",
              "import sys,urllib.request;print(urllib.request.urlopen('http://127.0.0.1:15014" +
                  path + "',timeout=5).read().decode())"};
    o.netns_path = cluster_->node("node1").netns_path;
    auto out = run_command(o, {}, 20s);
    return out.ok() ? *out : "error: " + out.error().message;
  }

  // A counter or gauge of the controller's /metrics; -1 when absent or unreadable.
  long long controller_metric(const std::string& name) {
    std::string metrics = http_get_in_node1("/metrics");
    size_t at = metrics.find("\n" + name + " ");
    return at == std::string::npos ? -1 : std::atoll(metrics.c_str() + at + name.size() + 2);
  }

  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<Process> controller_;
  std::map<std::string, std::unique_ptr<Process>> agents_;
  std::vector<std::unique_ptr<Process>> servers_;
  std::string dir_;
  std::string controller_address_;
};

}  // namespace ambit::netlab
