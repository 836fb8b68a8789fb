// A test cluster of "nodes" and "pods" built from network namespaces, veth pairs and bridges,
// entirely inside namespaces it creates (nothing in the caller's namespace), with one cgroup v2
// directory per pod and per node agent. Torn down by the destructor; leftovers of an owner that
// died (SIGKILL) are swept by the next create() or `ambit-netlab sweep`.
//
//   fabric netns:  br0 ── n<i> ⇄ eth0 of node i (10.10.0.<i+1>/24)
//   node i netns:  eth0, cni0 (10.244.<i>.1/24) ── vp<k> ⇄ eth0 of each pod, ip_forward=1,
//                  routes to every other node's 10.244.<j>.0/24 via 10.10.0.<j+1>
//   pod netns:     lo, eth0 10.244.<i>.<m+10>/24, default via 10.244.<i>.1
//
// Files: /run/ambit-netlab/<cluster>/{owner,cluster.json,netns/<node>,netns/<node>.<pod>,logs/}
// cgroups: <cgroup2>/ambit-netlab-<cluster>/<node>/{agent,<pod>} and .../fabric
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/net_address.h"
#include "core/result.h"
#include "tests/e2e/netlab/packet_capture.h"
#include "tests/e2e/netlab/process.h"

namespace ambit::netlab {

struct PodSpec {
  std::string name;  // unique in the cluster; [A-Za-z0-9_-], not "agent"
  std::string ns;    // Kubernetes namespace (metadata only)
  std::map<std::string, std::string> labels;
};
struct NodeSpec {
  std::string name;  // [A-Za-z0-9_-], not "fabric"
  std::vector<PodSpec> pods;
};
struct ClusterSpec {
  std::string name;  // [a-z0-9-], at most 12 characters; unique among live clusters
  std::vector<NodeSpec> nodes;
};

struct Pod {
  std::string name, ns, node;
  std::map<std::string, std::string> labels;
  IpAddress ip;
  std::string netns_path, cgroup_path;
};
struct Node {
  std::string name;
  IpAddress ip;
  Cidr pod_cidr;
  std::string netns_path, agent_cgroup_path;
};

class Cluster {
 public:
  static constexpr const char* kRunRoot = "/run/ambit-netlab";

  // Sweeps stale leftovers of dead runs first; fails if a live cluster has the same name.
  static Result<std::unique_ptr<Cluster>> create(const ClusterSpec& spec);
  // Kills every process in the cluster's cgroups (cgroup.kill), removes cgroups and netns files
  // (veths and bridges die with their namespaces).
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  const std::string& name() const { return name_; }
  // Abort on an unknown name (a test bug); use find_* to probe.
  const Pod& pod(std::string_view name) const;
  const Node& node(std::string_view name) const;
  const Pod* find_pod(std::string_view name) const;
  const Node* find_node(std::string_view name) const;
  const std::vector<Node>& nodes() const { return nodes_; }
  std::vector<const Pod*> pods() const;
  const std::string& fabric_netns_path() const { return fabric_netns_; }
  std::string run_dir() const;
  std::string cgroup_dir() const;

  Result<const Pod*> add_pod(std::string_view node, const PodSpec& spec);
  // Kills the pod's processes and removes its netns (and veth) and cgroup.
  Status remove_pod(std::string_view name);

  // Runs argv inside the pod (its cgroup, its netns) or the node (agent cgroup, node netns).
  // Output goes to <run_dir>/logs/<target>-<n>.{out,err}. The child gets SIGKILL when the
  // spawning thread exits.
  Result<std::unique_ptr<Process>> spawn_in_pod(std::string_view pod, std::vector<std::string> argv,
                                                std::vector<std::string> env = {});
  Result<std::unique_ptr<Process>> spawn_in_node(std::string_view node,
                                                 std::vector<std::string> argv,
                                                 std::vector<std::string> env = {});

  // Frames entering the fabric bridge's ports (node-to-node traffic), not started yet.
  std::unique_ptr<PacketCapture> capture_fabric(PacketCapture::Limits limits = {}) const;

  // The cluster as JSON (also kept at <run_dir>/cluster.json).
  std::string to_json() const;

  // Removes the leftovers of clusters whose owner process is gone.
  static Status sweep_stale();
  // Removes a cluster's leftovers by name, whoever owns it. Idempotent.
  static Status destroy_by_name(const std::string& name);
  // Owner recorded for a cluster: pid and a role tag ("lib", "cli"); pid 0 if none.
  struct Owner {
    pid_t pid = 0;
    std::string role;
    bool alive = false;
  };
  static Owner read_owner(const std::string& name);
  // The role tag written to the owner file by clusters this process creates.
  static void set_owner_role(std::string role);

 private:
  explicit Cluster(std::string name);
  Status build(const ClusterSpec& spec);
  Status write_json() const;
  Result<std::unique_ptr<Process>> spawn(const std::string& label, const std::string& netns,
                                         const std::string& cgroup, std::vector<std::string> argv,
                                         std::vector<std::string> env);

  struct NodeState {
    int index = 0;
    int next_veth = 0;
    std::map<int, std::string> host_slots;  // m -> pod name
  };

  std::string name_;
  std::string fabric_netns_;
  std::vector<Node> nodes_;
  std::vector<NodeState> node_state_;
  std::map<std::string, Pod, std::less<>> pods_;
  std::map<std::string, std::string, std::less<>> pod_veth_;  // pod -> veth name in node netns
  int spawn_counter_ = 0;
};

}  // namespace ambit::netlab
