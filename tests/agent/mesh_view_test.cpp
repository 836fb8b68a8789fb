#include "agent/mesh_view.h"

#include "agent/enrollment.h"

#include <gtest/gtest.h>

namespace ambit::agent {
namespace {

ambit::v1::Resource workload(const std::string& ns, const std::string& name,
                             const std::string& node, const std::string& ip) {
  ambit::v1::Resource r;
  r.set_uid(ns + "/" + name);
  auto* w = r.mutable_workload();
  w->set_uid(ns + "/" + name);
  w->set_name(name);
  w->set_namespace_(ns);
  w->set_service_account(name);
  w->set_node(node);
  w->add_addresses(ip);
  w->set_mesh(true);
  w->set_hbone_address(ip + ":15008");
  w->set_peer_auth(ambit::v1::STRICT);
  w->set_netns("/run/netns/" + name);
  w->set_cgroup("/sys/fs/cgroup/unified/" + name);
  (*w->mutable_labels())["app"] = name;
  return r;
}

// A Service selecting app=<name>, without ports.
ambit::v1::Resource service(const std::string& ns, const std::string& name,
                            const std::string& vip) {
  ambit::v1::Resource r;
  r.set_uid(ns + "/" + name);
  auto* s = r.mutable_service();
  s->set_name(name);
  s->set_namespace_(ns);
  s->add_vips(vip);
  (*s->mutable_selector())["app"] = name;
  return r;
}

ambit::v1::Update snapshot(uint64_t version, std::vector<ambit::v1::Resource> resources) {
  ambit::v1::Update u;
  u.set_version(version);
  u.set_snapshot(true);
  for (auto& r : resources) *u.add_added() = std::move(r);
  return u;
}

TEST(MeshView, SnapshotBecomesTheNodesConfiguration) {
  ambit::v1::Resource ns;
  ns.set_uid("shop");
  ns.mutable_namespace_()->set_name("shop");
  (*ns.mutable_namespace_()->mutable_labels())["ambit.io/dataplane-mode"] = "ambient";
  ambit::v1::Resource bundle;
  bundle.set_uid("cluster.local");
  bundle.mutable_trust_bundle()->set_trust_domain("example.org");
  bundle.mutable_trust_bundle()->add_root_certificates_pem("-----BEGIN CERTIFICATE-----\n");
  auto view = MeshView().with(snapshot(7, {ns, bundle, workload("shop", "web", "node1", "10.244.0.10"),
                                           workload("shop", "api", "node2", "10.244.1.10")}));
  ASSERT_TRUE(view.ok()) << view.error().message;
  EXPECT_EQ(view->version(), 7u);
  auto config = view->to_local_config("node1");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->node, "node1");
  ASSERT_EQ(config->workloads.size(), 2u);
  ASSERT_EQ(config->namespaces.size(), 1u);
  EXPECT_TRUE(config->namespaces[0].ambient());
  // Only this node's pods come with a sandbox.
  ASSERT_EQ(config->sandboxes.size(), 1u);
  EXPECT_EQ(config->sandboxes.at("shop/web").netns, "/run/netns/web");
  const auto& web = config->workloads[1].name == "web" ? config->workloads[1] : config->workloads[0];
  EXPECT_EQ(web.identity.to_string(), "spiffe://example.org/ns/shop/sa/web");
  EXPECT_EQ(web.peer_auth, ztunnel::PeerAuthMode::kStrict);
  EXPECT_EQ(web.hbone_address.to_string(), "10.244.0.10:15008");
  EXPECT_EQ(config->trust_bundle_pem, "-----BEGIN CERTIFICATE-----\n");
}

TEST(MeshView, NamedTargetPortsResolvePerEndpoint) {
  auto v1 = workload("shop", "web-v1", "node1", "10.244.0.10");
  (*v1.mutable_workload()->mutable_named_ports())["http-web"] = 8080;
  auto v2 = workload("shop", "web-v2", "node1", "10.244.0.11");
  (*v2.mutable_workload()->mutable_named_ports())["http-web"] = 9090;
  (*v1.mutable_workload()->mutable_labels())["app"] = "web";
  (*v2.mutable_workload()->mutable_labels())["app"] = "web";
  auto svc = service("shop", "web", "10.96.0.20");
  auto* port = svc.mutable_service()->add_ports();
  port->set_port(80);
  port->set_target_port_name("http-web");
  auto view = MeshView().with(snapshot(1, {v1, v2, svc}));
  ASSERT_TRUE(view.ok()) << view.error().message;
  auto config = view->to_local_config("node1");
  ASSERT_TRUE(config.ok()) << config.error().message;
  ASSERT_EQ(config->services.size(), 1u);
  const auto& p = config->services[0].ports.at(0);
  EXPECT_EQ(p.target_port_name, "http-web");
  for (const auto& w : config->workloads) {
    EXPECT_EQ(p.target_on(w), w.name == "web-v1" ? 8080 : 9090) << w.name;
  }
}

TEST(MeshView, WaypointFieldsReachTheEngineAndWaypointPodsAreNotEnrolled) {
  auto waypoint_pod = workload("shop", "shop-waypoint", "node1", "10.244.0.9");
  waypoint_pod.mutable_workload()->set_runs_waypoint("shop/shop-waypoint");
  auto reviews = workload("shop", "reviews", "node1", "10.244.0.10");
  reviews.mutable_workload()->set_waypoint("shop/shop-waypoint");
  reviews.mutable_workload()->set_waypoint_guard(true);
  auto svc = service("shop", "reviews", "10.96.0.20");
  svc.mutable_service()->set_waypoint("shop/shop-waypoint");
  svc.mutable_service()->add_ports()->set_port(9080);
  auto view = MeshView().with(snapshot(1, {waypoint_pod, reviews, svc}));
  ASSERT_TRUE(view.ok()) << view.error().message;
  auto config = view->to_local_config("node1");
  ASSERT_TRUE(config.ok()) << config.error().message;
  ASSERT_EQ(config->services.size(), 1u);
  EXPECT_EQ(config->services[0].waypoint, "shop/shop-waypoint");
  ASSERT_EQ(config->workloads.size(), 2u);
  for (const auto& w : config->workloads) {
    if (w.name == "shop-waypoint") {
      EXPECT_EQ(w.runs_waypoint, "shop/shop-waypoint");
      EXPECT_FALSE(w.waypoint_guard);
      EXPECT_FALSE(enrolls(w, "node1")) << "a waypoint speaks HBONE itself: never captured";
    } else {
      EXPECT_EQ(w.runs_waypoint, "");
      EXPECT_TRUE(w.waypoint_guard);
      EXPECT_TRUE(enrolls(w, "node1"));
      EXPECT_FALSE(enrolls(w, "node2")) << "another node's pod";
    }
  }
}

TEST(MeshView, DeltasAddChangeAndRemove) {
  auto v1 = MeshView().with(snapshot(1, {workload("shop", "web", "node1", "10.244.0.10")}));
  ASSERT_TRUE(v1.ok());
  ambit::v1::Update delta;
  delta.set_version(2);
  *delta.add_added() = workload("shop", "api", "node1", "10.244.0.11");
  *delta.add_added() = workload("shop", "web", "node1", "10.244.0.12");  // changed address
  auto v2 = v1->with(delta);
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->size(), 2u);
  auto c2 = v2->to_local_config("node1");
  ASSERT_TRUE(c2.ok());
  for (const auto& w : c2->workloads) {
    if (w.name == "web") {
      EXPECT_EQ(w.addresses[0].to_string(), "10.244.0.12");
    }
  }
  ambit::v1::Update removal;
  removal.set_version(3);
  auto* key = removal.add_removed();
  key->set_kind("Workload");
  key->set_uid("shop/web");
  auto v3 = v2->with(removal);
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ(v3->size(), 1u);
  EXPECT_EQ(v1->size(), 1u) << "with() leaves the view it started from alone";
}

TEST(MeshView, ABadObjectIsRefusedWithItsName) {
  auto view = MeshView().with(snapshot(1, {workload("shop", "web", "node1", "10.244.0.300")}));
  ASSERT_TRUE(view.ok());
  auto config = view->to_local_config("node1");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("Workload shop/web"), std::string::npos)
      << config.error().message;

  // Two workloads with one address: the workload table would refuse it, so the view does.
  auto clash = MeshView().with(snapshot(2, {workload("shop", "a", "node1", "10.244.0.10"),
                                            workload("shop", "b", "node1", "10.244.0.10")}));
  ASSERT_TRUE(clash.ok());
  EXPECT_FALSE(clash->to_local_config("node1").ok());
}

TEST(MeshView, PoliciesKeepIstioSemantics) {
  ambit::v1::Resource r;
  r.set_uid("shop/allow-web");
  auto* p = r.mutable_authorization_policy();
  p->set_name("allow-web");
  p->set_namespace_("shop");
  p->set_action(ambit::v1::AuthorizationPolicy::ALLOW);
  (*p->mutable_selector())["app"] = "api";
  auto* rule = p->add_rules();
  auto* from = rule->add_from();
  from->add_principals("cluster.local/ns/shop/sa/web");
  from->add_not_ip_blocks("10.0.0.0/8");
  auto* to = rule->add_to();
  to->add_ports("8080");
  to->add_methods("GET");  // L7: marks the rule so L4 fails safe
  auto* when = rule->add_when();
  when->set_key("request.headers[x-user]");
  when->add_values("admin");
  auto view = MeshView().with(snapshot(1, {r}));
  ASSERT_TRUE(view.ok());
  auto config = view->to_local_config("node1");
  ASSERT_TRUE(config.ok()) << config.error().message;
  ASSERT_EQ(config->policies.size(), 1u);
  const auto& policy = config->policies[0];
  EXPECT_EQ(policy.uid(), "shop/allow-web");
  ASSERT_EQ(policy.rules.size(), 1u);
  EXPECT_EQ(policy.rules[0].from[0].principals[0], "cluster.local/ns/shop/sa/web");
  EXPECT_EQ(policy.rules[0].from[0].not_ip_blocks.size(), 1u);
  EXPECT_EQ(policy.rules[0].to[0].ports, std::vector<uint16_t>{8080});
  EXPECT_TRUE(policy.rules[0].to[0].has_l7);
  EXPECT_TRUE(policy.rules[0].has_l7_conditions);

  to->set_ports(0, "eighty");
  auto bad = MeshView().with(snapshot(2, {r}));
  ASSERT_TRUE(bad.ok());
  auto refused = bad->to_local_config("node1");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("'eighty' is not a port"), std::string::npos);
}

TEST(MeshView, ServiceAccountsAndTrustDomainsReachTheAuthorizer) {
  ambit::v1::Resource r;
  r.set_uid("shop/allow-web");
  auto* p = r.mutable_authorization_policy();
  p->set_name("allow-web");
  p->set_namespace_("shop");
  auto* rule = p->add_rules();
  auto* from = rule->add_from();
  from->add_service_accounts("shop/web");
  from->add_not_service_accounts("shop/old");
  from->add_trust_domains("cluster.local");
  from->add_not_trust_domains("legacy.local");
  auto* when = rule->add_when();
  when->set_key("source.serviceAccount");
  when->add_values("shop/web");
  auto* td = rule->add_when();
  td->set_key("source.trustDomain");
  td->add_not_values("legacy.local");
  auto view = MeshView().with(snapshot(1, {r}));
  ASSERT_TRUE(view.ok());
  auto config = view->to_local_config("node1");
  ASSERT_TRUE(config.ok()) << config.error().message;
  const auto& rule0 = config->policies.at(0).rules.at(0);
  EXPECT_EQ(rule0.from[0].service_accounts, std::vector<std::string>{"shop/web"});
  EXPECT_EQ(rule0.from[0].not_service_accounts, std::vector<std::string>{"shop/old"});
  EXPECT_EQ(rule0.from[0].trust_domains, std::vector<std::string>{"cluster.local"});
  EXPECT_EQ(rule0.from[0].not_trust_domains, std::vector<std::string>{"legacy.local"});
  ASSERT_EQ(rule0.when.size(), 2u);
  EXPECT_EQ(rule0.when[0].key, ztunnel::AuthzCondition::Key::kSourceServiceAccount);
  EXPECT_EQ(rule0.when[1].key, ztunnel::AuthzCondition::Key::kSourceTrustDomain);
  EXPECT_FALSE(rule0.has_l7_conditions);
}

TEST(MeshView, APolicyForWaypointsIsRefusedNotAppliedNamespaceWide) {
  ambit::v1::Resource r;
  r.set_uid("shop/gw-only");
  auto* p = r.mutable_authorization_policy();
  p->set_name("gw-only");
  p->set_namespace_("shop");
  auto* ref = p->add_target_refs();
  ref->set_group("gateway.networking.k8s.io");
  ref->set_kind("Gateway");
  ref->set_name("waypoint");
  ref->set_namespace_("shop");
  auto view = MeshView().with(snapshot(1, {r}));
  ASSERT_TRUE(view.ok());
  auto config = view->to_local_config("node1");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("targetRefs"), std::string::npos) << config.error().message;
}

TEST(MeshView, L7AndUnknownKindsAreIgnoredNotRefused) {
  ambit::v1::Resource vs;
  vs.set_uid("shop/web");
  vs.mutable_virtual_service()->set_uid("shop/web");
  vs.mutable_virtual_service()->add_hosts("web.shop.svc.cluster.local");
  ambit::v1::Resource dr;
  dr.set_uid("shop/web");
  dr.mutable_destination_rule()->set_host("web.shop.svc.cluster.local");
  ambit::v1::Resource unknown;  // a kind from a newer controller parses as no kind
  unknown.set_uid("shop/future");
  auto view = MeshView().with(
      snapshot(1, {vs, dr, unknown, workload("shop", "web", "node1", "10.244.0.10")}));
  ASSERT_TRUE(view.ok()) << view.error().message;
  EXPECT_EQ(view->size(), 1u);
  auto config = view->to_local_config("node1");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->workloads.size(), 1u);

  ambit::v1::Update delta;
  delta.set_version(2);
  *delta.add_added() = vs;
  auto* key = delta.add_removed();
  key->set_kind("DestinationRule");
  key->set_uid("shop/web");
  auto v2 = view->with(delta);
  ASSERT_TRUE(v2.ok()) << v2.error().message;
  EXPECT_EQ(v2->version(), 2u);
  EXPECT_EQ(v2->size(), 1u);
}

}  // namespace
}  // namespace ambit::agent
