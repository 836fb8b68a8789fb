// Parsing of every kind, and the seed document's examples.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "config_fixtures.h"
#include "controller/config/values.h"

namespace ambit::controller::config {
namespace {

using namespace std::chrono_literals;
using testing::load_texts;

ConfigModel load_clean(const std::string& yaml) {
  auto snapshot = load_texts({{"test.yaml", yaml}});
  EXPECT_TRUE(snapshot.diagnostics.empty()) << testing::dump(snapshot.diagnostics);
  return snapshot.model;
}

TEST(DurationTest, IstioForms) {
  EXPECT_EQ(*parse_duration("1s"), 1s);
  EXPECT_EQ(*parse_duration("500ms"), 500ms);
  EXPECT_EQ(*parse_duration("1m"), 1min);
  EXPECT_EQ(*parse_duration("1h"), 1h);
  EXPECT_EQ(*parse_duration("0.5s"), 500ms);
  EXPECT_EQ(*parse_duration("1h30m"), 90min);
  EXPECT_EQ(*parse_duration("0"), 0s);
  for (const char* bad : {"", "5", "5sec", "-1s", "s", "1.2.3s", "1d"}) {
    EXPECT_FALSE(parse_duration(bad).ok()) << bad;
  }
}

TEST(PrincipalTest, StringsAndPatternsAsIstioComparesThem) {
  // Istio takes any string and compares it; only what could never match is refused.
  for (const char* ok : {"cluster.local/ns/default/sa/web", "*", "cluster.local/ns/shop/*",
                         "*/sa/web", "web", "principal", "cluster.local/ns/default"}) {
    EXPECT_TRUE(check_principal(ok).ok()) << ok;
  }
  for (const char* bad : {"", "spiffe://cluster.local/ns/a/sa/b", "cluster.local/*/sa/*",
                          "cluster.local/ns/*/sa/web"}) {
    EXPECT_FALSE(check_principal(bad).ok()) << bad;
  }
  EXPECT_TRUE(is_mesh_principal("cluster.local/ns/default/sa/web"));
  for (const char* other : {"web", "cluster.local/ns/default", "td/ns//sa/x", "a/ns/b/sa/c/d"}) {
    EXPECT_FALSE(is_mesh_principal(other)) << other;
  }
}

TEST(LoaderTest, KubernetesKinds) {
  auto m = load_clean(R"(apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {ambit.io/dataplane-mode: ambient}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shop}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: shop
  labels: {app: web}
  annotations: {ambit.io/netns: /var/run/netns/web-1, ambit.io/cgroup: /sys/fs/cgroup/web-1}
spec: {nodeName: node-a, serviceAccountName: web}
status:
  podIP: 10.1.0.3
  podIPs: [{ip: 10.1.0.3}, {ip: "fd00::3"}]
---
apiVersion: v1
kind: Pod
metadata: {name: bare}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIPs: [10.96.0.11, "fd00::11"]
  ports:
  - {port: 80, targetPort: 8080, name: http-web, appProtocol: http}
  - {port: 443}
  selector: {app: web}
)");
  ASSERT_EQ(m.namespaces.size(), 1u);
  EXPECT_EQ(m.namespaces[0].meta.uid(), "shop");
  EXPECT_EQ(m.service_accounts[0].meta.uid(), "shop/web");
  ASSERT_EQ(m.pods.size(), 2u);
  const Pod& web = m.pods[0];
  EXPECT_EQ(web.meta.line, 11);
  EXPECT_EQ(web.meta.file, "test.yaml");
  EXPECT_EQ(web.node_name, "node-a");
  EXPECT_EQ(web.service_account, "web");
  EXPECT_EQ(web.addresses, (std::vector<std::string>{"10.1.0.3", "fd00::3"}));
  EXPECT_EQ(web.netns, "/var/run/netns/web-1");
  EXPECT_EQ(web.cgroup, "/sys/fs/cgroup/web-1");
  EXPECT_EQ(m.pods[1].meta.ns, "default");
  EXPECT_EQ(m.pods[1].service_account, "default");
  const Service& svc = m.services[0];
  EXPECT_EQ(svc.cluster_ips, (std::vector<std::string>{"10.96.0.11", "fd00::11"}));
  ASSERT_EQ(svc.ports.size(), 2u);
  EXPECT_EQ(svc.ports[0].target_port, 8080u);
  EXPECT_EQ(svc.ports[0].app_protocol, "http");
  EXPECT_EQ(svc.ports[1].target_port, 0u);
  EXPECT_EQ(svc.selector.at("app"), "web");
}

TEST(LoaderTest, VirtualServiceFields) {
  auto m = load_clean(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - name: jason
    match:
    - headers: {end-user: {exact: jason}}
      uri: {prefix: /api}
    - queryParams: {v: {regex: "^[0-9]+$"}}
      method: {exact: POST}
    route:
    - destination: {host: reviews, subset: v2, port: {number: 9080}}
    fault:
      delay: {percentage: {value: 10.0}, fixedDelay: 5s}
      abort: {percentage: {value: 5}, httpStatus: 500}
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 75}
    - {destination: {host: reviews, subset: v2}, weight: 25}
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,reset,connect-failure,refused-stream"}
    timeout: 0.5s
    rewrite: {uri: /v1}
    mirror: {host: reviews, subset: v2}
    mirrorPercentage: {value: 1.5}
  tcp:
  - match: [{port: 9090}]
    route: [{destination: {host: reviews}}]
)");
  ASSERT_EQ(m.virtual_services.size(), 1u);
  const auto& vs = m.virtual_services[0];
  ASSERT_EQ(vs.http.size(), 2u);
  const auto& first = vs.http[0];
  EXPECT_EQ(first.name, "jason");
  ASSERT_EQ(first.match.size(), 2u);
  EXPECT_EQ(first.match[0].headers.at("end-user").kind, StringMatch::Kind::kExact);
  EXPECT_EQ(first.match[0].uri->kind, StringMatch::Kind::kPrefix);
  EXPECT_EQ(first.match[1].query_params.at("v").kind, StringMatch::Kind::kRegex);
  EXPECT_EQ(first.route[0].destination.subset, "v2");
  EXPECT_EQ(first.route[0].destination.port, 9080u);
  EXPECT_EQ(first.route[0].destination.at.field, "spec.http[0].route[0].destination");
  EXPECT_EQ(first.fault->delay->percentage, 10.0);
  EXPECT_EQ(first.fault->delay->fixed_delay.value, 5s);
  EXPECT_EQ(first.fault->abort->http_status, 500u);
  const auto& second = vs.http[1];
  EXPECT_EQ(*second.route[0].weight, 75);
  EXPECT_EQ(second.retries->attempts, 3);
  EXPECT_EQ(second.retries->per_try_timeout->value, 2s);
  EXPECT_EQ(second.retries->retry_on,
            (std::vector<std::string>{"5xx", "reset", "connect-failure", "refused-stream"}));
  EXPECT_EQ(second.timeout->value, 500ms);
  EXPECT_EQ(second.rewrite->uri, "/v1");
  EXPECT_EQ(second.mirror->subset, "v2");
  EXPECT_EQ(*second.mirror_percentage, 1.5);
  ASSERT_EQ(vs.tcp.size(), 1u);
  EXPECT_EQ(vs.tcp[0].match[0].port, 9090u);
}

TEST(LoaderTest, AGrpcAbortNeedsAKnownStatusName) {
  auto m = load_clean(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: grpc, namespace: shop}
spec:
  hosts: [grpc]
  http:
  - fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 50}}}
    route: [{destination: {host: grpc}}]
)");
  ASSERT_EQ(m.virtual_services.size(), 1u);
  const auto& abort = *m.virtual_services[0].http[0].fault->abort;
  EXPECT_EQ(abort.grpc_status, "UNAVAILABLE");
  EXPECT_EQ(abort.http_status, 0u);
  EXPECT_EQ(abort.percentage, 50.0);

  auto bad = load_texts({{"bad.yaml", R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: grpc, namespace: shop}
spec:
  hosts: [grpc]
  http:
  - fault: {abort: {grpcStatus: SOMETIMES}}
    route: [{destination: {host: grpc}}]
)"}});
  ASSERT_EQ(bad.diagnostics.size(), 1u);
  EXPECT_EQ(bad.diagnostics[0].field, "spec.http[0].fault.abort.grpcStatus");
  EXPECT_NE(bad.diagnostics[0].message.find("'SOMETIMES' is not a gRPC status name"),
            std::string::npos)
      << bad.diagnostics[0].message;
}

TEST(LoaderTest, DestinationRuleFields) {
  auto m = load_clean(R"(apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: LEAST_REQUEST}
    connectionPool:
      tcp: {maxConnections: 100, connectTimeout: 1s}
      http: {http1MaxPendingRequests: 10, http2MaxRequests: 100, maxRequestsPerConnection: 2}
    outlierDetection:
      consecutiveErrors: 5
      consecutive5xxErrors: 7
      interval: 30s
      baseEjectionTime: 1m
      maxEjectionPercent: 50
      minHealthPercent: 50
    tls: {mode: ISTIO_MUTUAL}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      loadBalancer:
        consistentHash: {httpHeaderName: x-user}
  - name: v2
    labels: {version: v2}
)");
  const auto& dr = m.destination_rules.at(0);
  EXPECT_EQ(dr.host, "reviews");
  const auto& tp = *dr.traffic_policy;
  EXPECT_EQ(tp.load_balancer->simple, LoadBalancer::Simple::kLeastRequest);
  EXPECT_EQ(*tp.connection_pool->tcp->max_connections, 100);
  EXPECT_EQ(tp.connection_pool->tcp->connect_timeout->value, 1s);
  EXPECT_EQ(*tp.connection_pool->http->http1_max_pending_requests, 10);
  EXPECT_EQ(*tp.connection_pool->http->max_requests_per_connection, 2);
  EXPECT_EQ(*tp.outlier_detection->consecutive_errors, 5);
  EXPECT_EQ(*tp.outlier_detection->consecutive_5xx_errors, 7);
  EXPECT_EQ(tp.outlier_detection->base_ejection_time->value, 1min);
  EXPECT_EQ(*tp.outlier_detection->min_health_percent, 50);
  EXPECT_EQ(tp.tls->mode, "ISTIO_MUTUAL");
  ASSERT_EQ(dr.subsets.size(), 2u);
  EXPECT_EQ(dr.subsets[0].traffic_policy->load_balancer->consistent_hash->http_header_name,
            "x-user");
  EXPECT_EQ(dr.subsets[1].labels.at("version"), "v2");
}

TEST(LoaderTest, DestinationRuleTlsOriginationFiles) {
  auto m = load_clean(R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: stripe}
spec:
  host: api.stripe.com
  trafficPolicy:
    tls:
      mode: MUTUAL
      sni: api.stripe.com
      caCertificates: /etc/ambit/stripe-ca.pem
      clientCertificate: /etc/ambit/client.pem
      privateKey: /etc/ambit/client.key
      insecureSkipVerify: false
)");
  const auto& tls = *m.destination_rules.at(0).traffic_policy->tls;
  EXPECT_EQ(tls.mode, "MUTUAL");
  EXPECT_EQ(tls.ca_certificates, "/etc/ambit/stripe-ca.pem");
  EXPECT_EQ(tls.client_certificate, "/etc/ambit/client.pem");
  EXPECT_EQ(tls.private_key, "/etc/ambit/client.key");
  // MUTUAL without the waypoint's own certificate is refused, naming the field.
  auto bad = load_texts({{"bad.yaml", R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: stripe}
spec:
  host: api.stripe.com
  trafficPolicy: {tls: {mode: MUTUAL}}
)"}});
  ASSERT_FALSE(bad.diagnostics.empty());
  EXPECT_NE(testing::dump(bad.diagnostics).find("MUTUAL needs clientCertificate and privateKey"),
            std::string::npos)
      << testing::dump(bad.diagnostics);
}

TEST(LoaderTest, ServiceEntryFields) {
  auto m = load_clean(R"(apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: stripe}
spec:
  hosts: [api.stripe.com]
  addresses: [240.0.0.1/32]
  ports: [{number: 443, name: https, protocol: HTTPS}]
  location: MESH_EXTERNAL
  resolution: STATIC
  endpoints:
  - {address: 203.0.113.7, ports: {https: 8443}, labels: {zone: a}}
)");
  const auto& se = m.service_entries.at(0);
  EXPECT_EQ(se.hosts, std::vector<std::string>{"api.stripe.com"});
  EXPECT_EQ(se.ports.at(0).number, 443u);
  EXPECT_EQ(se.location, ServiceEntry::Location::kMeshExternal);
  EXPECT_EQ(se.resolution, ServiceEntry::Resolution::kStatic);
  EXPECT_EQ(se.endpoints.at(0).ports.at("https"), 8443u);
}

TEST(LoaderTest, SecurityKinds) {
  auto m = load_clean(R"(apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  mtls: {mode: STRICT}
  portLevelMtls:
    8080: {mode: DISABLE}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  action: DENY
  rules:
  - from:
    - source: {notPrincipals: ["cluster.local/ns/shop/sa/*"], ipBlocks: [10.0.0.0/8]}
    to:
    - operation: {ports: ["8080"], notPaths: [/admin]}
    when:
    - {key: "request.headers[x-token]", values: [abc]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: shop}
spec: {}
)");
  const auto& pa = m.peer_authentications.at(0);
  EXPECT_EQ(pa.mode, MtlsMode::kStrict);
  EXPECT_EQ(pa.port_level_mtls.at(8080), MtlsMode::kDisable);
  EXPECT_EQ(pa.selector->at("app"), "web");
  ASSERT_EQ(m.authorization_policies.size(), 2u);
  const auto& ap = m.authorization_policies[0];
  EXPECT_EQ(ap.action, AuthorizationPolicy::Action::kDeny);
  EXPECT_EQ(ap.rules.at(0).from.at(0).not_principals.at(0), "cluster.local/ns/shop/sa/*");
  EXPECT_EQ(ap.rules[0].to.at(0).ports.at(0), "8080");
  EXPECT_EQ(ap.rules[0].when.at(0).key, "request.headers[x-token]");
  const auto& deny_all = m.authorization_policies[1];
  EXPECT_EQ(deny_all.action, AuthorizationPolicy::Action::kAllow);
  EXPECT_TRUE(deny_all.rules.empty());
  EXPECT_FALSE(deny_all.selector.has_value());
}

TEST(LoaderTest, LinkerdAndSmiKinds) {
  auto snapshot = load_texts({{"test.yaml", R"(apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: web.shop.svc.cluster.local, namespace: shop}
spec:
  routes:
  - name: GET /api
    condition: {method: GET, pathRegex: /api/.*}
    timeout: 10s
    isRetryable: true
  retryBudget: {retryRatio: 0.2, minRetriesPerSecond: 10, ttl: 10s}
---
apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata: {name: web, namespace: shop}
spec:
  service: web
  backends:
  - {service: web-v1, weight: 900m}
  - {service: web-v2, weight: 100m}
)"}});
  EXPECT_TRUE(snapshot.diagnostics.empty()) << testing::dump(snapshot.diagnostics);
  const auto& sp = snapshot.model.service_profiles.at(0);
  EXPECT_EQ(sp.routes.at(0).path_regex, "/api/.*");
  EXPECT_EQ(sp.routes[0].timeout->value, 10s);
  EXPECT_TRUE(sp.routes[0].is_retryable);
  EXPECT_EQ(sp.retry_budget->ttl.value, 10s);
  const auto& ts = snapshot.model.traffic_splits.at(0);
  EXPECT_EQ(ts.service, "web");
  EXPECT_EQ(ts.backends.at(0).weight, 900);
  EXPECT_EQ(ts.backends.at(1).service, "web-v2");
}

TEST(LoaderTest, WaypointGateway) {
  auto snapshot = load_texts({{"test.yaml", R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop}
spec:
  gatewayClassName: ambit-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ingress, namespace: shop}
spec:
  gatewayClassName: nginx
  whatever: {}
)"}});
  ASSERT_EQ(snapshot.model.waypoints.size(), 1u);
  EXPECT_EQ(snapshot.model.waypoints[0].meta.uid(), "shop/waypoint");
  ASSERT_EQ(snapshot.diagnostics.size(), 1u) << testing::dump(snapshot.diagnostics);
  EXPECT_EQ(snapshot.diagnostics[0].code, "AMB0005");
  EXPECT_EQ(snapshot.model.ignored.size(), 1u);
}

TEST(LoaderTest, UnreadableObjectIsLeftOutOthersKept) {
  auto snapshot = load_texts({{"test.yaml", R"(apiVersion: v1
kind: Service
metadata: {namespace: shop}
spec: {}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
)"}});
  EXPECT_EQ(snapshot.model.services.size(), 0u);
  EXPECT_EQ(snapshot.model.namespaces.size(), 1u);
  ASSERT_EQ(snapshot.diagnostics.size(), 1u);
  EXPECT_EQ(snapshot.diagnostics[0].code, "AMB0002");
  EXPECT_EQ(snapshot.diagnostics[0].field, "metadata.name");
}

TEST(LoaderTest, DirectoryIsReadSortedYamlOnly) {
  auto dir = std::filesystem::temp_directory_path() / "ambit-loader-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto write = [&](const char* name, const char* text) { std::ofstream(dir / name) << text; };
  write("b.yml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n");
  write("a.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n");
  write("notes.txt", "not yaml: [");
  auto snapshot = load_config({dir.string()});
  ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
  ASSERT_EQ(snapshot->files.size(), 2u);
  EXPECT_EQ(snapshot->model.namespaces.at(0).meta.name, "a");
  EXPECT_EQ(snapshot->model.namespaces.at(1).meta.name, "b");
  std::filesystem::remove_all(dir);
}

// Every YAML example of the seed document loads and analyzes without errors.
TEST(SeedDocumentTest, EveryExampleHasNoErrors) {
  auto dir = std::string(AMBIT_SOURCE_DIR) + "/tests/controller/testdata/seed";
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    ++files;
    auto snapshot = load_config({entry.path().string()});
    ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
    // Alone, an example may refer to objects of another one (a subset of a DestinationRule):
    // each must load without errors. Together, the only errors are those istioctl gives them
    // applied together: the examples are alternatives, several VirtualServices for one host.
    EXPECT_FALSE(has_errors(snapshot->diagnostics)) << entry.path() << "\n"
                                                    << testing::dump(snapshot->diagnostics);
    EXPECT_GT(snapshot->model.object_count(), 0u) << entry.path();
  }
  EXPECT_EQ(files, 20u);
  auto all = load_config({dir});
  ASSERT_TRUE(all.ok());
  auto report = analyze(*all);
  size_t conflicts = 0;
  for (const auto& d : report.diagnostics) {
    if (d.severity != Severity::kError) continue;
    EXPECT_EQ(d.code, "AMB0044") << d.format();
    ++conflicts;
  }
  EXPECT_EQ(conflicts, 7u) << testing::dump(report.diagnostics);  // the 7 for orders-service
  EXPECT_FALSE(has_blocking_errors(report.diagnostics));
  const auto& m = all->model;
  EXPECT_EQ(m.virtual_services.size(), 8u);
  EXPECT_EQ(m.destination_rules.size(), 2u);
  EXPECT_EQ(m.service_entries.size(), 1u);
  EXPECT_EQ(m.peer_authentications.size(), 1u);
  EXPECT_EQ(m.authorization_policies.size(), 2u);
  EXPECT_EQ(m.traffic_splits.size(), 1u);
  EXPECT_EQ(m.service_profiles.size(), 1u);
  EXPECT_EQ(m.services.size(), 1u);
  EXPECT_EQ(m.ignored.size(), 4u);  // 2 Deployments, Istio Gateway, ConfigMap
  // The EnvoyFilter's local_ratelimit: 100 requests a minute for the orders pods.
  ASSERT_EQ(m.local_rate_limits.size(), 1u);
  const auto& limit = m.local_rate_limits[0];
  EXPECT_EQ(limit.selector, (StringMap{{"app", "orders"}}));
  ASSERT_TRUE(limit.settings && limit.settings->bucket);
  EXPECT_EQ(limit.settings->bucket->max_tokens, 100);
  EXPECT_EQ(limit.settings->bucket->tokens_per_fill, 100);
  EXPECT_EQ(limit.settings->bucket->fill_interval.value, 60s);
  EXPECT_EQ(limit.settings->enabled_percent, 100);
  EXPECT_EQ(limit.settings->enforced_percent, 100);
  // The retries in the Linkerd example (not Linkerd schema) are kept.
  EXPECT_EQ(m.service_profiles[0].route_retries.at("POST /api/orders").limit, 3);
}

}  // namespace
}  // namespace ambit::controller::config

namespace ambit::controller::config {
namespace {

TEST(LoaderTest, KubectlListIsReadItemByItem) {
  auto snapshot = testing::load_texts({{"list.yaml", R"(apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: shop}
- apiVersion: v1
  kind: ServiceAccount
  metadata: {name: web, namespace: shop}
)"}});
  EXPECT_TRUE(snapshot.diagnostics.empty()) << testing::dump(snapshot.diagnostics);
  EXPECT_EQ(snapshot.model.namespaces.size(), 1u);
  ASSERT_EQ(snapshot.model.service_accounts.size(), 1u);
  EXPECT_EQ(snapshot.model.service_accounts[0].meta.line, 7);
}

}  // namespace
}  // namespace ambit::controller::config
