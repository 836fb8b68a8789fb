// StaticViewSource's cut of L7 resources: waypoints get the routes of the services they serve,
// agents none.
#include "controller/static_view_source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>

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

// The real path: YAML in a --config-dir, the directory publishes the L7 resources with the rest.
TEST(ConfigDirectoryTest, PublishesL7ForWaypoints) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("ambit-l7-" + std::to_string(::getpid()));
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
apiVersion: networking.istio.io/v1
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
)";
  std::shared_ptr<const ViewSource> published;
  {
    ConfigDirectory source(dir, "cluster.local", {});
    ASSERT_TRUE(source.start([&](std::shared_ptr<const ViewSource> v) { published = v; }).ok());
  }
  fs::remove_all(dir);
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

// A policy edit reuses the mesh part of the views (the same workload objects, not made again); an
// edit of a file with PeerAuthentications (or pods) makes it again, so the workloads show it.
TEST(ConfigDirectoryTest, RemakesWorkloadsOnlyWhenTheirInputsChange) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("ambit-mesh-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / (name + ".tmp")) << text;
    fs::rename(dir / (name + ".tmp"), dir / name);  // whole, as an editor saves
  };
  write("mesh.yaml", R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec: {nodeName: node-a}
status: {podIP: 10.0.0.1}
)");
  auto policy = [](const std::string& principal) {
    return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
           "metadata: {name: allow, namespace: shop}\n"
           "spec:\n  action: ALLOW\n  rules: [{from: [{source: {principals: [\"" +
           principal + "\"]}}]}]\n";
  };
  write("policy.yaml", policy("cluster.local/ns/shop/sa/a"));
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::shared_ptr<const ViewSource>> published;
  auto wait_for = [&](size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return published.size() >= n; });
  };
  auto find = [](const ViewSource& source, std::string_view kind) -> ResourcePtr {
    for (const auto& r : *source.view_for(subscriber(v1::Subscribe::AGENT, "node-a"))) {
      if (r->kind() == kind) return r;
    }
    return nullptr;
  };
  {
    ConfigDirectory source(dir, "cluster.local", {});
    ASSERT_TRUE(source
                    .start([&](std::shared_ptr<const ViewSource> v) {
                      std::lock_guard lock(mu);
                      published.push_back(std::move(v));
                      cv.notify_all();
                    })
                    .ok());
    ASSERT_TRUE(wait_for(1));
    write("policy.yaml", policy("cluster.local/ns/shop/sa/b"));
    ASSERT_TRUE(wait_for(2));
    write("strict.yaml", R"(apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: STRICT}}
)");
    ASSERT_TRUE(wait_for(3));
  }
  fs::remove_all(dir);
  std::lock_guard lock(mu);
  auto first = find(*published[0], "Workload"), second = find(*published[1], "Workload");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first, second);  // the same object: not made again for a policy edit
  EXPECT_EQ(find(*published[1], "AuthorizationPolicy")
                ->resource()
                .authorization_policy()
                .rules(0)
                .from(0)
                .principals(0),
            "cluster.local/ns/shop/sa/b");
  EXPECT_EQ(first->resource().workload().peer_auth(), v1::PERMISSIVE);
  auto third = find(*published[2], "Workload");
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(third->resource().workload().peer_auth(), v1::STRICT);
}

}  // namespace
}  // namespace ambit::controller
