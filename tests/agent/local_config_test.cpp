#include "agent/local_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <fstream>
#include <iterator>
#include <ostream>

namespace ambit::agent {
namespace {

using ztunnel::AuthzAction;
using ztunnel::AuthzCondition;
using ztunnel::PeerAuthMode;

// Every field of the format at least once.
constexpr const char* kFullExample = R"(
node: node-a
trustDomain: cluster.local
trustBundle: certs/root.pem
workloads:
- name: client
  namespace: default
  serviceAccount: sleep
  node: node-a
  addresses: [127.0.0.11]
  hboneAddress: 127.0.0.1:15008
  labels: {app: sleep}
  peerAuthentication: STRICT
  mesh: true
  certificate: certs/client.pem
  privateKey: certs/client.key
- name: echo-1
  namespace: default
  serviceAccount: echo
  node: node-b
  addresses: [127.0.0.21, "fd00::21"]
  labels: {app: echo, version: v1}
- name: legacy
  namespace: default
  addresses: [127.0.0.31]
  mesh: false
services:
- name: echo
  namespace: default
  addresses: [10.96.0.10]
  ports: [{port: 80, targetPort: 8080}, {port: 443}]
  selector: {app: echo}
authorizationPolicies:
- name: allow-sleep
  namespace: default
  selector: {matchLabels: {app: echo}}
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/default/sa/sleep"]
        namespaces: [default]
        ipBlocks: [127.0.0.0/8]
        notPrincipals: ["cluster.local/ns/default/sa/evil"]
        notNamespaces: [kube-system]
        notIpBlocks: [127.0.0.66]
    to: [{operation: {ports: ["8080"], notPorts: ["22"], methods: ["GET"], paths: ["/x"]}}]
    when:
    - {key: source.ip, values: [127.0.0.0/8]}
    - {key: "request.headers[x-user]", values: [alice]}
- name: deny-all
  namespace: istio-system
  action: DENY
  rules:
  - from: [{source: {notPrincipals: ["*"]}}]
certificates:
- workload: default/client
  certificate: /etc/ambit/other.pem
  privateKey: /etc/ambit/other.key
listeners:
- kind: outbound
  address: 127.0.0.1:15001
  workload: default/client
  destination: 127.0.0.3:8080
- kind: inbound
  address: 127.0.0.1:15008
- kind: inboundPlaintext
  address: 127.0.0.1:15006
  workload: default/client
)";

std::string error_of(std::string_view yaml) {
  auto config = parse_local_config(yaml, "demo.yaml");
  EXPECT_FALSE(config.ok()) << "expected an error for:\n" << yaml;
  return config.ok() ? "" : config.error().message;
}

// Minimal valid header plus whatever a test appends.
std::string with_base(std::string_view rest) {
  return std::string(R"(node: node-a
workloads:
- name: client
  namespace: default
  addresses: [127.0.0.11]
- name: server
  namespace: default
  addresses: [127.0.0.21]
)") + std::string(rest);
}

TEST(LocalConfig, FullExampleParses) {
  // The one certificate per workload rule: drop the top-level duplicate first.
  std::string yaml = kFullExample;
  auto cut = yaml.find("certificates:");
  yaml.erase(cut, yaml.find("listeners:") - cut);
  auto config = parse_local_config(yaml, "demo.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  const LocalConfig& c = *config;

  EXPECT_EQ(c.node, "node-a");
  EXPECT_EQ(c.trust_domain, "cluster.local");
  EXPECT_EQ(c.trust_bundle, "certs/root.pem");
  EXPECT_EQ(c.source, "demo.yaml");

  ASSERT_EQ(c.workloads.size(), 3u);
  const Workload& client = c.workloads[0];
  EXPECT_EQ(client.uid(), "default/client");
  EXPECT_EQ(client.service_account, "sleep");
  EXPECT_EQ(client.identity.to_string(), "spiffe://cluster.local/ns/default/sa/sleep");
  EXPECT_EQ(client.node, "node-a");
  EXPECT_EQ(client.addresses, std::vector<IpAddress>{*IpAddress::parse("127.0.0.11")});
  EXPECT_EQ(client.hbone_address, *SocketAddress::parse("127.0.0.1:15008"));
  EXPECT_EQ(client.labels, (ztunnel::Labels{{"app", "sleep"}}));
  EXPECT_EQ(client.peer_auth, PeerAuthMode::kStrict);
  EXPECT_TRUE(client.mesh);

  const Workload& echo = c.workloads[1];
  EXPECT_EQ(echo.addresses.size(), 2u);
  EXPECT_EQ(echo.peer_auth, PeerAuthMode::kPermissive);  // the default
  // Without hboneAddress, peers use the pod's own 15008.
  EXPECT_EQ(echo.hbone_address, *SocketAddress::parse("127.0.0.21:15008"));
  EXPECT_EQ(c.workloads[2].service_account, "default");
  EXPECT_FALSE(c.workloads[2].mesh);

  ASSERT_EQ(c.services.size(), 1u);
  EXPECT_EQ(c.services[0].uid(), "default/echo");
  ASSERT_EQ(c.services[0].ports.size(), 2u);
  EXPECT_EQ(c.services[0].ports[0].target_port, 8080);
  EXPECT_EQ(c.services[0].ports[1].target_port, 443);  // defaults to port

  ASSERT_EQ(c.policies.size(), 2u);
  const auto& allow = c.policies[0];
  EXPECT_EQ(allow.uid(), "default/allow-sleep");
  EXPECT_EQ(allow.action, AuthzAction::kAllow);
  EXPECT_EQ(allow.selector, (ztunnel::Labels{{"app", "echo"}}));
  ASSERT_EQ(allow.rules.size(), 1u);
  const auto& rule = allow.rules[0];
  ASSERT_EQ(rule.from.size(), 1u);
  EXPECT_EQ(rule.from[0].principals, std::vector<std::string>{"cluster.local/ns/default/sa/sleep"});
  EXPECT_EQ(rule.from[0].not_namespaces, std::vector<std::string>{"kube-system"});
  EXPECT_EQ(rule.from[0].ip_blocks.size(), 1u);
  EXPECT_EQ(rule.from[0].not_ip_blocks.size(), 1u);
  ASSERT_EQ(rule.to.size(), 1u);
  EXPECT_EQ(rule.to[0].ports, std::vector<uint16_t>{8080});
  EXPECT_EQ(rule.to[0].not_ports, std::vector<uint16_t>{22});
  EXPECT_TRUE(rule.to[0].has_l7);
  ASSERT_EQ(rule.when.size(), 1u);
  EXPECT_EQ(rule.when[0].key, AuthzCondition::Key::kSourceIp);
  EXPECT_TRUE(rule.has_l7_conditions);
  EXPECT_EQ(c.policies[1].action, AuthzAction::kDeny);
  EXPECT_EQ(c.policies[1].ns, "istio-system");

  ASSERT_EQ(c.certificates.size(), 1u);
  EXPECT_EQ(c.certificates[0].workload, "default/client");
  EXPECT_EQ(c.certificates[0].certificate, "certs/client.pem");
  EXPECT_EQ(c.certificates[0].private_key, "certs/client.key");

  ASSERT_EQ(c.listeners.size(), 3u);
  EXPECT_EQ(c.listeners[0].kind, ListenerKind::kOutbound);
  EXPECT_EQ(c.listeners[0].address, *SocketAddress::parse("127.0.0.1:15001"));
  EXPECT_EQ(c.listeners[0].workload, "default/client");
  EXPECT_EQ(c.listeners[0].destination, *SocketAddress::parse("127.0.0.3:8080"));
  EXPECT_EQ(c.listeners[1].kind, ListenerKind::kInbound);
  EXPECT_TRUE(c.listeners[1].workload.empty());
  EXPECT_EQ(c.listeners[2].kind, ListenerKind::kInboundPlaintext);
  EXPECT_FALSE(c.listeners[2].destination.has_value());

  auto table = build_workload_table(c);
  ASSERT_TRUE(table.ok()) << table.error().message;
  EXPECT_EQ(table->workload_count(), 3u);
  auto d = table->resolve(*SocketAddress::parse("10.96.0.10:80"), 0);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->address, *SocketAddress::parse("127.0.0.21:8080"));
}

TEST(LocalConfig, DocumentationExampleParses) {
  std::ifstream doc(std::string(AMBIT_SOURCE_DIR) + "/docs/local-config.md");
  ASSERT_TRUE(doc) << "docs/local-config.md not found";
  std::string text((std::istreambuf_iterator<char>(doc)), std::istreambuf_iterator<char>());
  auto start = text.find("```yaml\n");
  ASSERT_NE(start, std::string::npos);
  start += 8;
  auto example = text.substr(start, text.find("```", start) - start);
  auto config = parse_local_config(example, "docs/local-config.md");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->workloads.size(), 2u);
  EXPECT_EQ(config->listeners.size(), 2u);
  EXPECT_TRUE(build_workload_table(*config).ok());
}

TEST(LocalConfig, ErrorNamesFileObjectFieldAndLine) {
  auto e = error_of(R"(node: node-a
workloads:
- name: client
  namespace: default
  addresses: [127.0.0.11]
- name: server
  namespace: default
  addresses:
  - 10.0.0.x
)");
  EXPECT_EQ(e,
            "demo.yaml: workloads[1] \"default/server\": field addresses[0]: '10.0.0.x' is not an "
            "IPv4 or IPv6 address (line 9)");
}

TEST(LocalConfig, UnknownFieldIsReportedByName) {
  auto e = error_of(with_base(R"(services:
- name: echo
  namespace: default
  adresses: [10.96.0.10]
)"));
  EXPECT_NE(e.find("demo.yaml: services[0]: field adresses: unknown field (known fields: name, "
                   "namespace, addresses, ports, selector) (line 12)"),
            std::string::npos)
      << e;
  auto top = error_of("node: a\nlistner: []\n");
  EXPECT_NE(top.find("demo.yaml: field listner: unknown field"), std::string::npos) << top;
  auto nested = error_of(with_base(R"(authorizationPolicies:
- name: p
  namespace: default
  rules:
  - from: [{source: {principal: [x]}}]
)"));
  EXPECT_NE(nested.find("authorizationPolicies[0] \"default/p\": field "
                        "rules[0].from[0].source.principal: unknown field"),
            std::string::npos)
      << nested;
}

struct BadConfig {
  const char* name;
  std::string yaml;
  const char* expected;  // a fragment of the error
};

// Test names and failure messages show the case's name, not its bytes.
void PrintTo(const BadConfig& c, std::ostream* os) { *os << c.name; }

class LocalConfigRejects : public ::testing::TestWithParam<BadConfig> {};

TEST_P(LocalConfigRejects, WithAnErrorNamingTheProblem) {
  auto e = error_of(GetParam().yaml);
  EXPECT_NE(e.find(GetParam().expected), std::string::npos) << e;
  EXPECT_EQ(e.rfind("demo.yaml: ", 0), 0u) << e;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, LocalConfigRejects,
    ::testing::Values(
        BadConfig{"MissingNode", "workloads: []\n", "demo.yaml: field node: required"},
        BadConfig{"InvalidYaml", "node: [a\n", "invalid YAML"},
        BadConfig{"NotAMapping", "- a\n- b\n", "expected a mapping, got a list"},
        BadConfig{"BadTrustDomain", "node: a\ntrustDomain: Cluster.Local\n",
                  "field trustDomain: 'Cluster.Local' is not a valid trust domain"},
        BadConfig{"MissingName", "node: a\nworkloads:\n- namespace: default\n",
                  "workloads[0]: field name: required"},
        BadConfig{"BadName", "node: a\nworkloads:\n- {name: Client, namespace: default}\n",
                  "workloads[0]: field name: 'Client' is not a valid name"},
        BadConfig{"NoAddresses",
                  "node: a\nworkloads:\n- {name: c, namespace: default, addresses: []}\n",
                  "workloads[0] \"default/c\": field addresses: a workload needs at least one"},
        BadConfig{"AddressesNotAList",
                  "node: a\nworkloads:\n- {name: c, namespace: default, addresses: 1.2.3.4}\n",
                  "field addresses: expected a list, got a single value"},
        BadConfig{"BadPeerAuth",
                  with_base("- {name: x, namespace: default, addresses: [1.1.1.1], "
                            "peerAuthentication: strict}\n"),
                  "workloads[2] \"default/x\": field peerAuthentication: 'strict' is not a "
                  "PeerAuthentication mode"},
        BadConfig{"BadBool",
                  with_base("- {name: x, namespace: default, addresses: [1.1.1.1], mesh: yes}\n"),
                  "field mesh: 'yes' is not true or false"},
        BadConfig{"BadHboneAddress",
                  with_base("- {name: x, namespace: default, addresses: [1.1.1.1], "
                            "hboneAddress: 1.1.1.1}\n"),
                  "field hboneAddress: '1.1.1.1' has no port"},
        BadConfig{"CertificateWithoutKey",
                  with_base("- {name: x, namespace: default, addresses: [1.1.1.1], "
                            "certificate: x.pem}\n"),
                  "workloads[2] \"default/x\": field privateKey: required when certificate"},
        BadConfig{"DuplicateWorkload",
                  with_base("- {name: client, namespace: default, addresses: [1.1.1.1]}\n"),
                  "workloads[2] \"default/client\": workload default/client already exists"},
        BadConfig{"SharedAddress",
                  with_base("- {name: x, namespace: default, addresses: [127.0.0.21]}\n"),
                  "workloads[2] \"default/x\": workload default/x: address 127.0.0.21 already "
                  "belongs to workload default/server"},
        BadConfig{"RepeatedField", "node: a\nnode: b\n", "field node: appears twice (line 2)"},
        BadConfig{"BadServicePort",
                  with_base("services:\n- {name: s, namespace: default, addresses: [10.96.0.1], "
                            "ports: [{port: 80, targetPort: 70000}]}\n"),
                  "services[0] \"default/s\": field ports[0].targetPort: '70000' is not a port "
                  "number from 1 to 65535"},
        BadConfig{"ServiceWithoutPorts",
                  with_base("services:\n- {name: s, namespace: default, addresses: [10.96.0.1], "
                            "ports: []}\n"),
                  "field ports: a service needs at least one port"},
        BadConfig{"DuplicateVip",
                  with_base("services:\n"
                            "- {name: s, namespace: default, addresses: [10.96.0.1], ports: "
                            "[{port: 80}]}\n"
                            "- {name: t, namespace: default, addresses: [10.96.0.1], ports: "
                            "[{port: 80}]}\n"),
                  "services[1] \"default/t\": service default/t: VIP 10.96.0.1 already belongs"},
        BadConfig{"UnknownListenerKind",
                  with_base("listeners:\n- {kind: sideways, address: 127.0.0.1:1}\n"),
                  "listeners[0]: field kind: 'sideways' is not a listener kind (outbound | "
                  "inbound | inboundPlaintext)"},
        BadConfig{"ListenerForUnknownWorkload",
                  with_base("listeners:\n- {kind: outbound, address: 127.0.0.1:15001, "
                            "workload: default/nope}\n"),
                  "listeners[0] \"127.0.0.1:15001\": field workload: no workload 'default/nope'"},
        BadConfig{"OutboundListenerWithoutWorkload",
                  with_base("listeners:\n- {kind: outbound, address: 127.0.0.1:15001}\n"),
                  "field workload: required"},
        BadConfig{"ListenerBadAddress",
                  with_base("listeners:\n- {kind: outbound, address: 127.0.0.1:99999, "
                            "workload: default/client}\n"),
                  "field address: in '127.0.0.1:99999': port '99999' is not a number"},
        BadConfig{"InboundListenerWithDestination",
                  with_base("listeners:\n- {kind: inbound, address: 127.0.0.1:15008, "
                            "destination: 127.0.0.1:80}\n"),
                  "field destination: an inbound (HBONE) listener takes its destination"},
        BadConfig{"DuplicateListenerAddress",
                  with_base("listeners:\n- {kind: inbound, address: 127.0.0.1:15008}\n"
                            "- {kind: inbound, address: 127.0.0.1:15008}\n"),
                  "listeners[1] \"127.0.0.1:15008\": field address: another listener already"},
        BadConfig{"ListenerForWorkloadOnAnotherNode",
                  with_base("- {name: remote, namespace: default, node: node-b, addresses: "
                            "[1.1.1.1]}\nlisteners:\n- {kind: outbound, address: "
                            "127.0.0.1:15001, workload: default/remote}\n"),
                  "workload default/remote runs on node 'node-b', not on this node 'node-a'"},
        BadConfig{"CertificateForUnknownWorkload",
                  with_base("certificates:\n- {workload: default/ghost, certificate: a.pem, "
                            "privateKey: a.key}\n"),
                  "certificates[0] \"default/ghost\": field workload: no workload "
                  "'default/ghost'"},
        BadConfig{
            "TwoCertificatesForOneWorkload",
            with_base("certificates:\n"
                      "- {workload: default/client, certificate: a.pem, privateKey: a.key}\n"
                      "- {workload: default/client, certificate: b.pem, privateKey: b.key}\n"),
            "certificates[1] \"default/client\": field certificate: workload "
            "default/client already has a certificate"},
        BadConfig{"BadAction",
                  with_base("authorizationPolicies:\n- {name: p, namespace: default, action: "
                            "CUSTOM}\n"),
                  "authorizationPolicies[0] \"default/p\": field action: action CUSTOM is not "
                  "supported"},
        BadConfig{"BadPolicyPort",
                  with_base("authorizationPolicies:\n- name: p\n  namespace: default\n  rules:\n"
                            "  - to: [{operation: {ports: [http]}}]\n"),
                  "field rules[0].to[0].operation.ports[0]: 'http' is not a port number"},
        BadConfig{"BadIpBlock",
                  with_base("authorizationPolicies:\n- name: p\n  namespace: default\n  rules:\n"
                            "  - from: [{source: {ipBlocks: [10.0.0.0/33]}}]\n"),
                  "field rules[0].from[0].source.ipBlocks[0]: CIDR '10.0.0.0/33'"},
        BadConfig{"EmptySource",
                  with_base("authorizationPolicies:\n- name: p\n  namespace: default\n  rules:\n"
                            "  - from: [{source: {}}]\n"),
                  "field rules[0].from[0].source: a source must set at least one field"},
        BadConfig{"UnknownConditionKey",
                  with_base("authorizationPolicies:\n- name: p\n  namespace: default\n  rules:\n"
                            "  - when: [{key: source.color, values: [red]}]\n"),
                  "field rules[0].when[0].key: 'source.color' is not a condition key"},
        BadConfig{"ConditionWithoutValues",
                  with_base("authorizationPolicies:\n- name: p\n  namespace: default\n  rules:\n"
                            "  - when: [{key: source.ip}]\n"),
                  "field rules[0].when[0]: a condition needs values or notValues"},
        BadConfig{"NetnsWithoutCgroup",
                  "node: a\nworkloads:\n- {name: w, namespace: default, addresses: [10.0.0.1], "
                  "netns: /run/netns/w}\n",
                  "field cgroup: required when netns is set"},
        BadConfig{"DuplicateNamespace",
                  with_base("namespaces:\n- {name: a}\n- {name: a}\n"),
                  "namespaces[1]: namespace a is defined twice"},
        BadConfig{"CertificateAuthorityWithoutKey",
                  with_base("certificateAuthority: {certificate: ca.pem}\n"),
                  "field certificateAuthority.privateKey: required"},
        BadConfig{"DuplicatePolicy",
                  with_base("authorizationPolicies:\n- {name: p, namespace: default}\n"
                            "- {name: p, namespace: default}\n"),
                  "authorizationPolicies[1]: authorization policy default/p is defined twice"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(LocalConfig, EnrollmentFollowsNamespaceLabelsAndPodOptOut) {
  auto config = parse_local_config(R"(
node: node-a
namespaces:
- {name: shop, labels: {ambit.io/dataplane-mode: ambient}}
- {name: legacy-istio, labels: {istio.io/dataplane-mode: ambient}}
- {name: plain}
workloads:
- {name: web, namespace: shop, node: node-a, addresses: [10.244.0.10],
   netns: /run/netns/web, cgroup: /sys/fs/cgroup/unified/web}
- {name: batch, namespace: shop, node: node-a, addresses: [10.244.0.11],
   labels: {ambit.io/dataplane-mode: none}}
- {name: api, namespace: legacy-istio, addresses: [10.244.0.12]}
- {name: db, namespace: plain, addresses: [10.244.0.13]}
- {name: other, namespace: undeclared, addresses: [10.244.0.14]}
)",
                                   "demo.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  std::map<std::string, bool> mesh;
  for (const auto& w : config->workloads) mesh[w.uid()] = w.mesh;
  EXPECT_TRUE(mesh["shop/web"]);
  EXPECT_FALSE(mesh["shop/batch"]) << "the pod opted out";
  EXPECT_TRUE(mesh["legacy-istio/api"]) << "Istio's label is accepted";
  EXPECT_FALSE(mesh["plain/db"]) << "namespace without the label";
  EXPECT_TRUE(mesh["undeclared/other"]) << "no namespace object: the explicit/default mesh flag";
  ASSERT_EQ(config->sandboxes.size(), 1u);  // only pods that declare where they live
  EXPECT_EQ(config->sandboxes.at("shop/web").netns, "/run/netns/web");
  EXPECT_EQ(config->sandboxes.at("shop/web").cgroup, "/sys/fs/cgroup/unified/web");
  // Not in the mesh: no HBONE address, so peers reach it in plaintext.
  for (const auto& w : config->workloads) {
    if (w.uid() == "plain/db") {
      EXPECT_EQ(w.hbone_address.port(), 0);
    }
  }
}

TEST(LocalConfig, L4ConditionsAreTyped) {
  auto config = parse_local_config(with_base(R"(authorizationPolicies:
- name: p
  namespace: default
  rules:
  - when:
    - {key: destination.port, notValues: ["22"]}
    - {key: source.principal, values: ["cluster.local/ns/default/*"]}
    - {key: remote.ip, values: [10.0.0.0/8]}
)"),
                                   "demo.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  const auto& when = config->policies[0].rules[0].when;
  ASSERT_EQ(when.size(), 3u);
  EXPECT_EQ(when[0].key, AuthzCondition::Key::kDestinationPort);
  EXPECT_EQ(when[0].not_port_values, std::vector<uint16_t>{22});
  EXPECT_EQ(when[1].key, AuthzCondition::Key::kSourcePrincipal);
  EXPECT_EQ(when[2].key, AuthzCondition::Key::kSourceIp);
  EXPECT_FALSE(config->policies[0].rules[0].has_l7_conditions);
}

TEST(LocalConfig, BuildWorkloadTableNamesTheObject) {
  LocalConfig config;
  config.source = "hand.yaml";
  Workload a;
  a.name = "a";
  a.ns = "default";
  a.addresses = {*IpAddress::parse("10.0.0.1")};
  Workload b = a;
  b.name = "b";
  config.workloads = {a, b};
  auto table = build_workload_table(config);
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.error().message.rfind("hand.yaml: workloads[1] \"default/b\": ", 0), 0u)
      << table.error().message;
}

class LocalConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ambit-local-config-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / "conf");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path write(const std::string& yaml) {
    auto path = dir_ / "conf" / "agent.yaml";
    std::ofstream(path) << yaml;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(LocalConfigFile, RelativePathsResolveAgainstTheFilesDirectory) {
  auto path = write(R"(node: node-a
trustBundle: certs/root.pem
workloads:
- name: client
  namespace: default
  addresses: [127.0.0.11]
  certificate: certs/client.pem
  privateKey: ../keys/client.key
- name: server
  namespace: default
  addresses: [127.0.0.21]
certificates:
- {workload: default/server, certificate: /abs/server.pem, privateKey: server.key}
)");
  auto config = load_local_config(path.string());
  ASSERT_TRUE(config.ok()) << config.error().message;
  auto conf = (dir_ / "conf").string();
  EXPECT_EQ(config->trust_bundle, conf + "/certs/root.pem");
  ASSERT_EQ(config->certificates.size(), 2u);
  EXPECT_EQ(config->certificates[0].certificate, conf + "/certs/client.pem");
  EXPECT_EQ(config->certificates[0].private_key, (dir_ / "keys/client.key").string());
  EXPECT_EQ(config->certificates[1].certificate, "/abs/server.pem");
  EXPECT_EQ(config->certificates[1].private_key, conf + "/server.key");
  EXPECT_EQ(config->source, path.string());
}

TEST_F(LocalConfigFile, ErrorsNameThePath) {
  auto path = write("node: a\nworkloads: 3\n");
  auto config = load_local_config(path.string());
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message.rfind(path.string() + ": field workloads: expected a list", 0),
            0u)
      << config.error().message;
}

TEST_F(LocalConfigFile, MissingFileIsAnError) {
  auto config = load_local_config((dir_ / "absent.yaml").string());
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("absent.yaml: cannot open"), std::string::npos);
}

}  // namespace
}  // namespace ambit::agent
