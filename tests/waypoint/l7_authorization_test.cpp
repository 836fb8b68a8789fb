#include "waypoint/l7_authorization.h"

#include <gtest/gtest.h>

#include "tests/waypoint/l7_fixture.h"

namespace ambit::waypoint {
namespace {

using namespace testing;  // NOLINT: the fixture's builders
namespace pb = ambit::v1;
using Action = pb::AuthorizationPolicy::Action;

pb::AuthorizationPolicy policy(std::string name, Action action) {
  pb::AuthorizationPolicy p;
  p.set_uid("shop/" + name);
  p.set_name(std::move(name));
  p.set_namespace_("shop");
  p.set_action(action);
  return p;
}

void target_service(pb::AuthorizationPolicy& p, const char* service) {
  auto* t = p.add_target_refs();
  t->set_kind("Service");
  t->set_name(service);
  t->set_namespace_("shop");
}

// The seed's orders-authz: POST /api/orders only from payment-service, GET .../status to all.
pb::AuthorizationPolicy orders_authz() {
  auto p = policy("orders-authz", pb::AuthorizationPolicy::ALLOW);
  auto* post = p.add_rules();
  post->add_from()->add_principals("cluster.local/ns/shop/sa/payment-service");
  auto* op = post->add_to();
  op->add_methods("POST");
  op->add_paths("/api/orders");
  auto* get = p.add_rules()->add_to();
  get->add_methods("GET");
  get->add_paths("/api/orders/*/status");
  return p;
}

std::shared_ptr<const L7Authorizer> build(std::vector<pb::AuthorizationPolicy> policies) {
  auto a = L7Authorizer::build(policies, "shop/shop-waypoint", "istio-system");
  EXPECT_TRUE(a.ok()) << a.error().message;
  return *a;
}

class L7AuthorizerTest : public ::testing::Test {
 protected:
  L7Decision check(const L7Authorizer& a, const char* pod, const char* method, const char* path,
                   const char* service = "shop/shop") {
    auto c = call(*table_, pod, method, path, service);
    return a.check(c.request, c.downstream);
  }
  std::shared_ptr<const ztunnel::WorkloadTable> table_ = shop_table();
};

TEST_F(L7AuthorizerTest, OrdersAuthzAsWritten) {
  auto p = orders_authz();
  target_service(p, "shop");
  auto a = build({p});
  L7Decision ok = check(*a, "payment", "POST", "/api/orders");
  EXPECT_TRUE(ok.allowed);
  EXPECT_EQ(ok.reason, "allowed by shop/orders-authz");
  L7Decision wrong = check(*a, "client", "POST", "/api/orders");
  EXPECT_FALSE(wrong.allowed);
  EXPECT_EQ(wrong.reason, "no ALLOW policy matched (1 apply)");
  EXPECT_TRUE(check(*a, "client", "GET", "/api/orders/7/status").allowed);
  EXPECT_TRUE(check(*a, "client", "GET", "/api/orders/7/status?verbose=1").allowed);
  EXPECT_FALSE(check(*a, "client", "GET", "/api/orders/7/items").allowed);
  EXPECT_FALSE(check(*a, "client", "GET", "/api/orders/status").allowed);
  EXPECT_FALSE(check(*a, "payment", "DELETE", "/api/orders").allowed);
  // Another Service of the waypoint: the policy targets shop only.
  EXPECT_TRUE(check(*a, "client", "DELETE", "/api/orders", "shop/api").allowed);
}

TEST_F(L7AuthorizerTest, SelectorFormAppliesToServicesSelectingItsPods) {
  auto p = orders_authz();
  (*p.mutable_selector())["app"] = "shop";
  auto a = build({p});
  EXPECT_FALSE(check(*a, "client", "POST", "/api/orders").allowed);
  EXPECT_TRUE(check(*a, "client", "POST", "/api/orders", "shop/api").allowed);
  auto c = call(*table_, "client", "GET", "/");
  EXPECT_TRUE(a->applies(c.downstream));
  auto api = call(*table_, "client", "GET", "/", "shop/api");
  EXPECT_FALSE(a->applies(api.downstream));
}

TEST_F(L7AuthorizerTest, GatewayTargetAppliesToEveryServiceOnlyOfThisWaypoint) {
  auto mine = policy("deny-delete", pb::AuthorizationPolicy::DENY);
  auto* t = mine.add_target_refs();
  t->set_kind("Gateway");
  t->set_name("shop-waypoint");
  t->set_namespace_("shop");
  mine.add_rules()->add_to()->add_methods("DELETE");
  auto other = mine;
  other.set_name("other");
  other.mutable_target_refs(0)->set_name("another-waypoint");
  other.mutable_rules(0)->mutable_to(0)->set_methods(0, "GET");
  auto a = build({mine, other});
  L7Decision d = check(*a, "client", "DELETE", "/x", "shop/api");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "denied by DENY policy shop/deny-delete");
  EXPECT_TRUE(check(*a, "client", "GET", "/x", "shop/api").allowed);
}

TEST_F(L7AuthorizerTest, DenyComesBeforeAllow) {
  auto allow = policy("allow-all", pb::AuthorizationPolicy::ALLOW);
  target_service(allow, "shop");
  allow.add_rules();  // one empty rule: matches everything
  auto deny = policy("deny-admin", pb::AuthorizationPolicy::DENY);
  target_service(deny, "shop");
  auto* op = deny.add_rules()->add_to();
  op->add_paths("/admin*");
  auto a = build({allow, deny});
  EXPECT_TRUE(check(*a, "client", "GET", "/shop").allowed);
  EXPECT_FALSE(check(*a, "client", "GET", "/admin/users").allowed);
}

TEST_F(L7AuthorizerTest, AllowWithoutRulesDeniesAll) {
  auto p = policy("deny-all", pb::AuthorizationPolicy::ALLOW);
  target_service(p, "shop");
  auto a = build({p});
  EXPECT_FALSE(check(*a, "payment", "GET", "/").allowed);
}

TEST_F(L7AuthorizerTest, HostsNotFormsAndHeaderConditions) {
  auto p = policy("conditions", pb::AuthorizationPolicy::ALLOW);
  target_service(p, "shop");
  auto* rule = p.add_rules();
  auto* op = rule->add_to();
  op->add_hosts("SHOP.shop.svc.cluster.local");
  op->add_not_paths("/private*");
  auto* w = rule->add_when();
  w->set_key("request.headers[X-Tenant]");
  w->add_values("acme*");
  auto a = build({p});
  auto c = call(*table_, "client", "GET", "/items");
  c.request.headers.push_back({"x-tenant", "acme-eu"});
  EXPECT_TRUE(a->check(c.request, c.downstream).allowed);
  c.request.authority = "shop.shop.svc.cluster.local:80";  // with a port: still the host
  EXPECT_TRUE(a->check(c.request, c.downstream).allowed);
  c.request.path = "/private/x";
  EXPECT_FALSE(a->check(c.request, c.downstream).allowed);
  auto d = call(*table_, "client", "GET", "/items");
  EXPECT_FALSE(a->check(d.request, d.downstream).allowed);  // header absent
  d.request.headers.push_back({"x-tenant", "other"});
  EXPECT_FALSE(a->check(d.request, d.downstream).allowed);
  d.request.headers.back().value = "acme";
  d.request.authority = "evil.example.com";
  EXPECT_FALSE(a->check(d.request, d.downstream).allowed);
}

TEST_F(L7AuthorizerTest, SourcesUseThePeerIdentityAndClientAddress) {
  auto p = policy("sources", pb::AuthorizationPolicy::ALLOW);
  target_service(p, "shop");
  auto* f = p.add_rules()->add_from();
  f->add_namespaces("shop");
  f->add_ip_blocks("10.0.1.2/32");
  auto a = build({p});
  EXPECT_TRUE(check(*a, "payment", "GET", "/").allowed);
  EXPECT_FALSE(check(*a, "client", "GET", "/").allowed);  // 10.0.1.1
  auto plain = call(*table_, "payment", "GET", "/");
  plain.downstream.peer.reset();  // no identity: a namespace cannot match
  EXPECT_FALSE(a->check(plain.request, plain.downstream).allowed);
}

TEST_F(L7AuthorizerTest, RequestPrincipalsNeverMatchWithoutJwt) {
  auto p = policy("jwt", pb::AuthorizationPolicy::ALLOW);
  target_service(p, "shop");
  p.add_rules()->add_from()->add_request_principals("*");
  auto a = build({p});
  EXPECT_FALSE(check(*a, "payment", "GET", "/").allowed);
}

TEST_F(L7AuthorizerTest, AuditDecidesNothingAndCustomFailsClosed) {
  auto audit = policy("audit", pb::AuthorizationPolicy::AUDIT);
  target_service(audit, "shop");
  audit.add_rules();
  auto a = build({audit});
  EXPECT_TRUE(check(*a, "client", "GET", "/").allowed);
  auto c = call(*table_, "client", "GET", "/");
  EXPECT_FALSE(a->applies(c.downstream));
  auto custom = policy("ext", pb::AuthorizationPolicy::CUSTOM);
  target_service(custom, "shop");
  custom.add_rules();
  auto b = build({custom});
  L7Decision d = check(*b, "client", "GET", "/");
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.reason.find("CUSTOM policy shop/ext"), std::string::npos);
}

TEST_F(L7AuthorizerTest, ABadPortIsAnErrorNamingThePolicy) {
  auto p = policy("bad", pb::AuthorizationPolicy::ALLOW);
  p.add_rules()->add_to()->add_ports("http");
  auto a = L7Authorizer::build({p}, "shop/shop-waypoint", "istio-system");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("AuthorizationPolicy shop/bad"), std::string::npos)
      << a.error().message;
}

TEST(AuthzPath, IstioFormsAndTemplates) {
  EXPECT_TRUE(authz_path_matches("/api/orders", "/api/orders"));
  EXPECT_FALSE(authz_path_matches("/api/orders", "/api/orders/1"));
  EXPECT_TRUE(authz_path_matches("/api/*", "/api/orders/1"));
  EXPECT_TRUE(authz_path_matches("*/status", "/api/orders/1/status"));
  EXPECT_TRUE(authz_path_matches("*", "/anything"));
  EXPECT_TRUE(authz_path_matches("/api/orders/*/status", "/api/orders/7/status"));
  EXPECT_FALSE(authz_path_matches("/api/orders/*/status", "/api/orders/7/8/status"));
  EXPECT_FALSE(authz_path_matches("/api/orders/*/status", "/api/orders//status"));
  EXPECT_TRUE(authz_path_matches("/api/{*}/status", "/api/x/status"));
  EXPECT_TRUE(authz_path_matches("/api/{**}/status", "/api/x/y/z/status"));
  EXPECT_TRUE(authz_path_matches("/api/{**}", "/api/x/y"));
  EXPECT_FALSE(authz_path_matches("/api/{*}", "/api/x/y"));
}

}  // namespace
}  // namespace ambit::waypoint
