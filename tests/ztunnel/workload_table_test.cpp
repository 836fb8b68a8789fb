#include "ztunnel/workload_table.h"

#include <gtest/gtest.h>

#include <set>

namespace ambit::ztunnel {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }
SocketAddress addr(const char* text) { return *SocketAddress::parse(text); }

Workload workload(std::string name, std::vector<const char*> ips, Labels labels = {},
                  std::string ns = "default") {
  Workload w;
  w.name = std::move(name);
  w.ns = std::move(ns);
  w.service_account = w.name;
  w.identity = Identity("cluster.local", w.ns, w.service_account);
  for (const char* a : ips) w.addresses.push_back(ip(a));
  w.labels = std::move(labels);
  return w;
}

Service echo_service(std::vector<const char*> vips = {"10.96.0.10"}) {
  Service s;
  s.name = "echo";
  s.ns = "default";
  for (const char* v : vips) s.vips.push_back(ip(v));
  s.ports = {{80, 8080}, {443, 0}};
  s.selector = {{"app", "echo"}};
  return s;
}

bool contains(const std::string& text, const std::string& fragment) {
  return text.find(fragment) != std::string::npos;
}

class WorkloadTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(table.add_workload(workload("sleep", {"10.0.0.1"}, {{"app", "sleep"}})).ok());
    ASSERT_TRUE(table.add_service(echo_service()).ok());
    // Added after the service: endpoints must be picked up whichever comes first.
    ASSERT_TRUE(table.add_workload(workload("echo-1", {"10.0.0.2"}, {{"app", "echo"}})).ok());
    ASSERT_TRUE(table.add_workload(workload("echo-2", {"10.0.0.3"}, {{"app", "echo"}})).ok());
    // Same labels, other namespace: not an endpoint.
    ASSERT_TRUE(
        table.add_workload(workload("echo-3", {"10.0.0.4"}, {{"app", "echo"}}, "other")).ok());
  }
  WorkloadTable table;
};

TEST_F(WorkloadTableTest, CountsAndFinds) {
  EXPECT_EQ(table.workload_count(), 4u);
  EXPECT_EQ(table.service_count(), 1u);
  ASSERT_NE(table.find_by_uid("default/echo-1"), nullptr);
  EXPECT_EQ(table.find_by_uid("default/echo-1")->name, "echo-1");
  EXPECT_EQ(table.find_by_uid("default/nope"), nullptr);
  EXPECT_EQ(table.find_by_address(ip("10.0.0.3"))->uid(), "default/echo-2");
  EXPECT_EQ(table.find_by_address(ip("10.0.0.99")), nullptr);
  EXPECT_EQ(table.find_service_by_address(ip("10.96.0.10"))->uid(), "default/echo");
  EXPECT_EQ(table.find_service_by_uid("default/echo")->name, "echo");
}

TEST_F(WorkloadTableTest, EndpointsAreSameNamespaceAndMatchingLabels) {
  auto endpoints = table.endpoints_of(*table.find_service_by_uid("default/echo"));
  ASSERT_EQ(endpoints.size(), 2u);
  EXPECT_EQ(endpoints[0]->uid(), "default/echo-1");
  EXPECT_EQ(endpoints[1]->uid(), "default/echo-2");
  // A Service not stored in the table is selected from scratch, with the same answer.
  EXPECT_EQ(table.endpoints_of(echo_service()).size(), 2u);
}

TEST_F(WorkloadTableTest, VipResolvesToEndpointAtTargetPort) {
  auto d = table.resolve(addr("10.96.0.10:80"), 0);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->kind, Destination::Kind::kWorkload);
  ASSERT_NE(d->service, nullptr);
  EXPECT_EQ(d->service->uid(), "default/echo");
  ASSERT_NE(d->workload, nullptr);
  EXPECT_EQ(d->address, SocketAddress(d->workload->addresses[0], 8080));
  EXPECT_TRUE(d->uses_hbone());
}

TEST_F(WorkloadTableTest, TargetPortZeroMeansSamePort) {
  auto d = table.resolve(addr("10.96.0.10:443"), 0);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->address.port(), 443);
}

TEST_F(WorkloadTableTest, EntropySpreadsAcrossEndpoints) {
  std::set<std::string> chosen;
  for (uint64_t entropy = 0; entropy < 4; ++entropy) {
    auto d = table.resolve(addr("10.96.0.10:80"), entropy);
    ASSERT_TRUE(d.ok());
    chosen.insert(d->workload->uid());
  }
  EXPECT_EQ(chosen, (std::set<std::string>{"default/echo-1", "default/echo-2"}));
  // Consecutive values alternate: a counter gives round robin.
  EXPECT_NE(table.resolve(addr("10.96.0.10:80"), 7)->workload,
            table.resolve(addr("10.96.0.10:80"), 8)->workload);
}

TEST_F(WorkloadTableTest, WorkloadAddressResolvesToItself) {
  auto d = table.resolve(addr("10.0.0.2:9000"), 0);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, Destination::Kind::kWorkload);
  EXPECT_EQ(d->workload->uid(), "default/echo-1");
  EXPECT_EQ(d->service, nullptr);
  EXPECT_EQ(d->address, addr("10.0.0.2:9000"));
}

TEST_F(WorkloadTableTest, UnknownAddressIsPassthrough) {
  auto d = table.resolve(addr("192.0.2.7:443"), 0);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, Destination::Kind::kPassthrough);
  EXPECT_EQ(d->workload, nullptr);
  EXPECT_EQ(d->address, addr("192.0.2.7:443"));
  EXPECT_FALSE(d->uses_hbone());
}

TEST_F(WorkloadTableTest, UndeclaredPortIsAnErrorNamingServiceAndPort) {
  auto d = table.resolve(addr("10.96.0.10:81"), 0);
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "default/echo")) << d.error().message;
  EXPECT_TRUE(contains(d.error().message, "81")) << d.error().message;
}

TEST(WorkloadTable, NamedTargetPortIsEachEndpointsOwn) {
  WorkloadTable table;
  auto a = workload("echo-a", {"10.0.0.2"}, {{"app", "echo"}});
  a.named_ports = {{"http", 8080}};
  auto b = workload("echo-b", {"10.0.0.3"}, {{"app", "echo"}});
  b.named_ports = {{"http", 9090}};
  auto c = workload("echo-c", {"10.0.0.4"}, {{"app", "echo"}});  // declares no "http"
  Service s = echo_service();
  s.ports = {{80, 0, "http"}, {81, 0, "grpc"}};
  for (auto* w : {&a, &b, &c}) ASSERT_TRUE(table.add_workload(*w).ok());
  ASSERT_TRUE(table.add_service(s).ok());
  std::set<std::string> seen;
  for (uint64_t entropy = 0; entropy < 6; ++entropy) {
    auto d = table.resolve(addr("10.96.0.10:80"), entropy);
    ASSERT_TRUE(d.ok()) << d.error().message;
    // Never echo-c, and each endpoint on its own port.
    EXPECT_EQ(d->address.port(), d->workload->name == "echo-a" ? 8080 : 9090) << d->workload->name;
    seen.insert(d->workload->name);
  }
  EXPECT_EQ(seen, (std::set<std::string>{"echo-a", "echo-b"}));
  auto none = table.resolve(addr("10.96.0.10:81"), 0);
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(contains(none.error().message, "'grpc'")) << none.error().message;
}

TEST(WorkloadTable, VipWithoutEndpointsIsAnError) {
  WorkloadTable table;
  ASSERT_TRUE(table.add_service(echo_service()).ok());
  auto d = table.resolve(addr("10.96.0.10:80"), 0);
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "default/echo")) << d.error().message;
  EXPECT_TRUE(contains(d.error().message, "no endpoints")) << d.error().message;
  EXPECT_TRUE(contains(d.error().message, "10.96.0.10:80")) << d.error().message;
}

TEST(WorkloadTable, EmptySelectorSelectsNothing) {
  WorkloadTable table;
  Service s = echo_service();
  s.selector.clear();
  ASSERT_TRUE(table.add_workload(workload("a", {"10.0.0.1"}, {{"app", "echo"}})).ok());
  ASSERT_TRUE(table.add_service(s).ok());
  EXPECT_TRUE(table.endpoints_of(*table.find_service_by_uid("default/echo")).empty());
}

TEST(WorkloadTable, OutOfMeshEndpointIsNotHbone) {
  WorkloadTable table;
  Workload w = workload("legacy", {"10.0.0.1"}, {{"app", "echo"}});
  w.mesh = false;
  ASSERT_TRUE(table.add_workload(w).ok());
  ASSERT_TRUE(table.add_service(echo_service()).ok());
  auto d = table.resolve(addr("10.96.0.10:80"), 0);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, Destination::Kind::kWorkload);
  EXPECT_FALSE(d->uses_hbone());
}

TEST(WorkloadTable, VipPrefersEndpointAddressOfItsFamily) {
  WorkloadTable table;
  ASSERT_TRUE(
      table.add_workload(workload("dual", {"10.0.0.1", "fd00::1"}, {{"app", "echo"}})).ok());
  ASSERT_TRUE(table.add_service(echo_service({"10.96.0.10", "fd00:96::10"})).ok());
  EXPECT_EQ(table.resolve(addr("10.96.0.10:80"), 0)->address, addr("10.0.0.1:8080"));
  EXPECT_EQ(table.resolve(addr("[fd00:96::10]:80"), 0)->address, addr("[fd00::1]:8080"));
}

TEST(WorkloadTable, RejectsDuplicateUid) {
  WorkloadTable table;
  ASSERT_TRUE(table.add_workload(workload("a", {"10.0.0.1"})).ok());
  auto s = table.add_workload(workload("a", {"10.0.0.2"}));
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.error().message, "default/a already exists")) << s.error().message;
  EXPECT_EQ(table.workload_count(), 1u);
}

TEST(WorkloadTable, RejectsAddressOwnedByAnotherWorkloadAndLeavesTableUnchanged) {
  WorkloadTable table;
  ASSERT_TRUE(table.add_workload(workload("a", {"10.0.0.1"})).ok());
  auto s = table.add_workload(workload("b", {"10.0.0.9", "10.0.0.1"}));
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.error().message, "10.0.0.1 already belongs to workload default/a"))
      << s.error().message;
  EXPECT_EQ(table.find_by_address(ip("10.0.0.9")), nullptr);
  EXPECT_EQ(table.find_by_uid("default/b"), nullptr);
}

TEST(WorkloadTable, RejectsDuplicateVip) {
  WorkloadTable table;
  ASSERT_TRUE(table.add_service(echo_service()).ok());
  Service other = echo_service();
  other.name = "other";
  auto s = table.add_service(other);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.error().message, "VIP 10.96.0.10 already belongs to service default/echo"))
      << s.error().message;
}

TEST(WorkloadTable, RejectsVipThatIsAWorkloadAddressAndViceVersa) {
  WorkloadTable table;
  ASSERT_TRUE(table.add_workload(workload("a", {"10.96.0.10"})).ok());
  EXPECT_FALSE(table.add_service(echo_service()).ok());

  WorkloadTable other;
  ASSERT_TRUE(other.add_service(echo_service()).ok());
  EXPECT_FALSE(other.add_workload(workload("a", {"10.96.0.10"})).ok());
}

TEST(WorkloadTable, RejectsDuplicateServiceAndPort) {
  WorkloadTable table;
  ASSERT_TRUE(table.add_service(echo_service()).ok());
  EXPECT_FALSE(table.add_service(echo_service({"10.96.0.11"})).ok());
  Service twice = echo_service({"10.96.0.12"});
  twice.name = "twice";
  twice.ports.push_back({80, 9090});
  auto s = table.add_service(twice);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.error().message, "port 80 twice")) << s.error().message;
}

TEST(WorkloadTable, PointersSurviveAMove) {
  WorkloadTable table;
  ASSERT_TRUE(table.add_workload(workload("a", {"10.0.0.1"})).ok());
  const Workload* before = table.find_by_uid("default/a");
  WorkloadTable moved = std::move(table);
  EXPECT_EQ(moved.find_by_uid("default/a"), before);
  EXPECT_EQ(moved.find_by_address(ip("10.0.0.1")), before);
}

// shop/reviews (10.96.0.20:9080 -> 8080) uses waypoint shop/shop-waypoint; reviews-1 is its
// endpoint.
Service reviews_service() {
  Service s;
  s.name = "reviews";
  s.ns = "shop";
  s.vips = {ip("10.96.0.20")};
  s.ports = {{9080, 8080}};
  s.selector = {{"app", "reviews"}};
  s.waypoint = "shop/shop-waypoint";
  return s;
}

Workload reviews_endpoint() {
  Workload w = workload("reviews-1", {"10.0.0.7"}, {{"app", "reviews"}}, "shop");
  w.hbone_address = addr("192.168.0.2:15008");
  w.waypoint = "shop/shop-waypoint";
  return w;
}

// The waypoint is run by two pods.
class WaypointSteeringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto [name, address] :
         {std::pair{"shop-waypoint-a", "10.0.1.1"}, std::pair{"shop-waypoint-b", "10.0.1.2"}}) {
      Workload pod = workload(name, {address}, {}, "shop");
      pod.service_account = "shop-waypoint";
      pod.identity = Identity("cluster.local", "shop", "shop-waypoint");
      pod.runs_waypoint = "shop/shop-waypoint";
      pod.hbone_address = SocketAddress(pod.addresses[0], 15008);
      ASSERT_TRUE(table.add_workload(pod).ok());
    }
    ASSERT_TRUE(table.add_workload(reviews_endpoint()).ok());
    ASSERT_TRUE(table.add_workload(workload("sleep", {"10.0.0.1"}, {}, "shop")).ok());
    ASSERT_TRUE(table.add_service(reviews_service()).ok());
  }
  const Workload* sleep() const { return table.find_by_uid("shop/sleep"); }
  WorkloadTable table;
};

TEST_F(WaypointSteeringTest, IndexesThePodsOfEachWaypoint) {
  auto pods = table.waypoint_pods("shop/shop-waypoint");
  ASSERT_EQ(pods.size(), 2u);
  EXPECT_EQ(pods[0]->uid(), "shop/shop-waypoint-a");
  EXPECT_EQ(pods[1]->uid(), "shop/shop-waypoint-b");
  EXPECT_TRUE(table.waypoint_pods("shop/other").empty());
}

TEST_F(WaypointSteeringTest, ServiceVipGoesToAWaypointPodWithTheVipAsAuthority) {
  std::set<std::string> picked;
  for (uint64_t entropy = 0; entropy < 4; ++entropy) {
    auto d = table.resolve(addr("10.96.0.20:9080"), entropy, sleep());
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_TRUE(d->via_waypoint);
    EXPECT_TRUE(d->uses_hbone());
    ASSERT_NE(d->workload, nullptr);
    EXPECT_EQ(d->workload->runs_waypoint, "shop/shop-waypoint");
    EXPECT_EQ(d->address, addr("10.96.0.20:9080")) << "the VIP the client dialled, not a pod's";
    EXPECT_EQ(d->workload->hbone_address.port(), 15008);
    ASSERT_NE(d->service, nullptr);
    EXPECT_EQ(d->service->uid(), "shop/reviews");
    picked.insert(d->workload->uid());
  }
  EXPECT_EQ(picked.size(), 2u) << "entropy spreads over the waypoint's pods";
}

TEST_F(WaypointSteeringTest, TheWaypointsOwnPodIsNotSteeredBackToIt) {
  auto d = table.resolve(addr("10.96.0.20:9080"), 0, table.find_by_uid("shop/shop-waypoint-a"));
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_FALSE(d->via_waypoint);
  EXPECT_EQ(d->workload->uid(), "shop/reviews-1");
  EXPECT_EQ(d->address, addr("10.0.0.7:8080"));
}

TEST_F(WaypointSteeringTest, WithoutASourceNothingIsSteered) {
  auto d = table.resolve(addr("10.96.0.20:9080"), 0);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_FALSE(d->via_waypoint);
  EXPECT_EQ(d->workload->uid(), "shop/reviews-1");
}

TEST_F(WaypointSteeringTest, APodAddressIsNotSteered) {
  auto d = table.resolve(addr("10.0.0.7:8080"), 0, sleep());
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->via_waypoint);
  EXPECT_EQ(d->workload->uid(), "shop/reviews-1");
}

TEST_F(WaypointSteeringTest, UndeclaredPortIsStillAnError) {
  auto d = table.resolve(addr("10.96.0.20:1234"), 0, sleep());
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "does not declare port 1234")) << d.error().message;
}

TEST(WaypointSteering, AWaypointWithoutPodsFailsInsteadOfBypassingIt) {
  WorkloadTable table;
  ASSERT_TRUE(table.add_workload(workload("sleep", {"10.0.0.1"}, {}, "shop")).ok());
  ASSERT_TRUE(table.add_workload(reviews_endpoint()).ok());
  // A pod of the waypoint that is not reachable over HBONE does not count.
  Workload unready = workload("shop-waypoint-a", {"10.0.1.1"}, {}, "shop");
  unready.runs_waypoint = "shop/shop-waypoint";
  unready.mesh = false;
  ASSERT_TRUE(table.add_workload(unready).ok());
  ASSERT_TRUE(table.add_service(reviews_service()).ok());
  auto d = table.resolve(addr("10.96.0.20:9080"), 0, table.find_by_uid("shop/sleep"));
  ASSERT_FALSE(d.ok()) << "resolved to " << d->address.to_string();
  EXPECT_TRUE(contains(d.error().message, "no waypoint pod for shop/shop-waypoint"))
      << d.error().message;
}

TEST(PeerAuthMode, RoundTripsAndRejectsUnknown) {
  for (auto mode : {PeerAuthMode::kStrict, PeerAuthMode::kPermissive, PeerAuthMode::kDisable}) {
    auto parsed = parse_peer_auth_mode(to_string(mode));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, mode);
  }
  auto bad = parse_peer_auth_mode("strict");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(contains(bad.error().message, "STRICT | PERMISSIVE | DISABLE"));
}

}  // namespace
}  // namespace ambit::ztunnel
