// The controller end to end: ambit-controller (in node1's namespace) reads a directory of
// Kubernetes/Istio YAML and pushes each node's view to a real ambit-agent on each node of a
// two-node netns cluster; certificates are signed over the same channel. Traffic comes from
// processes inside the pods. eBPF capture.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "control/control_client.h"
#include "core/netns.h"
#include "core/x509.h"
#include "tests/e2e/controlled_mesh.h"
#include "tests/e2e/netlab/cluster.h"

namespace ambit::netlab {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class ControllerTest : public ControlledMesh {
 protected:
  std::vector<NodeSpec> nodes() const override {
    return {{"node1", {{"client", "shop", {}}, {"outsider", "plain", {}}}},
            {"node2", {{"api", "shop", {}}}}};
  }

  // The cluster's objects; `extra` (policies, PeerAuthentications) goes in a file of its own.
  void write_base() {
    std::ostringstream y;
    y << "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n"
      << "    ambit.io/dataplane-mode: ambient\n---\n"
      << "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: plain\n---\n"
      << pod_yaml("client", "client") << "---\n"
      << pod_yaml("api", "api") << "---\n"
      << pod_yaml("outsider", "default") << "---\n"
      << "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: shop\nspec:\n"
      << "  clusterIP: 10.96.0.20\n  selector: {app: api}\n  ports:\n  - port: 80\n"
      << "    targetPort: 8080\n";
    write_file("cluster.yaml", y.str());
  }

  void start_mesh() {
    write_base();
    start_controller();
    start_agent("node1");
    start_agent("node2");
    ASSERT_TRUE(agent_log_has("node1", "enrolled pod shop/client")) << agent_log("node1")
                                                                    << controller_->stderr_text();
    ASSERT_TRUE(agent_log_has("node2", "enrolled pod shop/api")) << agent_log("node2");
    serve("api");
  }

  std::string api() { return cluster_->pod("api").ip.to_string() + ":8080"; }

  const std::string deny_client_ =
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: "
      "api-only-admin\n"
      "  namespace: shop\nspec:\n  selector:\n    matchLabels: {app: api}\n  action: ALLOW\n  "
      "rules:\n"
      "  - from:\n    - source:\n        principals: [\"cluster.local/ns/shop/sa/admin\"]\n";
};

TEST_F(ControllerTest, PolicyChangesReachALiveMeshWithoutRestarts) {
  start_mesh();
  ASSERT_TRUE(echo_from("client", api(), "before-policy"));
  write_file("policy.yaml", deny_client_);
  ASSERT_TRUE(wait_for([&] { return !echo_from("client", api(), "denied?", 1500); }))
      << "the ALLOW-only-admin policy never took effect\n" << agent_log("node2");
  remove_file("policy.yaml");
  EXPECT_TRUE(wait_for([&] { return echo_from("client", api(), "allowed-again"); }))
      << agent_log("node2");
  EXPECT_NE(agent_log("node2").find("authorization denied"), std::string::npos);
}

// A DENY written during an incident cuts the live connections it now refuses; those it does not
// refuse (the outsider's plaintext one, PERMISSIVE) keep flowing.
TEST_F(ControllerTest, ADenyCutsLiveConnectionsItRefusesAndSparesTheRest) {
  start_mesh();
  auto hold = [&](const std::string& pod, int count) {
    auto p = cluster_->spawn_in_pod(pod, {AMBIT_PROBE_PATH, "rr", api(), "--size", "64", "--count",
                                          std::to_string(count), "--interval-ms", "50"});
    EXPECT_TRUE(p.ok());
    return p.ok() ? std::move(*p) : nullptr;
  };
  auto doomed = hold("client", 1200);   // a minute of exchanges, unless cut
  auto spared = hold("outsider", 100);  // about five seconds
  ASSERT_TRUE(doomed && spared);
  // Not synchronisation: the log check below fails if the client's connection was not live.
  std::this_thread::sleep_for(500ms);
  ASSERT_TRUE(doomed->running() && spared->running());
  write_file("deny.yaml",
             "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n"
             "  name: deny-client\n  namespace: shop\nspec:\n  selector:\n"
             "    matchLabels: {app: api}\n  action: DENY\n  rules:\n  - from:\n    - source:\n"
             "        principals: [\"cluster.local/ns/shop/sa/client\"]\n");
  ASSERT_TRUE(
      agent_log_has("node2", "after a policy change: denied by DENY policy shop/deny-client"))
      << agent_log("node2");
  auto landed = std::chrono::steady_clock::now();
  auto code = doomed->wait_for_exit(5s);
  ASSERT_TRUE(code.ok()) << "the client's live connection was not cut";
  auto cut_after = std::chrono::steady_clock::now() - landed;
  EXPECT_NE(*code, 0);
  std::printf("live connection cut %lld ms after the agent logged the DENY\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(cut_after).count()));
  EXPECT_LT(cut_after, 1s)
      << "cut " << std::chrono::duration_cast<std::chrono::milliseconds>(cut_after).count()
      << " ms after the agent applied the DENY";
  EXPECT_NE(agent_log("node2").find(
                "authorization policy changed: denied by DENY policy shop/deny-client"),
            std::string::npos)
      << "the access log names the policy";
  auto spared_code = spared->wait_for_exit(20s);
  ASSERT_TRUE(spared_code.ok());
  EXPECT_EQ(*spared_code, 0) << spared->stderr_text();
  EXPECT_FALSE(echo_from("client", api(), "new-and-denied", 1500));
}

TEST_F(ControllerTest, PeerAuthenticationStrictRefusesPlaintextFromOutsideTheMesh) {
  start_mesh();
  // The outsider (namespace without the label) talks plaintext; PERMISSIVE by default.
  EXPECT_TRUE(echo_from("outsider", api(), "plaintext-permissive"));
  write_file("peer-auth.yaml",
             "apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata:\n"
             "  name: default\n  namespace: shop\nspec:\n  mtls:\n    mode: STRICT\n");
  EXPECT_TRUE(wait_for([&] { return !echo_from("outsider", api(), "plaintext-strict", 1500); }))
      << agent_log("node2");
  EXPECT_TRUE(echo_from("client", api(), "mtls-still-fine"));
  write_file("peer-auth.yaml",
             "apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata:\n"
             "  name: default\n  namespace: shop\nspec:\n  mtls:\n    mode: PERMISSIVE\n");
  EXPECT_TRUE(wait_for([&] { return echo_from("outsider", api(), "plaintext-again"); }));
}

TEST_F(ControllerTest, ABrokenFileChangesNothing) {
  start_mesh();
  write_file("policy.yaml", deny_client_);
  ASSERT_TRUE(wait_for([&] { return !echo_from("client", api(), "denied?", 1500); }));
  // A broken edit of the same file: refused whole, the policy in force stays.
  write_file("policy.yaml", deny_client_ + "  - to: [{operation: {ports: [\"not-a-port\"]}}]\n  bad: [\n");
  // The controller publishes a version that reports the rejection; once every agent has acked
  // it, the policy in force must still be the old one.
  ASSERT_TRUE(wait_for([&] {
    std::string status = http_get_in_node1("/status");
    return status.find("AMB0001") != std::string::npos &&
           status.find("\"in_sync\": false") == std::string::npos;
  })) << http_get_in_node1("/status")
      << controller_->stderr_text();
  EXPECT_FALSE(echo_from("client", api(), "still-denied", 1500));
  std::string log = controller_->stderr_text();
  EXPECT_NE(log.find("policy.yaml rejected"), std::string::npos) << log;
  EXPECT_NE(log.find("AMB0001"), std::string::npos) << "the analyze message is logged\n" << log;
  // ... and shown on the status endpoint and as a metric (inside node1's namespace).
  std::string status = http_get_in_node1("/status"), metrics = http_get_in_node1("/metrics");
  EXPECT_NE(status.find("AMB0001"), std::string::npos) << status;
  EXPECT_NE(metrics.find("ambit_controller_config_errors 1"), std::string::npos) << metrics;
}

TEST_F(ControllerTest, TrafficGoesOnWithoutTheControllerAndAgentsResume) {
  start_mesh();
  ASSERT_TRUE(echo_from("client", api(), "with-controller"));
  ASSERT_TRUE(controller_->kill(SIGKILL).ok());
  ASSERT_TRUE(controller_->wait_for_exit(5s).ok());
  // The data path keeps its last good view.
  EXPECT_TRUE(echo_from("client", api(), "controller-down"));
  // A change made while the controller is away reaches the agents once it is back.
  write_file("policy.yaml", deny_client_);
  start_controller();
  EXPECT_TRUE(wait_for([&] { return !echo_from("client", api(), "after-restart", 1500); }, 20s))
      << agent_log("node2") << controller_->stderr_text();
}

TEST_F(ControllerTest, ANodeCannotObtainAnIdentityItDoesNotHost) {
  start_mesh();
  std::string read_error;
  auto read = [&](const std::string& f) {
    auto t = read_pem_file(dir_ + "/node1/" + f);
    if (!t) read_error = t.error().message;
    return t ? *t : std::string();
  };
  control::ControlClientOptions o;
  o.controller = *SocketAddress::parse(controller_address_);
  o.node = "node1";
  o.credentials.certificate_chain_pem = read("node.pem");
  o.credentials.key_pem = read("node.key");
  o.root_pem = read("root.pem");
  ASSERT_TRUE(read_error.empty()) << read_error;
  long long refused_before = controller_metric("ambit_controller_certificates_refused_total");
  ASSERT_GE(refused_before, 0);
  // node1's credentials, used from the test (the fabric is reachable from node1's namespace only:
  // run the client on a thread inside it).
  Result<std::string> answer = Error{"not run"};
  std::thread t([&] {
    auto ns = NetnsHandle::open(cluster_->node("node1").netns_path);
    if (!ns) return;
    ScopedNetns in(*ns);
    auto client = control::ControlClient::start(o, [](const ambit::v1::Update&) { return Status{}; });
    if (!client) {
      answer = client.error();
      return;
    }
    auto key = generate_p256_key();
    // api runs on node2: node1 must not get its identity, whatever its CSR says.
    auto csr = make_certificate_request(key.get(), "spiffe://cluster.local/ns/shop/sa/api");
    if (!csr) {
      answer = csr.error();
      return;
    }
    answer = (*client)->request_certificate("shop/api", *csr, 10s);
  });
  t.join();
  ASSERT_FALSE(answer.ok()) << "node1 obtained a certificate for a pod of node2";
  // Refused by the controller for that reason, not lost on the way (a timeout, no connection).
  const std::string reason = "workload 'shop/api' is not on node 'node1'";
  EXPECT_EQ(answer.error().message, reason);
  EXPECT_TRUE(wait_for([&] {
    return controller_->stderr_text().find(
               "refused a certificate for workload 'shop/api' to "
               "agent/node1: " +
               reason) != std::string::npos;
  })) << controller_->stderr_text();
  EXPECT_EQ(controller_metric("ambit_controller_certificates_refused_total"), refused_before + 1);
}

TEST_F(ControllerTest, CertificateRotationDropsNoConnection) {
  write_base();
  start_controller("1m");
  start_agent("node1");
  start_agent("node2");
  ASSERT_TRUE(agent_log_has("node1", "enrolled pod shop/client"));
  ASSERT_TRUE(agent_log_has("node2", "enrolled pod shop/api"));
  serve("api");
  // One connection held open the whole time, exchanging every 100 ms, plus a new connection
  // every second, across one renewal (at half of the 1-minute lifetime) and then some.
  auto rr = cluster_->spawn_in_pod(
      "client", {AMBIT_PROBE_PATH, "rr", api(), "--size", "1024", "--count", "450",
                 "--interval-ms", "100"});
  ASSERT_TRUE(rr.ok());
  size_t failures = 0, attempts = 0;
  auto until = std::chrono::steady_clock::now() + 45s;
  while (std::chrono::steady_clock::now() < until) {
    ++attempts;
    if (!echo_from("client", api(), "rotation-" + std::to_string(attempts))) ++failures;
    std::this_thread::sleep_for(1s);
  }
  EXPECT_EQ(failures, 0u) << "of " << attempts << " new connections";
  auto code = (*rr)->wait_for_exit(60s);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << (*rr)->stderr_text();
  // Both pods' certificates were renewed at least once meanwhile.
  EXPECT_GE(count(agent_log("node1"), "certificate for shop/client"), 2u) << agent_log("node1");
  EXPECT_GE(count(agent_log("node2"), "certificate for shop/api"), 2u) << agent_log("node2");
}

}  // namespace
}  // namespace ambit::netlab
