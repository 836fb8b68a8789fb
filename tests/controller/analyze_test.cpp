// One test per diagnostic code: a fixture that triggers exactly that message, checked for its
// code, severity, file, line, object and field.
#include <gtest/gtest.h>

#include <set>

#include "config_fixtures.h"
#include "controller/config/diagnostics.h"

namespace ambit::controller::config {
namespace {

using testing::analyze_with_base;
using testing::kBaseCluster;
using testing::load_texts;
constexpr Severity kError = Severity::kError;
constexpr Severity kWarning = Severity::kWarning;

TEST(AnalyzeTest, BaseClusterIsClean) {
  auto report = analyze(load_texts({{"base.yaml", kBaseCluster}}));
  EXPECT_TRUE(report.diagnostics.empty()) << testing::dump(report.diagnostics);
}

TEST(AnalyzeTest, YamlSyntax) {
  auto d = analyze_with_base("apiVersion: v1\nkind: [Pod\n");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0001", kError, 3, "", "");
  EXPECT_NE(d[0].message.find("invalid YAML"), std::string::npos);
}

TEST(AnalyzeTest, InvalidObjectMissingField) {
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  http:
  - route:
    - destination: {host: reviews}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0002", kError, 5, "VirtualService shop/reviews", "spec.hosts");
  EXPECT_EQ(d[0].message, "required");
}

TEST(AnalyzeTest, InvalidObjectWrongType) {
  auto d = analyze_with_base(R"(apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: shop}
spec:
  ports: {port: 80}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0002", kError, 5, "Service shop/ratings", "spec.ports");
}

TEST(AnalyzeTest, UnknownField) {
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    retires: {attempts: 3}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0003", kWarning, 9, "VirtualService shop/reviews",
                         "spec.http[0].retires");
}

// Security kinds fail closed: the misspelt `principal` would otherwise be dropped, turning "only
// this service account from 10/8" into "anything from 10/8".
TEST(AnalyzeTest, UnknownFieldInAnAuthorizationPolicyRefusesIt) {
  auto d = analyze_with_base(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: api, namespace: shop}
spec:
  action: ALLOW
  rules:
  - from:
    - source:
        ipBlocks: [10.0.0.0/8]
        principal: cluster.local/ns/shop/sa/web
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0003", kError, 10, "AuthorizationPolicy shop/api",
                         "spec.rules[0].from[0].source.principal");
  EXPECT_NE(d[0].message.find("could widen what the policy allows"), std::string::npos)
      << d[0].message;
}

TEST(AnalyzeTest, UnknownFieldInAPeerAuthenticationRefusesIt) {
  auto d = analyze_with_base(R"(apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: strict, namespace: shop}
spec:
  mtls: {mode: STRICT}
  portLevelMTLS:
    8080: {mode: DISABLE}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0003", kError, 6, "PeerAuthentication shop/strict",
                         "spec.portLevelMTLS");
}

TEST(AnalyzeTest, AnUnsupportedVersionOfASecurityKindIsAnError) {
  auto d = analyze_with_base(R"(apiVersion: security.istio.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: api, namespace: shop}
spec:
  action: DENY
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0004", kError, 1, "", "");
  EXPECT_NE(d[0].message.find("supported: v1beta1, v1"), std::string::npos) << d[0].message;
}

TEST(AnalyzeTest, UnknownKind) {
  auto d = analyze_with_base(R"(apiVersion: example.com/v1
kind: Frobnicator
metadata: {name: x}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0004", kWarning, 1, "", "");
  EXPECT_NE(d[0].message.find("Frobnicator"), std::string::npos);
}

TEST(AnalyzeTest, UnknownVersionOfKnownKind) {
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v2
kind: VirtualService
metadata: {name: x}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0004", kWarning, 1, "", "");
}

TEST(AnalyzeTest, IgnoredKind) {
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: rate-limit, namespace: shop}
spec:
  configPatches: []
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0005", kWarning, 1, "EnvoyFilter shop/rate-limit", "");
}

TEST(AnalyzeTest, InvalidValue) {
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec:
  host: web
  trafficPolicy:
    loadBalancer:
      simple: FASTEST
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0006", kError, 8, "DestinationRule shop/web",
                         "spec.trafficPolicy.loadBalancer.simple");
}

TEST(AnalyzeTest, BadDuration) {
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [web]
  http:
  - route:
    - destination: {host: web}
    timeout: 5 seconds
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0010", kError, 9, "VirtualService shop/web",
                         "spec.http[0].timeout");
}

TEST(AnalyzeTest, BadRegex) {
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [web]
  http:
  - match:
    - headers:
        user-agent:
          regex: ".*(Mobile"
    route:
    - destination: {host: web}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0011", kError, 10, "VirtualService shop/web",
                         "spec.http[0].match[0].headers.user-agent.regex");
}

TEST(AnalyzeTest, BadPrincipal) {
  auto d = analyze_with_base(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/shop/sa/reviews", "shop/reviews"]
)");
  // Accepted as Istio accepts it, with a warning: it can match no identity of this mesh.
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0012", kWarning, 9, "AuthorizationPolicy shop/web",
                         "spec.rules[0].from[0].source.principals[1]");
  EXPECT_NE(d[0].message.find("compared as a string"), std::string::npos) << d[0].message;
}

TEST(AnalyzeTest, APrincipalThatCanNeverMatchIsAnError) {
  auto d = analyze_with_base(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web, namespace: shop}
spec:
  action: DENY
  rules:
  - from:
    - source:
        principals: ["spiffe://cluster.local/ns/shop/sa/reviews"]
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0012", kError, 9, "AuthorizationPolicy shop/web",
                         "spec.rules[0].from[0].source.principals[0]");
}

TEST(AnalyzeTest, RouteWeights) {
  auto d = analyze_with_base(R"(apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 80
    - destination: {host: reviews, subset: v2}
      weight: 10
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0013", kError, 8, "VirtualService shop/reviews",
                         "spec.http[0].route");
  EXPECT_NE(d[0].message.find("sum to 90"), std::string::npos);
}

TEST(AnalyzeTest, TrafficSplitWeights) {
  auto d = analyze_with_base(R"(apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata: {name: split, namespace: shop}
spec:
  service: reviews
  backends:
  - {service: reviews, weight: 0}
  - {service: web, weight: 0m}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0014", kError, 7, "TrafficSplit shop/split", "spec.backends");
}

TEST(AnalyzeTest, UnsupportedField) {
  auto d = analyze_with_base(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web, namespace: shop}
spec:
  targetRef: {kind: Service, name: web}
  action: DENY
  rules:
  - from:
    - source: {namespaces: [legacy]}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0015", kWarning, 5, "AuthorizationPolicy shop/web",
                         "spec.targetRef");
}

TEST(AnalyzeTest, DuplicateObject) {
  auto d = analyze_with_base(R"(apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0020", kError, 1, "Service shop/web", "metadata.name");
  EXPECT_NE(d[0].message.find("base.yaml:42"), std::string::npos) << d[0].message;
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
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0023", kWarning, 9, "VirtualService shop/reviews",
                         "spec.http[0].route[0].destination.host");
}

TEST(AnalyzeTest, SelectorMatchesNothing) {
  auto d = analyze_with_base(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ghost, namespace: shop}
spec:
  selector:
    matchLabels: {app: ghost}
  action: DENY
  rules:
  - from:
    - source: {namespaces: [legacy]}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0024", kWarning, 6, "AuthorizationPolicy shop/ghost",
                         "spec.selector");
}

TEST(AnalyzeTest, ConflictingNamespacePeerAuthentications) {
  auto d = analyze_with_base(R"(apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec:
  mtls: {mode: STRICT}
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: relaxed, namespace: shop}
spec:
  mtls: {mode: PERMISSIVE}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0025", kError, 7, "PeerAuthentication shop/relaxed", "spec");
}

TEST(AnalyzeTest, ConflictingWorkloadPeerAuthentications) {
  auto d = analyze_with_base(R"(apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: reviews, namespace: shop}
spec:
  selector: {matchLabels: {app: reviews}}
  mtls: {mode: STRICT}
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: reviews-v2, namespace: shop}
spec:
  selector: {matchLabels: {version: v2}}
  mtls: {mode: DISABLE}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0025", kError, 12, "PeerAuthentication shop/reviews-v2",
                         "spec.selector");
  EXPECT_NE(d[0].message.find("shop/reviews-v2"), std::string::npos);
}

TEST(AnalyzeTest, RootNamespaceSelector) {
  auto d = analyze_with_base(R"(apiVersion: v1
kind: Pod
metadata:
  name: gateway
  namespace: istio-system
  labels: {app: gateway}
status: {podIP: 10.1.9.9}
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec:
  selector: {matchLabels: {app: gateway}}
  mtls: {mode: STRICT}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0026", kWarning, 13, "PeerAuthentication istio-system/default",
                         "spec.selector");
}

TEST(AnalyzeTest, L7PolicyWithoutWaypoint) {
  auto d = analyze_with_base(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  rules:
  - from:
    - source: {principals: [cluster.local/ns/shop/sa/reviews]}
  - to:
    - operation: {methods: [GET], paths: ["/api/*"]}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0027", kWarning, 9, "AuthorizationPolicy shop/web",
                         "spec.rules[1]");
  EXPECT_NE(d[0].message.find("denied"), std::string::npos);
}

TEST(AnalyzeTest, L7PolicyWithWaypointIsFine) {
  auto d = analyze_with_base(R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop}
spec:
  gatewayClassName: ambit-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: shop
  labels: {ambit.io/use-waypoint: waypoint}
spec:
  selector: {app: web}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  rules:
  - to:
    - operation: {methods: [GET]}
)");
  EXPECT_TRUE(d.empty()) << testing::dump(d);
}

TEST(AnalyzeTest, UnknownWaypoint) {
  auto d = analyze_with_base(R"(apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: shop
  labels: {ambit.io/use-waypoint: missing}
spec:
  selector: {app: web}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0028", kWarning, 1, "Service shop/api",
                         "metadata.labels.ambit.io/use-waypoint");
}

TEST(AnalyzeTest, UnknownServiceProfileService) {
  auto d = analyze_with_base(R"(apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: ratings.shop.svc.cluster.local, namespace: shop}
spec:
  routes:
  - name: GET /
    condition: {method: GET, pathRegex: /}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0029", kWarning, 1,
                         "ServiceProfile shop/ratings.shop.svc.cluster.local", "metadata.name");
}

TEST(AnalyzeTest, UnknownTrafficSplitService) {
  auto d = analyze_with_base(R"(apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata: {name: split, namespace: shop}
spec:
  service: reviews
  backends:
  - service: reviews
    weight: 90
  - service: reviews-canary
    weight: 10
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0030", kWarning, 9, "TrafficSplit shop/split",
                         "spec.backends[1].service");
}

TEST(AnalyzeTest, UnknownNamespace) {
  auto d = analyze_with_base(R"(apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shoop}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0031", kWarning, 1, "ServiceAccount shoop/web",
                         "metadata.namespace");
}

TEST(AnalyzeTest, UnreadablePath) {
  auto snapshot = load_config({"/nonexistent/ambit-config"});
  ASSERT_FALSE(snapshot.ok());
  EXPECT_NE(snapshot.error().message.find("/nonexistent/ambit-config"), std::string::npos);
}

TEST(AnalyzeTest, NamedTargetPortNoSelectedPodDeclares) {
  // The base cluster's reviews pods declare no container ports.
  auto d = analyze_with_base(R"(apiVersion: v1
kind: Service
metadata: {name: reviews-named, namespace: shop}
spec:
  ports:
  - {port: 9080, targetPort: http-alt}
  selector: {app: reviews}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0035", kWarning, 6, "Service shop/reviews-named",
                         "spec.ports[0].targetPort");
  // Declared by one of the selected pods: fine.
  d = analyze_with_base(R"(apiVersion: v1
kind: Service
metadata: {name: reviews-named, namespace: shop}
spec:
  ports: [{port: 9080, targetPort: http-alt}]
  selector: {app: reviews}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v3, namespace: shop, labels: {app: reviews, version: v3}}
spec:
  containers: [{name: app, image: reviews:v3, ports: [{name: http-alt, containerPort: 9081}]}]
status: {podIP: 10.1.0.9}
)");
  EXPECT_TRUE(d.empty()) << testing::dump(d);
}

TEST(AnalyzeTest, EveryCodeIsDocumentedOnce) {
  std::set<std::string_view> seen;
  for (const auto& c : all_diagnostic_codes()) EXPECT_TRUE(seen.insert(c.code).second) << c.code;
  EXPECT_EQ(seen.size(), 29u);
}

TEST(AnalyzeTest, FormatIsIstioLike) {
  Diagnostic d{Severity::kError, "AMB0022", "vs.yaml", 12, "VirtualService shop/reviews",
               "spec.http[0]",   "boom"};
  EXPECT_EQ(d.format(),
            "Error [AMB0022] (VirtualService shop/reviews vs.yaml:12) spec.http[0]: boom");
}

}  // namespace
}  // namespace ambit::controller::config
