// One test per diagnostic code: a fixture that triggers exactly that message, checked for its
// code, severity, file, line, object and field. Reading and cross-kind checks here; traffic kinds
// in analyze_networking_test.cpp, security kinds in analyze_security_test.cpp.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "config_fixtures.h"
#include "controller/config/diagnostics.h"

namespace ambit::controller::config {
namespace {

// The fixtures, analyze_with_base, dump and the short severities.
using namespace testing;

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
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  subsets: [{name: v1, labels: {version: v1}}]
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0002", kError, 5, "DestinationRule shop/reviews", "spec.host");
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
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0005", kWarning, 5, "EnvoyFilter shop/rate-limit", "spec");
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
  action: AUDIT
  rules:
  - from:
    - source: {namespaces: [shop]}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0015", kWarning, 5, "AuthorizationPolicy shop/web", "spec.action");
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
    - source: {namespaces: [shop]}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0024", kWarning, 6, "AuthorizationPolicy shop/ghost",
                         "spec.selector");
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
  std::ifstream in(std::string(AMBIT_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_TRUE(in) << "docs/configuration.md";
  std::stringstream docs;
  docs << in.rdbuf();
  std::set<std::string_view> seen;
  for (const auto& c : all_diagnostic_codes()) {
    EXPECT_TRUE(seen.insert(c.code).second) << c.code << " listed twice";
    // One row in the codes table of docs/configuration.md.
    std::string row = fmt::format("| {} |", c.code);
    auto at = docs.str().find(row);
    EXPECT_NE(at, std::string::npos) << c.code << " is not in docs/configuration.md";
    EXPECT_EQ(docs.str().find(row, at + 1), std::string::npos) << c.code << " documented twice";
    if (at == std::string::npos) continue;
    // Its Istio code beside it, so people searching for Istio's code find ours.
    std::string line = docs.str().substr(at, docs.str().find('\n', at) - at);
    std::string istio = c.istio.empty() ? "| — |" : fmt::format("| {} |", c.istio);
    EXPECT_NE(line.find(istio), std::string::npos) << line << " lacks " << istio;
    EXPECT_EQ(line.find("(served)") != std::string::npos,
              c.severity == Severity::kError && !c.blocks)
        << line;
  }
}

TEST(AnalyzeTest, FormatIsIstioLike) {
  Diagnostic d{Severity::kError, "AMB0022", "vs.yaml", 12, "VirtualService shop/reviews",
               "spec.http[0]",   "boom"};
  EXPECT_EQ(d.format(),
            "Error [AMB0022] (VirtualService shop/reviews vs.yaml:12) spec.http[0]: boom");
}

}  // namespace
}  // namespace ambit::controller::config
