// The agent's and the waypoint's views of a small cluster.
#include <gtest/gtest.h>

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

const pb::Workload& workload(const std::vector<pb::Resource>& view, const std::string& uid) {
  for (const auto& r : view) {
    if (r.has_workload() && r.uid() == uid) return r.workload();
  }
  ADD_FAILURE() << "no workload " << uid;
  static pb::Workload none;
  return none;
}

TEST(AgentViewTest, SortedByKindThenUid) {
  auto view = agent_view(cluster(), "node-a", "cluster.local");
  std::vector<std::string> keys;
  for (const auto& r : view) keys.push_back(resource_kind(r) + " " + r.uid());
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

TEST(AgentViewTest, DeterministicAndDiffable) {
  auto model = cluster();
  auto a = agent_view(model, "node-a", "cluster.local");
  auto b = agent_view(model, "node-a", "cluster.local");
  auto same = diff_views(a, b);
  EXPECT_TRUE(same.added.empty());
  EXPECT_TRUE(same.removed.empty());

  model.pods.erase(model.pods.begin());            // shop/web goes away
  model.services[1].cluster_ips = {"10.96.0.99"};  // shop/db changes
  auto c = agent_view(model, "node-a", "cluster.local");
  auto delta = diff_views(a, c);
  ASSERT_EQ(delta.removed.size(), 1u);
  EXPECT_EQ(delta.removed[0].kind(), "Workload");
  EXPECT_EQ(delta.removed[0].uid(), "shop/web");
  ASSERT_EQ(delta.added.size(), 1u);
  EXPECT_EQ(delta.added[0].uid(), "shop/db");
}

TEST(WaypointViewTest, ServicesItServes) {
  auto view = waypoint_view(cluster(), "shop/waypoint");
  std::vector<std::string> keys;
  for (const auto& r : view) keys.push_back(resource_kind(r) + " " + r.uid());
  EXPECT_EQ(keys, (std::vector<std::string>{"Namespace shop", "Workload shop/web",
                                            "Service shop/web", "AuthorizationPolicy shop/web"}));
  EXPECT_EQ(workload(view, "shop/web").netns(), "");
}

}  // namespace
}  // namespace ambit::controller::config
