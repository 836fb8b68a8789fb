// The mesh the waypoint's L7 unit tests route in: Service shop/shop (VIP 10.96.0.30, port 80 ->
// 8080, selector app=shop) with pods shop-v1 (10.0.2.1, version v1) and shop-v2 (10.0.2.2,
// version v2) on node2; Service shop/api (10.96.0.31, ports 80 and 9090, pod api-0); the client
// pods client (sa client) and payment (sa payment-service) on node1. Builders for the protos.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "ambit/v1/mesh.pb.h"
#include "tests/ztunnel/test_workload.h"
#include "waypoint/http_request.h"
#include "ztunnel/workload_table.h"

namespace ambit::waypoint::testing {

inline Identity id(const char* sa) { return Identity("cluster.local", "shop", sa); }

inline std::shared_ptr<const ztunnel::WorkloadTable> shop_table(int v2_pods = 1) {
  auto table = std::make_shared<ztunnel::WorkloadTable>();
  auto pod = [&](const char* name, const char* sa, const char* node, const char* ip,
                 ztunnel::Labels labels) {
    auto w = ambit::testing::test_workload(name, id(sa), node, {ip});
    w.labels = std::move(labels);
    w.hbone_address = *SocketAddress::parse(std::string(ip) + ":15008");
    EXPECT_TRUE(table->add_workload(w).ok());
  };
  pod("shop-v1", "shop", "node2", "10.0.2.1", {{"app", "shop"}, {"version", "v1"}});
  for (int i = 0; i < v2_pods; ++i) {
    std::string name = "shop-v2-" + std::to_string(i);
    std::string ip = "10.0.2." + std::to_string(2 + i);
    pod(name.c_str(), "shop", "node2", ip.c_str(), {{"app", "shop"}, {"version", "v2"}});
  }
  pod("api-0", "api", "node2", "10.0.3.1", {{"app", "api"}});
  pod("client", "client", "node1", "10.0.1.1", {{"app", "client"}});
  pod("payment", "payment-service", "node1", "10.0.1.2", {{"app", "payment"}});
  ztunnel::Service shop;
  shop.name = "shop";
  shop.ns = "shop";
  shop.vips = {*IpAddress::parse("10.96.0.30")};
  shop.ports = {{80, 8080}};
  shop.selector = {{"app", "shop"}};
  EXPECT_TRUE(table->add_service(shop).ok());
  ztunnel::Service api;
  api.name = "api";
  api.ns = "shop";
  api.vips = {*IpAddress::parse("10.96.0.31")};
  api.ports = {{80, 8080}, {9090, 9090}};
  api.selector = {{"app", "api"}};
  EXPECT_TRUE(table->add_service(api).ok());
  return table;
}

// A request from `client_pod` to Service `service` (port 80) with the given method and path.
struct Call {
  HttpRequest request;
  Downstream downstream;
};

inline Call call(const ztunnel::WorkloadTable& table, const char* client_pod, std::string method,
                 std::string path, const char* service = "shop/shop", uint16_t port = 80) {
  Call c;
  c.request.method = std::move(method);
  c.request.path = std::move(path);
  const ztunnel::Service* s = table.find_service_by_uid(service);
  c.request.authority = s->name + "." + s->ns + ".svc.cluster.local";
  c.downstream.service = s;
  c.downstream.destination = SocketAddress(s->vips.front(), port);
  const ztunnel::Workload* w = table.find_by_uid(std::string("shop/") + client_pod);
  c.downstream.source_workload = w;
  c.downstream.peer = w->identity;
  c.downstream.source_ip = w->addresses.front();
  return c;
}

inline ambit::v1::StringMatch exact(std::string v) {
  ambit::v1::StringMatch m;
  m.set_exact(std::move(v));
  return m;
}
inline ambit::v1::StringMatch prefix(std::string v) {
  ambit::v1::StringMatch m;
  m.set_prefix(std::move(v));
  return m;
}
inline ambit::v1::StringMatch regex(std::string v) {
  ambit::v1::StringMatch m;
  m.set_regex(std::move(v));
  return m;
}

inline ambit::v1::HTTPRouteDestination to(std::string host, std::string subset = "",
                                          int weight = 100) {
  ambit::v1::HTTPRouteDestination d;
  d.mutable_destination()->set_host(std::move(host));
  d.mutable_destination()->set_subset(std::move(subset));
  d.set_weight(weight);
  return d;
}

inline ambit::v1::VirtualService virtual_service(std::string name = "shop") {
  ambit::v1::VirtualService vs;
  vs.set_uid("shop/" + name);
  vs.set_name(name);
  vs.set_namespace_("shop");
  vs.add_hosts("shop.shop.svc.cluster.local");
  return vs;
}

inline ambit::v1::DestinationRule subsets_rule() {
  ambit::v1::DestinationRule dr;
  dr.set_uid("shop/shop");
  dr.set_name("shop");
  dr.set_namespace_("shop");
  dr.set_host("shop.shop.svc.cluster.local");
  auto* v1 = dr.add_subsets();
  v1->set_name("v1");
  (*v1->mutable_labels())["version"] = "v1";
  auto* v2 = dr.add_subsets();
  v2->set_name("v2");
  (*v2->mutable_labels())["version"] = "v2";
  return dr;
}

}  // namespace ambit::waypoint::testing
