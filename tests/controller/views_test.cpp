// The agent's and the waypoint's views of a small cluster.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <gtest/gtest.h>

#include <string>

#include "config_fixtures.h"
#include "controller/config/views.h"

namespace ambit::controller::config {
namespace {

namespace pb = ambit::v1;

constexpr const char* kCluster = R"(apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {istio.io/dataplane-mode: ambient, ambit.io/use-waypoint: waypoint}
---
apiVersion: v1
kind: Namespace
metadata: {name: legacy}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop}
spec: {gatewayClassName: ambit-waypoint}
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels: {app: web}
  annotations: {ambit.io/netns: /run/netns/web, ambit.io/cgroup: /sys/fs/cgroup/web}
spec: {nodeName: node-a, serviceAccountName: web}
status: {podIPs: [{ip: 10.1.0.3}, {ip: "fd00::3"}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: db
  namespace: shop
  labels: {app: db, ambit.io/dataplane-mode: none}
  annotations: {ambit.io/netns: /run/netns/db}
spec: {nodeName: node-b}
status: {podIP: 10.1.0.4}
---
apiVersion: v1
kind: Pod
metadata:
  name: api
  namespace: shop
  labels: {app: api}
  annotations: {ambit.io/netns: /run/netns/api}
spec: {nodeName: node-b}
status: {podIP: 10.1.0.5}
---
apiVersion: v1
kind: Pod
metadata: {name: old, namespace: legacy, labels: {app: old}}
spec: {nodeName: node-a}
status: {podIP: 10.2.0.1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 10.96.0.11
  ports: [{port: 80, targetPort: 8080, name: http-web}]
  selector: {app: web}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop, labels: {ambit.io/use-waypoint: none}}
spec:
  clusterIP: 10.96.0.12
  ports: [{port: 5432, name: tcp-postgres}]
  selector: {app: db}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: legacy}
spec: {mtls: {mode: DISABLE}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  mtls: {mode: PERMISSIVE}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  mtls: {mode: UNSET}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  rules:
  - from: [{source: {principals: [cluster.local/ns/shop/sa/api]}}]
    to: [{operation: {ports: ["8080"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: audit, namespace: shop}
spec: {action: AUDIT, rules: [{}]}
)";

ConfigModel cluster() {
  auto snapshot = testing::load_texts({{"cluster.yaml", kCluster}});
  auto report = analyze(snapshot);
  EXPECT_FALSE(report.has_errors()) << testing::dump(report.diagnostics);
  return snapshot.model;
}

using testing::workload;

TEST(AgentViewTest, SortedByKindThenUid) {
  auto view = agent_view(cluster(), "node-a", "cluster.local");
  std::vector<std::string> keys;
  for (const auto& r : view) keys.push_back(std::string(resource_kind(r)) + " " + r.uid());
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "Namespace legacy", "Namespace shop", "Workload legacy/old",
                      "Workload shop/api", "Workload shop/db", "Workload shop/web",
                      "Service shop/db", "Service shop/web", "AuthorizationPolicy shop/web"}));
}

TEST(AgentViewTest, MeshEnrollment) {
  auto view = agent_view(cluster(), "node-a", "cluster.local");
  EXPECT_TRUE(workload(view, "shop/web").mesh());
  EXPECT_EQ(workload(view, "shop/web").hbone_address(), "10.1.0.3:15008");
  EXPECT_FALSE(workload(view, "shop/db").mesh());  // opted out
  EXPECT_EQ(workload(view, "shop/db").hbone_address(), "");
  EXPECT_FALSE(workload(view, "legacy/old").mesh());  // namespace not ambient
  for (const auto& r : view) {
    if (r.has_namespace_()) {
      EXPECT_EQ(r.namespace_().ambient(), r.uid() == "shop");
    }
  }
}

TEST(AgentViewTest, PeerAuthenticationResolution) {
  auto view = agent_view(cluster(), "node-a", "cluster.local");
  EXPECT_EQ(workload(view, "shop/api").peer_auth(), pb::PERMISSIVE);  // workload policy
  EXPECT_EQ(workload(view, "shop/web").peer_auth(), pb::STRICT);      // UNSET → mesh
  EXPECT_EQ(workload(view, "shop/db").peer_auth(), pb::STRICT);       // mesh
  EXPECT_EQ(workload(view, "legacy/old").peer_auth(), pb::DISABLE);   // namespace
}

TEST(AgentViewTest, SandboxOnlyForTheNodesPods) {
  auto view = agent_view(cluster(), "node-a", "cluster.local");
  EXPECT_EQ(workload(view, "shop/web").netns(), "/run/netns/web");
  EXPECT_EQ(workload(view, "shop/web").cgroup(), "/sys/fs/cgroup/web");
  EXPECT_EQ(workload(view, "shop/api").netns(), "");
  auto other = agent_view(cluster(), "node-b", "cluster.local");
  EXPECT_EQ(workload(other, "shop/api").netns(), "/run/netns/api");
  EXPECT_EQ(workload(other, "shop/web").netns(), "");
}

TEST(AgentViewTest, ServicesAndWaypoints) {
  auto view = agent_view(cluster(), "node-a", "cluster.local");
  const pb::Service* web = nullptr;
  const pb::Service* db = nullptr;
  for (const auto& r : view) {
    if (r.has_service() && r.uid() == "shop/web") web = &r.service();
    if (r.has_service() && r.uid() == "shop/db") db = &r.service();
  }
  ASSERT_NE(web, nullptr);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(web->vips(0), "10.96.0.11");
  EXPECT_EQ(web->ports(0).target_port(), 8080u);
  EXPECT_EQ(web->ports(0).protocol(), "HTTP");
  EXPECT_EQ(db->ports(0).protocol(), "TCP");
  EXPECT_EQ(web->hosts(0), "web.shop.svc.cluster.local");
  EXPECT_EQ(web->waypoint(), "shop/waypoint");  // from the namespace
  EXPECT_EQ(db->waypoint(), "");                // the service says none
  EXPECT_EQ(workload(view, "shop/web").waypoint(), "shop/waypoint");
  EXPECT_EQ(workload(view, "legacy/old").waypoint(), "");
}

// A ServiceEntry host is a Service of the view (its name the host), with its endpoints as
// written and the namespace's waypoint; the agents steer its VIP there.
TEST(AgentViewTest, ServiceEntryHostsAreServicesWithTheirEndpoints) {
  auto snapshot = testing::load_texts({{"cluster.yaml", kCluster}, {"egress.yaml", R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: stripe, namespace: shop}
spec:
  hosts: [api.stripe.com]
  addresses: [240.240.0.10]
  location: MESH_EXTERNAL
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8080}]
  resolution: STATIC
  endpoints: [{address: 10.3.0.7, ports: {http: 9080}, labels: {version: v1}}]
)"}});
  auto report = analyze(snapshot);
  EXPECT_FALSE(report.has_errors()) << testing::dump(report.diagnostics);
  auto view = agent_view(snapshot.model, "node-a", "cluster.local");
  const pb::Service* stripe = nullptr;
  for (const auto& r : view) {
    if (r.has_service() && r.uid() == "shop/api.stripe.com") stripe = &r.service();
  }
  ASSERT_NE(stripe, nullptr);
  EXPECT_EQ(stripe->name(), "api.stripe.com");
  EXPECT_EQ(stripe->entry(), "shop/stripe");
  EXPECT_EQ(stripe->vips(0), "240.240.0.10");
  EXPECT_EQ(stripe->ports(0).port(), 80u);
  EXPECT_EQ(stripe->ports(0).target_port(), 8080u);
  EXPECT_EQ(stripe->ports(0).protocol(), "HTTP");
  EXPECT_EQ(stripe->resolution(), pb::Service::STATIC);
  EXPECT_TRUE(stripe->mesh_external());
  ASSERT_EQ(stripe->endpoints_size(), 1);
  EXPECT_EQ(stripe->endpoints(0).address(), "10.3.0.7");
  EXPECT_EQ(stripe->endpoints(0).ports().at("http"), 9080u);
  EXPECT_EQ(stripe->endpoints(0).labels().at("version"), "v1");
  EXPECT_EQ(stripe->waypoint(), "shop/waypoint");  // the namespace's
  EXPECT_EQ(stripe->hosts(0), "api.stripe.com");
}

// A named targetPort is each pod's container port of that name, not the Service port.
TEST(AgentViewTest, NamedTargetPortResolvesThroughEachPodsContainerPorts) {
  auto snapshot = testing::load_texts({{"named.yaml", R"(apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec:
  containers:
  - name: app
    image: web:1
    ports: [{name: http-web, containerPort: 8080}, {containerPort: 9000}]
status: {podIP: 10.1.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: shop, labels: {app: web}}
spec:
  containers:
  - {name: app, image: web:2, ports: [{name: http-web, containerPort: 8081, protocol: TCP}]}
status: {podIP: 10.1.0.2}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 10.96.0.11
  ports: [{port: 80, targetPort: http-web, name: http}]
  selector: {app: web}
)"}});
  EXPECT_TRUE(snapshot.diagnostics.empty()) << testing::dump(snapshot.diagnostics);
  auto view = agent_view(snapshot.model, kAllNodes, "cluster.local");
  const pb::Service* web = nullptr;
  for (const auto& r : view) {
    if (r.has_service()) web = &r.service();
  }
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->ports(0).target_port_name(), "http-web");
  EXPECT_EQ(web->ports(0).target_port(), 0u);
  EXPECT_EQ(workload(view, "shop/web-1").named_ports().at("http-web"), 8080u);
  EXPECT_EQ(workload(view, "shop/web-1").named_ports().size(), 1u);  // unnamed ports left out
  EXPECT_EQ(workload(view, "shop/web-2").named_ports().at("http-web"), 8081u);
}

TEST(AgentViewTest, AuthorizationPolicies) {
  auto view = agent_view(cluster(), "node-a", "cluster.local");
  const pb::AuthorizationPolicy* policy = nullptr;
  for (const auto& r : view) {
    if (r.has_authorization_policy()) policy = &r.authorization_policy();
  }
  ASSERT_NE(policy, nullptr);  // AUDIT is left out
  EXPECT_EQ(policy->uid(), "shop/web");
  EXPECT_EQ(policy->action(), pb::AuthorizationPolicy::ALLOW);
  EXPECT_EQ(policy->selector().at("app"), "web");
  EXPECT_EQ(policy->rules(0).from(0).principals(0), "cluster.local/ns/shop/sa/api");
  EXPECT_EQ(policy->rules(0).to(0).ports(0), "8080");
}

// The messages are lite (no MessageDifferencer): equal messages have equal deterministic bytes.
std::string deterministic_bytes(const pb::Resource& r) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  r.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

TEST(AgentViewTest, Deterministic) {
  auto model = cluster();
  auto a = agent_view(model, "node-a", "cluster.local");
  auto b = agent_view(model, "node-a", "cluster.local");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(deterministic_bytes(a[i]), deterministic_bytes(b[i])) << a[i].uid();
  }

  model.pods.erase(model.pods.begin());            // shop/web goes away
  model.services[1].cluster_ips = {"10.96.0.99"};  // shop/db changes
  auto c = agent_view(model, "node-a", "cluster.local");
  auto in_c = [&](std::string_view kind, std::string_view uid) -> const pb::Resource* {
    for (const auto& r : c) {
      if (resource_kind(r) == kind && r.uid() == uid) return &r;
    }
    return nullptr;
  };
  EXPECT_EQ(in_c("Workload", "shop/web"), nullptr);
  const pb::Resource* db = in_c("Service", "shop/db");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->service().vips(0), "10.96.0.99");
}

TEST(WaypointViewTest, ServicesItServes) {
  auto view = waypoint_view(cluster(), "shop/waypoint");
  std::vector<std::string> keys;
  for (const auto& r : view) keys.push_back(std::string(resource_kind(r)) + " " + r.uid());
  // The whole mesh's workloads and Services (the clients, and whatever a route names), the
  // policies that reach this waypoint.
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "Namespace legacy", "Namespace shop", "Workload legacy/old",
                      "Workload shop/api", "Workload shop/db", "Workload shop/web",
                      "Service shop/db", "Service shop/web", "AuthorizationPolicy shop/web"}));
  EXPECT_EQ(workload(view, "shop/web").netns(), "");
}

// L7 configuration for shop/web (served by shop/waypoint) and shop/db (served by none).
constexpr const char* kRoutes = R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [web]
  http:
  - name: canary
    match:
    - uri: {prefix: /api}
      headers: {x-user: {exact: tester}}
    route:
    - destination: {host: web, subset: v1}
      weight: 80
    - destination: {host: web.shop.svc.cluster.local, subset: v2}
      weight: 20
    timeout: 2s
    retries: {attempts: 3, perTryTimeout: 500ms, retryOn: "5xx,reset"}
    fault:
      delay: {fixedDelay: 100ms, percentage: {value: 10}}
      abort: {httpStatus: 503, percentage: {value: 5}}
  - route:
    - destination: {host: web, subset: v1}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: shop}
spec:
  hosts: [db]
  http:
  - route: [{destination: {host: db}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec:
  host: web
  trafficPolicy:
    loadBalancer: {simple: LEAST_REQUEST}
    connectionPool:
      tcp: {maxConnections: 100, connectTimeout: 1.5s}
      http: {http1MaxPendingRequests: 10, maxRetries: 2}
    outlierDetection:
      {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50}
  subsets:
  - name: v1
    labels: {app: web}
  - name: v2
    labels: {app: web}
    trafficPolicy:
      loadBalancer: {simple: ROUND_ROBIN}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db, namespace: shop}
spec:
  host: db.shop.svc.cluster.local
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
---
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: web.shop.svc.cluster.local, namespace: shop}
spec:
  routes:
  - name: GET /api
    condition: {method: GET, pathRegex: /api/.*}
    timeout: 10s
    isRetryable: true
  retryBudget: {retryRatio: 0.3, minRetriesPerSecond: 5, ttl: 20s}
---
apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata: {name: web, namespace: shop}
spec:
  service: web
  backends:
  - {service: web, weight: 2}
  - {service: db, weight: 1}
)";

ConfigModel cluster_with_routes() {
  auto snapshot = testing::load_texts({{"cluster.yaml", kCluster}, {"routes.yaml", kRoutes}});
  auto report = analyze(snapshot);
  EXPECT_FALSE(report.has_errors()) << testing::dump(report.diagnostics);
  return snapshot.model;
}

const pb::Resource* find(const std::vector<pb::Resource>& view, const std::string& kind,
                         const std::string& uid) {
  for (const auto& r : view) {
    if (resource_kind(r) == kind && r.uid() == uid) return &r;
  }
  return nullptr;
}

TEST(WaypointViewTest, L7ConfigOfTheServicesItServes) {
  auto view = waypoint_view(cluster_with_routes(), "shop/waypoint");
  std::vector<std::string> keys;
  for (const auto& r : view) keys.push_back(std::string(resource_kind(r)) + " " + r.uid());
  // shop/db is not served by the waypoint, so its VirtualService stays out; its DestinationRule
  // comes, since the TrafficSplit for web sends a third of web's requests to db.
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "Namespace legacy", "Namespace shop", "Workload legacy/old",
                      "Workload shop/api", "Workload shop/db", "Workload shop/web",
                      "Service shop/db", "Service shop/web", "AuthorizationPolicy shop/web",
                      "VirtualService serviceprofile/shop/web.shop.svc.cluster.local",
                      "VirtualService shop/web", "VirtualService trafficsplit/shop/web",
                      "DestinationRule shop/db", "DestinationRule shop/web"}));

  const pb::Resource* vs = find(view, "VirtualService", "shop/web");
  ASSERT_NE(vs, nullptr);
  const auto& v = vs->virtual_service();
  EXPECT_EQ(v.origin(), "VirtualService");
  ASSERT_EQ(v.hosts_size(), 1);
  EXPECT_EQ(v.hosts(0), "web.shop.svc.cluster.local");
  ASSERT_EQ(v.http_size(), 2);
  const auto& canary = v.http(0);
  EXPECT_EQ(canary.name(), "canary");
  ASSERT_EQ(canary.match_size(), 1);
  EXPECT_EQ(canary.match(0).uri().prefix(), "/api");
  EXPECT_EQ(canary.match(0).headers().at("x-user").exact(), "tester");
  ASSERT_EQ(canary.route_size(), 2);
  EXPECT_EQ(canary.route(0).destination().host(), "web.shop.svc.cluster.local");
  EXPECT_EQ(canary.route(0).destination().subset(), "v1");
  EXPECT_EQ(canary.route(0).weight(), 80);
  EXPECT_EQ(canary.route(1).destination().subset(), "v2");
  EXPECT_EQ(canary.route(1).weight(), 20);
  EXPECT_EQ(canary.timeout(), "2s");
  EXPECT_EQ(canary.retries().attempts(), 3);
  EXPECT_EQ(canary.retries().per_try_timeout(), "0.5s");
  EXPECT_EQ(canary.retries().retry_on(), "5xx,reset");
  EXPECT_EQ(canary.fault().delay().fixed_delay(), "0.1s");
  EXPECT_DOUBLE_EQ(canary.fault().delay().percentage().value(), 10);
  EXPECT_EQ(canary.fault().abort().http_status(), 503);
  EXPECT_DOUBLE_EQ(canary.fault().abort().percentage().value(), 5);
  // A lone destination without a weight takes everything.
  ASSERT_EQ(v.http(1).route_size(), 1);
  EXPECT_EQ(v.http(1).route(0).weight(), 100);
  EXPECT_FALSE(v.http(1).has_retries());

  const pb::Resource* dr = find(view, "DestinationRule", "shop/web");
  ASSERT_NE(dr, nullptr);
  const auto& d = dr->destination_rule();
  EXPECT_EQ(d.host(), "web.shop.svc.cluster.local");
  const auto& policy = d.traffic_policy();
  EXPECT_EQ(policy.load_balancer().simple(), pb::LoadBalancerSettings::LEAST_REQUEST);
  EXPECT_EQ(policy.connection_pool().tcp().max_connections(), 100);
  EXPECT_EQ(policy.connection_pool().tcp().connect_timeout(), "1.5s");
  EXPECT_EQ(policy.connection_pool().http().http1_max_pending_requests(), 10);
  EXPECT_EQ(policy.connection_pool().http().max_retries(), 2);
  EXPECT_EQ(policy.outlier_detection().consecutive_5xx_errors(), 5u);
  EXPECT_EQ(policy.outlier_detection().interval(), "10s");
  EXPECT_EQ(policy.outlier_detection().base_ejection_time(), "30s");
  EXPECT_EQ(policy.outlier_detection().max_ejection_percent(), 50);
  ASSERT_EQ(d.subsets_size(), 2);
  EXPECT_EQ(d.subsets(0).name(), "v1");
  EXPECT_EQ(d.subsets(0).labels().at("app"), "web");
  EXPECT_FALSE(d.subsets(0).has_traffic_policy());
  EXPECT_EQ(d.subsets(1).traffic_policy().load_balancer().simple(),
            pb::LoadBalancerSettings::ROUND_ROBIN);

  // Linkerd and SMI, in the VirtualService shape.
  const auto& sp = find(view, "VirtualService", "serviceprofile/shop/web.shop.svc.cluster.local")
                       ->virtual_service();
  EXPECT_EQ(sp.origin(), "ServiceProfile");
  ASSERT_EQ(sp.http_size(), 2);  // the route, then the catch-all
  EXPECT_EQ(sp.http(0).match(0).method().exact(), "GET");
  EXPECT_EQ(sp.http(0).match(0).uri().regex(), "/api/.*");
  EXPECT_EQ(sp.http(0).timeout(), "10s");
  // isRetryable: 5xx retried within the profile's budget; the catch-all is never retried.
  EXPECT_EQ(sp.http(0).retries().attempts(), 3);
  EXPECT_EQ(sp.http(0).retries().retry_on(), "5xx");
  EXPECT_DOUBLE_EQ(sp.http(0).retries().budget().retry_ratio(), 0.3);
  EXPECT_EQ(sp.http(0).retries().budget().min_retries_per_second(), 5u);
  EXPECT_EQ(sp.http(0).retries().budget().ttl(), "20s");
  EXPECT_EQ(sp.http(1).match_size(), 0);
  ASSERT_TRUE(sp.http(1).has_retries());
  EXPECT_EQ(sp.http(1).retries().attempts(), 0);
  const auto& ts = find(view, "VirtualService", "trafficsplit/shop/web")->virtual_service();
  EXPECT_EQ(ts.origin(), "TrafficSplit");
  ASSERT_EQ(ts.http_size(), 1);
  ASSERT_EQ(ts.http(0).route_size(), 2);
  EXPECT_EQ(ts.http(0).route(0).destination().host(), "web.shop.svc.cluster.local");
  EXPECT_EQ(ts.http(0).route(0).weight(), 67);
  EXPECT_EQ(ts.http(0).route(1).destination().host(), "db.shop.svc.cluster.local");
  EXPECT_EQ(ts.http(0).route(1).weight(), 33);

  // Another waypoint serves nothing here: no L7 either.
  EXPECT_TRUE(waypoint_view(cluster_with_routes(), "shop/other").empty());
}

constexpr const char* kTargetedPolicies = R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: at-gateway, namespace: shop}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  rules: [{from: [{source: {serviceAccounts: [api, legacy/old]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: at-web, namespace: shop}
spec:
  targetRefs: [{kind: Service, group: "", name: web}]
  action: DENY
  rules: [{to: [{operation: {methods: [DELETE]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: at-db, namespace: shop}
spec:
  targetRef: {kind: Service, group: core, name: db}
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: every-waypoint, namespace: istio-system}
spec:
  targetRefs: [{kind: GatewayClass, group: gateway.networking.k8s.io, name: ambit-waypoint}]
  rules: [{from: [{source: {trustDomains: [cluster.local]}}]}]
)";

TEST(WaypointViewTest, PoliciesWithTargetRefsGoToTheWaypointsTheyTargetAndNeverToAgents) {
  auto snapshot = testing::load_texts({{"cluster.yaml", kCluster}, {"p.yaml", kTargetedPolicies}});
  ASSERT_FALSE(analyze(snapshot).has_errors()) << testing::dump(analyze(snapshot).diagnostics);
  const auto& model = snapshot.model;
  for (const auto& r : agent_view(model, kAllNodes, "cluster.local")) {
    if (!r.has_authorization_policy()) continue;
    EXPECT_EQ(r.authorization_policy().target_refs_size(), 0) << r.uid();
    EXPECT_TRUE(r.uid() == "shop/web") << r.uid() << " reached the agents";
  }
  auto view = waypoint_view(model, "shop/waypoint");
  std::vector<std::string> policies;
  for (const auto& r : view) {
    if (r.has_authorization_policy()) policies.push_back(r.uid());
  }
  // shop/db does not use the waypoint, so its policy is for no waypoint here.
  EXPECT_EQ(policies, (std::vector<std::string>{"istio-system/every-waypoint", "shop/at-gateway",
                                                "shop/at-web", "shop/web"}));
  const auto& at_gateway =
      find(view, "AuthorizationPolicy", "shop/at-gateway")->authorization_policy();
  ASSERT_EQ(at_gateway.target_refs_size(), 1);
  EXPECT_EQ(at_gateway.target_refs(0).kind(), "Gateway");
  EXPECT_EQ(at_gateway.target_refs(0).namespace_(), "shop");
  EXPECT_TRUE(at_gateway.selector().empty());
  // A bare service account is one of the policy's namespace.
  const auto& from = at_gateway.rules(0).from(0);
  EXPECT_EQ(
      std::vector<std::string>(from.service_accounts().begin(), from.service_accounts().end()),
      (std::vector<std::string>{"shop/api", "legacy/old"}));
  const auto& every = find(view, "AuthorizationPolicy", "istio-system/every-waypoint");
  EXPECT_EQ(every->authorization_policy().rules(0).from(0).trust_domains(0), "cluster.local");
  EXPECT_EQ(find(view, "AuthorizationPolicy", "shop/at-web")
                ->authorization_policy()
                .target_refs(0)
                .group(),
            "");
}

TEST(AgentViewTest, NoL7Configuration) {
  auto view = agent_view(cluster_with_routes(), kAllNodes, "cluster.local");
  for (const auto& r : view) {
    EXPECT_FALSE(r.has_virtual_service() || r.has_destination_rule()) << r.uid();
  }
  // The full list the controller publishes carries them all, sorted.
  std::vector<std::string> keys;
  for (const auto& r : l7_resources(cluster_with_routes())) {
    keys.push_back(std::string(resource_kind(r)) + " " + r.uid());
  }
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "VirtualService serviceprofile/shop/web.shop.svc.cluster.local",
                      "VirtualService shop/db", "VirtualService shop/web",
                      "VirtualService trafficsplit/shop/web", "DestinationRule shop/db",
                      "DestinationRule shop/web"}));
}

}  // namespace
}  // namespace ambit::controller::config
