// The views of waypoint pods (Workload.runs_waypoint) and of the pods a waypoint guards
// (Workload.waypoint_guard: a targetRefs policy reaches them through their waypoint).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

#include "config_fixtures.h"
#include "controller/config/views.h"

namespace ambit::controller::config {
namespace {

namespace pb = ambit::v1;
using testing::workload;

// shop/shop-waypoint serves the namespace; its pod runs it. reviews and ratings use it; legacy
// opted out of the guard on its Pod, archive on its Service; plain uses no waypoint.
std::string waypoint_cluster(const std::string& namespace_annotations = "{}") {
  return R"(apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {ambit.io/dataplane-mode: ambient, ambit.io/use-waypoint: shop-waypoint}
  annotations: )" +
         namespace_annotations + R"(
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: shop-waypoint, namespace: shop}
spec: {gatewayClassName: istio-waypoint}
---
apiVersion: v1
kind: Pod
metadata:
  name: shop-waypoint-7d9f
  namespace: shop
  labels: {gateway.networking.k8s.io/gateway-name: shop-waypoint, istio.io/dataplane-mode: none}
spec: {nodeName: node-c, serviceAccountName: shop-waypoint}
status: {podIP: 10.1.0.9}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1, namespace: shop, labels: {app: reviews}}
spec: {nodeName: node-a, serviceAccountName: reviews}
status: {podIP: 10.1.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: ratings, namespace: shop, labels: {app: ratings}}
spec: {nodeName: node-a, serviceAccountName: ratings}
status: {podIP: 10.1.0.2}
---
apiVersion: v1
kind: Pod
metadata:
  name: legacy
  namespace: shop
  labels: {app: legacy}
  annotations: {ambit.io/waypoint-bypass: allow}
spec: {nodeName: node-a}
status: {podIP: 10.1.0.3}
---
apiVersion: v1
kind: Pod
metadata: {name: archive, namespace: shop, labels: {app: archive}}
spec: {nodeName: node-a}
status: {podIP: 10.1.0.4}
---
apiVersion: v1
kind: Pod
metadata: {name: plain, namespace: shop, labels: {app: plain, ambit.io/use-waypoint: none}}
spec: {nodeName: node-a}
status: {podIP: 10.1.0.5}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {clusterIP: 10.96.0.10, ports: [{port: 9080}], selector: {app: reviews}}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: shop}
spec: {clusterIP: 10.96.0.11, ports: [{port: 9080}], selector: {app: ratings}}
---
apiVersion: v1
kind: Service
metadata: {name: legacy, namespace: shop}
spec: {clusterIP: 10.96.0.12, ports: [{port: 80}], selector: {app: legacy}}
---
apiVersion: v1
kind: Service
metadata:
  name: archive
  namespace: shop
  annotations: {ambit.io/waypoint-bypass: allow}
spec: {clusterIP: 10.96.0.13, ports: [{port: 80}], selector: {app: archive}}
)";
}

constexpr const char* kPolicyAtReviews = R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: at-reviews, namespace: shop}
spec:
  targetRefs: [{kind: Service, group: "", name: reviews}]
  rules: [{to: [{operation: {methods: [GET]}}]}]
)";

constexpr const char* kPolicyAtWaypoint = R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: at-waypoint, namespace: shop}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: shop-waypoint}]
  action: DENY
  rules: [{to: [{operation: {methods: [DELETE]}}]}]
)";

std::vector<pb::Resource> agent_view_of(const std::vector<std::string>& texts) {
  std::vector<std::pair<std::string, std::string>> files;
  for (size_t i = 0; i < texts.size(); ++i) files.emplace_back(fmt::format("{}.yaml", i), texts[i]);
  auto snapshot = testing::load_texts(files);
  EXPECT_FALSE(analyze(snapshot).has_errors()) << testing::dump(analyze(snapshot).diagnostics);
  return agent_view(snapshot.model, kAllNodes, "cluster.local");
}

TEST(WaypointPodViewTest, AWaypointsPodRunsItAndIsReachedOnItsOwnAddress) {
  auto view = agent_view_of({waypoint_cluster()});
  const auto& pod = workload(view, "shop/shop-waypoint-7d9f");
  EXPECT_EQ(pod.runs_waypoint(), "shop/shop-waypoint");
  EXPECT_TRUE(pod.mesh()) << "in the mesh despite dataplane-mode none: it speaks HBONE itself";
  EXPECT_EQ(pod.hbone_address(), "10.1.0.9:15008");
  EXPECT_EQ(pod.waypoint(), "") << "not served by a waypoint, not even its namespace's";
  EXPECT_FALSE(pod.waypoint_guard());
  // The namespace's other pods are served by it and run nothing.
  EXPECT_EQ(workload(view, "shop/reviews-v1").runs_waypoint(), "");
  EXPECT_EQ(workload(view, "shop/reviews-v1").waypoint(), "shop/shop-waypoint");
}

TEST(WaypointPodViewTest, AGatewayNameLabelForNoWaypointRunsNothing) {
  std::string text = waypoint_cluster();
  text.replace(text.find("gateway-name: shop-waypoint"), 27, "gateway-name: other-gateway");
  auto view = agent_view_of({text});
  const auto& pod = workload(view, "shop/shop-waypoint-7d9f");
  EXPECT_EQ(pod.runs_waypoint(), "");
  EXPECT_FALSE(pod.mesh()) << "an ordinary pod with dataplane-mode none";
}

TEST(WaypointGuardViewTest, NoTargetRefsPolicyGuardsNothing) {
  for (const auto& r : agent_view_of({waypoint_cluster()})) {
    if (r.has_workload()) {
      EXPECT_FALSE(r.workload().waypoint_guard()) << r.uid();
    }
  }
}

TEST(WaypointGuardViewTest, APolicyAtAServiceGuardsThatServicesPodsOnly) {
  auto view = agent_view_of({waypoint_cluster(), kPolicyAtReviews});
  EXPECT_TRUE(workload(view, "shop/reviews-v1").waypoint_guard());
  EXPECT_FALSE(workload(view, "shop/ratings").waypoint_guard());
  EXPECT_FALSE(workload(view, "shop/shop-waypoint-7d9f").waypoint_guard());
}

TEST(WaypointGuardViewTest, APolicyAtTheGatewayGuardsAllItServesButThoseThatOptOut) {
  auto view = agent_view_of({waypoint_cluster(), kPolicyAtWaypoint});
  EXPECT_TRUE(workload(view, "shop/reviews-v1").waypoint_guard());
  EXPECT_TRUE(workload(view, "shop/ratings").waypoint_guard());
  EXPECT_FALSE(workload(view, "shop/legacy").waypoint_guard()) << "the Pod's annotation";
  EXPECT_FALSE(workload(view, "shop/archive").waypoint_guard()) << "its Service's annotation";
  EXPECT_FALSE(workload(view, "shop/plain").waypoint_guard()) << "served by no waypoint";
  EXPECT_FALSE(workload(view, "shop/shop-waypoint-7d9f").waypoint_guard());
}

TEST(WaypointGuardViewTest, TheNamespacesAnnotationOptsAllItsPodsOut) {
  auto view =
      agent_view_of({waypoint_cluster("{ambit.io/waypoint-bypass: allow}"), kPolicyAtWaypoint});
  for (const auto& r : view) {
    if (r.has_workload()) {
      EXPECT_FALSE(r.workload().waypoint_guard()) << r.uid();
    }
  }
}

TEST(WaypointGuardViewTest, ADryRunPolicyGuardsNothing) {
  std::string dry = kPolicyAtWaypoint;
  dry.replace(dry.find("namespace: shop}"), 16,
              "namespace: shop, annotations: {istio.io/dry-run: \"true\"}}");
  auto view = agent_view_of({waypoint_cluster(), dry});
  EXPECT_FALSE(workload(view, "shop/reviews-v1").waypoint_guard());
}

TEST(WaypointGuardViewTest, TheServiceNamesItsWaypoint) {
  auto view = agent_view_of({waypoint_cluster(), kPolicyAtReviews});
  const pb::Service* reviews = nullptr;
  for (const auto& r : view) {
    if (r.has_service() && r.uid() == "shop/reviews") reviews = &r.service();
  }
  ASSERT_NE(reviews, nullptr);
  EXPECT_EQ(reviews->waypoint(), "shop/shop-waypoint");
}

TEST(WaypointL4RouteViewTest, VirtualServiceTcpAndTlsRoutesReachTheWaypoint) {
  const std::string routes = R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  tls:
  - match:
    - sniHosts: [Admin.Reviews.Example, "*.reviews.example"]
      port: 9080
    route:
    - destination: {host: ratings}
  tcp:
  - match:
    - destinationSubnets: [10.96.0.0/16]
      sourceLabels: {app: legacy}
    route:
    - destination: {host: reviews}
      weight: 70
    - destination: {host: ratings}
      weight: 30
)";
  std::vector<std::pair<std::string, std::string>> files = {{"cluster.yaml", waypoint_cluster()},
                                                            {"routes.yaml", routes}};
  auto snapshot = testing::load_texts(files);
  ASSERT_FALSE(analyze(snapshot).has_errors()) << testing::dump(analyze(snapshot).diagnostics);
  auto view = waypoint_view(snapshot.model, "shop/shop-waypoint");
  const pb::VirtualService* vs = nullptr;
  for (const auto& r : view) {
    if (r.has_virtual_service() && r.uid() == "shop/reviews") vs = &r.virtual_service();
  }
  ASSERT_NE(vs, nullptr) << "a VirtualService with only tcp/tls routes is carried";
  ASSERT_EQ(vs->tls_size(), 1);
  ASSERT_EQ(vs->tls(0).match_size(), 1);
  const auto& m = vs->tls(0).match(0);
  EXPECT_EQ(m.port(), 9080u);
  ASSERT_EQ(m.sni_hosts_size(), 2);
  EXPECT_EQ(m.sni_hosts(0), "admin.reviews.example");
  EXPECT_EQ(vs->tls(0).route(0).destination().host(), "ratings.shop.svc.cluster.local");
  EXPECT_EQ(vs->tls(0).route(0).weight(), 100);
  ASSERT_EQ(vs->tcp_size(), 1);
  EXPECT_EQ(vs->tcp(0).match(0).destination_subnets(0), "10.96.0.0/16");
  EXPECT_EQ(vs->tcp(0).match(0).source_labels().at("app"), "legacy");
  ASSERT_EQ(vs->tcp(0).route_size(), 2);
  EXPECT_EQ(vs->tcp(0).route(1).weight(), 30);
}

TEST(WaypointRuleViewTest, ACookieHashKeepsItsNamePathAndTtl) {
  const std::string rule = R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpCookie: {name: session, path: /cart, ttl: 1h}
)";
  std::vector<std::pair<std::string, std::string>> files = {{"cluster.yaml", waypoint_cluster()},
                                                            {"rule.yaml", rule}};
  auto snapshot = testing::load_texts(files);
  ASSERT_FALSE(analyze(snapshot).has_errors()) << testing::dump(analyze(snapshot).diagnostics);
  const pb::DestinationRule* dr = nullptr;
  auto view = waypoint_view(snapshot.model, "shop/shop-waypoint");
  for (const auto& r : view) {
    if (r.has_destination_rule() && r.uid() == "shop/reviews") dr = &r.destination_rule();
  }
  ASSERT_NE(dr, nullptr);
  const auto& ch = dr->traffic_policy().load_balancer().consistent_hash();
  EXPECT_EQ(ch.http_cookie_name(), "session");
  EXPECT_EQ(ch.http_cookie_path(), "/cart");
  EXPECT_EQ(ch.http_cookie_ttl(), "3600s");
}

}  // namespace
}  // namespace ambit::controller::config
