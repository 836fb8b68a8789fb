// The analyzer's messages about security policy (AuthorizationPolicy, PeerAuthentication): one
// test per rule, checked for code, severity, line, object and field, as in analyze_test.cpp.
#include <gtest/gtest.h>

#include "config_fixtures.h"
#include "controller/config/diagnostics.h"

namespace ambit::controller::config {
namespace {

// The fixtures, analyze_with_base, dump and the short severities.
using namespace testing;

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

// Waypoint wp (shop) serves the reviews pods through Service reviews-wp; its pod runs it.
constexpr const char* kReviewsWaypoint = R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: wp, namespace: shop}
spec: {gatewayClassName: ambit-waypoint}
---
apiVersion: v1
kind: Service
metadata: {name: reviews-wp, namespace: shop, labels: {istio.io/use-waypoint: wp}}
spec: {clusterIP: 10.96.0.20, ports: [{port: 9080, name: http}], selector: {app: reviews}}
---
apiVersion: v1
kind: Pod
metadata: {name: wp-0, namespace: shop, labels: {gateway.networking.k8s.io/gateway-name: wp}}
spec: {nodeName: node-c, serviceAccountName: wp}
status: {podIP: 10.1.0.9}
)";

// An L7 policy for reviews-wp: enforced by waypoint wp.
constexpr const char* kReviewsGetPolicy = R"(---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-get, namespace: shop}
spec:
  targetRefs: [{kind: Service, group: "", name: reviews-wp}]
  rules: [{to: [{operation: {methods: [GET]}}]}]
)";

TEST(AnalyzeTest, ATargetRefsPolicyExplainsTheWaypointGuard) {
  auto d = analyze_with_base(std::string(kReviewsWaypoint) + kReviewsGetPolicy);
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0051", kInfo, 17, "AuthorizationPolicy shop/reviews-get",
                         "spec.targetRefs");
  const std::string& m = d[0].message;
  EXPECT_NE(m.find("2 workloads (shop/reviews-v1, shop/reviews-v2)"), std::string::npos) << m;
  EXPECT_NE(m.find("bypass waypoint shop/wp are refused"), std::string::npos) << m;
  EXPECT_NE(m.find("ambit.io/waypoint-bypass: \"allow\""), std::string::npos) << m;
  EXPECT_FALSE(has_errors(d));
}

TEST(AnalyzeTest, NoGuardNoExplanationWhenThePodsOptOut) {
  std::string fixture = std::string(kReviewsWaypoint) + kReviewsGetPolicy;
  fixture.replace(fixture.find("labels: {istio.io/use-waypoint: wp}}"), 36,
                  "labels: {istio.io/use-waypoint: wp}, annotations: "
                  "{ambit.io/waypoint-bypass: allow}}");
  auto d = analyze_with_base(fixture);
  EXPECT_TRUE(d.empty()) << dump(d);
}

TEST(AnalyzeTest, AWaypointPodMustRunAsItsGatewaysServiceAccount) {
  std::string fixture = kReviewsWaypoint;
  fixture.replace(fixture.find("serviceAccountName: wp"), 22, "serviceAccountName: default");
  auto d = analyze_with_base(fixture);
  EXPECT_ONLY_DIAGNOSTIC(d, "AMB0050", kError, 11, "Pod shop/wp-0", "spec.serviceAccountName");
  EXPECT_NE(d[0].message.find("must run as 'wp'"), std::string::npos) << d[0].message;
  EXPECT_FALSE(has_blocking_errors(d)) << "served: the pod is still a waypoint pod";
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

}  // namespace
}  // namespace ambit::controller::config
