// The waypoint end to end: a two-node netns cluster with the controller, an agent per node and
// ambit-waypoint in its own pod (node1), serving Service shop (v1 and v2 pods on node2; HTTP on
// port 80, gRPC on 9090). Clients in node1's pods send real HTTP/1.1 (python's http.client,
// curl), HTTP/2 (curl, nghttp, h2load) and gRPC (grpcio) to the Service VIP; their agent
// steers it to the waypoint over HBONE, which routes it by the VirtualService and checks the L7
// AuthorizationPolicy, then tunnels it to the chosen pod's node. Request loops are bounded in
// count and time.
#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "tests/e2e/controlled_mesh.h"

namespace ambit::netlab {
namespace {

constexpr const char* kVip = "10.96.0.30";

class WaypointTest : public ControlledMesh {
 protected:
  std::vector<NodeSpec> nodes() const override {
    return {
        {"node1",
         {{"client", "shop", {}}, {"payment", "shop", {}}, {"shop-waypoint-0", "shop", {}}}},
        {"node2", {{"shop-v1", "shop", {}}, {"shop-v2", "shop", {}}, {"stripe", "outside", {}}}}};
  }

  void write_base() {
    std::ostringstream y;
    y << "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n"
      << "    ambit.io/dataplane-mode: ambient\n---\n"
      << pod_yaml("client", "client") << "---\n"
      << pod_yaml("payment", "payment-service") << "---\n"
      << pod_yaml("shop-waypoint-0", "shop-waypoint",
                  "gateway.networking.k8s.io/gateway-name: shop-waypoint")
      << "---\n"
      << pod_yaml("shop-v1", "shop", "app: shop, version: v1") << "---\n"
      << pod_yaml("shop-v2", "shop", "app: shop, version: v2") << "---\n"
      << "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n"
      << "  name: shop-waypoint\n  namespace: shop\nspec:\n  gatewayClassName: ambit-waypoint\n"
      << "  listeners:\n  - name: mesh\n    port: 15008\n    protocol: HBONE\n---\n"
      << "apiVersion: v1\nkind: Service\nmetadata:\n  name: shop\n  namespace: shop\n"
      << "  labels:\n    istio.io/use-waypoint: shop-waypoint\nspec:\n  clusterIP: " << kVip
      << "\n  selector: {app: shop}\n  ports:\n  - name: http\n    port: 80\n"
      << "    targetPort: 8080\n  - name: grpc\n    port: 9090\n    targetPort: 9090\n"
      << "  - name: tls\n    port: 443\n    targetPort: 8443\n---\n"
      << "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: shop\n"
      << "  namespace: shop\nspec:\n  host: shop\n"
      << (traffic_policy_.empty() ? "" : "  trafficPolicy:\n    " + traffic_policy_ + "\n")
      << "  subsets:\n  - name: v1\n    labels: "
      << "{version: v1}\n  - name: v2\n    labels: {version: v2}\n";
    write_file("cluster.yaml", y.str());
  }

  int waypoint_workers_ = 1;
  std::vector<std::string> waypoint_args_;  // more flags for ambit-waypoint
  void start_waypoint() {
    SpawnOptions o;
    o.argv = {AMBIT_CONTROLLER_PATH, "bootstrap-waypoint", "--ca-dir", dir_ + "/ca",
              "--waypoint",          "shop/shop-waypoint", "--out",    dir_ + "/waypoint"};
    auto out = run_command(o, {}, 20s);
    ASSERT_TRUE(out.ok()) << out.error().message;
    std::vector<std::string> argv = {AMBIT_WAYPOINT_PATH,
                                     "--controller",
                                     controller_address_,
                                     "--waypoint",
                                     "shop/shop-waypoint",
                                     "--workload",
                                     "shop/shop-waypoint-0",
                                     "--credentials",
                                     dir_ + "/waypoint",
                                     "--workers",
                                     std::to_string(waypoint_workers_)};
    argv.insert(argv.end(), waypoint_args_.begin(), waypoint_args_.end());
    auto p = cluster_->spawn_in_pod("shop-waypoint-0", argv);
    ASSERT_TRUE(p.ok()) << p.error().message;
    waypoint_ = std::move(*p);
  }

  void serve_http(const std::string& pod, const std::string& name, int delay_ms = 0,
                  std::vector<std::string> more = {}) {
    std::vector<std::string> argv = {"python3", AMBIT_HTTP_BACKEND, "--name",
                                     name,      "--delay-ms",       std::to_string(delay_ms)};
    argv.insert(argv.end(), more.begin(), more.end());
    auto p = cluster_->spawn_in_pod(pod, argv);
    ASSERT_TRUE(p.ok()) << p.error().message;
    ASSERT_TRUE(
        wait_for([&] { return (*p)->stdout_text().find("listening") != std::string::npos; }, 10s));
    servers_.push_back(std::move(*p));
  }

  // Debian's python (grpcio is a Debian package) serving gRPC on 9090 in `pod`.
  // grpc_peer.py call from the client pod to the Service's gRPC port, with `args`; its JSON.
  nlohmann::json grpc(std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/python3", AMBIT_GRPC_PEER, "call",
                                     std::string(kVip) + ":9090"};
    argv.insert(argv.end(), args.begin(), args.end());
    return nlohmann::json::parse(run_in("client", argv), nullptr, false);
  }

  void serve_grpc(const std::string& pod, const std::string& name,
                  std::vector<std::string> more = {}) {
    std::vector<std::string> argv = {"/usr/bin/python3", AMBIT_GRPC_PEER, "serve", "--name", name,
                                     "--port",           "9090"};
    argv.insert(argv.end(), more.begin(), more.end());
    auto p = cluster_->spawn_in_pod(pod, argv);
    ASSERT_TRUE(p.ok()) << p.error().message;
    ASSERT_TRUE(
        wait_for([&] { return (*p)->stdout_text().find("listening") != std::string::npos; }, 10s))
        << (*p)->stderr_text();
    servers_.push_back(std::move(*p));
  }

  // openssl s_server on 8443 in `pod`, with a self-signed certificate for CN=`name`, so a
  // client can tell the pods apart by the certificate it gets.
  void serve_tls(const std::string& pod, const std::string& name, const std::string& port = "8443",
                 std::vector<std::string> more = {}) {
    std::string key, cert;
    ASSERT_NO_FATAL_FAILURE(self_signed(name, &key, &cert));
    std::vector<std::string> argv = {"openssl", "s_server", "-accept", port,   "-cert",
                                     cert,      "-key",     key,       "-www", "-quiet"};
    argv.insert(argv.end(), more.begin(), more.end());
    auto p = cluster_->spawn_in_pod(pod, argv);
    ASSERT_TRUE(p.ok()) << p.error().message;
    servers_.push_back(std::move(*p));
  }
  // A self-signed certificate for `name` (CN and DNS SAN), once; its key and certificate files.
  void self_signed(const std::string& name, std::string* key_out, std::string* cert_out) {
    std::string key = dir_ + "/" + name + ".key", cert = dir_ + "/" + name + ".crt";
    *key_out = key;
    *cert_out = cert;
    if (std::filesystem::exists(cert)) return;
    SpawnOptions gen;
    gen.argv = {"openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-subj",
                "/CN=" + name,
                "-addext",
                "subjectAltName=DNS:" + name,
                "-days",
                "1",
                "-keyout",
                key,
                "-out",
                cert};
    auto made = run_command(gen, {}, 20s);
    ASSERT_TRUE(made.ok()) << made.error().message;
  }

  // `argv` in `pod`'s network namespace and cgroup: its stdout, or the error.
  std::string run_in(const std::string& pod, std::vector<std::string> argv) {
    SpawnOptions o;
    o.argv = std::move(argv);
    o.netns_path = cluster_->pod(pod).netns_path;
    o.cgroup_path = cluster_->pod(pod).cgroup_path;
    auto out = run_command(o, {}, 60s);
    return out ? *out : "error: " + out.error().message;
  }

  // The cluster, the routes, and both backends; returns once `ready_path` answers 200.
  void start_all(const std::string& routes, const std::string& ready_path = "/",
                 int v2_delay_ms = 0, std::vector<std::string> v1_args = {},
                 std::vector<std::string> v2_args = {}) {
    ASSERT_NO_FATAL_FAILURE(write_base());
    write_file("routes.yaml", routes);
    ASSERT_NO_FATAL_FAILURE(start_controller());
    ASSERT_NO_FATAL_FAILURE(start_agent("node1"));
    ASSERT_NO_FATAL_FAILURE(start_agent("node2"));
    ASSERT_NO_FATAL_FAILURE(start_waypoint());
    ASSERT_NO_FATAL_FAILURE(serve_http("shop-v1", "v1", 0, v1_args));
    ASSERT_NO_FATAL_FAILURE(serve_http("shop-v2", "v2", v2_delay_ms, v2_args));
    ASSERT_TRUE(agent_log_has("node1", "enrolled pod shop/client")) << agent_log("node1");
    ASSERT_TRUE(agent_log_has("node2", "enrolled pod shop/shop-v2")) << agent_log("node2");
    // Ready once it has its view and certificate, and the route answers.
    ASSERT_TRUE(wait_for(
        [&] {
          auto r = load("client", 1, "GET", ready_path);
          return r.value("statuses", nlohmann::json::object()).contains("200");
        },
        20s))
        << waypoint_->stderr_text() << agent_log("node1");
  }

  // python's http.client in `pod`: n requests over `connections` keep-alive connections at once
  // to the Service (or to host:port).
  nlohmann::json load(const std::string& pod, int n, const std::string& method,
                      const std::string& path, const std::vector<std::string>& headers = {},
                      const std::string& host = kVip, int port = 80, int connections = 1,
                      const std::vector<std::string>& more = {}) {
    SpawnOptions o;
    o.argv = {"python3",
              AMBIT_HTTP_LOAD,
              host,
              "--port",
              std::to_string(port),
              "-n",
              std::to_string(n),
              "-c",
              std::to_string(connections),
              "--method",
              method,
              "--path",
              path,
              "--deadline",
              "40"};
    for (const auto& h : headers) {
      o.argv.push_back("-H");
      o.argv.push_back(h);
    }
    o.argv.insert(o.argv.end(), more.begin(), more.end());
    o.netns_path = cluster_->pod(pod).netns_path;
    o.cgroup_path = cluster_->pod(pod).cgroup_path;
    auto out = run_command(o, {}, 60s);
    if (!out) return {{"error", out.error().message}};
    return nlohmann::json::parse(*out, nullptr, false);
  }

  std::unique_ptr<Process> waypoint_;
  std::string traffic_policy_;  // the shop DestinationRule's trafficPolicy: one field, as YAML
};

const std::string kCanary = R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: shop}
spec:
  hosts: [shop]
  http:
  - match:
    - headers:
        end-user: {exact: debug}
    route:
    - destination: {host: shop, subset: v2}
  - match:
    - headers:
        user-agent: {regex: ".*Mobile.*"}
    route:
    - destination: {host: shop, subset: v2}
  - route:
    - destination: {host: shop, subset: v1}
      weight: 90
    - destination: {host: shop, subset: v2}
      weight: 10
)";

int served(const nlohmann::json& r, const std::string& who) {
  return r.contains("served") ? r["served"].value(who, 0) : 0;
}

int status_count(const nlohmann::json& r, const std::string& status) {
  return r.contains("statuses") ? r["statuses"].value(status, 0) : 0;
}

// The first `n` lines of `text` that contain `what`, for a failure's message.
std::string lines_with(const std::string& text, const std::string& what, int n = 3) {
  std::string out;
  std::istringstream in(text);
  for (std::string line; n > 0 && std::getline(in, line);) {
    if (line.find(what) == std::string::npos) continue;
    out += line + "\n";
    --n;
  }
  return out;
}

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// v1 fails every other request; / is retried on it, /slow (v2 answers it 2 s late) has a
// 300 ms timeout, /fault/abort is aborted 5 % of the time, /fault/delay delayed 10 %.
const std::string kResilience = R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: shop}
spec:
  hosts: [shop]
  http:
  - match: [{uri: {prefix: /slow}}]
    route: [{destination: {host: shop, subset: v2}}]
    timeout: 300ms
  - match: [{uri: {prefix: /fault/abort}}]
    route: [{destination: {host: shop, subset: v2}}]
    fault: {abort: {httpStatus: 500, percentage: {value: 5}}}
  - match: [{uri: {prefix: /fault/delay}}]
    route: [{destination: {host: shop, subset: v2}}]
    fault: {delay: {fixedDelay: 200ms, percentage: {value: 10}}}
  - match: [{uri: {prefix: /limited}}]
    route: [{destination: {host: shop, subset: v2}}]
  - route: [{destination: {host: shop, subset: v1}}]
    retries: {attempts: 3, retryOn: 5xx}
---
apiVersion: ambit.io/v1alpha1
kind: LocalRateLimit
metadata: {name: shop, namespace: shop}
spec:
  targetRefs: [{kind: Service, name: shop}]
  rules:
  - match: {uri: {prefix: /limited}}
    limit: {requests: 10, per: 1h}
)";

TEST_F(WaypointTest, ACanarySplitsNinetyTenAndHeadersPickV2) {
  ASSERT_NO_FATAL_FAILURE(start_all(kCanary));
  auto split = load("client", 4000, "GET", "/");
  int v1 = served(split, "v1"), v2 = served(split, "v2");
  ASSERT_EQ(v1 + v2, 4000) << split.dump() << waypoint_->stderr_text();
  double share = 100.0 * v2 / 4000;
  EXPECT_NEAR(share, 10.0, 3.0) << split.dump();

  auto debug = load("client", 200, "GET", "/", {"end-user: debug"});
  EXPECT_EQ(served(debug, "v2"), 200) << debug.dump();
  auto mobile = load("client", 100, "GET", "/", {"User-Agent: Mozilla/5.0 (iPhone) Mobile/15E"});
  EXPECT_EQ(served(mobile, "v2"), 100) << mobile.dump();
  auto desktop = load("client", 100, "GET", "/", {"User-Agent: Mozilla/5.0 (X11; Linux)"});
  EXPECT_GT(served(desktop, "v1"), 70) << desktop.dump();

  // The backend saw the client's request as sent, through the waypoint.
  auto first = nlohmann::json::parse(debug.value("first", "{}"), nullptr, false);
  EXPECT_EQ(first.value("path", ""), "/");
  EXPECT_EQ(first["headers"].value("end-user", ""), "debug");
  // One log line per request, with the route and the endpoint.
  EXPECT_TRUE(wait_for([&] {
    return waypoint_->stderr_text().find("request complete method=\"GET\"") != std::string::npos;
  }));
  EXPECT_NE(waypoint_->stderr_text().find("route=\"shop/shop#"), std::string::npos)
      << waypoint_->stderr_text().substr(0, 4000);
}

TEST_F(WaypointTest, TheOrdersPolicyAllowsOnlyThePaymentServiceToPost) {
  const std::string policy = R"(---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: orders-authz, namespace: shop}
spec:
  targetRefs:
  - {kind: Service, group: "", name: shop}
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/shop/sa/payment-service"]
    to:
    - operation:
        methods: ["POST"]
        paths: ["/api/orders"]
  - to:
    - operation:
        methods: ["GET"]
)";
  ASSERT_NO_FATAL_FAILURE(start_all(kCanary + policy));
  auto denied = load("client", 3, "POST", "/api/orders");
  EXPECT_EQ(denied["statuses"].value("403", 0), 3) << denied.dump();
  EXPECT_EQ(denied.value("first", ""), "RBAC: access denied");
  auto allowed = load("payment", 3, "POST", "/api/orders");
  EXPECT_EQ(allowed["statuses"].value("200", 0), 3) << allowed.dump();
  auto status = load("client", 3, "GET", "/api/orders/42/status");
  EXPECT_EQ(status["statuses"].value("200", 0), 3) << status.dump();
  auto put = load("payment", 1, "PUT", "/api/orders");
  EXPECT_EQ(put["statuses"].value("403", 0), 1) << put.dump();
  // The policy lives in the waypoint, so its pods admit only the waypoint: dialling a pod's IP
  // to skip it is refused by the destination agent.
  std::string pod_ip = cluster_->pod("shop-v1").ip.to_string();
  auto bypass = load("client", 1, "POST", "/api/orders", {}, pod_ip, 8080);
  EXPECT_EQ(bypass.value("errors", 0), 1) << bypass.dump();
  EXPECT_TRUE(agent_log_has("node2", "bypasses waypoint shop/shop-waypoint")) << agent_log("node2");
}

TEST_F(WaypointTest, CurlSpeaksToTheWaypointAndAMissingRouteIs404) {
  const std::string routes = R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: shop}
spec:
  hosts: [shop]
  http:
  - match:
    - uri: {prefix: /api}
    route:
    - destination: {host: shop, subset: v1}
)";
  ASSERT_NO_FATAL_FAILURE(start_all(routes, "/api/ready"));
  auto curl = [&](const std::string& path) {
    SpawnOptions o;
    o.argv = {"curl",       "-sS", "-o",
              "/dev/null",  "-w",  "%{http_code}",
              "--max-time", "5",   std::string("http://") + kVip + path};
    o.netns_path = cluster_->pod("client").netns_path;
    o.cgroup_path = cluster_->pod("client").cgroup_path;
    auto out = run_command(o, {}, 20s);
    return out.ok() ? *out : "error: " + out.error().message;
  };
  ASSERT_TRUE(wait_for([&] { return curl("/api/x") == "200"; }, 20s))
      << curl("/api/x") << waypoint_->stderr_text();
  EXPECT_EQ(curl("/other"), "404") << "no route matches: Envoy's 404 NR";
  EXPECT_TRUE(wait_for(
      [&] { return waypoint_->stderr_text().find("status=404 flags=NR") != std::string::npos; }));
}

TEST_F(WaypointTest, LeastRequestPrefersTheFastEndpoint) {
  // v2 answers 50 ms late; 8 connections at once keep requests in flight, and LEAST_REQUEST
  // (Istio's default, written out here) sends most of them to v1.
  traffic_policy_ = "loadBalancer: {simple: LEAST_REQUEST}";
  ASSERT_NO_FATAL_FAILURE(start_all("", "/", 50));
  auto r = load("client", 400, "GET", "/", {}, kVip, 80, 8);
  int v1 = served(r, "v1"), v2 = served(r, "v2");
  ASSERT_EQ(v1 + v2, 400) << r.dump();
  EXPECT_GT(v1, 3 * v2) << r.dump();  // RANDOM gives about 1:1 here (checked by hand)
}

TEST_F(WaypointTest, ConsistentHashKeepsAUserOnOnePod) {
  traffic_policy_ = "loadBalancer: {consistentHash: {httpHeaderName: x-user}}";
  ASSERT_NO_FATAL_FAILURE(start_all(""));
  std::set<std::string> used;
  for (int user = 0; user < 12; ++user) {
    auto r = load("client", 10, "GET", "/", {"x-user: user-" + std::to_string(user)});
    ASSERT_EQ(r["served"].size(), 1u) << "user-" << user << " " << r.dump();
    used.insert(r["served"].begin().key());
  }
  EXPECT_EQ(used.size(), 2u) << "12 users all on one pod";
}

TEST_F(WaypointTest, WithoutTheControllerTheLastViewKeepsServing) {
  ASSERT_NO_FATAL_FAILURE(start_all(kCanary));
  controller_.reset();  // killed: agents and waypoint lose their control channel
  auto debug = load("client", 50, "GET", "/", {"end-user: debug"});
  EXPECT_EQ(served(debug, "v2"), 50) << debug.dump() << waypoint_->stderr_text();
  auto split = load("client", 200, "GET", "/");
  EXPECT_EQ(served(split, "v1") + served(split, "v2"), 200) << split.dump();
}

TEST_F(WaypointTest, RealHttp2AndGrpcClientsAreRoutedByTheSameRules) {
  const std::string deny_delete = R"(---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-delete, namespace: shop}
spec:
  targetRefs:
  - {kind: Service, group: "", name: shop}
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/shop.Cart/Delete"]
)";
  ASSERT_NO_FATAL_FAILURE(start_all(kCanary + deny_delete));
  ASSERT_NO_FATAL_FAILURE(serve_grpc("shop-v1", "v1"));
  ASSERT_NO_FATAL_FAILURE(serve_grpc("shop-v2", "v2"));

  // curl with prior knowledge: h2c in the HBONE stream, the header route to v2 (an HTTP/1.1 pod).
  std::string curl =
      run_in("client",
             {"curl", "-s", "--max-time", "10", "--http2-prior-knowledge", "-H", "end-user: debug",
              "-w", "\n%{http_version} %{http_code}", std::string("http://") + kVip + "/h2"});
  EXPECT_NE(curl.find("\"name\": \"v2\""), std::string::npos) << curl;
  EXPECT_NE(curl.find("\n2 200"), std::string::npos) << curl;

  // nghttp: the response head as an HTTP/2 client sees it.
  std::string nghttp = run_in("client", {"nghttp", "-v", "-t", "10", "-H", "end-user: debug",
                                         std::string("http://") + kVip + "/nghttp"});
  EXPECT_NE(nghttp.find(":status: 200"), std::string::npos) << nghttp.substr(0, 3000);
  EXPECT_NE(nghttp.find("x-served-by: v2"), std::string::npos) << nghttp.substr(0, 3000);

  // h2load: 1,000 requests, 2 connections, 20 streams each at once, all answered.
  std::string h2load = run_in("client", {"h2load", "-n", "1000", "-c", "2", "-m", "20", "-T", "30",
                                         std::string("http://") + kVip + "/load"});
  EXPECT_NE(h2load.find("1000 succeeded"), std::string::npos) << h2load;
  EXPECT_NE(h2load.find("status codes: 1000 2xx"), std::string::npos) << h2load;

  // gRPC (HTTP/2 to the pods): the 90/10 canary and the header route apply to calls too, the
  // deadline reaches the server, server streaming works, and the DENY policy answers
  // PERMISSION_DENIED.
  auto split = grpc({"-n", "1000"});
  ASSERT_EQ(split["codes"].value("OK", 0), 1000) << split.dump() << waypoint_->stderr_text();
  EXPECT_NEAR(100.0 * split["served"].value("v2", 0) / 1000, 10.0, 3.5) << split.dump();
  EXPECT_EQ(split.value("deadline_seen", 0), 1000) << split.dump();
  auto debug = grpc({"-n", "50", "--metadata", "end-user=debug"});
  EXPECT_EQ(debug["served"].value("v2", 0), 50) << debug.dump();
  auto stream = grpc({"-n", "20", "--method", "List"});
  EXPECT_EQ(stream["codes"].value("OK", 0), 20) << stream.dump();
  EXPECT_EQ(stream.value("messages", 0), 60) << stream.dump();
  auto chat = grpc({"-n", "10", "--method", "Chat"});  // bidirectional: 5 messages each way
  EXPECT_EQ(chat["codes"].value("OK", 0), 10) << chat.dump();
  EXPECT_EQ(chat.value("messages", 0), 50) << chat.dump();
  auto denied = grpc({"-n", "5", "--method", "Delete"});
  EXPECT_EQ(denied["codes"].value("PERMISSION_DENIED", 0), 5) << denied.dump();
  EXPECT_TRUE(wait_for(
      [&] { return waypoint_->stderr_text().find("protocol=HTTP/2") != std::string::npos; }));
}

TEST_F(WaypointTest, GrpcUnavailableIsRetriedAndADeadlineCancelsTheCallUpstream) {
  const std::string routes = R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: shop}
spec:
  hosts: [shop]
  http:
  - route: [{destination: {host: shop, subset: v1}}]
    retries: {attempts: 3, retryOn: unavailable}
)";
  ASSERT_NO_FATAL_FAILURE(start_all(routes));
  ASSERT_NO_FATAL_FAILURE(serve_grpc("shop-v1", "v1", {"--fail-every", "2"}));
  // Every other call of v1 is UNAVAILABLE; the retry on `unavailable` hides each of them.
  auto calls = grpc({"-n", "100"});
  EXPECT_EQ(calls["codes"].value("OK", 0), 100) << calls.dump() << waypoint_->stderr_text();
  EXPECT_GE(occurrences(waypoint_->stderr_text(), "attempts=2"), 45u);
  // A 300 ms deadline on a call the pod would answer in 3 s: DEADLINE_EXCEEDED for the client,
  // and the pod sees its call cancelled (the waypoint ended the try), not left running.
  auto begin = std::chrono::steady_clock::now();
  auto slow = grpc({"-n", "1", "--method", "Slow", "--deadline", "0.3"});
  EXPECT_EQ(slow["codes"].value("DEADLINE_EXCEEDED", 0), 1) << slow.dump();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 3s);
  auto alive = load("client", 1, "GET", "/");  // the waypoint took the cancel in its stride
  EXPECT_EQ(status_count(alive, "200"), 1)
      << alive.dump() << " waypoint running: " << waypoint_->running();
  EXPECT_TRUE(wait_for(
      [&] {
        auto stats = grpc({"-n", "1", "--method", "Stats"});
        return stats.dump().find("cancelled=1") != std::string::npos;
      },
      2s))
      << grpc({"-n", "1", "--method", "Stats"}).dump()
      << lines_with(waypoint_->stderr_text(), "shop.Cart/S", 10);
}

TEST_F(WaypointTest, TlsIsRoutedByItsServerNameEndToEnd) {
  const std::string routes = R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: shop}
spec:
  hosts: [shop]
  http:
  - route:
    - destination: {host: shop, subset: v1}
  tls:
  - match:
    - sniHosts: [v2.shop.example]
      port: 443
    route:
    - destination: {host: shop, subset: v2, port: {number: 443}}
  tcp:
  - match:
    - port: 443
    route:
    - destination: {host: shop, subset: v1, port: {number: 443}}
)";
  ASSERT_NO_FATAL_FAILURE(start_all(routes));
  ASSERT_NO_FATAL_FAILURE(serve_tls("shop-v1", "v1"));
  ASSERT_NO_FATAL_FAILURE(serve_tls("shop-v2", "v2"));
  // openssl s_client, end to end TLS through the waypoint: the certificate says which pod.
  auto subject_for = [&](const std::string& server_name) {
    std::string out;
    for (int i = 0; i < 50; ++i) {  // bounded: 5 s for the servers to listen
      out = run_in("client", {"openssl", "s_client", "-connect", std::string(kVip) + ":443",
                              "-servername", server_name, "-verify_quiet"});
      if (out.find("subject=") != std::string::npos) break;
      std::this_thread::sleep_for(100ms);
    }
    auto at = out.find("subject=");
    return at == std::string::npos ? out.substr(0, 600) : out.substr(at, out.find('\n', at) - at);
  };
  EXPECT_NE(subject_for("v2.shop.example").find("CN = v2"), std::string::npos);
  EXPECT_NE(subject_for("www.shop.example").find("CN = v1"), std::string::npos);
  EXPECT_NE(subject_for("v2.shop.example").find("CN = v2"), std::string::npos);
}

TEST_F(WaypointTest, RetriesHideAFlakyPodTimeoutsFireAndFaultsAreInjected) {
  waypoint_workers_ = 2;  // the rate limit below holds across workers
  ASSERT_NO_FATAL_FAILURE(start_all(kResilience, "/fault/delay", 2000, {"--fail-every", "2"},
                                    {"--slow-prefix", "/slow"}));
  // Half of v1's answers are 503; the client sees none of them.
  auto flaky = load("client", 200, "GET", "/");
  EXPECT_EQ(status_count(flaky, "200"), 200)
      << flaky.dump() << lines_with(waypoint_->stderr_text(), "status=503")
      << lines_with(run_in("shop-waypoint-0", {"curl", "-s", "127.0.0.1:15000/metrics"}),
                    "ambit_waypoint_retr", 4);
  EXPECT_EQ(served(flaky, "v1"), 200) << flaky.dump();
  EXPECT_GE(occurrences(waypoint_->stderr_text(), "attempts=2"), 90u);

  // v2 takes 2 s on /slow; the route's 300 ms timeout answers first.
  auto begin = std::chrono::steady_clock::now();
  auto slow = load("client", 3, "GET", "/slow/x");
  auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_EQ(status_count(slow, "504"), 3) << slow.dump();
  EXPECT_EQ(slow.value("first", ""), "upstream request timeout") << slow.dump();
  EXPECT_LT(took, 5s);
  EXPECT_TRUE(wait_for(
      [&] { return waypoint_->stderr_text().find("status=504 flags=UT") != std::string::npos; }));

  // 5 % aborted with 500 over 1,000 requests: 50 expected, sigma ~6.9.
  auto aborted = load("client", 1000, "GET", "/fault/abort", {}, kVip, 80, 4);
  int fi = status_count(aborted, "500");
  EXPECT_EQ(fi + status_count(aborted, "200"), 1000) << aborted.dump();
  EXPECT_GE(fi, 25) << aborted.dump();
  EXPECT_LE(fi, 80) << aborted.dump();
  // 10 % held 200 ms over 200 requests: 20 expected, sigma ~4.2; all answered 200.
  auto delayed = load("client", 200, "GET", "/fault/delay", {}, kVip, 80, 8);
  EXPECT_EQ(status_count(delayed, "200"), 200) << delayed.dump();
  ASSERT_TRUE(wait_for([&] {
    return occurrences(waypoint_->stderr_text(), "flags=FI") >= static_cast<size_t>(fi);
  }));
  size_t di = occurrences(waypoint_->stderr_text(), "flags=DI");
  EXPECT_GE(di, 5u);
  EXPECT_LE(di, 40u);

  // The LocalRateLimit's rule: 10 an hour on /limited, over 8 connections (both workers).
  auto burst = load("client", 40, "GET", "/limited", {}, kVip, 80, 8);
  EXPECT_EQ(status_count(burst, "200"), 10) << burst.dump();
  EXPECT_EQ(status_count(burst, "429"), 30) << burst.dump();
  auto metrics = run_in("shop-waypoint-0", {"curl", "-s", "127.0.0.1:15000/metrics"});
  EXPECT_NE(
      metrics.find("ambit_waypoint_rate_limited_total{policy=\"localratelimit/shop/shop\"} 30"),
      std::string::npos)
      << lines_with(metrics, "rate_limited", 4);
}

// The canary route with v2's share of the traffic (percent), both destinations always written
// (a weight of 0 included), as Flagger and Argo Rollouts edit it.
std::string canary_at(int v2) {
  return fmt::format(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: shop, namespace: shop}}
spec:
  hosts: [shop]
  http:
  - name: canary
    route:
    - destination: {{host: shop, subset: v1}}
      weight: {}
    - destination: {{host: shop, subset: v2}}
      weight: {}
)",
                     100 - v2, v2);
}

// SMI's form of the same: Services for each version, the apex's TrafficSplit between them.
std::string split_at(int v2) {
  return fmt::format(R"(apiVersion: v1
kind: Service
metadata: {{name: shop-v1, namespace: shop}}
spec:
  selector: {{app: shop, version: v1}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: shop-v2, namespace: shop}}
spec:
  selector: {{app: shop, version: v2}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: {{name: shop, namespace: shop}}
spec:
  service: shop
  backends:
  - {{service: shop-v1, weight: {}}}
  - {{service: shop-v2, weight: {}}}
)",
                     100 - v2, v2);
}

class ProgressiveDeliveryTest : public WaypointTest,
                                public ::testing::WithParamInterface<std::string (*)(int)> {};

TEST_P(ProgressiveDeliveryTest, StepsAndARollbackEditedLiveDropNoRequest) {
  std::string (*config_at)(int) = GetParam();
  ASSERT_NO_FATAL_FAILURE(start_all(config_at(0)));
  // Four clients keep sending through every change, until the stop file appears.
  std::string stop = dir_ + "/stop-load";
  nlohmann::json background;
  std::thread clients([&] {
    background = load("client", 200000, "GET", "/", {}, kVip, 80, 4, {"--stop-file", stop});
  });
  auto applied = [&] { return occurrences(waypoint_->stderr_text(), "controller view v"); };
  for (int v2 : {5, 25, 50, 100, 0}) {  // the seed's steps, then the rollback
    size_t views = applied();
    write_file("routes.yaml", config_at(v2));
    ASSERT_TRUE(wait_for([&] { return applied() > views; })) << waypoint_->stderr_text();
    auto step = load("client", 400, "GET", "/", {}, kVip, 80, 2);
    EXPECT_EQ(status_count(step, "200"), 400) << v2 << "% " << step.dump();
    // 400 requests at p: within 4 sigma (and 3) of 400 p.
    double p = v2 / 100.0, sigma = std::sqrt(400 * p * (1 - p));
    EXPECT_NEAR(served(step, "v2"), 400 * p, std::max(3.0, 4 * sigma)) << v2 << "% " << step.dump();
  }
  std::ofstream(stop) << "stop";
  clients.join();
  // Every request sent while the weights changed five times was answered 200.
  int sent = 0;
  if (background.contains("statuses")) {
    const nlohmann::json& statuses = background["statuses"];
    for (auto it = statuses.begin(); it != statuses.end(); ++it) sent += it->get<int>();
  }
  EXPECT_GT(sent, 400) << background.dump();
  EXPECT_EQ(status_count(background, "200"), sent) << background.dump();
  EXPECT_EQ(background.value("errors", -1), 0) << background.dump();
  EXPECT_EQ(occurrences(waypoint_->stderr_text(), "status=503"), 0u)
      << lines_with(waypoint_->stderr_text(), "status=503");
}

INSTANTIATE_TEST_SUITE_P(VirtualServiceAndTrafficSplit, ProgressiveDeliveryTest,
                         ::testing::Values(&canary_at, &split_at), [](const auto& info) {
                           return info.index == 0 ? "VirtualServiceWeights" : "SmiTrafficSplit";
                         });

const std::string kAllToV2 = R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: shop}
spec:
  hosts: [shop]
  http:
  - route: [{destination: {host: shop, subset: v2}}]
)";

TEST_F(WaypointTest, PastTheConnectionPoolRequestsAreAnswered503UOAtOnce) {
  // Istio's circuit-breaking task: one connection, one request waiting for it.
  traffic_policy_ =
      "connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1}}";
  ASSERT_NO_FATAL_FAILURE(start_all(kAllToV2, "/", 600));
  // Six clients at once at a pod that takes 600 ms: one served, one waits and is served, the
  // other four are refused without waiting.
  auto begin = std::chrono::steady_clock::now();
  auto six = load("client", 6, "GET", "/", {}, kVip, 80, 6);
  EXPECT_EQ(status_count(six, "200"), 2) << six.dump();
  EXPECT_EQ(status_count(six, "503"), 4) << six.dump();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 5s);
  EXPECT_TRUE(wait_for([&] { return occurrences(waypoint_->stderr_text(), "flags=UO") == 4; }))
      << lines_with(waypoint_->stderr_text(), "status=");
  auto metrics = run_in("shop-waypoint-0", {"curl", "-s", "127.0.0.1:15000/metrics"});
  EXPECT_NE(metrics.find("ambit_waypoint_upstream_overflow_total{cluster=\"shop/shop|v2|80\"} 4"),
            std::string::npos)
      << lines_with(metrics, "overflow", 4);
}

// Egress, the seed's api.stripe.com: a ServiceEntry for a host outside the mesh (its STATIC
// endpoint the "stripe" pod, in a namespace no agent captures), served by the shop waypoint,
// with these ports (YAML list items).
std::string stripe_entry(const std::string& endpoint, const std::string& ports) {
  return fmt::format(R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: stripe
  namespace: shop
  labels: {{istio.io/use-waypoint: shop-waypoint}}
spec:
  hosts: [api.stripe.com]
  addresses: [10.96.0.50]
  location: MESH_EXTERNAL
  ports:
{}
  resolution: STATIC
  endpoints: [{{address: {}}}]
)",
                     ports, endpoint);
}

// The entry, and the VirtualService that gives it retries and a timeout.
std::string stripe_egress(const std::string& endpoint) {
  return stripe_entry(endpoint, "  - {number: 80, name: http, protocol: HTTP, targetPort: 8080}") +
         R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: stripe, namespace: shop}
spec:
  hosts: [api.stripe.com]
  http:
  - timeout: 3s
    retries: {attempts: 3, retryOn: 5xx}
    route: [{destination: {host: api.stripe.com}}]
)";
}

TEST_F(WaypointTest, EgressToAServiceEntryHostGoesThroughTheWaypointWithItsRetries) {
  std::string routes = kAllToV2 + "---\n" + stripe_egress(cluster_->pod("stripe").ip.to_string());
  ASSERT_NO_FATAL_FAILURE(start_all(routes));
  // Outside the mesh, failing every other answer with 503.
  ASSERT_NO_FATAL_FAILURE(serve_http("stripe", "stripe", 0, {"--fail-every", "2"}));
  auto charges =
      load("client", 20, "GET", "/v1/charges", {"Host: api.stripe.com"}, "10.96.0.50", 80);
  EXPECT_EQ(status_count(charges, "200"), 20) << charges.dump();
  EXPECT_EQ(served(charges, "stripe"), 20) << charges.dump();
  std::string log = waypoint_->stderr_text();
  EXPECT_EQ(occurrences(log, "service=\"shop/api.stripe.com\""), 20u)
      << lines_with(log, "request complete");
  EXPECT_GE(occurrences(log, "attempts=2"), 8u) << lines_with(log, "request complete");
  // The stripe pod's node saw no HBONE for it: the waypoint dialled the pod itself.
  EXPECT_EQ(agent_log("node2").find("dst.addr=" + cluster_->pod("stripe").ip.to_string()),
            std::string::npos)
      << agent_log("node2");
}

// TLS origination to the external host: the client speaks plain HTTP to the ServiceEntry's
// ports, the waypoint TLS to the "stripe" pod's openssl s_server (SIMPLE on 80 -> 8443, MUTUAL
// on 81 -> 9443, whose server asks for a client certificate).
std::string stripe_tls(const std::string& endpoint, const std::string& dir, const std::string& ca) {
  return stripe_entry(endpoint,
                      "  - {number: 80, name: http, protocol: HTTP, targetPort: 8443}\n"
                      "  - {number: 81, name: http-mutual, protocol: HTTP, targetPort: 9443}") +
         fmt::format(R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: stripe, namespace: shop}}
spec:
  host: api.stripe.com
  trafficPolicy:
    portLevelSettings:
    - port: {{number: 80}}
      tls: {{mode: SIMPLE, caCertificates: {0}/{1}.crt}}
    - port: {{number: 81}}
      tls:
        mode: MUTUAL
        caCertificates: {0}/{1}.crt
        clientCertificate: {0}/waypoint-client.crt
        privateKey: {0}/waypoint-client.key
)",
                     dir, ca);
}

TEST_F(WaypointTest, TheWaypointOriginatesSimpleAndMutualTlsToAServiceEntryHost) {
  std::string key, cert, server_key, server_cert;  // the files the DestinationRule names
  ASSERT_NO_FATAL_FAILURE(self_signed("waypoint-client", &key, &cert));
  ASSERT_NO_FATAL_FAILURE(self_signed("api.stripe.com", &server_key, &server_cert));
  std::string stripe = cluster_->pod("stripe").ip.to_string();
  ASSERT_NO_FATAL_FAILURE(
      start_all(kAllToV2 + "---\n" + stripe_tls(stripe, dir_, "api.stripe.com")));
  ASSERT_NO_FATAL_FAILURE(serve_tls("stripe", "api.stripe.com"));
  ASSERT_NO_FATAL_FAILURE(
      serve_tls("stripe", "api.stripe.com", "9443", {"-Verify", "1", "-CAfile", cert}));
  auto charge = [&](int port) {
    return load("client", 1, "GET", "/", {"Host: api.stripe.com"}, "10.96.0.50", port);
  };
  // s_server -www answers with its own page, over the TLS the waypoint started.
  nlohmann::json simple;
  ASSERT_TRUE(wait_for([&] { return status_count(simple = charge(80), "200") == 1; }, 10s))
      << simple.dump() << lines_with(waypoint_->stderr_text(), "request complete");
  EXPECT_NE(simple.value("first", "").find("s_server"), std::string::npos) << simple.dump();
  auto mutual = charge(81);
  EXPECT_EQ(status_count(mutual, "200"), 1)
      << mutual.dump() << lines_with(waypoint_->stderr_text(), "status=");
  // A CA that did not sign the server's certificate: the handshake fails, 503 UF.
  std::string other_key, other;
  ASSERT_NO_FATAL_FAILURE(self_signed("someone-else", &other_key, &other));
  size_t views = occurrences(waypoint_->stderr_text(), "controller view v");
  write_file("routes.yaml", kAllToV2 + "---\n" + stripe_tls(stripe, dir_, "someone-else"));
  ASSERT_TRUE(
      wait_for([&] { return occurrences(waypoint_->stderr_text(), "controller view v") > views; }));
  auto refused = charge(80);
  EXPECT_EQ(status_count(refused, "503"), 1) << refused.dump();
  EXPECT_TRUE(wait_for([&] {
    return waypoint_->stderr_text().find("certificate verify failed") != std::string::npos;
  })) << lines_with(waypoint_->stderr_text(), "TLS");
}

TEST_F(WaypointTest, ADnsServiceEntryHostIsResolvedByTheWaypoint) {
  // The cluster's resolver: dnsmasq in the stripe pod, answering for api.stripe.com with the
  // pod's own address. Only the waypoint asks it (--dns-server); the client dials the entry's
  // VIP.
  std::string stripe = cluster_->pod("stripe").ip.to_string();
  auto dns = cluster_->spawn_in_pod(
      "stripe", {"dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--port=53",
                 "--listen-address=" + stripe, "--bind-interfaces", "--pid-file=",
                 "--address=/api.stripe.com/" + stripe, "--log-queries", "--log-facility=-"});
  ASSERT_TRUE(dns.ok()) << dns.error().message;
  servers_.push_back(std::move(*dns));
  auto* resolver = servers_.back().get();
  waypoint_args_ = {"--dns-server", stripe + ":53", "--dns-refresh-ms", "500"};
  std::string entry =
      stripe_entry("", "  - {number: 80, name: http, protocol: HTTP, targetPort: 8080}");
  entry.replace(entry.find("resolution: STATIC"), 18, "resolution: DNS");
  entry.erase(entry.find("  endpoints:"));
  ASSERT_NO_FATAL_FAILURE(start_all(kAllToV2 + "---\n" + entry));
  ASSERT_NO_FATAL_FAILURE(serve_http("stripe", "stripe"));
  nlohmann::json charges;
  ASSERT_TRUE(wait_for(
      [&] {
        charges = load("client", 10, "GET", "/v1/charges", {"Host: api.stripe.com"}, "10.96.0.50");
        return status_count(charges, "200") == 10;
      },
      10s))
      << charges.dump() << lines_with(waypoint_->stderr_text(), "dns");
  EXPECT_EQ(served(charges, "stripe"), 10) << charges.dump();
  EXPECT_NE(waypoint_->stderr_text().find("dns: api.stripe.com -> 1 address(es)"),
            std::string::npos)
      << waypoint_->stderr_text();
  EXPECT_NE(resolver->stderr_text().find("query[A] api.stripe.com"), std::string::npos)
      << resolver->stderr_text();
}

}  // namespace
}  // namespace ambit::netlab
