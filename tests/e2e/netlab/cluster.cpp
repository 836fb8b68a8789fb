#include "tests/e2e/netlab/cluster.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/netlab/cgroup_dir.h"
#include "tests/e2e/netlab/netns_file.h"

namespace ambit::netlab {

namespace fs = std::filesystem;

namespace {

std::string g_owner_role = "lib";

bool valid_name(std::string_view s, size_t max_len, bool lower_only) {
  if (s.empty() || s.size() > max_len || s[0] == '-' || s[0] == '.') return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    bool lower = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    return lower || (!lower_only && ((c >= 'A' && c <= 'Z') || c == '_'));
  });
}

std::string run_dir_of(const std::string& cluster) {
  return std::string(Cluster::kRunRoot) + "/" + cluster;
}
std::string cgroup_dir_of(const std::string& cluster) {
  return cgroup2_root() + "/ambit-netlab-" + cluster;
}

// Kernel start time of a process (field 22 of /proc/<pid>/stat): tells a live owner from a
// recycled pid.
unsigned long long start_time_of(pid_t pid) {
  std::string stat = read_text_file(fmt::format("/proc/{}/stat", pid));
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream in(stat.substr(paren + 2));
  std::string field;
  for (int i = 3; i <= 22 && in >> field; ++i) {
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  }
  return 0;
}

Status run_ip_batch(const std::string& netns, const std::string& batch) {
  SpawnOptions o;
  o.argv = {"ip", "-batch", "-"};
  o.netns_path = netns;
  o.die_with_parent = false;
  auto r = run_command(o, batch);
  if (!r) return Error::format("in {}: {}\nbatch was:\n{}", netns, r.error().message, batch);
  return Status();
}

// Quiet, predictable namespaces: no IPv6 autoconf chatter on the links we capture.
Status prepare_netns(const std::string& path) {
  for (const char* key : {"net/ipv6/conf/all/disable_ipv6", "net/ipv6/conf/default/disable_ipv6"}) {
    Status s = write_netns_sysctl(path, key, "1");
    if (!s) return s;
  }
  return Status();
}

}  // namespace

Cluster::Cluster(std::string name) : name_(std::move(name)) {}

Cluster::~Cluster() {
  Status s = destroy_by_name(name_);
  if (!s) std::fprintf(stderr, "netlab: teardown of cluster %s: %s\n", name_.c_str(),
                       s.error().message.c_str());
}

void Cluster::set_owner_role(std::string role) { g_owner_role = std::move(role); }

std::string Cluster::run_dir() const { return run_dir_of(name_); }
std::string Cluster::cgroup_dir() const { return cgroup_dir_of(name_); }

Result<std::unique_ptr<Cluster>> Cluster::create(const ClusterSpec& spec) {
  if (!valid_name(spec.name, 12, true)) {
    return Error::format("cluster name '{}': use 1-12 of [a-z0-9-]", spec.name);
  }
  if (spec.nodes.empty() || spec.nodes.size() > 200) {
    return Error::format("cluster {}: between 1 and 200 nodes", spec.name);
  }
  Status swept = sweep_stale();
  if (!swept) std::fprintf(stderr, "netlab: sweep: %s\n", swept.error().message.c_str());

  std::error_code ec;
  fs::create_directories(kRunRoot, ec);
  std::string dir = run_dir_of(spec.name);
  if (::mkdir(dir.c_str(), 0755) != 0) {
    if (errno == EEXIST) {
      return Error::format("cluster {} already exists (owner pid {}); `ambit-netlab down {}`",
                           spec.name, read_owner(spec.name).pid, spec.name);
    }
    return Error::format("mkdir {}: {}", dir, std::strerror(errno));
  }
  {
    std::ofstream owner(dir + "/owner");
    owner << ::getpid() << " " << start_time_of(::getpid()) << " " << g_owner_role << "\n";
  }
  // From here on the destructor cleans up whatever part got built.
  std::unique_ptr<Cluster> cluster(new Cluster(spec.name));
  Status built = cluster->build(spec);
  if (!built) return Error::format("cluster {}: {}", spec.name, built.error().message);
  return cluster;
}

Status Cluster::build(const ClusterSpec& spec) {
  std::string dir = run_dir();
  for (const char* sub : {"/netns", "/logs"}) {
    if (::mkdir((dir + sub).c_str(), 0755) != 0) {
      return Error::format("mkdir {}{}: {}", dir, sub, std::strerror(errno));
    }
  }
  if (Status s = make_cgroup(cgroup_dir()); !s) return s;
  if (Status s = make_cgroup(cgroup_dir() + "/fabric"); !s) return s;

  fabric_netns_ = dir + "/netns/fabric";
  if (Status s = create_netns_file(fabric_netns_); !s) return s;
  if (Status s = prepare_netns(fabric_netns_); !s) return s;

  std::string fabric_batch = "link set lo up\nlink add br0 type bridge\nlink set br0 up\n";
  for (size_t i = 0; i < spec.nodes.size(); ++i) {
    const NodeSpec& ns = spec.nodes[i];
    if (!valid_name(ns.name, 32, false) || ns.name == "fabric") {
      return Error::format("node name '{}': use 1-32 of [A-Za-z0-9_-], not 'fabric'", ns.name);
    }
    if (find_node(ns.name)) return Error::format("node {} declared twice", ns.name);
    Node node;
    node.name = ns.name;
    node.ip = IpAddress::v4((10u << 24) | (10u << 16) | static_cast<uint32_t>(i + 1));
    node.pod_cidr = *Cidr::parse(fmt::format("10.244.{}.0/24", i));
    node.netns_path = dir + "/netns/" + ns.name;
    node.agent_cgroup_path = cgroup_dir() + "/" + ns.name + "/agent";
    if (Status s = create_netns_file(node.netns_path); !s) return s;
    if (Status s = prepare_netns(node.netns_path); !s) return s;
    if (Status s = write_netns_sysctl(node.netns_path, "net/ipv4/ip_forward", "1"); !s) return s;
    if (Status s = make_cgroup(cgroup_dir() + "/" + ns.name); !s) return s;
    if (Status s = make_cgroup(node.agent_cgroup_path); !s) return s;
    fabric_batch += fmt::format("link add n{} type veth peer name eth0 netns {}\n", i,
                                node.netns_path);
    fabric_batch += fmt::format("link set n{} master br0 up\n", i);
    nodes_.push_back(std::move(node));
    node_state_.push_back(NodeState{static_cast<int>(i), 0, {}});
  }
  if (Status s = run_ip_batch(fabric_netns_, fabric_batch); !s) return s;

  for (size_t i = 0; i < nodes_.size(); ++i) {
    std::string batch = fmt::format(
        "link set lo up\nlink set eth0 up\naddr add {}/24 dev eth0\n"
        "link add cni0 type bridge\naddr add 10.244.{}.1/24 dev cni0\nlink set cni0 up\n",
        nodes_[i].ip.to_string(), i);
    for (size_t j = 0; j < nodes_.size(); ++j) {
      if (j == i) continue;
      batch += fmt::format("route add 10.244.{}.0/24 via {}\n", j, nodes_[j].ip.to_string());
    }
    if (Status s = run_ip_batch(nodes_[i].netns_path, batch); !s) return s;
  }
  for (const NodeSpec& ns : spec.nodes) {
    for (const PodSpec& ps : ns.pods) {
      auto added = add_pod(ns.name, ps);
      if (!added) return added.error();
    }
  }
  return write_json();
}

const Pod* Cluster::find_pod(std::string_view name) const {
  auto it = pods_.find(name);
  return it == pods_.end() ? nullptr : &it->second;
}

const Node* Cluster::find_node(std::string_view name) const {
  for (const Node& n : nodes_) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

const Pod& Cluster::pod(std::string_view name) const {
  const Pod* p = find_pod(name);
  if (!p) {
    std::fprintf(stderr, "netlab: cluster %s has no pod '%.*s'\n", name_.c_str(),
                 static_cast<int>(name.size()), name.data());
    std::abort();
  }
  return *p;
}

const Node& Cluster::node(std::string_view name) const {
  const Node* n = find_node(name);
  if (!n) {
    std::fprintf(stderr, "netlab: cluster %s has no node '%.*s'\n", name_.c_str(),
                 static_cast<int>(name.size()), name.data());
    std::abort();
  }
  return *n;
}

std::vector<const Pod*> Cluster::pods() const {
  std::vector<const Pod*> out;
  for (const auto& [name, p] : pods_) out.push_back(&p);
  return out;
}

Result<const Pod*> Cluster::add_pod(std::string_view node_name, const PodSpec& spec) {
  const Node* node = find_node(node_name);
  if (!node) return Error::format("add_pod {}: no node '{}'", spec.name, node_name);
  if (!valid_name(spec.name, 32, false) || spec.name == "agent") {
    return Error::format("pod name '{}': use 1-32 of [A-Za-z0-9_-], not 'agent'", spec.name);
  }
  if (find_pod(spec.name)) return Error::format("pod {} already exists", spec.name);
  NodeState& state = node_state_[static_cast<size_t>(node - nodes_.data())];
  int slot = 0;
  while (state.host_slots.count(slot)) ++slot;
  if (slot + 10 > 254) return Error::format("node {} is full", node->name);

  Pod pod;
  pod.name = spec.name;
  pod.ns = spec.ns;
  pod.node = node->name;
  pod.labels = spec.labels;
  pod.ip = IpAddress::v4((10u << 24) | (244u << 16) | (static_cast<uint32_t>(state.index) << 8) |
                         static_cast<uint32_t>(slot + 10));
  pod.netns_path = run_dir() + "/netns/" + node->name + "." + spec.name;
  pod.cgroup_path = cgroup_dir() + "/" + node->name + "/" + spec.name;
  std::string veth = fmt::format("vp{}", state.next_veth++);
  // The MAC follows the address, so a pod that reuses a freed address is not shadowed by a
  // neighbour entry of the one before.

  // Registered first so that remove_pod() can undo a half-built pod.
  state.host_slots[slot] = pod.name;
  pod_veth_[pod.name] = veth;
  const Pod& stored = pods_.emplace(pod.name, pod).first->second;

  auto build_pod = [&]() -> Status {
    if (Status s = make_cgroup(pod.cgroup_path); !s) return s;
    if (Status s = create_netns_file(pod.netns_path); !s) return s;
    if (Status s = prepare_netns(pod.netns_path); !s) return s;
    if (Status s = run_ip_batch(node->netns_path,
                                fmt::format("link add {0} type veth peer name eth0 address "
                                            "02:0a:f4:{2:02x}:{3:02x}:00 netns {1}\n"
                                            "link set {0} master cni0 up\n",
                                            veth, pod.netns_path, state.index, slot + 10));
        !s) {
      return s;
    }
    return run_ip_batch(pod.netns_path,
                        fmt::format("link set lo up\nlink set eth0 up\naddr add {}/24 dev eth0\n"
                                    "route add default via 10.244.{}.1\n",
                                    pod.ip.to_string(), state.index));
  };
  if (Status s = build_pod(); !s) {
    (void)remove_pod(pod.name);
    return Error::format("pod {}: {}", spec.name, s.error().message);
  }
  if (Status s = write_json(); !s) return s.error();
  return &stored;
}

Status Cluster::remove_pod(std::string_view name) {
  auto it = pods_.find(name);
  if (it == pods_.end()) return Error::format("remove_pod: no pod '{}'", name);
  Pod pod = it->second;
  Status killed = destroy_cgroup_tree(pod.cgroup_path);
  // Deleting the node-side veth takes the pod's end with it right away; the namespace itself may
  // linger until its last socket is gone.
  const Node& node = this->node(pod.node);
  auto veth = pod_veth_.find(name);
  if (veth != pod_veth_.end()) {
    (void)run_ip_batch(node.netns_path, fmt::format("link del {}\nneigh flush to {}\n",
                                                    veth->second, pod.ip.to_string()));
    pod_veth_.erase(veth);
  }
  Status unmounted = remove_netns_file(pod.netns_path);
  NodeState& state = node_state_[static_cast<size_t>(&node - nodes_.data())];
  std::erase_if(state.host_slots, [&](const auto& kv) { return kv.second == pod.name; });
  pods_.erase(it);
  Status json = write_json();
  if (!killed) return killed;
  if (!unmounted) return unmounted;
  return json;
}

Result<std::unique_ptr<Process>> Cluster::spawn(const std::string& label, const std::string& netns,
                                                const std::string& cgroup,
                                                std::vector<std::string> argv,
                                                std::vector<std::string> env) {
  SpawnOptions o;
  o.argv = std::move(argv);
  o.env = std::move(env);
  o.netns_path = netns;
  o.cgroup_path = cgroup;
  int n = spawn_counter_++;
  o.stdout_path = fmt::format("{}/logs/{}-{}.out", run_dir(), label, n);
  o.stderr_path = fmt::format("{}/logs/{}-{}.err", run_dir(), label, n);
  return Process::spawn(o);
}

Result<std::unique_ptr<Process>> Cluster::spawn_in_pod(std::string_view name,
                                                       std::vector<std::string> argv,
                                                       std::vector<std::string> env) {
  const Pod* p = find_pod(name);
  if (!p) return Error::format("spawn_in_pod: no pod '{}'", name);
  return spawn(p->name, p->netns_path, p->cgroup_path, std::move(argv), std::move(env));
}

Result<std::unique_ptr<Process>> Cluster::spawn_in_node(std::string_view name,
                                                        std::vector<std::string> argv,
                                                        std::vector<std::string> env) {
  const Node* n = find_node(name);
  if (!n) return Error::format("spawn_in_node: no node '{}'", name);
  return spawn(n->name, n->netns_path, n->agent_cgroup_path, std::move(argv), std::move(env));
}

std::unique_ptr<PacketCapture> Cluster::capture_fabric(PacketCapture::Limits limits) const {
  return std::make_unique<PacketCapture>(fabric_netns_, limits);
}

std::string Cluster::to_json() const {
  nlohmann::json j;
  j["name"] = name_;
  j["run_dir"] = run_dir();
  j["cgroup_dir"] = cgroup_dir();
  j["fabric"] = {{"netns_path", fabric_netns_}, {"cgroup_path", cgroup_dir() + "/fabric"}};
  j["nodes"] = nlohmann::json::array();
  for (const Node& n : nodes_) {
    j["nodes"].push_back({{"name", n.name},
                          {"ip", n.ip.to_string()},
                          {"pod_cidr", n.pod_cidr.to_string()},
                          {"netns_path", n.netns_path},
                          {"cgroup_path", n.agent_cgroup_path}});
  }
  j["pods"] = nlohmann::json::array();
  for (const auto& [name, p] : pods_) {
    j["pods"].push_back({{"name", p.name},
                         {"ns", p.ns},
                         {"node", p.node},
                         {"ip", p.ip.to_string()},
                         {"labels", p.labels},
                         {"netns_path", p.netns_path},
                         {"cgroup_path", p.cgroup_path}});
  }
  return j.dump(2);
}

Status Cluster::write_json() const {
  std::string path = run_dir() + "/cluster.json";
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << to_json() << "\n";
    if (!out) return Error::format("write {} failed", tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Error::format("rename {}: {}", path, std::strerror(errno));
  }
  return Status();
}

Cluster::Owner Cluster::read_owner(const std::string& name) {
  Owner owner;
  std::istringstream in(read_text_file(run_dir_of(name) + "/owner"));
  unsigned long long start = 0;
  if (!(in >> owner.pid >> start >> owner.role)) return Owner{};
  owner.alive = owner.pid > 0 && ::kill(owner.pid, 0) == 0 && start_time_of(owner.pid) == start;
  return owner;
}

Status Cluster::destroy_by_name(const std::string& name) {
  if (!valid_name(name, 12, true)) return Error::format("cluster name '{}' is not valid", name);
  std::string errors;
  auto note = [&](const Status& s) {
    if (!s) errors += (errors.empty() ? "" : "; ") + s.error().message;
  };
  // Processes first: nothing may keep using the namespaces while they go away.
  note(destroy_cgroup_tree(cgroup_dir_of(name)));
  std::string dir = run_dir_of(name);
  std::error_code ec;
  if (fs::is_directory(dir + "/netns", ec)) {
    for (const auto& entry : fs::directory_iterator(dir + "/netns", ec)) {
      note(remove_netns_file(entry.path().string()));
    }
  }
  fs::remove_all(dir, ec);
  if (ec) note(Error::format("remove {}: {}", dir, ec.message()));
  if (!errors.empty()) return Error{errors};
  return Status();
}

Status Cluster::sweep_stale() {
  std::error_code ec;
  std::vector<std::string> stale;
  for (const auto& entry : fs::directory_iterator(kRunRoot, ec)) {
    std::string name = entry.path().filename().string();
    if (!valid_name(name, 12, true)) continue;
    Owner owner = read_owner(name);
    if (owner.alive) continue;
    // A directory without an owner file is a create() in progress unless it is old.
    if (owner.pid == 0) {
      auto age = fs::file_time_type::clock::now() - fs::last_write_time(entry.path(), ec);
      if (ec || age < std::chrono::seconds(30)) continue;
    }
    stale.push_back(name);
  }
  // cgroups whose run directory is gone (a teardown interrupted midway).
  const std::string prefix = "ambit-netlab-";
  for (const auto& entry : fs::directory_iterator(cgroup2_root(), ec)) {
    std::string dirname = entry.path().filename().string();
    if (!entry.is_directory() || dirname.rfind(prefix, 0) != 0) continue;
    std::string name = dirname.substr(prefix.size());
    if (!fs::exists(run_dir_of(name)) && valid_name(name, 12, true)) stale.push_back(name);
  }
  std::string errors;
  for (const std::string& name : stale) {
    if (Status s = destroy_by_name(name); !s) errors += s.error().message + "; ";
  }
  if (!errors.empty()) return Error{errors};
  return Status();
}

}  // namespace ambit::netlab
