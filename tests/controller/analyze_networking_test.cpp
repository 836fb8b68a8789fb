// The analyzer's messages about traffic configuration (VirtualService, DestinationRule,
// ServiceEntry): one test per rule, checked for code, severity, line, object and field, as in
// analyze_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "config_fixtures.h"
#include "controller/config/diagnostics.h"
#include "controller/config/views.h"

namespace ambit::controller::config {
namespace {

// The fixtures, analyze_with_base, dump and the short severities.
using namespace testing;

TEST(AnalyzeTest, AVirtualServiceWithoutHostsIsADelegate) {
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews-delegate, namespace: shop}
spec:
  http: [{route: [{destination: {host: reviews}}]}]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: bad-delegate, namespace: shop}
spec:
  gateways: [mesh]
  http: [{route: [{destination: {host: reviews}}]}]
)");
  ASSERT_EQ(d.size(), 2u) << dump(d);
  EXPECT_EQ(d[0].code, "AMB0015");  // read, not applied yet
  EXPECT_EQ(d[0].severity, kWarning);
  EXPECT_EQ(d[1].code, "AMB0006");  // Istio: a delegate names no gateways
  EXPECT_EQ(d[1].field, "spec.gateways");
}

TEST(AnalyzeTest, RouteWeights) {
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /a}}]
    route:
    - destination: {host: reviews, subset: v1}
      weight: 0
    - destination: {host: reviews, subset: v2}
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 1
    - destination: {host: reviews, subset: v2}
      weight: 3
)");
  // Weights are relative (Istio's weight/sum): 1 and 3 is a 25/75 split; only a sum of 0 with
  // several destinations sends nothing anywhere.
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0013", kError, 9, "VirtualService shop/reviews",
                         "spec.http[0].route");
  EXPECT_NE(d[0].message.find("sum to 0"), std::string::npos);
}

TEST(AnalyzeTest, UnknownHost) {
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts:
  - reviews
  - ratings.shop.svc.cluster.local
  http:
  - route:
    - destination: {host: reviews}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0021", kWarning, 7, "VirtualService shop/reviews", "spec.hosts[1]");
}

TEST(AnalyzeTest, UnknownHostOfDestinationRule) {
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: ratings, namespace: shop}
spec:
  host: ratings
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0021", kWarning, 5, "DestinationRule shop/ratings", "spec.host");
}

TEST(AnalyzeTest, UnknownSubset) {
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews.shop.svc.cluster.local]
  http:
  - route:
    - destination:
        host: reviews
        subset: v3
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0022", kError, 10, "VirtualService shop/reviews",
                         "spec.http[0].route[0].destination.subset");
}

TEST(AnalyzeTest, UnknownDestination) {
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination:
        host: ratings
)");
  // An error, as istioctl's IST0101, but not one that refuses the change: the Service may come.
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0023", kError, 9, "VirtualService shop/reviews",
                         "spec.http[0].route[0].destination.host");
  EXPECT_FALSE(has_blocking_errors(d));
}

TEST(AnalyzeTest, DestinationPortNotOnTheService) {
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, port: {number: 8080}}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0041", kError, 8, "VirtualService shop/reviews",
                         "spec.http[0].route[0].destination.port");
  EXPECT_NE(d[0].message.find("has no port 8080 (its ports: 9080)"), std::string::npos)
      << d[0].message;
}

TEST(AnalyzeTest, AMultiPortDestinationNeedsAPort) {
  auto d = analyze_with_base(R"(apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: shop}
spec:
  ports: [{port: 9080, name: http}, {port: 9443, name: https}]
  selector: {app: reviews}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: shop}
spec:
  hosts: [ratings]
  http:
  - match: [{uri: {prefix: /a}}]
    route:
    - destination: {host: ratings}
  - route:
    - destination: {host: ratings, port: {number: 9443}}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0042", kError, 16, "VirtualService shop/ratings",
                         "spec.http[0].route[0].destination");
  EXPECT_NE(d[0].message.find("several ports (9080, 9443)"), std::string::npos) << d[0].message;
}

TEST(AnalyzeTest, AGatewayThatDoesNotExist) {
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ingress, namespace: shop}
spec: {selector: {istio: ingressgateway}, servers: []}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  gateways: [mesh, ingress, shop/ingress, istio-system/ingress]
  http:
  - route:
    - destination: {host: reviews}
)");
  std::erase_if(d, [](const Diagnostic& x) { return x.code == "AMB0005"; });  // Gateway ignored
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0043", kError, 11, "VirtualService shop/reviews",
                         "spec.gateways[3]");
  EXPECT_NE(d[0].message.find("'ingress' is not a networking.istio.io Gateway in namespace "
                              "istio-system"),
            std::string::npos)
      << d[0].message;
}

TEST(AnalyzeTest, TwoVirtualServicesForOneHost) {
  constexpr const char* kTwo = R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a, namespace: shop}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: b, namespace: shop}
spec:
  hosts: [reviews.shop.svc.cluster.local]
  http: [{route: [{destination: {host: reviews}}]}]
)";
  auto d = analyze_with_base(kTwo);
  ASSERT_EQ(d.size(), 2u) << dump(d);
  EXPECT_EQ(d[0].code, "AMB0044");
  EXPECT_EQ(d[0].object, "VirtualService shop/a");
  EXPECT_NE(d[0].message.find("also claimed by VirtualService shop/b"), std::string::npos);
  EXPECT_EQ(d[1].object, "VirtualService shop/b");
  EXPECT_FALSE(has_blocking_errors(d));

  // Each seen only by its own namespace, from two namespaces: no namespace sees both.
  auto apart = analyze_with_base(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a, namespace: shop}
spec:
  hosts: [reviews.shop.svc.cluster.local]
  exportTo: ["."]
  http: [{route: [{destination: {host: reviews}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: b, namespace: web}
spec:
  hosts: [reviews.shop.svc.cluster.local]
  exportTo: ["."]
  http: [{route: [{destination: {host: reviews.shop.svc.cluster.local}}]}]
)");
  std::erase_if(apart, [](const Diagnostic& x) { return x.code == "AMB0031"; });
  EXPECT_TRUE(apart.empty()) << dump(apart);
}

TEST(AnalyzeTest, ExportToIsValidatedAndHonoured) {
  auto bad = analyze_with_base(R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec:
  host: web
  exportTo: ["*", "."]
)");
  EXPECT_ONLY_DIAGNOSTIC(bad, "AMB0006", kError, 6, "DestinationRule shop/web", "spec.exportTo");
  EXPECT_NE(bad[0].message.find("'*' must be the only exportTo value"), std::string::npos);

  // A Service exported to its own namespace is not a destination from another one, and a
  // DestinationRule exported so defines no subset for routes elsewhere.
  auto d = analyze_with_base(R"(apiVersion: v1
kind: Service
metadata:
  name: private
  namespace: shop
  annotations: {networking.istio.io/exportTo: "."}
spec:
  ports: [{port: 80, name: http}]
  selector: {app: web}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews-local, namespace: shop}
spec:
  host: reviews.shop.svc.cluster.local
  exportTo: ["."]
  subsets: [{name: v9, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: front, namespace: web}
spec:
  hosts: [front.web.svc.cluster.local]
  http:
  - route: [{destination: {host: private.shop.svc.cluster.local}}]
  - route: [{destination: {host: reviews.shop.svc.cluster.local, subset: v9}}]
)");
  std::erase_if(d, [](const Diagnostic& x) { return x.severity != kError; });
  ASSERT_EQ(d.size(), 2u) << dump(d);
  EXPECT_EQ(d[0].code, "AMB0023");
  EXPECT_EQ(d[0].field, "spec.http[0].route[0].destination.host");
  EXPECT_EQ(d[1].code, "AMB0022");
}

TEST(AnalyzeTest, AVirtualServiceWithoutRoutesNamesTheMisspeltSection) {
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  htpp:
  - route: [{destination: {host: reviews}}]
)");
  ASSERT_EQ(d.size(), 2u) << dump(d);
  EXPECT_EQ(d[0].code, "AMB0006");
  EXPECT_EQ(d[0].severity, kError);
  EXPECT_NE(d[0].message.find("needs http, tcp or tls routes (is 'htpp' a misspelling"),
            std::string::npos)
      << d[0].message;
  EXPECT_EQ(d[1].code, "AMB0003");  // the unknown field itself
}

TEST(AnalyzeTest, ASubsetThatSelectsNoPod) {
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec:
  host: web
  subsets:
  - {name: v1, labels: {app: web}}
  - {name: v2, labels: {version: v2}}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0045", kWarning, 8, "DestinationRule shop/web",
                         "spec.subsets[1].labels");
}

TEST(AnalyzeTest, ServiceEntryRulesAsIstioValidatesThem) {
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: bad, namespace: shop}
spec:
  hosts: ["*", "*.example.com", api.example.com]
  addresses: [192.0.2.0/24]
  ports:
  - {number: 80, name: http, protocol: HTTP}
  - {number: 80, name: http2, protocol: HTTP}
  - {number: 8080, name: http, protocol: TCP}
  resolution: DNS
  workloadSelector: {labels: {app: web}}
  endpoints:
  - {address: "not an address", ports: {grpc: 9000}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: none-with-endpoints, namespace: shop}
spec:
  hosts: [db.example.com]
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  resolution: NONE
  endpoints: [{address: 192.0.2.1}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dns-wildcard, namespace: shop}
spec:
  hosts: ["*.example.org"]
  ports: [{number: 443, name: tls, protocol: tls}]
  resolution: DNS
)");
  std::erase_if(d, [](const Diagnostic& x) { return x.severity != kError; });
  std::vector<std::string> messages;
  for (const auto& x : d) {
    EXPECT_EQ(x.code, "AMB0006") << x.format();
    messages.push_back(x.object + " " + x.field + ": " + x.message);
  }
  auto has = [&](const std::string& text) {
    return std::any_of(messages.begin(), messages.end(),
                       [&](const std::string& m) { return m.find(text) != std::string::npos; });
  };
  EXPECT_TRUE(has("ServiceEntry shop/bad spec.hosts[0]: '*' is not a ServiceEntry host"))
      << dump(d);
  EXPECT_TRUE(
      has("spec.addresses: CIDR addresses are allowed only with resolution NONE or STATIC"));
  EXPECT_TRUE(has("spec.ports[1]: port 80 is defined twice"));
  EXPECT_TRUE(has("spec.ports[2]: port name 'http' is defined twice"));
  EXPECT_TRUE(has("spec.endpoints: endpoints and workloadSelector cannot both be set"));
  EXPECT_TRUE(has("spec.endpoints[0]: endpoint address 'not an address' is not an IP address"));
  EXPECT_TRUE(has("spec.endpoints[0]: endpoint port 'grpc' is not a port name"));
  EXPECT_TRUE(has("spec.hosts: several hosts need HTTP or TLS ports"));
  EXPECT_TRUE(
      has("ServiceEntry shop/none-with-endpoints spec.endpoints: resolution NONE takes no "
          "endpoints"));
  EXPECT_TRUE(
      has("ServiceEntry shop/dns-wildcard spec.hosts[0]: '*.example.org': with DNS "
          "resolution and no endpoints"));
  EXPECT_EQ(d.size(), 10u) << dump(d);
}

TEST(AnalyzeTest, DestinationRuleNumbersAndDurationsAreRangeChecked) {
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec:
  host: web
  trafficPolicy:
    loadBalancer:
      simple: ROUND_ROBIN
      warmup: {duration: 0s, minimumPercent: 120, aggression: 0.5}
    connectionPool:
      tcp: {connectTimeout: 500us, tcpKeepalive: {probes: -1}}
      http: {idleTimeout: 1.5ms, maxConcurrentStreams: -2}
    outlierDetection: {interval: 10s, baseEjectionTime: 0s, maxEjectionPercent: 101}
)");
  std::vector<std::string> errors;
  for (const auto& x : d) {
    if (x.severity == kError) errors.push_back(x.code + " " + x.field);
  }
  std::sort(errors.begin(), errors.end());
  EXPECT_EQ(errors, (std::vector<std::string>{
                        "AMB0006 spec.trafficPolicy.connectionPool.http.maxConcurrentStreams",
                        "AMB0006 spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.probes",
                        "AMB0006 spec.trafficPolicy.loadBalancer.warmup.aggression",
                        "AMB0006 spec.trafficPolicy.loadBalancer.warmup.minimumPercent",
                        "AMB0006 spec.trafficPolicy.outlierDetection.maxEjectionPercent",
                        "AMB0010 spec.trafficPolicy.connectionPool.http.idleTimeout",
                        "AMB0010 spec.trafficPolicy.connectionPool.tcp.connectTimeout",
                        "AMB0010 spec.trafficPolicy.loadBalancer.warmup.duration",
                        "AMB0010 spec.trafficPolicy.outlierDetection.baseEjectionTime"}))
      << dump(d);
}

TEST(AnalyzeTest, IstioDocumentationCasesFound) {
  // IST0134: TCP without addresses; IST0130: a rule after a catch-all.
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: shop}
spec:
  hosts: [db.example.com]
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
  - match: [{uri: {prefix: /v2}}]
    route: [{destination: {host: reviews, subset: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [web]
  http:
  - match: [{name: a, uri: {prefix: /a}}, {headers: {x-b: {exact: "1"}}}]
    route: [{destination: {host: web}}]
  - match: [{name: again, uri: {prefix: /a}}]
    route: [{destination: {host: web}}]
  - match: [{uri: {prefix: /a}}, {uri: {prefix: /c}}]
    route: [{destination: {host: web}}]
)");
  ASSERT_EQ(d.size(), 3u) << dump(d);
  EXPECT_EQ(d[0].code, "AMB0047");
  EXPECT_EQ(d[0].object, "ServiceEntry shop/db");
  EXPECT_EQ(d[1].code, "AMB0048");
  EXPECT_EQ(d[1].field, "spec.http[1]");
  EXPECT_EQ(d[1].severity, kWarning);
  // A match already made by an earlier rule (names differ): the rule is never used. The third
  // rule still has /c of its own.
  EXPECT_EQ(d[2].code, "AMB0048");
  EXPECT_EQ(d[2].object, "VirtualService shop/web");
  EXPECT_EQ(d[2].field, "spec.http[1]");
  EXPECT_NE(d[2].message.find("a match of rule 0"), std::string::npos) << d[2].message;
}

TEST(AnalyzeTest, IstioDocumentationCasesAccepted) {
  // A Unix-socket endpoint, a dry-run policy and a policy naming its own namespace.
  auto snapshot = load_texts(
      {{"base.yaml", kBaseCluster}, {"fixture.yaml", R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: local-socket, namespace: shop}
spec:
  hosts: [socket.example.com]
  addresses: [192.0.2.10]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: "unix:///var/run/example/socket"}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: trial
  namespace: shop
  annotations: {istio.io/dry-run: "true"}
spec:
  action: DENY
  rules: [{from: [{source: {namespaces: [shop]}}], when: [{key: source.namespace, values: [shpo]}]}]
)"}});
  auto report = analyze(snapshot);
  std::vector<std::string> codes;
  for (const auto& x : report.diagnostics) codes.push_back(x.code + " " + x.field);
  EXPECT_EQ(codes,
            (std::vector<std::string>{"AMB0015 metadata", "AMB0046 spec.rules[0].when[0].values"}))
      << dump(report.diagnostics);
  // Dry run: evaluated by Istio, enforced by nobody.
  for (const auto& r : agent_view(snapshot.model, kAllNodes, "cluster.local")) {
    EXPECT_FALSE(r.has_authorization_policy()) << r.uid();
  }
}

TEST(AnalyzeTest, AnUnknownH2UpgradePolicyNamesTheRuleAndField) {
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: pool-check, namespace: shop}
spec:
  host: ratings
  trafficPolicy:
    connectionPool:
      http: {h2UpgradePolicy: ALWAYS, useClientProtocol: true}
)");
  std::erase_if(d, [](const Diagnostic& x) { return x.severity != kError; });
  ASSERT_EQ(d.size(), 1u) << dump(d);
  EXPECT_EQ(d[0].object, "DestinationRule shop/pool-check");
  EXPECT_EQ(d[0].field, "spec.trafficPolicy.connectionPool.http.h2UpgradePolicy");
  EXPECT_NE(d[0].message.find("'ALWAYS' is not an h2UpgradePolicy"), std::string::npos)
      << d[0].message;
}

}  // namespace
}  // namespace ambit::controller::config
