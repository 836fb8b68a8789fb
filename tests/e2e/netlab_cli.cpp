// ambit-netlab: brings a netns test cluster up and down from a shell (demo, benchmarks).
//
//   ambit-netlab up <name> --nodes 2 --pods "node1:ns-a/client,node2:ns-b/server" [--hold]
//       prints the cluster as JSON (also in /run/ambit-netlab/<name>/cluster.json). Without
//       --hold a background holder process owns the cluster until `down`; with --hold this
//       process owns it until SIGINT/SIGTERM.
//   ambit-netlab exec <name> <pod|node|fabric> -- argv...   (exit code is the program's)
//   ambit-netlab down <name>                                 (idempotent)
//   ambit-netlab sweep                                       (leftovers of dead owners)
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "tests/e2e/netlab/cluster.h"

using namespace ambit;
using namespace ambit::netlab;

namespace {

Result<ClusterSpec> parse_spec(const std::string& name, int nodes, const std::string& pods) {
  ClusterSpec spec;
  spec.name = name;
  for (int i = 1; i <= nodes; ++i) spec.nodes.push_back(NodeSpec{"node" + std::to_string(i), {}});
  std::stringstream ss(pods);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    // node:ns/name or node:name (namespace "default")
    size_t colon = item.find(':');
    if (colon == std::string::npos) {
      return Error::format("pod '{}': expected <node>:<namespace>/<name>", item);
    }
    std::string node = item.substr(0, colon), rest = item.substr(colon + 1);
    size_t slash = rest.find('/');
    PodSpec pod;
    pod.ns = slash == std::string::npos ? "default" : rest.substr(0, slash);
    pod.name = slash == std::string::npos ? rest : rest.substr(slash + 1);
    auto it = std::find_if(spec.nodes.begin(), spec.nodes.end(),
                           [&](const NodeSpec& n) { return n.name == node; });
    if (it == spec.nodes.end()) {
      return Error::format("pod '{}': no node '{}' (nodes are node1..node{})", item, node, nodes);
    }
    it->pods.push_back(std::move(pod));
  }
  return spec;
}

sigset_t termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

void wait_for_termination() {
  sigset_t set = termination_signals();
  int sig = 0;
  sigwait(&set, &sig);
}

int up_hold(const ClusterSpec& spec) {
  // Blocked before anything is built: a Ctrl-C during creation is handled after it, by teardown.
  sigset_t set = termination_signals();
  sigprocmask(SIG_BLOCK, &set, nullptr);
  Cluster::set_owner_role("cli");
  auto cluster = Cluster::create(spec);
  if (!cluster) {
    std::fprintf(stderr, "ambit-netlab up: %s\n", cluster.error().message.c_str());
    return 1;
  }
  std::printf("%s\n", (*cluster)->to_json().c_str());
  std::fflush(stdout);
  wait_for_termination();
  return 0;  // the cluster is torn down as it goes out of scope
}

int up_detached(const ClusterSpec& spec) {
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return 1;
  std::fflush(stdout);
  pid_t pid = ::fork();
  if (pid < 0) {
    std::fprintf(stderr, "ambit-netlab up: fork: %s\n", std::strerror(errno));
    return 1;
  }
  if (pid == 0) {
    // The holder: no terminal, no inherited stdout (a `$(ambit-netlab up …)` must not hang).
    ::close(report[0]);
    ::setsid();
    sigset_t set = termination_signals();
    sigprocmask(SIG_BLOCK, &set, nullptr);
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    Cluster::set_owner_role("cli");
    std::string message;
    int code = 0;
    {
      auto cluster = Cluster::create(spec);
      message = cluster ? (*cluster)->to_json() : "error: " + cluster.error().message;
      (void)!::write(report[1], message.data(), message.size());
      ::close(report[1]);
      if (cluster) wait_for_termination();
      code = cluster ? 0 : 1;
    }
    ::_exit(code);
  }
  ::close(report[1]);
  std::string message;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(report[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) message.append(buf, static_cast<size_t>(n));
  }
  ::close(report[0]);
  if (message.rfind("error: ", 0) == 0 || message.empty()) {
    std::fprintf(stderr, "ambit-netlab up: %s\n",
                 message.empty() ? "the holder process died" : message.c_str() + 7);
    ::waitpid(pid, nullptr, 0);
    return 1;
  }
  std::printf("%s\n", message.c_str());
  return 0;
}

int exec_in(const std::string& name, const std::string& target, std::vector<std::string> argv) {
  std::string path = std::string(Cluster::kRunRoot) + "/" + name + "/cluster.json";
  std::string text = read_text_file(path);
  if (text.empty()) {
    std::fprintf(stderr, "ambit-netlab exec: no cluster '%s' (%s)\n", name.c_str(), path.c_str());
    return 127;
  }
  auto j = nlohmann::json::parse(text, nullptr, false);
  std::string netns, cgroup;
  if (target == "fabric" && j.contains("fabric")) {
    netns = j["fabric"].value("netns_path", "");
    cgroup = j["fabric"].value("cgroup_path", "");
  }
  for (const char* kind : {"pods", "nodes"}) {
    if (!netns.empty() || !j.contains(kind)) continue;
    for (const auto& item : j[kind]) {
      if (item.value("name", "") == target) {
        netns = item.value("netns_path", "");
        cgroup = item.value("cgroup_path", "");
        break;
      }
    }
  }
  if (netns.empty()) {
    std::fprintf(stderr, "ambit-netlab exec: cluster %s has no pod or node '%s'\n", name.c_str(),
                 target.c_str());
    return 127;
  }
  // Join the cgroup first (teardown's cgroup.kill then reaches us), then the namespace.
  int procs = ::open((cgroup + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  if (procs < 0 || ::write(procs, "0", 1) != 1) {
    std::fprintf(stderr, "ambit-netlab exec: join cgroup %s: %s\n", cgroup.c_str(),
                 std::strerror(errno));
    return 127;
  }
  ::close(procs);
  int ns = ::open(netns.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "ambit-netlab exec: setns %s: %s\n", netns.c_str(), std::strerror(errno));
    return 127;
  }
  ::close(ns);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  std::fprintf(stderr, "ambit-netlab exec: %s: %s\n", args[0], std::strerror(errno));
  return 127;
}

int down(const std::string& name, bool force) {
  Cluster::Owner owner = Cluster::read_owner(name);
  if (owner.alive && owner.role != "cli" && !force) {
    std::fprintf(stderr,
                 "ambit-netlab down: cluster %s is owned by live process %d (role %s); use "
                 "--force to remove it anyway\n",
                 name.c_str(), owner.pid, owner.role.c_str());
    return 1;
  }
  if (owner.alive && owner.role == "cli") {
    // Let the holder tear down itself; the sweep below finishes the job if it does not.
    ::kill(owner.pid, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (Cluster::read_owner(name).alive && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  Status s = Cluster::destroy_by_name(name);
  if (!s) {
    std::fprintf(stderr, "ambit-netlab down: %s\n", s.error().message.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ambit-netlab: network-namespace test clusters"};
  app.require_subcommand(1);

  std::string name, pods, target;
  int nodes = 2;
  bool hold = false, force = false;
  std::vector<std::string> command;

  auto* up = app.add_subcommand("up", "create a cluster and print it as JSON");
  up->add_option("name", name, "cluster name, 1-12 of [a-z0-9-]")->required();
  up->add_option("--nodes", nodes, "number of nodes, named node1..nodeN");
  up->add_option("--pods", pods, "comma-separated <node>:<namespace>/<pod>");
  up->add_flag("--hold", hold, "stay in the foreground; tear down on SIGINT/SIGTERM");

  auto* exec = app.add_subcommand("exec", "run a program in a pod, node or the fabric");
  exec->add_option("name", name, "cluster name")->required();
  exec->add_option("target", target, "pod, node or 'fabric'")->required();
  exec->add_option("command", command, "program and arguments (after --)")->required();

  auto* down_cmd = app.add_subcommand("down", "tear a cluster down (idempotent)");
  down_cmd->add_option("name", name, "cluster name")->required();
  down_cmd->add_flag("--force", force, "even if a live non-CLI process owns it");

  auto* sweep = app.add_subcommand("sweep", "remove clusters whose owner died");

  CLI11_PARSE(app, argc, argv);

  if (geteuid() != 0) {
    std::fprintf(stderr, "ambit-netlab: needs root (namespaces, mounts, cgroups)\n");
    return 1;
  }
  if (*up) {
    auto spec = parse_spec(name, nodes, pods);
    if (!spec) {
      std::fprintf(stderr, "ambit-netlab up: %s\n", spec.error().message.c_str());
      return 1;
    }
    return hold ? up_hold(*spec) : up_detached(*spec);
  }
  if (*exec) return exec_in(name, target, command);
  if (*down_cmd) return down(name, force);
  if (*sweep) {
    Status s = Cluster::sweep_stale();
    if (!s) {
      std::fprintf(stderr, "ambit-netlab sweep: %s\n", s.error().message.c_str());
      return 1;
    }
  }
  return 0;
}
