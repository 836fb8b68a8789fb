// StaticViewSource's cut of L7 resources: waypoints get the routes of the services they serve,
// agents none.
#include "controller/static_view_source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "controller/config_directory.h"

namespace ambit::controller {
namespace {

v1::Resource service(const std::string& ns, const std::string& name, const std::string& waypoint) {
  v1::Resource r;
  r.set_uid(ns + "/" + name);
  auto* s = r.mutable_service();
  s->set_uid(ns + "/" + name);
  s->set_name(name);
  s->set_namespace_(ns);
  s->set_waypoint(waypoint);
  s->add_hosts(name + "." + ns + ".svc.cluster.local");
  s->add_hosts(name);
  return r;
}

v1::Resource virtual_service(const std::string& uid, const std::string& host, int weight = 100) {
  v1::Resource r;
  r.set_uid(uid);
  auto* vs = r.mutable_virtual_service();
  vs->set_uid(uid);
  vs->add_hosts(host);
  auto* d = vs->add_http()->add_route();
  d->mutable_destination()->set_host(host);
  d->set_weight(weight);
  return r;
}

v1::Resource destination_rule(const std::string& uid, const std::string& host) {
  v1::Resource r;
  r.set_uid(uid);
  r.mutable_destination_rule()->set_uid(uid);
  r.mutable_destination_rule()->set_host(host);
  r.mutable_destination_rule()->add_subsets()->set_name("v1");
  return r;
}

std::vector<v1::Resource> mesh(int weight = 100) {
  v1::Resource ns;
  ns.set_uid("shop");
  ns.mutable_namespace_()->set_name("shop");
  return {ns,
          service("shop", "web", "shop/waypoint"),
          service("shop", "db", ""),
          virtual_service("shop/web", "web.shop.svc.cluster.local", weight),
          virtual_service("trafficsplit/shop/web", "web.shop.svc.cluster.local"),
          virtual_service("shop/db", "db.shop.svc.cluster.local"),
          virtual_service("shop/everything", "*.shop.svc.cluster.local"),
          destination_rule("shop/web", "web.shop.svc.cluster.local"),
          destination_rule("shop/db", "db.shop.svc.cluster.local")};
}

std::vector<std::string> keys(const View& view) {
  std::vector<std::string> out;
  for (const auto& r : view) out.push_back(std::string(r->kind()) + " " + r->uid());
  return out;
}

v1::Subscribe subscriber(v1::Subscribe::Role role, const std::string& node) {
  v1::Subscribe who;
  who.set_role(role);
  who.set_node(node);
  return who;
}

TEST(StaticViewSourceTest, WaypointGetsTheL7OfTheServicesItServes) {
  ResourceInterner interner;
  auto source = StaticViewSource::create(mesh(), "cluster.local", interner);
  auto waypoint = source->view_for(subscriber(v1::Subscribe::WAYPOINT, "shop/waypoint"));
  EXPECT_EQ(keys(*waypoint), (std::vector<std::string>{
                                 "DestinationRule shop/web", "Namespace shop", "Service shop/web",
                                 "VirtualService shop/everything", "VirtualService shop/web",
                                 "VirtualService trafficsplit/shop/web"}));
  // Another waypoint serves nothing: no L7.
  auto other = source->view_for(subscriber(v1::Subscribe::WAYPOINT, "shop/other"));
  EXPECT_EQ(keys(*other), (std::vector<std::string>{"Namespace shop"}));
  // Agents never get L7 resources.
  auto agent = source->view_for(subscriber(v1::Subscribe::AGENT, "node-a"));
  EXPECT_EQ(keys(*agent),
            (std::vector<std::string>{"Namespace shop", "Service shop/db", "Service shop/web"}));
}

TEST(StaticViewSourceTest, UnchangedL7ResourcesKeepTheirPointers) {
  ResourceInterner interner;
  auto before = StaticViewSource::create(mesh(80), "cluster.local", interner)
                    ->view_for(subscriber(v1::Subscribe::WAYPOINT, "shop/waypoint"));
  auto after = StaticViewSource::create(mesh(90), "cluster.local", interner)
                   ->view_for(subscriber(v1::Subscribe::WAYPOINT, "shop/waypoint"));
  ASSERT_EQ(keys(*before), keys(*after));
  for (size_t i = 0; i < before->size(); ++i) {
    bool changed = (*after)[i]->uid() == "shop/web" && (*after)[i]->kind() == "VirtualService";
    EXPECT_EQ((*before)[i] == (*after)[i], !changed) << keys(*after)[i];
  }
}

// The real path: `yaml` (after a namespace shop, its waypoint and a Service web that uses it)
// in a --config-dir, and what the directory publishes from it.
std::shared_ptr<const ViewSource> publish_directory(const std::string& yaml) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("ambit-config-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "mesh.yaml") << R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop}
spec: {gatewayClassName: ambit-waypoint}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop, labels: {ambit.io/use-waypoint: waypoint}}
spec: {clusterIP: 10.96.0.11, ports: [{port: 80, name: http}]}
---
)" << yaml;
  std::shared_ptr<const ViewSource> published;
  {
    ConfigDirectory source(dir, "cluster.local", {});
    EXPECT_TRUE(source.start([&](std::shared_ptr<const ViewSource> v) { published = v; }).ok());
  }
  fs::remove_all(dir);
  return published;
}

// The real path: YAML in a --config-dir, the directory publishes the L7 resources with the rest.
TEST(ConfigDirectoryTest, PublishesL7ForWaypoints) {
  auto published = publish_directory(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [web]
  http: [{route: [{destination: {host: web}}], timeout: 3s}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec: {host: web, trafficPolicy: {loadBalancer: {simple: RANDOM}}}
)");
  ASSERT_NE(published, nullptr);
  EXPECT_TRUE(published->config_errors().empty());
  auto waypoint = published->view_for(subscriber(v1::Subscribe::WAYPOINT, "shop/waypoint"));
  EXPECT_EQ(keys(*waypoint),
            (std::vector<std::string>{"DestinationRule shop/web", "Namespace shop",
                                      "Service shop/web", "VirtualService shop/web"}));
  for (const auto& r : *waypoint) {
    if (r->resource().has_virtual_service()) {
      EXPECT_EQ(r->resource().virtual_service().http(0).timeout(), "3s");
    }
  }
  auto agent = published->view_for(subscriber(v1::Subscribe::AGENT, "node-a"));
  EXPECT_EQ(keys(*agent), (std::vector<std::string>{"Namespace shop", "Service shop/web"}));
}

// What only waypoints enforce reaches them through the real path, and a route to a host that is
// not there yet is served with its error reported, not refused.
TEST(ConfigDirectoryTest, TargetRefPoliciesExportToAndServedErrors) {
  auto published = publish_directory(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-gets, namespace: shop}
spec:
  targetRefs: [{kind: Service, group: "", name: web}]
  rules: [{to: [{operation: {methods: [GET]}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [web]
  http: [{route: [{destination: {host: web}}]}, {route: [{destination: {host: not-yet}}]}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web-elsewhere, namespace: other}
spec: {host: web.shop.svc.cluster.local, exportTo: ["."]}
)");
  ASSERT_NE(published, nullptr);
  auto errors = published->config_errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("AMB0023"), std::string::npos) << errors[0];
  auto waypoint = published->view_for(subscriber(v1::Subscribe::WAYPOINT, "shop/waypoint"));
  // The DestinationRule of namespace other is seen only there.
  EXPECT_EQ(keys(*waypoint),
            (std::vector<std::string>{"AuthorizationPolicy shop/web-gets", "Namespace shop",
                                      "Service shop/web", "VirtualService shop/web"}));
  auto agent = published->view_for(subscriber(v1::Subscribe::AGENT, "node-a"));
  EXPECT_EQ(keys(*agent), (std::vector<std::string>{"Namespace shop", "Service shop/web"}));
}

}  // namespace
}  // namespace ambit::controller
