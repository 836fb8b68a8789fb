// One test per diagnostic code: a fixture that triggers exactly that message, checked for its
// code, severity, file, line, object and field.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "config_fixtures.h"
#include "controller/config/diagnostics.h"
#include "controller/config/views.h"

namespace ambit::controller::config {
namespace {

using testing::analyze_with_base;
using testing::dump;
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
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  subsets: [{name: v1, labels: {version: v1}}]
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0002", kError, 5, "DestinationRule shop/reviews", "spec.host");
  EXPECT_EQ(d[0].message, "required");
}

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

TEST(AnalyzeTest, ServiceAccountsTrustDomainsAndTheirConditionsAsIstioWritesThem) {
  auto snapshot =
      load_texts({{"base.yaml", kBaseCluster}, {"fixture.yaml", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews, namespace: shop}
spec:
  selector: {matchLabels: {app: reviews}}
  rules:
  - from:
    - source: {serviceAccounts: [web, shop/reviews], trustDomains: [cluster.local]}
    - source: {namespaces: [shop], notServiceAccounts: [shop/web], notTrustDomains: ["*.old"]}
    when:
    - {key: source.serviceAccount, values: [web]}
    - {key: source.trustDomain, notValues: [legacy.local]}
)"}});
  auto report = analyze(snapshot);
  EXPECT_TRUE(report.diagnostics.empty()) << dump(report.diagnostics);
  ASSERT_EQ(snapshot.model.authorization_policies.size(), 1u);
  const auto& rule = snapshot.model.authorization_policies[0].rules.at(0);
  EXPECT_EQ(rule.from.at(0).service_accounts,
            (std::vector<std::string>{"shop/web", "shop/reviews"}));
  EXPECT_EQ(rule.from.at(0).trust_domains, std::vector<std::string>{"cluster.local"});
  EXPECT_EQ(rule.from.at(1).not_service_accounts, std::vector<std::string>{"shop/web"});
  EXPECT_EQ(rule.when.at(0).values, std::vector<std::string>{"shop/web"});
}

TEST(AnalyzeTest, ServiceAccountsRefuseWhatIstioRefuses) {
  auto d = analyze_with_base(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews, namespace: shop}
spec:
  rules:
  - from:
    - source: {serviceAccounts: ["shop/*"]}
    - source: {serviceAccounts: [shop/web/extra]}
    - source: {serviceAccounts: [web], principals: [cluster.local/ns/shop/sa/web]}
)");
  ASSERT_EQ(d.size(), 3u) << dump(d);
  for (const auto& e : d) {
    EXPECT_EQ(e.code, "AMB0006") << e.format();
    EXPECT_EQ(e.severity, kError) << e.format();
  }
  EXPECT_EQ(d[0].field, "spec.rules[0].from[0].source.serviceAccounts[0]");
  EXPECT_NE(d[0].message.find("wildcards"), std::string::npos) << d[0].message;
  EXPECT_EQ(d[1].field, "spec.rules[0].from[1].source.serviceAccounts[0]");
  EXPECT_EQ(d[2].field, "spec.rules[0].from[2].source.serviceAccounts");
  EXPECT_NE(d[2].message.find("cannot be set together with principals"), std::string::npos);
}

TEST(AnalyzeTest, TargetRefsRefuseWhatIstioRefuses) {
  auto d = analyze_with_base(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: a, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  targetRefs: [{kind: Service, group: "", name: web}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: b, namespace: shop}
spec:
  targetRefs:
  - {kind: Deployment, group: apps, name: web}
  - {kind: Service, group: "", name: web, namespace: other}
  - {kind: GatewayClass, group: gateway.networking.k8s.io, name: ambit-waypoint}
)");
  std::erase_if(d, [](const Diagnostic& x) { return x.severity != kError; });
  ASSERT_EQ(d.size(), 4u) << dump(d);
  EXPECT_EQ(d[0].field, "spec.targetRefs[0]");
  EXPECT_NE(d[0].message.find("either selector or targetRefs"), std::string::npos);
  EXPECT_NE(d[1].message.find("apps/Deployment is not a policy target"), std::string::npos);
  EXPECT_NE(d[2].message.find("another namespace"), std::string::npos);
  EXPECT_NE(d[3].message.find("only allowed in the root namespace"), std::string::npos);
  for (const auto& e : d) EXPECT_EQ(e.severity, kError) << e.format();
}

TEST(AnalyzeTest, APolicyTargetNothingServesIsEnforcedNowhere) {
  auto d = analyze_with_base(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: a, namespace: shop}
spec:
  targetRefs:
  - {kind: Service, group: "", name: reviews}
  - {kind: Gateway, group: gateway.networking.k8s.io, name: missing}
  rules: [{}]
)");
  ASSERT_EQ(d.size(), 2u) << dump(d);
  EXPECT_EQ(d[0].code, "AMB0040");
  EXPECT_EQ(d[0].severity, kWarning);
  EXPECT_EQ(d[0].field, "spec.targetRefs[0]");
  EXPECT_NE(d[0].message.find("enforced only by waypoints"), std::string::npos) << d[0].message;
  EXPECT_EQ(d[1].field, "spec.targetRefs[1]");
  EXPECT_NE(d[1].message.find("not a waypoint Gateway"), std::string::npos) << d[1].message;
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

TEST(AnalyzeTest, PolicySourcesThatMatchNothing) {
  auto d = analyze_with_base(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  rules:
  - from:
    - source:
        namespaces: [shop, shpo, "prod-*"]
        notNamespaces: [nowhere]
    - source:
        principals: [cluster.local/ns/shop/sa/reviews, cluster.local/ns/shop/sa/reveiws]
    - source: {serviceAccounts: [web, shop/ghost]}
)");
  ASSERT_EQ(d.size(), 3u) << dump(d);
  for (const auto& x : d) {
    EXPECT_EQ(x.code, "AMB0046") << x.format();
    EXPECT_EQ(x.severity, kWarning) << x.format();
  }
  EXPECT_EQ(d[0].field, "spec.rules[0].from[0].source.namespaces");
  EXPECT_NE(d[0].message.find("namespace 'shpo'"), std::string::npos) << d[0].message;
  EXPECT_NE(d[1].message.find("principal 'cluster.local/ns/shop/sa/reveiws'"), std::string::npos);
  EXPECT_NE(d[2].message.find("service account 'shop/ghost'"), std::string::npos);
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

TEST(AnalyzeTest, AMisspeltSecurityKindIsRefused) {
  auto d = analyze_with_base(R"(apiVersion: security.istio.io/v1
kind: AuthorizaionPolicy
metadata: {name: deny, namespace: shop}
spec: {action: DENY}
)");
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0004", kError, 1, "", "");
  EXPECT_NE(d[0].message.find("AuthorizaionPolicy is not a kind of security.istio.io"),
            std::string::npos)
      << d[0].message;
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
