#include "ztunnel/authorization.h"

#include <gtest/gtest.h>

namespace ambit::ztunnel {
namespace {

Cidr cidr(const char* text) { return *Cidr::parse(text); }

Workload echo_workload() {
  Workload w;
  w.name = "echo";
  w.ns = "default";
  w.service_account = "echo";
  w.identity = Identity("cluster.local", "default", "echo");
  w.addresses = {*IpAddress::parse("10.0.0.2")};
  w.labels = {{"app", "echo"}};
  return w;
}

const Workload kEcho = echo_workload();

ConnectionAttributes from_sa(std::string ns, std::string sa, uint16_t port = 8080) {
  ConnectionAttributes c;
  c.source_identity = Identity("cluster.local", std::move(ns), std::move(sa));
  c.source_ip = *IpAddress::parse("10.0.0.1");
  c.destination = &kEcho;
  c.destination_port = port;
  return c;
}

ConnectionAttributes plaintext(const char* source_ip = "10.0.0.1") {
  ConnectionAttributes c;
  c.source_ip = *IpAddress::parse(source_ip);
  c.destination = &kEcho;
  c.destination_port = 8080;
  return c;
}

AuthorizationPolicy policy(std::string name, AuthzAction action, std::vector<AuthzRule> rules,
                           std::string ns = "default", Labels selector = {}) {
  AuthorizationPolicy p;
  p.name = std::move(name);
  p.ns = std::move(ns);
  p.action = action;
  p.rules = std::move(rules);
  p.selector = std::move(selector);
  return p;
}

AuthzRule from_principals(std::vector<std::string> principals) {
  AuthzRule r;
  AuthzSource s;
  s.principals = std::move(principals);
  r.from = {s};
  return r;
}

AuthzRule to_ports(std::vector<uint16_t> ports) {
  AuthzRule r;
  AuthzOperation op;
  op.ports = std::move(ports);
  r.to = {op};
  return r;
}

AuthzDecision check(std::vector<AuthorizationPolicy> policies, const ConnectionAttributes& c) {
  return Authorizer(std::move(policies)).check(c);
}

const char* kSleep = "cluster.local/ns/default/sa/sleep";

TEST(Authorizer, NoPoliciesAllows) {
  auto d = check({}, from_sa("default", "sleep"));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.reason, "no policies");
}

TEST(Authorizer, MatchingAllowAllowsAndNamesThePolicy) {
  auto d = check({policy("allow-sleep", AuthzAction::kAllow, {from_principals({kSleep})})},
                 from_sa("default", "sleep"));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.reason, "allowed by default/allow-sleep");
}

TEST(Authorizer, AnApplyingAllowDeniesWhatItDoesNotMatch) {
  std::vector<AuthorizationPolicy> policies = {
      policy("allow-sleep", AuthzAction::kAllow, {from_principals({kSleep})}),
      policy("allow-admin", AuthzAction::kAllow,
             {from_principals({"cluster.local/ns/default/sa/admin"})})};
  auto d = check(policies, from_sa("default", "curl"));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "no ALLOW policy matched (2 apply)");
}

TEST(Authorizer, DenyIsEvaluatedBeforeAllow) {
  std::vector<AuthorizationPolicy> policies = {
      policy("allow-sleep", AuthzAction::kAllow, {from_principals({kSleep})}),
      policy("deny-sleep", AuthzAction::kDeny, {from_principals({kSleep})})};
  auto d = check(policies, from_sa("default", "sleep"));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "denied by DENY policy default/deny-sleep");
}

TEST(Authorizer, NonMatchingDenyAloneAllows) {
  auto d = check({policy("deny-sleep", AuthzAction::kDeny, {from_principals({kSleep})})},
                 from_sa("default", "curl"));
  EXPECT_TRUE(d.allowed);
  EXPECT_NE(d.reason.find("no DENY policy matched (1 applies)"), std::string::npos) << d.reason;
}

TEST(Authorizer, AllowWithoutRulesDeniesAll) {
  auto d = check({policy("deny-all", AuthzAction::kAllow, {})}, from_sa("default", "sleep"));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "no ALLOW policy matched (1 applies)");
}

TEST(Authorizer, EmptyRuleAllowsAll) {
  auto d = check({policy("allow-all", AuthzAction::kAllow, {AuthzRule{}})}, plaintext());
  EXPECT_TRUE(d.allowed);
}

TEST(Authorizer, PolicyOfAnotherNamespaceDoesNotApply) {
  auto d =
      check({policy("deny-all", AuthzAction::kAllow, {}, "other")}, from_sa("default", "sleep"));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.reason, "no policies");
}

TEST(Authorizer, SelectorMustMatchTheDestinationLabels) {
  auto other = check({policy("deny-all", AuthzAction::kAllow, {}, "default", {{"app", "web"}})},
                     from_sa("default", "sleep"));
  EXPECT_TRUE(other.allowed);
  auto same = check({policy("deny-all", AuthzAction::kAllow, {}, "default", {{"app", "echo"}})},
                    from_sa("default", "sleep"));
  EXPECT_FALSE(same.allowed);
}

TEST(Authorizer, RootNamespacePolicyAppliesMeshWide) {
  auto d = check({policy("deny-all", AuthzAction::kAllow, {}, "istio-system")},
                 from_sa("default", "sleep"));
  EXPECT_FALSE(d.allowed);
  // Its selector still picks the workloads, in every namespace.
  auto unselected =
      check({policy("deny-web", AuthzAction::kAllow, {}, "istio-system", {{"app", "web"}})},
            from_sa("default", "sleep"));
  EXPECT_TRUE(unselected.allowed);
  // The root namespace is configurable.
  auto custom_root =
      Authorizer({policy("deny-all", AuthzAction::kAllow, {}, "mesh-root")}, "mesh-root")
          .check(from_sa("default", "sleep"));
  EXPECT_FALSE(custom_root.allowed);
}

TEST(Authorizer, UnknownDestinationGetsOnlyMeshWideSelectorlessPolicies) {
  auto c = from_sa("default", "sleep");
  c.destination = nullptr;
  EXPECT_TRUE(check({policy("deny-all", AuthzAction::kAllow, {})}, c).allowed);
  EXPECT_FALSE(check({policy("deny-all", AuthzAction::kAllow, {}, "istio-system")}, c).allowed);
}

TEST(Authorizer, NotPrincipalsExcludes) {
  AuthzRule rule;
  AuthzSource source;
  source.not_principals = {kSleep};
  rule.from = {source};
  auto p = policy("allow-not-sleep", AuthzAction::kAllow, {rule});
  EXPECT_FALSE(check({p}, from_sa("default", "sleep")).allowed);
  EXPECT_TRUE(check({p}, from_sa("default", "curl")).allowed);
}

TEST(Authorizer, NamespacesMatchTheSourceIdentityNamespace) {
  AuthzRule rule;
  AuthzSource source;
  source.namespaces = {"frontend", "ops"};
  source.not_namespaces = {"ops"};
  rule.from = {source};
  auto p = policy("allow-frontend", AuthzAction::kAllow, {rule});
  EXPECT_TRUE(check({p}, from_sa("frontend", "web")).allowed);
  EXPECT_FALSE(check({p}, from_sa("ops", "web")).allowed);
  EXPECT_FALSE(check({p}, from_sa("default", "web")).allowed);
}

TEST(Authorizer, IpBlocksAndNotIpBlocks) {
  AuthzRule rule;
  AuthzSource source;
  source.ip_blocks = {cidr("10.0.0.0/24")};
  source.not_ip_blocks = {cidr("10.0.0.66")};
  rule.from = {source};
  auto p = policy("allow-subnet", AuthzAction::kAllow, {rule});
  EXPECT_TRUE(check({p}, plaintext("10.0.0.1")).allowed);
  EXPECT_FALSE(check({p}, plaintext("10.0.0.66")).allowed);
  EXPECT_FALSE(check({p}, plaintext("10.0.1.1")).allowed);
}

TEST(Authorizer, PortsAndNotPorts) {
  auto allow = policy("allow-8080", AuthzAction::kAllow, {to_ports({8080, 9090})});
  EXPECT_TRUE(check({allow}, from_sa("default", "sleep", 8080)).allowed);
  EXPECT_TRUE(check({allow}, from_sa("default", "sleep", 9090)).allowed);
  EXPECT_FALSE(check({allow}, from_sa("default", "sleep", 8081)).allowed);

  AuthzRule rule;
  AuthzOperation op;
  op.not_ports = {22};
  rule.to = {op};
  auto not_ssh = policy("allow-not-ssh", AuthzAction::kAllow, {rule});
  EXPECT_TRUE(check({not_ssh}, from_sa("default", "sleep", 8080)).allowed);
  EXPECT_FALSE(check({not_ssh}, from_sa("default", "sleep", 22)).allowed);
}

TEST(Authorizer, FieldsOfASourceAndTheFromAndToOfARuleAllMustMatch) {
  AuthzRule rule;
  AuthzSource source;
  source.principals = {kSleep};
  source.ip_blocks = {cidr("10.0.0.0/24")};
  rule.from = {source};
  AuthzOperation op;
  op.ports = {8080};
  rule.to = {op};
  auto p = policy("allow", AuthzAction::kAllow, {rule});

  EXPECT_TRUE(check({p}, from_sa("default", "sleep")).allowed);
  EXPECT_FALSE(check({p}, from_sa("default", "sleep", 9090)).allowed);  // wrong port
  auto elsewhere = from_sa("default", "sleep");
  elsewhere.source_ip = *IpAddress::parse("192.168.1.1");
  EXPECT_FALSE(check({p}, elsewhere).allowed);  // right principal, wrong ip block
}

TEST(Authorizer, AnyOfSeveralSourcesOrRulesMatches) {
  AuthzRule rule;
  AuthzSource by_principal;
  by_principal.principals = {kSleep};
  AuthzSource by_ip;
  by_ip.ip_blocks = {cidr("192.168.0.0/16")};
  rule.from = {by_principal, by_ip};
  auto p = policy("allow", AuthzAction::kAllow, {rule, to_ports({9999})});
  EXPECT_TRUE(check({p}, from_sa("default", "sleep")).allowed);
  EXPECT_TRUE(check({p}, plaintext("192.168.3.4")).allowed);
  EXPECT_TRUE(check({p}, from_sa("default", "curl", 9999)).allowed);  // second rule
  EXPECT_FALSE(check({p}, from_sa("default", "curl")).allowed);
}

TEST(Authorizer, WildcardPrincipals) {
  auto allow = [](std::string pattern) {
    return policy("allow", AuthzAction::kAllow, {from_principals({std::move(pattern)})});
  };
  EXPECT_TRUE(check({allow("*")}, from_sa("any", "thing")).allowed);
  EXPECT_TRUE(check({allow("cluster.local/ns/default/*")}, from_sa("default", "x")).allowed);
  EXPECT_FALSE(check({allow("cluster.local/ns/default/*")}, from_sa("prod", "x")).allowed);
  EXPECT_TRUE(check({allow("*/sa/sleep")}, from_sa("prod", "sleep")).allowed);
  EXPECT_FALSE(check({allow("*/sa/sleep")}, from_sa("prod", "curl")).allowed);
  // The SPIFFE scheme is not part of Istio's principal form.
  EXPECT_FALSE(
      check({allow("spiffe://cluster.local/ns/default/sa/sleep")}, from_sa("default", "sleep"))
          .allowed);
}

TEST(Authorizer, PlaintextSourceMatchesNoPrincipalOrNamespace) {
  EXPECT_FALSE(
      check({policy("allow", AuthzAction::kAllow, {from_principals({"*"})})}, plaintext()).allowed);
  AuthzRule by_ns;
  AuthzSource source;
  source.namespaces = {"*"};
  by_ns.from = {source};
  EXPECT_FALSE(check({policy("allow", AuthzAction::kAllow, {by_ns})}, plaintext()).allowed);
}

TEST(Authorizer, DenyNotPrincipalsStarRefusesPlaintextOnly) {
  AuthzRule rule;
  AuthzSource source;
  source.not_principals = {"*"};
  rule.from = {source};
  auto require_mtls = policy("require-mtls", AuthzAction::kDeny, {rule});
  auto d = check({require_mtls}, plaintext());
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "denied by DENY policy default/require-mtls");
  EXPECT_TRUE(check({require_mtls}, from_sa("default", "sleep")).allowed);
}

TEST(Authorizer, AllowRuleWithL7FieldsNeverMatches) {
  AuthzRule rule = from_principals({kSleep});
  AuthzOperation get_only;
  get_only.has_l7 = true;  // methods: [GET]
  rule.to = {get_only};
  EXPECT_FALSE(
      check({policy("allow-get", AuthzAction::kAllow, {rule})}, from_sa("default", "sleep"))
          .allowed);

  AuthzRule with_condition = from_principals({kSleep});
  with_condition.has_l7_conditions = true;  // when: request.headers[...]
  EXPECT_FALSE(check({policy("allow-hdr", AuthzAction::kAllow, {with_condition})},
                     from_sa("default", "sleep"))
                   .allowed);

  AuthzRule jwt;
  AuthzSource source;
  source.has_l7 = true;  // requestPrincipals
  jwt.from = {source};
  EXPECT_FALSE(check({policy("allow-jwt", AuthzAction::kAllow, {jwt})}, from_sa("default", "sleep"))
                   .allowed);
}

TEST(Authorizer, DenyRuleWithL7FieldsMatchesOnItsL4Parts) {
  AuthzRule rule = to_ports({8080});
  rule.to[0].has_l7 = true;  // ports: [8080], methods: [POST]
  auto deny = policy("deny-post", AuthzAction::kDeny, {rule});
  EXPECT_FALSE(check({deny}, from_sa("default", "sleep", 8080)).allowed);
  EXPECT_TRUE(check({deny}, from_sa("default", "sleep", 9090)).allowed);

  AuthzRule only_condition;
  only_condition.has_l7_conditions = true;
  EXPECT_FALSE(
      check({policy("deny-hdr", AuthzAction::kDeny, {only_condition})}, from_sa("default", "sleep"))
          .allowed);
}

TEST(Authorizer, L4WhenConditions) {
  AuthzRule rule;
  AuthzCondition from_subnet;
  from_subnet.key = AuthzCondition::Key::kSourceIp;
  from_subnet.ip_values = {cidr("10.0.0.0/24")};
  AuthzCondition port;
  port.key = AuthzCondition::Key::kDestinationPort;
  port.not_port_values = {9090};
  AuthzCondition principal;
  principal.key = AuthzCondition::Key::kSourcePrincipal;
  principal.values = {"cluster.local/ns/default/*"};
  rule.when = {from_subnet, port, principal};
  auto p = policy("allow", AuthzAction::kAllow, {rule});

  EXPECT_TRUE(check({p}, from_sa("default", "sleep")).allowed);
  EXPECT_FALSE(check({p}, from_sa("default", "sleep", 9090)).allowed);
  EXPECT_FALSE(check({p}, from_sa("prod", "sleep")).allowed);
  EXPECT_FALSE(check({p}, plaintext()).allowed);
}

TEST(Authorizer, DestinationIpConditionUsesTheConnectionOrTheWorkloadAddresses) {
  AuthzRule rule;
  AuthzCondition dst;
  dst.key = AuthzCondition::Key::kDestinationIp;
  dst.ip_values = {cidr("10.0.0.2/32")};
  rule.when = {dst};
  auto p = policy("allow", AuthzAction::kAllow, {rule});
  auto c = from_sa("default", "sleep");
  EXPECT_TRUE(check({p}, c).allowed);
  c.destination_ip = *IpAddress::parse("10.0.0.3");
  EXPECT_FALSE(check({p}, c).allowed);
}

TEST(Authorizer, ServiceAccountsMatchNamespaceAndAccountInAnyTrustDomain) {
  AuthzRule rule;
  AuthzSource s;
  s.service_accounts = {"default/sleep"};
  rule.from = {s};
  auto p = policy("allow", AuthzAction::kAllow, {rule});
  EXPECT_TRUE(check({p}, from_sa("default", "sleep")).allowed);
  auto other_domain = from_sa("default", "sleep");
  other_domain.source_identity = Identity("example.org", "default", "sleep");
  EXPECT_TRUE(check({p}, other_domain).allowed);
  EXPECT_FALSE(check({p}, from_sa("default", "sleeper")).allowed);  // exact, not a prefix
  EXPECT_FALSE(check({p}, from_sa("prod", "sleep")).allowed);
  EXPECT_FALSE(check({p}, plaintext()).allowed);

  AuthzRule deny_rule;
  AuthzSource not_sleep;
  not_sleep.not_service_accounts = {"default/sleep"};
  deny_rule.from = {not_sleep};
  auto deny = policy("deny", AuthzAction::kDeny, {deny_rule});
  EXPECT_TRUE(check({deny}, from_sa("default", "sleep")).allowed);
  EXPECT_FALSE(check({deny}, from_sa("default", "web")).allowed);
  EXPECT_FALSE(check({deny}, plaintext()).allowed);  // no identity: not the excluded account
}

TEST(Authorizer, TrustDomainsAreMatchedAsPatterns) {
  AuthzRule rule;
  AuthzSource s;
  s.trust_domains = {"*.local"};
  s.not_trust_domains = {"old.local"};
  rule.from = {s};
  auto p = policy("allow", AuthzAction::kAllow, {rule});
  auto from_domain = [](const char* td) {
    auto c = from_sa("default", "sleep");
    c.source_identity = Identity(td, "default", "sleep");
    return c;
  };
  EXPECT_TRUE(check({p}, from_domain("cluster.local")).allowed);
  EXPECT_FALSE(check({p}, from_domain("old.local")).allowed);
  EXPECT_FALSE(check({p}, from_domain("example.org")).allowed);
  EXPECT_FALSE(check({p}, plaintext()).allowed);
}

TEST(Authorizer, ServiceAccountAndTrustDomainConditions) {
  AuthzRule rule;
  AuthzCondition sa;
  sa.key = AuthzCondition::Key::kSourceServiceAccount;
  sa.values = {"default/sleep", "prod/sleep"};
  AuthzCondition td;
  td.key = AuthzCondition::Key::kSourceTrustDomain;
  td.not_values = {"example.org"};
  rule.when = {sa, td};
  auto p = policy("allow", AuthzAction::kAllow, {rule});
  EXPECT_TRUE(check({p}, from_sa("prod", "sleep")).allowed);
  EXPECT_FALSE(check({p}, from_sa("prod", "web")).allowed);
  auto foreign = from_sa("default", "sleep");
  foreign.source_identity = Identity("example.org", "default", "sleep");
  EXPECT_FALSE(check({p}, foreign).allowed);
}

// echo behind waypoint default/echo-waypoint, guarded: its L7 policy lives in the waypoint.
Workload guarded_echo() {
  Workload w = echo_workload();
  w.waypoint = "default/echo-waypoint";
  w.waypoint_guard = true;
  return w;
}

const Workload kGuardedEcho = guarded_echo();
const char* kWaypoint = "cluster.local/ns/default/sa/echo-waypoint";

ConnectionAttributes to_guarded(ConnectionAttributes c) {
  c.destination = &kGuardedEcho;
  return c;
}

TEST(WaypointGuard, TheWaypointIsAdmittedWhateverTheAllowPoliciesSay) {
  // The namespace's ALLOW names only sleep: the waypoint already applied it (and its L7 rules).
  std::vector<AuthorizationPolicy> policies = {
      policy("allow-sleep", AuthzAction::kAllow, {from_principals({kSleep})})};
  auto d = check(policies, to_guarded(from_sa("default", "echo-waypoint")));
  EXPECT_TRUE(d.allowed) << d.reason;
  EXPECT_EQ(d.reason, "from its waypoint default/echo-waypoint");
  // Without the guard the same policy refuses the waypoint, as today.
  EXPECT_FALSE(check(policies, from_sa("default", "echo-waypoint")).allowed);
}

TEST(WaypointGuard, ADenyStillStopsTheWaypoint) {
  auto d = check({policy("deny-waypoint", AuthzAction::kDeny, {from_principals({kWaypoint})})},
                 to_guarded(from_sa("default", "echo-waypoint")));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "denied by DENY policy default/deny-waypoint");
}

TEST(WaypointGuard, APeerBypassingTheWaypointIsRefusedWithoutPolicies) {
  auto d = check({}, to_guarded(from_sa("default", "sleep")));
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.reason.find("bypasses waypoint default/echo-waypoint"), std::string::npos)
      << d.reason;
  EXPECT_TRUE(check({}, from_sa("default", "sleep")).allowed) << "unguarded: as today";
}

TEST(WaypointGuard, ANamespaceWideAllowDoesNotLetAPeerPastTheWaypoint) {
  auto d = check({policy("allow-sleep", AuthzAction::kAllow, {from_principals({kSleep})})},
                 to_guarded(from_sa("default", "sleep")));
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.reason.find("bypasses waypoint default/echo-waypoint"), std::string::npos)
      << d.reason;
  // A mesh-wide one (root namespace, no selector) neither.
  EXPECT_FALSE(check({policy("allow-all", AuthzAction::kAllow, {AuthzRule{}}, "istio-system")},
                     to_guarded(from_sa("default", "sleep")))
                   .allowed);
}

TEST(WaypointGuard, AnAllowThatSelectsTheWorkloadLetsItsPeersPast) {
  auto selecting = policy("sleep-direct", AuthzAction::kAllow, {from_principals({kSleep})},
                          "default", {{"app", "echo"}});
  auto d = check({selecting}, to_guarded(from_sa("default", "sleep")));
  EXPECT_TRUE(d.allowed) << d.reason;
  EXPECT_EQ(d.reason, "allowed by default/sleep-direct past waypoint default/echo-waypoint");
  // Only the peers it names.
  EXPECT_FALSE(check({selecting}, to_guarded(from_sa("default", "curl"))).allowed);
  // One in the root namespace with a selector counts too.
  auto root = policy("root-direct", AuthzAction::kAllow, {from_principals({kSleep})},
                     "istio-system", {{"app", "echo"}});
  EXPECT_TRUE(check({root}, to_guarded(from_sa("default", "sleep"))).allowed);
  // A DENY comes first.
  auto deny = policy("deny-sleep", AuthzAction::kDeny, {from_principals({kSleep})});
  EXPECT_FALSE(check({selecting, deny}, to_guarded(from_sa("default", "sleep"))).allowed);
}

TEST(WaypointGuard, PlaintextIsRefusedEvenWhenAnAllowMatches) {
  auto allow_ip = policy("ip", AuthzAction::kAllow, {AuthzRule{}}, "default", {{"app", "echo"}});
  auto c = plaintext();
  EXPECT_TRUE(check({allow_ip}, c).allowed) << "unguarded: as today";
  auto d = check({allow_ip}, to_guarded(c));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "plaintext bypasses waypoint default/echo-waypoint");
}

TEST(AuthzPattern, ExactPrefixSuffixPresence) {
  EXPECT_TRUE(authz_pattern_matches("abc", "abc"));
  EXPECT_FALSE(authz_pattern_matches("abc", "abcd"));
  EXPECT_TRUE(authz_pattern_matches("ab*", "abcd"));
  EXPECT_TRUE(authz_pattern_matches("*cd", "abcd"));
  EXPECT_FALSE(authz_pattern_matches("*cd", "d"));
  EXPECT_TRUE(authz_pattern_matches("*", "x"));
  EXPECT_FALSE(authz_pattern_matches("*", ""));
}

}  // namespace
}  // namespace ambit::ztunnel
