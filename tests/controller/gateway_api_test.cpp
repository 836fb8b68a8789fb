// Gateway API routes (HTTPRoute, GRPCRoute, TCPRoute): read, checked, and in the waypoint's view
// as VirtualServices with Gateway API's semantics (defaults, precedence, 500 for no backend).
#include <gtest/gtest.h>

#include <string>

#include "config_fixtures.h"
#include "controller/config/views.h"

namespace ambit::controller::config {
namespace {

namespace pb = ambit::v1;
using testing::load_texts;

// Namespace shop uses waypoint shop/waypoint; Services reviews (the apex), reviews-v1,
// reviews-v2, ratings; a ServiceEntry for api.example.com.
constexpr const char* kMesh = R"(apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1, namespace: shop, labels: {app: reviews, version: v1}}
spec: {nodeName: node-a}
status: {podIP: 10.1.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v2, namespace: shop, labels: {app: reviews, version: v2}}
spec: {nodeName: node-b}
status: {podIP: 10.1.0.2}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {clusterIP: 10.96.0.10, ports: [{port: 9080, name: http}], selector: {app: reviews}}
---
apiVersion: v1
kind: Service
metadata: {name: reviews-v1, namespace: shop}
spec:
  clusterIP: 10.96.0.11
  ports: [{port: 9080, name: http}]
  selector: {app: reviews, version: v1}
---
apiVersion: v1
kind: Service
metadata: {name: reviews-v2, namespace: shop}
spec:
  clusterIP: 10.96.0.12
  ports: [{port: 9080, name: http}]
  selector: {app: reviews, version: v2}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: shop}
spec: {clusterIP: 10.96.0.13, ports: [{port: 9080, name: grpc}], selector: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: example, namespace: shop}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: https, protocol: HTTPS}]
  resolution: DNS
)";

// The canary split of Istio's ambient traffic-management task, written as an HTTPRoute.
constexpr const char* kSplit = R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews, namespace: shop}
spec:
  parentRefs:
  - {group: "", kind: Service, name: reviews, port: 9080}
  rules:
  - backendRefs:
    - {name: reviews-v1, port: 9080, weight: 90}
    - {name: reviews-v2, port: 9080, weight: 10}
)";

ConfigSnapshot load(const std::string& routes) {
  return load_texts({{"mesh.yaml", kMesh}, {"fixture.yaml", routes}});
}

const pb::VirtualService* find_virtual_service(const std::vector<pb::Resource>& view,
                                               const std::string& uid) {
  for (const auto& r : view) {
    if (r.has_virtual_service() && r.uid() == uid) return &r.virtual_service();
  }
  return nullptr;
}

// Loads, expects no error, and returns the waypoint's VirtualService `uid`.
pb::VirtualService waypoint_route(const std::string& routes, const std::string& uid) {
  auto snapshot = load(routes);
  auto report = analyze(snapshot);
  EXPECT_FALSE(report.has_errors()) << testing::dump(report.diagnostics);
  auto view = waypoint_view(snapshot.model, "shop/waypoint");
  if (const auto* vs = find_virtual_service(view, uid)) return *vs;
  ADD_FAILURE() << "no VirtualService " << uid << " in the waypoint's view";
  return {};
}

std::vector<Diagnostic> diagnostics_of(const std::string& routes) {
  auto d = analyze(load(routes)).diagnostics;
  std::erase_if(d, [](const Diagnostic& x) { return x.file != "fixture.yaml"; });
  return d;
}

TEST(GatewayApiTest, SplitOnAServiceIsAWeightedRouteAtItsWaypoint) {
  auto vs = waypoint_route(kSplit, "httproute/shop/reviews:9080");
  EXPECT_EQ(vs.origin(), "HTTPRoute");
  ASSERT_EQ(vs.hosts_size(), 1);
  EXPECT_EQ(vs.hosts(0), "reviews.shop.svc.cluster.local");
  ASSERT_EQ(vs.http_size(), 1);
  const auto& route = vs.http(0);
  // No matches: Gateway API's PathPrefix "/", on the parentRef's port.
  ASSERT_EQ(route.match_size(), 1);
  EXPECT_EQ(route.match(0).uri().path_prefix(), "/");
  EXPECT_EQ(route.match(0).port(), 9080u);
  ASSERT_EQ(route.route_size(), 2);
  EXPECT_EQ(route.route(0).destination().host(), "reviews-v1.shop.svc.cluster.local");
  EXPECT_EQ(route.route(0).destination().port(), 9080u);
  EXPECT_EQ(route.route(0).weight(), 90);
  EXPECT_EQ(route.route(1).destination().host(), "reviews-v2.shop.svc.cluster.local");
  EXPECT_EQ(route.route(1).weight(), 10);
  EXPECT_FALSE(route.has_direct_response());
  // Agents get no L7.
  for (const auto& r : agent_view(load(kSplit).model, kAllNodes, "cluster.local")) {
    EXPECT_FALSE(r.has_virtual_service()) << r.uid();
  }
}

TEST(GatewayApiTest, SectionNameOfAServiceParentIsItsPortName) {
  auto vs = waypoint_route(R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews, namespace: shop}
spec:
  parentRefs: [{kind: Service, group: "", name: reviews, sectionName: http}]
  rules: [{backendRefs: [{name: reviews-v1, port: 9080}]}]
)",
                           "httproute/shop/reviews:9080");
  ASSERT_EQ(vs.http_size(), 1);
  EXPECT_EQ(vs.http(0).match(0).port(), 9080u);
}

TEST(GatewayApiTest, DefaultWeightIsOneAndZeroWeightsAnswer500) {
  auto vs = waypoint_route(R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews, namespace: shop}
spec:
  parentRefs: [{kind: Service, group: "", name: reviews}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /even/}}]
    backendRefs:
    - {name: reviews-v1, port: 9080}
    - {name: reviews-v2, port: 9080, weight: 3}
  - matches: [{path: {type: PathPrefix, value: /off}}]
    backendRefs:
    - {name: reviews-v1, port: 9080, weight: 0}
)",
                           "httproute/shop/reviews");
  ASSERT_EQ(vs.http_size(), 2);
  // The longer prefix first; "/even/" is the segment prefix "/even".
  EXPECT_EQ(vs.http(0).match(0).uri().path_prefix(), "/even");
  EXPECT_EQ(vs.http(0).route(0).weight(), 25);
  EXPECT_EQ(vs.http(0).route(1).weight(), 75);
  EXPECT_EQ(vs.http(1).match(0).uri().path_prefix(), "/off");
  EXPECT_EQ(vs.http(1).route_size(), 0);
  EXPECT_EQ(vs.http(1).direct_response().status(), 500u);
}

TEST(GatewayApiTest, MatchesAndFiltersMapped) {
  auto vs = waypoint_route(R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews, namespace: shop}
spec:
  parentRefs: [{kind: Service, group: "", name: reviews}]
  rules:
  - name: api
    matches:
    - path: {type: Exact, value: /api}
      headers:
      - {name: X-User, value: tester}
      - {type: RegularExpression, name: x-id, value: "[0-9]+"}
      queryParams: [{name: debug, value: "1"}]
      method: POST
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: x-env, value: canary}]
        add: [{name: x-via, value: waypoint}]
        remove: [x-drop]
    - type: ResponseHeaderModifier
      responseHeaderModifier: {remove: [server]}
    - type: URLRewrite
      urlRewrite: {hostname: internal, path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}}
    - type: RequestMirror
      requestMirror: {backendRef: {name: reviews-v2, port: 9080}, percent: 25}
    backendRefs:
    - name: reviews-v1
      port: 9080
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier: {set: [{name: x-backend, value: v1}]}
    timeouts: {request: 10s, backendRequest: 2s}
  - matches: [{path: {type: RegularExpression, value: "/r/[a-z]+"}}]
    filters:
    - type: RequestRedirect
      requestRedirect:
        scheme: https
        hostname: example.com
        port: 8443
        statusCode: 301
        path: {type: ReplaceFullPath, replaceFullPath: /moved}
  - matches: [{path: {value: /full}}]
    filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /other}}
    backendRefs: [{name: reviews-v1, port: 9080}]
)",
                           "httproute/shop/reviews");
  ASSERT_EQ(vs.http_size(), 3);
  // Exact, then prefix, then regex.
  const auto& api = vs.http(0);
  EXPECT_EQ(api.name(), "api");
  EXPECT_EQ(api.match(0).uri().exact(), "/api");
  EXPECT_EQ(api.match(0).headers().at("x-user").exact(), "tester");
  EXPECT_EQ(api.match(0).headers().at("x-id").regex(), "[0-9]+");
  EXPECT_EQ(api.match(0).query_params().at("debug").exact(), "1");
  EXPECT_EQ(api.match(0).method().exact(), "POST");
  EXPECT_EQ(api.headers().request().set().at("x-env"), "canary");
  EXPECT_EQ(api.headers().request().add().at("x-via"), "waypoint");
  ASSERT_EQ(api.headers().request().remove_size(), 1);
  EXPECT_EQ(api.headers().request().remove(0), "x-drop");
  EXPECT_EQ(api.headers().response().remove(0), "server");
  EXPECT_EQ(api.rewrite().authority(), "internal");
  EXPECT_EQ(api.rewrite().uri(), "/v2");
  EXPECT_EQ(api.rewrite().full_path(), "");
  EXPECT_EQ(api.mirror().host(), "reviews-v2.shop.svc.cluster.local");
  EXPECT_DOUBLE_EQ(api.mirror_percentage().value(), 25);
  ASSERT_EQ(api.route_size(), 1);
  EXPECT_EQ(api.route(0).weight(), 100);
  EXPECT_EQ(api.route(0).headers().request().set().at("x-backend"), "v1");
  EXPECT_EQ(api.timeout(), "10s");
  EXPECT_EQ(api.backend_request_timeout(), "2s");

  EXPECT_EQ(vs.http(1).rewrite().full_path(), "/other");

  const auto& redirect = vs.http(2);
  EXPECT_EQ(redirect.match(0).uri().regex(), "/r/[a-z]+");
  EXPECT_EQ(redirect.redirect().scheme(), "https");
  EXPECT_EQ(redirect.redirect().authority(), "example.com");
  EXPECT_EQ(redirect.redirect().port(), 8443u);
  EXPECT_EQ(redirect.redirect().redirect_code(), 301u);
  EXPECT_EQ(redirect.redirect().uri(), "/moved");
  EXPECT_EQ(redirect.route_size(), 0);
  EXPECT_FALSE(redirect.has_direct_response());
}

// Gateway API: among a parent's routes, exact > longest prefix > method > most headers > most
// query params; then the oldest route, then <ns>/<name>.
TEST(GatewayApiTest, PrecedenceAcrossRoutesOfOneService) {
  auto vs = waypoint_route(R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: b-catchall, namespace: shop, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  parentRefs: [{kind: Service, group: "", name: reviews}]
  rules:
  - backendRefs: [{name: reviews-v1, port: 9080}]
  - matches: [{path: {value: /api}, headers: [{name: a, value: "1"}]}]
    backendRefs: [{name: reviews-v1, port: 9080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: a-newer, namespace: shop, creationTimestamp: "2025-01-01T00:00:00Z"}
spec:
  parentRefs: [{kind: Service, group: "", name: reviews}]
  rules:
  - matches:
    - {path: {value: /api}, headers: [{name: a, value: "1"}]}
    - {path: {value: /api}, method: GET}
    - {path: {value: /api/v1}}
    - {path: {type: Exact, value: /api}}
    - {path: {value: /api}, queryParams: [{name: q, value: "1"}]}
    backendRefs: [{name: reviews-v2, port: 9080}]
)",
                           "httproute/shop/a-newer,httproute/shop/b-catchall");
  std::vector<std::string> order;
  for (const auto& r : vs.http()) {
    const auto& m = r.match(0);
    std::string text = m.uri().has_exact() ? "exact " + m.uri().exact() : m.uri().path_prefix();
    if (m.has_method()) text += " " + m.method().exact();
    for (const auto& [k, v] : m.headers()) text += " h:" + k;
    for (const auto& [k, v] : m.query_params()) text += " q:" + k;
    text += " -> " + r.route(0).destination().host().substr(0, 10);
    order.push_back(text);
  }
  EXPECT_EQ(order, (std::vector<std::string>{
                       "exact /api -> reviews-v2",
                       "/api/v1 -> reviews-v2",
                       "/api GET -> reviews-v2",
                       "/api h:a -> reviews-v1",  // the older route wins the tie
                       "/api h:a -> reviews-v2",
                       "/api q:q -> reviews-v2",
                       "/ -> reviews-v1",
                   }));
}

TEST(GatewayApiTest, RouteOnTheWaypointAppliesToItsServicesByHostname) {
  auto snapshot = load(R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: by-host, namespace: shop}
spec:
  parentRefs: [{name: waypoint}]
  hostnames: [reviews, "ratings.shop.svc.cluster.local"]
  rules:
  - backendRefs: [{name: reviews-v1, port: 9080}]
)");
  EXPECT_FALSE(analyze(snapshot).has_errors()) << testing::dump(analyze(snapshot).diagnostics);
  auto view = waypoint_view(snapshot.model, "shop/waypoint");
  const pb::VirtualService* vs = find_virtual_service(view, "httproute/shop/by-host");
  ASSERT_NE(vs, nullptr);
  EXPECT_EQ(std::vector<std::string>(vs->hosts().begin(), vs->hosts().end()),
            (std::vector<std::string>{"ratings.shop.svc.cluster.local",
                                      "reviews.shop.svc.cluster.local"}));
  // Another waypoint does not get it.
  EXPECT_TRUE(waypoint_view(snapshot.model, "shop/other").empty());
}

TEST(GatewayApiTest, GrpcRouteMethodIsAPath) {
  auto vs = waypoint_route(R"(apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: ratings, namespace: shop}
spec:
  parentRefs: [{kind: Service, group: "", name: ratings}]
  rules:
  - matches:
    - method: {service: ratings.Ratings, method: Get}
      headers: [{name: x-canary, value: "yes"}]
    - method: {service: ratings.Ratings}
    backendRefs: [{name: reviews-v2, port: 9080}]
)",
                           "grpcroute/shop/ratings");
  EXPECT_EQ(vs.origin(), "GRPCRoute");
  ASSERT_EQ(vs.http_size(), 2);
  EXPECT_EQ(vs.http(0).match(0).uri().exact(), "/ratings.Ratings/Get");
  EXPECT_EQ(vs.http(0).match(0).headers().at("x-canary").exact(), "yes");
  EXPECT_EQ(vs.http(1).match(0).uri().path_prefix(), "/ratings.Ratings");
}

TEST(GatewayApiTest, TcpRouteCarriesWeightedBackends) {
  auto vs = waypoint_route(R"(apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: reviews, namespace: shop}
spec:
  parentRefs: [{kind: Service, group: "", name: reviews, port: 9080}]
  rules:
  - backendRefs:
    - {name: reviews-v1, port: 9080, weight: 1}
    - {name: reviews-v2, port: 9080, weight: 1}
    - {group: networking.istio.io, kind: Hostname, name: api.example.com, port: 443, weight: 0}
)",
                           "tcproute/shop/reviews:9080");
  EXPECT_EQ(vs.origin(), "TCPRoute");
  EXPECT_EQ(vs.http_size(), 0);
  ASSERT_EQ(vs.tcp_size(), 1);
  EXPECT_EQ(vs.tcp(0).port(), 9080u);
  ASSERT_EQ(vs.tcp(0).route_size(), 2);  // the weight-0 backend gets nothing
  EXPECT_EQ(vs.tcp(0).route(0).weight(), 50);
  EXPECT_EQ(vs.tcp(0).route(1).destination().host(), "reviews-v2.shop.svc.cluster.local");
}

TEST(GatewayApiTest, RouteWinsOverVirtualServiceForTheSameHost) {
  std::string both = std::string(kSplit) + R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews, ratings]
  http:
  - route: [{destination: {host: reviews-v2}}]
)";
  auto d = diagnostics_of(both);
  ASSERT_EQ(d.size(), 1u) << testing::dump(d);
  EXPECT_EQ(d[0].code, "AMB0033");
  EXPECT_EQ(d[0].severity, Severity::kWarning);
  EXPECT_EQ(d[0].object, "VirtualService shop/reviews");
  EXPECT_EQ(d[0].field, "spec.hosts[0]");
  EXPECT_NE(d[0].message.find("httproute/shop/reviews"), std::string::npos) << d[0].message;

  auto snapshot = load(both);
  auto view = waypoint_view(snapshot.model, "shop/waypoint");
  const pb::VirtualService* vs = find_virtual_service(view, "shop/reviews");
  // The VirtualService keeps only the host no route claims.
  ASSERT_NE(vs, nullptr);
  ASSERT_EQ(vs->hosts_size(), 1);
  EXPECT_EQ(vs->hosts(0), "ratings.shop.svc.cluster.local");
}

TEST(GatewayApiTest, ParentsAndBackendsThatResolveToNothing) {
  auto d = diagnostics_of(R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: broken, namespace: shop}
spec:
  parentRefs:
  - {kind: Service, group: "", name: nosuch}
  - {name: not-a-waypoint}
  - {kind: Service, group: "", name: reviews}
  rules:
  - backendRefs:
    - {name: missing, port: 9080}
    - {name: reviews-v1, port: 1234}
    - {group: networking.istio.io, kind: Hostname, name: nowhere.example.com, port: 80}
    - {group: networking.istio.io, kind: Hostname, name: api.example.com, port: 443}
)");
  ASSERT_EQ(d.size(), 5u) << testing::dump(d);
  EXPECT_EQ(d[0].code, "AMB0032");
  EXPECT_EQ(d[0].severity, Severity::kWarning);
  EXPECT_EQ(d[0].field, "spec.parentRefs[0]");
  EXPECT_EQ(d[1].code, "AMB0032");
  EXPECT_EQ(d[1].field, "spec.parentRefs[1]");
  EXPECT_NE(d[1].message.find("not a waypoint"), std::string::npos) << d[1].message;
  for (size_t i = 2; i < 5; ++i) {
    EXPECT_EQ(d[i].code, "AMB0034") << d[i].format();
    EXPECT_EQ(d[i].severity, Severity::kError) << d[i].format();
    EXPECT_EQ(d[i].object, "HTTPRoute shop/broken");
  }
  EXPECT_EQ(d[2].field, "spec.rules[0].backendRefs[0]");
  EXPECT_NE(d[3].message.find("no port 1234"), std::string::npos) << d[3].message;
  EXPECT_EQ(d[4].field, "spec.rules[0].backendRefs[2]");
}

TEST(GatewayApiTest, ServiceParentWithoutAWaypointIsInert) {
  auto d = diagnostics_of(R"(apiVersion: v1
kind: Service
metadata: {name: direct, namespace: shop, labels: {istio.io/use-waypoint: none}}
spec: {clusterIP: 10.96.0.30, ports: [{port: 80, name: http}], selector: {app: reviews}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: direct, namespace: shop}
spec:
  parentRefs: [{kind: Service, group: "", name: direct}]
  rules: [{backendRefs: [{name: reviews-v1, port: 9080}]}]
)");
  ASSERT_EQ(d.size(), 1u) << testing::dump(d);
  EXPECT_EQ(d[0].code, "AMB0032");
  EXPECT_EQ(d[0].object, "HTTPRoute shop/direct");
  EXPECT_NE(d[0].message.find("uses no waypoint"), std::string::npos) << d[0].message;
}

TEST(GatewayApiTest, BadValuesNameObjectAndField) {
  auto d = diagnostics_of(R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: bad, namespace: shop}
spec:
  parentRefs: [{kind: Service, group: "", name: reviews}]
  rules:
  - matches:
    - path: {type: Prefix, value: /x}
    - path: {value: nope}
    - path: {type: Exact, value: ""}
    - method: FETCH
    - headers: [{type: RegularExpression, name: x, value: "("}]
    filters:
    - type: RequestRedirect
      requestRedirect: {statusCode: 404, scheme: ftp}
    backendRefs:
    - {name: reviews-v1}
    - {name: reviews-v2, port: 9080, weight: -1}
    timeouts: {request: 10sec}
    colour: blue
)");
  std::vector<std::string> got;
  for (const auto& x : d) {
    EXPECT_EQ(x.object, "HTTPRoute shop/bad") << x.format();
    got.push_back(x.code + " " + x.field);
  }
  EXPECT_EQ(got, (std::vector<std::string>{
                     "AMB0006 spec.rules[0].matches[0].path.type",
                     "AMB0006 spec.rules[0].matches[1].path",
                     "AMB0006 spec.rules[0].matches[2].path",
                     "AMB0006 spec.rules[0].matches[3].method",
                     "AMB0011 spec.rules[0].matches[4].headers[0].value",
                     "AMB0006 spec.rules[0].filters[0].requestRedirect.scheme",
                     "AMB0006 spec.rules[0].filters[0].requestRedirect.statusCode",
                     "AMB0006 spec.rules[0].backendRefs[0].name",
                     "AMB0006 spec.rules[0].backendRefs[1].weight",
                     "AMB0010 spec.rules[0].timeouts.request",
                     "AMB0003 spec.rules[0].colour",
                 }))
      << testing::dump(d);
}

TEST(GatewayApiTest, KindsAndVersionsRead) {
  for (const char* version : {"v1", "v1beta1", "v1alpha2"}) {
    auto snapshot = load(std::string("apiVersion: gateway.networking.k8s.io/") + version + R"(
kind: HTTPRoute
metadata: {name: r, namespace: shop}
spec:
  parentRefs: [{kind: Service, group: "", name: reviews}]
  rules: [{backendRefs: [{name: reviews-v1, port: 9080}]}]
)");
    EXPECT_TRUE(snapshot.diagnostics.empty()) << version << testing::dump(snapshot.diagnostics);
    ASSERT_EQ(snapshot.model.gateway_routes.size(), 1u) << version;
    EXPECT_TRUE(snapshot.model.ignored.empty());
  }
  // TCPRoute exists only as v1alpha2.
  auto snapshot = load(R"(apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: r, namespace: shop}
spec: {rules: [{backendRefs: [{name: reviews-v1, port: 9080}]}]}
)");
  EXPECT_TRUE(snapshot.model.gateway_routes.empty());
  ASSERT_EQ(snapshot.diagnostics.size(), 1u);
  EXPECT_EQ(snapshot.diagnostics[0].code, "AMB0004");
}

TEST(VirtualServiceHeadersTest, RouteAndDestinationHeadersShareTheProtoField) {
  auto snapshot = load(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - headers:
      request: {set: {x-env: prod}, remove: [x-debug]}
      response: {add: {x-served-by: waypoint}}
    route:
    - destination: {host: reviews-v1}
      headers: {response: {set: {x-version: v1}}}
)");
  EXPECT_TRUE(snapshot.diagnostics.empty()) << testing::dump(snapshot.diagnostics);
  auto view = waypoint_view(snapshot.model, "shop/waypoint");
  const pb::VirtualService* vs = find_virtual_service(view, "shop/reviews");
  ASSERT_NE(vs, nullptr);
  const auto& route = vs->http(0);
  EXPECT_EQ(route.headers().request().set().at("x-env"), "prod");
  EXPECT_EQ(route.headers().request().remove(0), "x-debug");
  EXPECT_EQ(route.headers().response().add().at("x-served-by"), "waypoint");
  EXPECT_EQ(route.route(0).headers().response().set().at("x-version"), "v1");
}

}  // namespace
}  // namespace ambit::controller::config
