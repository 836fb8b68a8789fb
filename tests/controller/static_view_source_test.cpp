// StaticViewSource's cut of L7 resources: waypoints get the routes of the services they serve,
// agents none.
#include "controller/static_view_source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
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
  EXPECT_EQ(keys(*waypoint),
            (std::vector<std::string>{"DestinationRule shop/db", "DestinationRule shop/web",
                                      "Namespace shop", "Service shop/db", "Service shop/web",
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

// A local rate limit reaches the waypoint of the Service it targets, and no agent.
TEST(ConfigDirectoryTest, PublishesLocalRateLimitsForWaypoints) {
  auto published = publish_directory(R"(apiVersion: ambit.io/v1alpha1
kind: LocalRateLimit
metadata: {name: web, namespace: shop}
spec:
  targetRefs: [{kind: Service, name: web}]
  limit: {requests: 5, per: 1s}
)");
  ASSERT_NE(published, nullptr);
  EXPECT_TRUE(published->config_errors().empty());
  auto waypoint = published->view_for(subscriber(v1::Subscribe::WAYPOINT, "shop/waypoint"));
  EXPECT_EQ(keys(*waypoint), (std::vector<std::string>{"LocalRateLimit localratelimit/shop/web",
                                                       "Namespace shop", "Service shop/web"}));
  auto other = published->view_for(subscriber(v1::Subscribe::WAYPOINT, "shop/other"));
  EXPECT_TRUE(other->empty() || keys(*other) == std::vector<std::string>{"Namespace shop"});
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

// A --config-dir in a temporary directory, its files written whole (as an editor saves), and
// every state the ConfigDirectory publishes.
class WatchedConfig {
 public:
  explicit WatchedConfig(const std::string& name)
      : dir_(std::filesystem::temp_directory_path() / (name + std::to_string(::getpid()))) {
    std::filesystem::create_directories(dir_);
  }
  ~WatchedConfig() {
    source_.reset();
    std::filesystem::remove_all(dir_);
  }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / (name + ".tmp")) << text;
    std::filesystem::rename(dir_ / (name + ".tmp"), dir_ / name);
  }
  bool start() {
    source_ = std::make_unique<ConfigDirectory>(dir_, "cluster.local", std::vector<v1::Resource>{});
    return source_
        ->start([this](std::shared_ptr<const ViewSource> v) {
          std::lock_guard lock(mu_);
          published_.push_back(std::move(v));
          cv_.notify_all();
        })
        .ok();
  }
  // The n-th state published (from 0), waiting up to 10 s for it; null if it did not come.
  std::shared_ptr<const ViewSource> state(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return published_.size() > n; });
    return published_.size() > n ? published_[n] : nullptr;
  }

 private:
  std::filesystem::path dir_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<const ViewSource>> published_;
  std::unique_ptr<ConfigDirectory> source_;
};

// One AuthorizationPolicy shop/allow, its first principal `principal`.
std::string allow_policy(const std::string& principal) {
  return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
         "metadata: {name: allow, namespace: shop}\n"
         "spec:\n  action: ALLOW\n  rules: [{from: [{source: {principals: [\"" +
         principal + "\"]}}]}]\n";
}

ResourcePtr first_of_kind(const ViewSource& source, std::string_view kind) {
  for (const auto& r : *source.view_for(subscriber(v1::Subscribe::AGENT, "node-a"))) {
    if (r->kind() == kind) return r;
  }
  return nullptr;
}

// A policy edit reuses the mesh part of the views (the same workload objects, not made again); an
// edit of a file with PeerAuthentications (or pods) makes it again, so the workloads show it.
TEST(ConfigDirectoryTest, RemakesWorkloadsOnlyWhenTheirInputsChange) {
  WatchedConfig config("ambit-mesh-");
  config.write("mesh.yaml", R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec: {nodeName: node-a}
status: {podIP: 10.0.0.1}
)");
  config.write("policy.yaml", allow_policy("cluster.local/ns/shop/sa/a"));
  ASSERT_TRUE(config.start());
  auto v0 = config.state(0);
  ASSERT_NE(v0, nullptr);
  config.write("policy.yaml", allow_policy("cluster.local/ns/shop/sa/b"));
  auto v1 = config.state(1);
  ASSERT_NE(v1, nullptr);
  config.write("strict.yaml", R"(apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: STRICT}}
)");
  auto v2 = config.state(2);
  ASSERT_NE(v2, nullptr);

  auto first = first_of_kind(*v0, "Workload"), second = first_of_kind(*v1, "Workload");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first, second);  // the same object: not made again for a policy edit
  EXPECT_EQ(first_of_kind(*v1, "AuthorizationPolicy")
                ->resource()
                .authorization_policy()
                .rules(0)
                .from(0)
                .principals(0),
            "cluster.local/ns/shop/sa/b");
  EXPECT_EQ(first->resource().workload().peer_auth(), v1::PERMISSIVE);
  auto third = first_of_kind(*v2, "Workload");
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(third->resource().workload().peer_auth(), v1::STRICT);
}

// Workload.waypoint_guard comes from policies: a policy edit that puts a pod's L7 policy in its
// waypoint makes the workloads again, one that takes it out does too.
TEST(ConfigDirectoryTest, APolicyEditThatGuardsAPodRemakesItsWorkload) {
  WatchedConfig config("ambit-guard-");
  config.write("mesh.yaml", R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: wp}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: wp, namespace: shop}
spec: {gatewayClassName: istio-waypoint}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec: {nodeName: node-a}
status: {podIP: 10.0.0.1}
)");
  config.write("policy.yaml", allow_policy("cluster.local/ns/shop/sa/a"));
  ASSERT_TRUE(config.start());
  auto v0 = config.state(0);
  ASSERT_NE(v0, nullptr);
  config.write("policy.yaml", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: at-wp, namespace: shop}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: wp}]
  rules: [{to: [{operation: {methods: [GET]}}]}]
)");
  auto v1 = config.state(1);
  ASSERT_NE(v1, nullptr);
  config.write("policy.yaml", allow_policy("cluster.local/ns/shop/sa/b"));
  auto v2 = config.state(2);
  ASSERT_NE(v2, nullptr);
  auto guard = [](const ViewSource& v) {
    auto w = first_of_kind(v, "Workload");
    EXPECT_NE(w, nullptr);
    return w != nullptr && w->resource().workload().waypoint_guard();
  };
  EXPECT_FALSE(guard(*v0));
  EXPECT_TRUE(guard(*v1));
  EXPECT_FALSE(guard(*v2));
}

// An error in the mesh part (conflicting PeerAuthentications) keeps the configuration refused
// across policy edits: the mesh part's findings are reused only once a build of it succeeded.
TEST(ConfigDirectoryTest, MeshErrorsStayInForceAcrossPolicyEdits) {
  WatchedConfig config("ambit-findings-");
  config.write("mesh.yaml", R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: one, namespace: shop}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: two, namespace: shop}
spec: {mtls: {mode: PERMISSIVE}}
)");
  config.write("policy.yaml", allow_policy("cluster.local/ns/shop/sa/a"));
  ASSERT_TRUE(config.start());
  config.write("policy.yaml", allow_policy("cluster.local/ns/shop/sa/b"));
  for (size_t n : {0, 1}) {
    auto state = config.state(n);
    ASSERT_NE(state, nullptr);
    auto errors = state->config_errors();
    EXPECT_TRUE(std::any_of(
        errors.begin(), errors.end(),
        [](const std::string& e) { return e.find("PeerAuthentication") != std::string::npos; }))
        << "state " << n;
  }
}

}  // namespace
}  // namespace ambit::controller
