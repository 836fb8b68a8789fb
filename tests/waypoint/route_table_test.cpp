#include "waypoint/route_table.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "tests/waypoint/l7_fixture.h"
#include "waypoint/dispatch.h"

namespace ambit::waypoint {
namespace {

using namespace testing;  // NOLINT: the fixture's builders
namespace pb = ambit::v1;
constexpr const char* kShop = "shop.shop.svc.cluster.local";

std::shared_ptr<const RouteTable> build(std::vector<pb::VirtualService> vss,
                                        std::vector<pb::DestinationRule> drs = {subsets_rule()},
                                        int v2_pods = 1) {
  auto rt = RouteTable::build(vss, drs, shop_table(v2_pods));
  EXPECT_TRUE(rt.ok()) << rt.error().message;
  return rt.ok() ? *rt : nullptr;
}

// The debug-to-v2 route then the 90/10 canary of the demo.
pb::VirtualService canary(int v1_weight = 90, int v2_weight = 10) {
  auto vs = virtual_service();
  auto* debug = vs.add_http();
  debug->set_name("debug-to-v2");
  (*debug->add_match()->mutable_headers())["end-user"] = exact("debug");
  *debug->add_route() = to(kShop, "v2");
  auto* split = vs.add_http();
  split->set_name("canary");
  *split->add_route() = to(kShop, "v1", v1_weight);
  *split->add_route() = to(kShop, "v2", v2_weight);
  return vs;
}

TEST(RouteTable, WithoutAVirtualServiceTheDialledServiceAndPortAreTheCluster) {
  auto rt = build({}, {});
  auto c = call(rt->table(), "client", "GET", "/");
  RouteResult r = rt->route(c.request, c.downstream, 7);
  ASSERT_EQ(r.kind, RouteResult::Kind::kForward);
  EXPECT_EQ(r.route, "default");
  EXPECT_EQ(r.cluster.service->uid(), "shop/shop");
  EXPECT_EQ(r.cluster.subset, "");
  EXPECT_EQ(r.cluster.port, 80);
  const auto* info = rt->cluster(r.cluster);
  ASSERT_NE(info, nullptr);
  ASSERT_EQ(info->endpoints.size(), 2u);
  EXPECT_EQ(info->endpoints[0].address.to_string(), "10.0.2.1:8080");
  EXPECT_EQ(info->lb.kind, LbPolicy::Kind::kLeastRequest);  // Istio's default
}

TEST(RouteTable, SubsetsSelectTheirEndpoints) {
  auto rt = build({canary()});
  const ztunnel::Service* shop = rt->table().find_service_by_uid("shop/shop");
  const auto* v2 = rt->cluster({shop, "v2", 80});
  ASSERT_NE(v2, nullptr);
  ASSERT_EQ(v2->endpoints.size(), 1u);
  EXPECT_EQ(v2->endpoints[0].workload->name, "shop-v2-0");
  EXPECT_EQ(rt->cluster({shop, "v3", 80}), nullptr);
}

TEST(RouteTable, TheHeaderMatchAlwaysReachesV2) {
  auto rt = build({canary()});
  for (uint64_t e = 0; e < 200; ++e) {
    auto c = call(rt->table(), "client", "GET", "/");
    c.request.headers.push_back({"end-user", "debug"});
    RouteResult r = rt->route(c.request, c.downstream, e);
    ASSERT_EQ(r.kind, RouteResult::Kind::kForward);
    ASSERT_EQ(r.cluster.subset, "v2");
    EXPECT_EQ(r.route, "shop/shop#debug-to-v2");
  }
}

TEST(RouteTable, WeightsSplitInProportion) {
  auto rt = build({canary(95, 5)});
  std::map<std::string, int> counts;
  for (uint64_t e = 0; e < 10000; ++e) {
    auto c = call(rt->table(), "client", "GET", "/");
    c.request.headers.push_back({"end-user", "someone"});
    counts[rt->route(c.request, c.downstream, e).cluster.subset]++;
  }
  EXPECT_EQ(counts["v1"], 9500);
  EXPECT_EQ(counts["v2"], 500);
}

TEST(RouteTable, UserAgentRegexSendsMobileToV2) {
  auto vs = virtual_service();
  auto* mobile = vs.add_http();
  (*mobile->add_match()->mutable_headers())["User-Agent"] = regex(".*Mobile.*");
  *mobile->add_route() = to(kShop, "v2");
  *vs.add_http()->add_route() = to(kShop, "v1");
  auto rt = build({vs});
  auto c = call(rt->table(), "client", "GET", "/");
  c.request.headers.push_back({"user-agent", "Mozilla/5.0 (iPhone) Mobile/15E148"});
  EXPECT_EQ(rt->route(c.request, c.downstream, 1).cluster.subset, "v2");
  auto d = call(rt->table(), "client", "GET", "/");
  d.request.headers.push_back({"user-agent", "curl/7.88.1"});
  EXPECT_EQ(rt->route(d.request, d.downstream, 1).cluster.subset, "v1");
  auto e = call(rt->table(), "client", "GET", "/");  // no User-Agent at all
  EXPECT_EQ(rt->route(e.request, e.downstream, 1).cluster.subset, "v1");
}

TEST(RouteTable, AVirtualServiceThatMatchesNothingAnswersNoRoute) {
  auto vs = virtual_service();
  auto* api = vs.add_http();
  *api->add_match()->mutable_uri() = prefix("/api");
  *api->add_route() = to(kShop, "v1");
  auto rt = build({vs});
  auto c = call(rt->table(), "client", "GET", "/web");
  RouteResult r = rt->route(c.request, c.downstream, 1);
  EXPECT_EQ(r.kind, RouteResult::Kind::kNoRoute);
  EXPECT_EQ(r.route, "shop/shop");
}

TEST(RouteTable, UriMatchesIgnoreTheQueryAndCanIgnoreCase) {
  auto vs = virtual_service();
  auto* exact_route = vs.add_http();
  exact_route->set_name("exact");
  auto* m = exact_route->add_match();
  *m->mutable_uri() = exact("/Login");
  m->set_ignore_uri_case(true);
  *exact_route->add_route() = to(kShop, "v2");
  auto* re = vs.add_http();
  re->set_name("regex");
  *re->add_match()->mutable_uri() = regex("/items/[0-9]+");
  *re->add_route() = to(kShop, "v2");
  auto rt = build({vs});
  auto hit = [&](const char* path) {
    auto c = call(rt->table(), "client", "GET", path);
    RouteResult r = rt->route(c.request, c.downstream, 1);
    return r.kind == RouteResult::Kind::kForward ? r.route : std::string("none");
  };
  EXPECT_EQ(hit("/login?next=/home"), "shop/shop#exact");
  EXPECT_EQ(hit("/LOGIN"), "shop/shop#exact");
  EXPECT_EQ(hit("/login/x"), "none");
  EXPECT_EQ(hit("/items/42?x=1"), "shop/shop#regex");
  EXPECT_EQ(hit("/items/42/reviews"), "none");  // RE2 full match, as Envoy
}

TEST(RouteTable, QueryParamsWithoutHeadersMethodPortAndSource) {
  auto route_with = [](auto fill) {
    auto vs = virtual_service();
    auto* r = vs.add_http();
    r->set_name("only");
    fill(*r->add_match());
    *r->add_route() = to(kShop, "v2");
    return vs;
  };
  struct Case {
    const char* name;
    pb::VirtualService vs;
    const char* hit_pod;
    std::function<void(Call&)> hit;
    const char* miss_pod;
    std::function<void(Call&)> miss;
  };
  auto none = [](Call&) {};
  std::vector<Case> cases;
  cases.push_back({"queryParams",
                   route_with([](auto& m) { (*m.mutable_query_params())["beta"] = exact("1"); }),
                   "client", [](Call& c) { c.request.path = "/?a=2&beta=1"; }, "client",
                   [](Call& c) { c.request.path = "/?beta=10"; }});
  cases.push_back({"withoutHeaders", route_with([](auto& m) {
                     (*m.mutable_without_headers())["x-canary"] = exact("no");
                   }),
                   "client",
                   [](Call& c) {
                     c.request.headers.push_back({"x-canary", "yes"});
                   },
                   "client",
                   [](Call& c) {
                     c.request.headers.push_back({"x-canary", "no"});
                   }});
  cases.push_back({"method", route_with([](auto& m) { *m.mutable_method() = exact("POST"); }),
                   "client", [](Call& c) { c.request.method = "POST"; }, "client", none});
  cases.push_back(
      {"port", route_with([](auto& m) { m.set_port(80); }), "client", none, "client",
       [](Call& c) { c.downstream.destination = *SocketAddress::parse("10.96.0.30:81"); }});
  cases.push_back({"sourceLabels",
                   route_with([](auto& m) { (*m.mutable_source_labels())["app"] = "payment"; }),
                   "payment", none, "client", none});
  cases.push_back({"sourceNamespace", route_with([](auto& m) { m.set_source_namespace("shop"); }),
                   "client", none, "client", [](Call& c) {
                     c.downstream.source_workload = nullptr;
                     c.downstream.peer = Identity("cluster.local", "other", "x");
                   }});
  for (auto& k : cases) {
    SCOPED_TRACE(k.name);
    auto rt = build({k.vs});
    auto c = call(rt->table(), k.hit_pod, "GET", "/");
    k.hit(c);
    EXPECT_EQ(rt->route(c.request, c.downstream, 1).kind, RouteResult::Kind::kForward);
    auto d = call(rt->table(), k.miss_pod, "GET", "/");
    k.miss(d);
    EXPECT_EQ(rt->route(d.request, d.downstream, 1).kind, RouteResult::Kind::kNoRoute);
  }
}

TEST(RouteTable, RewriteReplacesTheMatchedPrefixAndKeepsTheQuery) {
  auto vs = virtual_service();
  auto* r = vs.add_http();
  *r->add_match()->mutable_uri() = prefix("/old/");
  r->mutable_rewrite()->set_uri("/new/");
  r->mutable_rewrite()->set_authority("shop-internal");
  *r->add_route() = to(kShop, "v1");
  auto* root = vs.add_http();
  *root->add_match()->mutable_uri() = prefix("/legacy");
  root->mutable_rewrite()->set_uri("/");
  *root->add_route() = to(kShop, "v1");
  auto rt = build({vs});
  auto c = call(rt->table(), "client", "GET", "/old/a/b?x=1");
  ASSERT_EQ(rt->route(c.request, c.downstream, 1).kind, RouteResult::Kind::kForward);
  EXPECT_EQ(c.request.path, "/new/a/b?x=1");
  EXPECT_EQ(c.request.authority, "shop-internal");
  auto d = call(rt->table(), "client", "GET", "/legacy/items");
  rt->route(d.request, d.downstream, 1);
  EXPECT_EQ(d.request.path, "/items");
}

TEST(RouteTable, RedirectAndDirectResponseAnswerWithoutACluster) {
  auto vs = virtual_service();
  auto* r = vs.add_http();
  *r->add_match()->mutable_uri() = exact("/old");
  r->mutable_redirect()->set_uri("/new");
  r->mutable_redirect()->set_authority("shop.example.com");
  r->mutable_redirect()->set_redirect_code(308);
  auto* d = vs.add_http();
  *d->add_match()->mutable_uri() = prefix("/gone");
  d->mutable_direct_response()->set_status(410);
  auto rt = build({vs});
  auto c = call(rt->table(), "client", "GET", "/old?q=1");
  RouteResult red = rt->route(c.request, c.downstream, 1);
  ASSERT_EQ(red.kind, RouteResult::Kind::kRedirect);
  EXPECT_EQ(red.status, 308);
  EXPECT_EQ(red.location, "http://shop.example.com/new");
  auto g = call(rt->table(), "client", "GET", "/gone/x");
  RouteResult gone = rt->route(g.request, g.downstream, 1);
  ASSERT_EQ(gone.kind, RouteResult::Kind::kDirectResponse);
  EXPECT_EQ(gone.status, 410);
}

TEST(RouteTable, UnknownHostsAndSubsetsAreNoCluster) {
  auto vs = virtual_service();
  auto* r = vs.add_http();
  *r->add_match()->mutable_uri() = prefix("/a");
  *r->add_route() = to("nowhere.shop.svc.cluster.local");
  *vs.add_http()->add_route() = to(kShop, "v9");
  auto rt = build({vs});
  auto c = call(rt->table(), "client", "GET", "/a");
  EXPECT_EQ(rt->route(c.request, c.downstream, 1).kind, RouteResult::Kind::kNoCluster);
  auto d = call(rt->table(), "client", "GET", "/b");
  EXPECT_EQ(rt->route(d.request, d.downstream, 1).kind, RouteResult::Kind::kNoCluster);
}

TEST(RouteTable, ADestinationOnAnotherServiceTakesItsOnlyPortOrTheDialledOne) {
  auto vs = virtual_service();
  auto* r = vs.add_http();
  *r->add_route() = to("api.shop.svc.cluster.local");
  auto rt = build({vs});
  auto c = call(rt->table(), "client", "GET", "/");
  RouteResult out = rt->route(c.request, c.downstream, 1);
  ASSERT_EQ(out.kind, RouteResult::Kind::kForward);
  EXPECT_EQ(out.cluster.service->uid(), "shop/api");
  EXPECT_EQ(out.cluster.port, 80);  // api has 80 too
}

TEST(RouteTable, HeaderOperationsEditTheRequestAndReturnTheResponses) {
  auto vs = virtual_service();
  auto* r = vs.add_http();
  auto d = to(kShop, "v1");
  (*d.mutable_headers()->mutable_request()->mutable_set())["x-subset"] = "v1";
  (*d.mutable_headers()->mutable_response()->mutable_add())["x-served-subset"] = "v1";
  *r->add_route() = d;
  (*r->mutable_headers()->mutable_request()->mutable_set())["X-Route"] = "all";
  r->mutable_headers()->mutable_request()->add_remove("x-debug");
  (*r->mutable_headers()->mutable_response()->mutable_set())["cache-control"] = "no-store";
  auto rt = build({vs});
  auto c = call(rt->table(), "client", "GET", "/");
  c.request.headers.push_back({"x-debug", "1"});
  c.request.headers.push_back({"x-route", "old"});
  RouteResult out = rt->route(c.request, c.downstream, 1);
  EXPECT_EQ(c.request.header("x-debug"), nullptr);
  ASSERT_NE(c.request.header("x-route"), nullptr);
  EXPECT_EQ(*c.request.header("x-route"), "all");
  ASSERT_NE(c.request.header("x-subset"), nullptr);
  ASSERT_EQ(out.response_headers.set.size(), 1u);
  EXPECT_EQ(out.response_headers.set[0].name, "cache-control");
  ASSERT_EQ(out.response_headers.add.size(), 1u);
  EXPECT_EQ(out.response_headers.add[0].name, "x-served-subset");
}

TEST(RouteTable, MirrorPercentageIsHonoured) {
  auto vs = virtual_service();
  auto* r = vs.add_http();
  *r->add_route() = to(kShop, "v1");
  r->mutable_mirror()->set_host(kShop);
  r->mutable_mirror()->set_subset("v2");
  r->mutable_mirror_percentage()->set_value(25);
  auto rt = build({vs});
  int mirrored = 0;
  for (uint64_t e = 0; e < 10000; ++e) {
    auto c = call(rt->table(), "client", "GET", "/");
    RouteResult out = rt->route(c.request, c.downstream, e << 32);
    if (out.mirror) {
      ++mirrored;
      EXPECT_EQ(out.mirror->subset, "v2");
    }
  }
  EXPECT_EQ(mirrored, 2500);
}

TEST(RouteTable, LoadBalancerSettingsResolveSubsetThenPortThenTopLevel) {
  auto dr = subsets_rule();
  dr.mutable_traffic_policy()->mutable_load_balancer()->set_simple(
      pb::LoadBalancerSettings::ROUND_ROBIN);
  auto* v2 = dr.mutable_subsets(1);
  v2->mutable_traffic_policy()
      ->mutable_load_balancer()
      ->mutable_consistent_hash()
      ->set_http_header_name("X-User");
  auto rt = build({}, {dr});
  const ztunnel::Service* shop = rt->table().find_service_by_uid("shop/shop");
  EXPECT_EQ(rt->cluster({shop, "", 80})->lb.kind, LbPolicy::Kind::kRoundRobin);
  EXPECT_EQ(rt->cluster({shop, "v1", 80})->lb.kind, LbPolicy::Kind::kRoundRobin);
  const auto& lb = rt->cluster({shop, "v2", 80})->lb;
  EXPECT_EQ(lb.kind, LbPolicy::Kind::kConsistentHash);
  EXPECT_EQ(lb.hash_key, "x-user");
}

TEST(RouteTable, ConnectionPoolsResolveWholeWithIstiosDefaults) {
  auto dr = subsets_rule();
  auto* top = dr.mutable_traffic_policy()->mutable_connection_pool();
  top->mutable_tcp()->set_max_connections(10);
  top->mutable_tcp()->set_connect_timeout("0.250s");
  top->mutable_http()->set_http1_max_pending_requests(3);
  top->mutable_http()->set_max_requests_per_connection(7);
  top->mutable_http()->set_idle_timeout("30s");
  // The subset's connectionPool replaces the top one whole: what it leaves out is the default.
  dr.mutable_subsets(1)
      ->mutable_traffic_policy()
      ->mutable_connection_pool()
      ->mutable_http()
      ->set_http2_max_requests(5);
  auto rt = build({}, {dr});
  const ztunnel::Service* shop = rt->table().find_service_by_uid("shop/shop");
  const auto& all = rt->cluster({shop, "", 80})->limits;
  EXPECT_EQ(all.connections.max_connections, 10u);
  EXPECT_EQ(all.connections.connect_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(all.max_pending, 3u);
  EXPECT_EQ(all.connections.max_requests_per_connection, 7u);
  EXPECT_EQ(all.connections.idle_timeout, std::chrono::seconds(30));
  EXPECT_EQ(rt->cluster({shop, "v1", 80})->limits.connections.max_connections, 10u);
  const auto& v2 = rt->cluster({shop, "v2", 80})->limits;
  EXPECT_EQ(v2.max_requests, 5u);
  EXPECT_EQ(v2.connections.max_connections, 0u);
  EXPECT_EQ(v2.connections.connect_timeout, std::chrono::seconds(10));  // Istio's default
  EXPECT_EQ(v2.connections.idle_timeout, std::chrono::hours(1));        // Istio's default
  // Every endpoint knows the cluster it is listed in (its connections count there).
  for (const auto& ep : rt->cluster({shop, "v2", 80})->endpoints) {
    EXPECT_EQ(ep.cluster, rt->cluster({shop, "v2", 80}));
  }
}

// A ServiceEntry host outside the mesh with one STATIC endpoint, in shop_table()'s mesh.
std::shared_ptr<const ztunnel::WorkloadTable> with_external_host() {
  // shop_table() made it non-const; nothing else holds it yet.
  auto table = std::const_pointer_cast<ztunnel::WorkloadTable>(shop_table());
  ztunnel::Service stripe;
  stripe.name = "api.stripe.com";
  stripe.ns = "shop";
  stripe.entry = "shop/stripe";
  stripe.vips = {*IpAddress::parse("10.96.0.50")};
  stripe.ports = {{443, 0, "", "TLS", "https"}, {80, 8080, "", "HTTP", "http"}};
  stripe.resolution = ztunnel::Service::Resolution::kStatic;
  stripe.mesh_external = true;
  stripe.endpoints = {{"192.0.2.7", {{"https", 8443}}, {{"version", "v1"}}, 0}};
  EXPECT_TRUE(table->add_service(stripe).ok());
  return table;
}

TEST(RouteTable, AServiceEntryHostsEndpointsAreDialledStraightOnTheirOwnPorts) {
  auto rt = RouteTable::build({}, {}, with_external_host());
  ASSERT_TRUE(rt.ok()) << rt.error().message;
  const ztunnel::Service* stripe = (*rt)->table().find_service_by_hostname("api.stripe.com");
  ASSERT_NE(stripe, nullptr);
  const auto* https = (*rt)->cluster({stripe, "", 443});
  ASSERT_NE(https, nullptr);
  ASSERT_EQ(https->endpoints.size(), 1u);
  EXPECT_EQ(https->endpoints[0].address.to_string(), "192.0.2.7:8443");  // the endpoint's port
  EXPECT_FALSE(https->endpoints[0].workload->mesh);                      // no HBONE
  EXPECT_EQ(https->tls, nullptr);  // no DestinationRule: plain TCP
  EXPECT_EQ((*rt)->cluster({stripe, "", 80})->endpoints[0].address.to_string(),
            "192.0.2.7:8080");  // the entry port's targetPort
}

TEST(RouteTable, ResolutionNonePassesThroughToTheAddressDialled) {
  auto table = std::const_pointer_cast<ztunnel::WorkloadTable>(shop_table());
  ztunnel::Service db;
  db.name = "db.example.com";
  db.ns = "shop";
  db.entry = "shop/db";
  db.vips = {*IpAddress::parse("192.0.2.40")};
  db.ports = {{5432, 0, "", "TCP", "tcp"}};
  db.resolution = ztunnel::Service::Resolution::kNone;
  db.mesh_external = true;
  ASSERT_TRUE(table->add_service(db).ok());
  auto rt = RouteTable::build({}, {}, table);
  ASSERT_TRUE(rt.ok()) << rt.error().message;
  const auto* c =
      (*rt)->cluster({(*rt)->table().find_service_by_hostname("db.example.com"), "", 5432});
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->endpoints.size(), 1u);
  EXPECT_EQ(c->endpoints[0].address.to_string(), "192.0.2.40:5432");
  EXPECT_FALSE(c->endpoints[0].workload->mesh);
}

TEST(RouteTable, TlsOriginationFilesAreReadAndAnUnreadableOneIsAnErrorNamingItsField) {
  pb::DestinationRule dr;
  dr.set_uid("shop/stripe");
  dr.set_host("api.stripe.com");
  auto* pl = dr.mutable_traffic_policy()->add_port_level_settings();
  pl->set_port(443);
  pl->mutable_tls()->set_mode(pb::ClientTLSSettings::SIMPLE);
  auto rt = RouteTable::build({}, {dr}, with_external_host());
  ASSERT_TRUE(rt.ok()) << rt.error().message;
  const ztunnel::Service* stripe = (*rt)->table().find_service_by_hostname("api.stripe.com");
  const auto& tls = (*rt)->cluster({stripe, "", 443})->tls;
  ASSERT_NE(tls, nullptr);
  EXPECT_EQ(tls->sni, "api.stripe.com");                      // the host, as no sni was written
  EXPECT_EQ((*rt)->cluster({stripe, "", 80})->tls, nullptr);  // another port's setting

  pl->mutable_tls()->set_ca_certificates("/nonexistent/ca.pem");
  auto bad = RouteTable::build({}, {dr}, with_external_host());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find(
                "DestinationRule shop/stripe: trafficPolicy.tls.caCertificates: cannot read "
                "'/nonexistent/ca.pem'"),
            std::string::npos)
      << bad.error().message;
}

TEST(RouteTable, ABadRegexIsAnErrorNamingTheObjectAndField) {
  auto vs = virtual_service();
  auto* r = vs.add_http();
  *r->add_route() = to(kShop);
  (*r->add_match()->mutable_headers())["user-agent"] = regex("(unclosed");
  auto rt = RouteTable::build({vs}, {}, shop_table());
  ASSERT_FALSE(rt.ok());
  EXPECT_NE(
      rt.error().message.find("VirtualService shop/shop: http[0].match[0].headers[user-agent]"),
      std::string::npos)
      << rt.error().message;
}

TEST(RouteTable, WeightsAllZeroAreAnError) {
  auto vs = virtual_service();
  auto* r = vs.add_http();
  *r->add_route() = to(kShop, "v1", 0);
  auto rt = RouteTable::build({vs}, {subsets_rule()}, shop_table());
  ASSERT_FALSE(rt.ok());
  EXPECT_NE(rt.error().message.find("http[0].route: every weight is 0"), std::string::npos);
}

TEST(RouteTable, TcpRoutesPickByPortAndWeight) {
  auto vs = virtual_service();
  auto* other_port = vs.add_tcp();
  other_port->set_port(81);
  *other_port->add_route() = to("api.shop.svc.cluster.local", "", 1);
  auto* tcp = vs.add_tcp();
  tcp->set_port(80);
  *tcp->add_route() = to(kShop, "v1", 3);
  *tcp->add_route() = to(kShop, "v2", 1);
  auto rt = build({vs});
  auto c = call(rt->table(), "client", "GET", "/");
  std::map<std::string, int> counts;
  std::string route;
  for (uint64_t e = 0; e < 400; ++e) {
    auto cluster = rt->tcp_route(c.downstream, "", e, &route);
    ASSERT_TRUE(cluster.has_value());
    counts[cluster->subset]++;
  }
  EXPECT_EQ(route, "shop/shop#tcp1");
  EXPECT_EQ(counts["v1"], 300);
  EXPECT_EQ(counts["v2"], 100);
  // HTTP to a host with only TCP routes goes where they say.
  RouteResult r = rt->route(c.request, c.downstream, 3);
  ASSERT_EQ(r.kind, RouteResult::Kind::kForward);
  EXPECT_EQ(r.cluster.subset, "v2");
  // Without a VirtualService: the dialled Service and port.
  auto plain = build({});
  auto cluster = plain->tcp_route(c.downstream, "", 1, &route);
  ASSERT_TRUE(cluster.has_value());
  EXPECT_EQ(route, "default");
  EXPECT_EQ(cluster->port, 80);
}

TEST(RouteTable, TlsRoutesPickBySniThenTcpRoutesCatchTheRest) {
  auto vs = virtual_service();
  auto* exact = vs.add_tls();
  exact->add_match()->add_sni_hosts("admin.shop.example");
  *exact->add_route() = to(kShop, "v2", 100);
  auto* wild = vs.add_tls();
  auto* m = wild->add_match();
  m->add_sni_hosts("*.shop.example");
  m->set_port(80);
  *wild->add_route() = to(kShop, "v1", 100);
  auto* other_port = vs.add_tls();
  other_port->add_match()->set_port(443);
  other_port->mutable_match(0)->add_sni_hosts("*");
  *other_port->add_route() = to("api.shop.svc.cluster.local", "", 100);
  auto* tcp = vs.add_tcp();
  auto* subnet = tcp->add_match();
  subnet->add_destination_subnets("10.96.0.0/16");
  *tcp->add_route() = to(kShop, "v2", 100);
  auto rt = build({vs});
  auto c = call(rt->table(), "client", "GET", "/");  // dials 10.96.0.30:80
  std::string route;
  auto admin = rt->tcp_route(c.downstream, "admin.shop.example", 1, &route);
  ASSERT_TRUE(admin.has_value());
  EXPECT_EQ(route, "shop/shop#tls0");
  EXPECT_EQ(admin->subset, "v2");
  auto www = rt->tcp_route(c.downstream, "www.shop.example", 1, &route);
  ASSERT_TRUE(www.has_value());
  EXPECT_EQ(route, "shop/shop#tls1");
  EXPECT_EQ(www->subset, "v1");
  // "*.shop.example" is not the bare domain; port 443's route is not this port's: tcp routes.
  auto bare = rt->tcp_route(c.downstream, "shop.example", 1, &route);
  EXPECT_EQ(route, "shop/shop#tcp0");
  ASSERT_TRUE(bare.has_value());
  EXPECT_EQ(bare->subset, "v2");
  rt->tcp_route(c.downstream, "", 1, &route);  // no server name: tcp routes only
  EXPECT_EQ(route, "shop/shop#tcp0");
  // Outside the destination subnets, nothing matches: the dialled Service.
  auto narrow = virtual_service();
  auto* t = narrow.add_tcp();
  t->add_match()->add_destination_subnets("192.168.0.0/24");
  *t->add_route() = to(kShop, "v2", 100);
  auto rt2 = build({narrow});
  auto d = rt2->tcp_route(c.downstream, "", 1, &route);
  EXPECT_EQ(route, "default");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->subset, "");
}

TEST(RouteTable, ABadDestinationSubnetIsAnErrorNamingTheField) {
  auto vs = virtual_service();
  auto* t = vs.add_tcp();
  t->add_match()->add_destination_subnets("10.0.0.0/99");
  *t->add_route() = to(kShop, "v2", 100);
  auto rt = RouteTable::build({vs}, {testing::subsets_rule()}, testing::shop_table());
  ASSERT_FALSE(rt.ok());
  EXPECT_NE(rt.error().message.find("tcp[0].match[0].destinationSubnets"), std::string::npos)
      << rt.error().message;
}

TEST(RouteTable, TheUpstreamProtocolIsIstiosChoiceByPortAndPool) {
  auto table = std::make_shared<ztunnel::WorkloadTable>();
  auto w = ambit::testing::test_workload("grpc-0", testing::id("grpc"), "node2", {"10.0.4.1"});
  w.labels = {{"app", "grpc"}};
  w.hbone_address = *SocketAddress::parse("10.0.4.1:15008");
  ASSERT_TRUE(table->add_workload(w).ok());
  ztunnel::Service s;
  s.name = "grpc";
  s.ns = "shop";
  s.vips = {*IpAddress::parse("10.96.0.40")};
  s.ports = {{80, 8080, "", "HTTP"},
             {81, 8081, "", "HTTP2"},
             {82, 8082, "", "GRPC"},
             {83, 8083, "", "TCP"}};
  s.selector = {{"app", "grpc"}};
  ASSERT_TRUE(table->add_service(s).ok());
  auto protocol_of = [&](const pb::DestinationRule& dr, uint16_t port) {
    auto rt = RouteTable::build({}, {dr}, table);
    EXPECT_TRUE(rt.ok()) << rt.error().message;
    const auto* info = (*rt)->cluster({(*rt)->table().find_service_by_uid("shop/grpc"), "", port});
    EXPECT_NE(info, nullptr);
    return info->endpoints.at(0).protocol;
  };
  pb::DestinationRule none;
  none.set_uid("shop/grpc");
  none.set_host("grpc.shop.svc.cluster.local");
  EXPECT_EQ(protocol_of(none, 80), UpstreamProtocol::kHttp1);
  EXPECT_EQ(protocol_of(none, 81), UpstreamProtocol::kHttp2);
  EXPECT_EQ(protocol_of(none, 82), UpstreamProtocol::kHttp2);
  EXPECT_EQ(protocol_of(none, 83), UpstreamProtocol::kClient);  // sniffed: as the client spoke
  auto upgrade = none;                                          // UPGRADE at port 80 only
  auto* pl = upgrade.mutable_traffic_policy()->add_port_level_settings();
  pl->set_port(80);
  pl->mutable_connection_pool()->mutable_http()->set_h2_upgrade_policy(
      pb::ConnectionPoolSettings::HTTPSettings::UPGRADE);
  EXPECT_EQ(protocol_of(upgrade, 80), UpstreamProtocol::kHttp2);
  auto client = none;
  client.mutable_traffic_policy()
      ->mutable_connection_pool()
      ->mutable_http()
      ->set_use_client_protocol(true);
  EXPECT_EQ(protocol_of(client, 81), UpstreamProtocol::kClient);
  // What that means per request: a protocol switch always goes HTTP/1.1.
  RouteTable::Endpoint ep{nullptr, SocketAddress(), UpstreamProtocol::kClient};
  EXPECT_TRUE(upstream_http2(ep, true, false));
  EXPECT_FALSE(upstream_http2(ep, false, false));
  ep.protocol = UpstreamProtocol::kHttp2;
  EXPECT_FALSE(upstream_http2(ep, true, true));
}

}  // namespace
}  // namespace ambit::waypoint
