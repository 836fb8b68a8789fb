// admit_connect for a workload guarded against bypassing its waypoint: what the inbound answers
// and what the access log says, without sockets.
#include "ztunnel/connect_admission.h"

#include <gtest/gtest.h>

namespace ambit::ztunnel {
namespace {

const Identity kWaypointId("cluster.local", "shop", "shop-waypoint");
const Identity kSleepId("cluster.local", "shop", "sleep");

Workload workload(std::string name, const Identity& id, const char* ip, std::string node) {
  Workload w;
  w.name = std::move(name);
  w.ns = id.ns();
  w.service_account = id.service_account();
  w.identity = id;
  w.node = std::move(node);
  w.addresses = {*IpAddress::parse(ip)};
  w.labels = {{"app", w.name}};
  return w;
}

// reviews (on node-b) is served by waypoint shop/shop-waypoint; `guard` says whether its L7
// policy lives there.
EngineConfig config_with(bool guard, std::vector<AuthorizationPolicy> policies = {}) {
  auto table = std::make_shared<WorkloadTable>();
  Workload reviews =
      workload("reviews", Identity("cluster.local", "shop", "reviews"), "10.0.0.7", "node-b");
  reviews.waypoint = "shop/shop-waypoint";
  reviews.waypoint_guard = guard;
  EXPECT_TRUE(table->add_workload(reviews).ok());
  Workload waypoint = workload("shop-waypoint-a", kWaypointId, "10.0.1.1", "node-a");
  waypoint.runs_waypoint = "shop/shop-waypoint";
  EXPECT_TRUE(table->add_workload(waypoint).ok());
  EXPECT_TRUE(table->add_workload(workload("sleep", kSleepId, "10.0.0.1", "node-a")).ok());
  EngineConfig config;
  config.node = "node-b";
  config.table = table;
  config.authorizer = std::make_shared<Authorizer>(std::move(policies));
  return config;
}

ConnectDecision connect_from(const EngineConfig& config, const Identity& peer_id,
                             const char* peer_ip, std::string forwarded = {}) {
  InboundPeer peer{peer_id, *SocketAddress::parse(std::string(peer_ip) + ":40000"),
                   *SocketAddress::parse("192.168.0.2:15008")};
  ConnectRequest request;
  request.authority = "10.0.0.7:8080";
  request.forwarded = std::move(forwarded);
  return admit_connect(config, "", peer, request);
}

TEST(WaypointGuardAdmission, TheWaypointSpeakingForItsClientIsAdmitted) {
  auto config = config_with(true);
  auto d = connect_from(config, kWaypointId, "10.0.1.1", "for=\"10.0.0.1:5000\"");
  EXPECT_EQ(d.status, 200) << d.record.error;
  EXPECT_EQ(d.record.src.to_string(), "10.0.0.1:5000") << "the client, as the waypoint says";
  EXPECT_EQ(d.record.src_workload, "shop/sleep");
}

TEST(WaypointGuardAdmission, ADirectConnectionIsRefusedNamingTheWaypoint) {
  auto config = config_with(true);
  auto d = connect_from(config, kSleepId, "10.0.0.1");
  EXPECT_EQ(d.status, 401);
  EXPECT_NE(d.record.error.find("bypasses waypoint shop/shop-waypoint"), std::string::npos)
      << d.record.error;
  EXPECT_EQ(d.record.dst_workload, "shop/reviews");
}

TEST(WaypointGuardAdmission, AnUnguardedWorkloadBehavesAsBefore) {
  auto config = config_with(false);
  EXPECT_EQ(connect_from(config, kSleepId, "10.0.0.1").status, 200);
}

TEST(WaypointGuardAdmission, AnExplicitL4AllowLetsADirectPeerIn) {
  AuthorizationPolicy allow;
  allow.name = "sleep-direct";
  allow.ns = "shop";
  allow.selector = {{"app", "reviews"}};
  AuthzRule rule;
  AuthzSource source;
  source.principals = {"cluster.local/ns/shop/sa/sleep"};
  rule.from = {source};
  allow.rules = {rule};
  auto config = config_with(true, {allow});
  auto d = connect_from(config, kSleepId, "10.0.0.1");
  EXPECT_EQ(d.status, 200) << d.record.error;
}

}  // namespace
}  // namespace ambit::ztunnel
