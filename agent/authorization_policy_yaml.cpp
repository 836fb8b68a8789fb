#include "agent/authorization_policy_yaml.h"

#include <fmt/format.h>

#include <array>
#include <string_view>

namespace ambit::agent {
namespace {

using ztunnel::AuthzAction;
using ztunnel::AuthzCondition;
using ztunnel::AuthzOperation;
using ztunnel::AuthzRule;
using ztunnel::AuthzSource;

std::vector<std::string> strings_of(const YamlObject& o, std::string_view key) {
  auto v = o.optional(key);
  return v ? v->strings() : std::vector<std::string>{};
}

std::vector<Cidr> cidrs_of(const YamlObject& o, std::string_view key) {
  auto v = o.optional(key);
  return v ? v->cidrs() : std::vector<Cidr>{};
}

std::vector<uint16_t> ports_of(const YamlObject& o, std::string_view key) {
  auto v = o.optional(key);
  return v ? v->ports() : std::vector<uint16_t>{};
}

bool any_set(const YamlObject& o, std::initializer_list<std::string_view> keys) {
  for (auto key : keys) {
    auto v = o.optional(key);
    if (v && !v->items().empty()) return true;
  }
  return false;
}

AuthzSource read_source(const YamlValue& value) {
  auto o = value.object({"principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals",
                         "namespaces", "notNamespaces", "ipBlocks", "notIpBlocks", "remoteIpBlocks",
                         "notRemoteIpBlocks"});
  AuthzSource s;
  s.principals = strings_of(o, "principals");
  s.not_principals = strings_of(o, "notPrincipals");
  s.namespaces = strings_of(o, "namespaces");
  s.not_namespaces = strings_of(o, "notNamespaces");
  s.ip_blocks = cidrs_of(o, "ipBlocks");
  s.not_ip_blocks = cidrs_of(o, "notIpBlocks");
  s.remote_ip_blocks = cidrs_of(o, "remoteIpBlocks");
  s.not_remote_ip_blocks = cidrs_of(o, "notRemoteIpBlocks");
  s.has_l7 = any_set(o, {"requestPrincipals", "notRequestPrincipals"});
  bool empty = s.principals.empty() && s.not_principals.empty() && s.namespaces.empty() &&
               s.not_namespaces.empty() && s.ip_blocks.empty() && s.not_ip_blocks.empty() &&
               s.remote_ip_blocks.empty() && s.not_remote_ip_blocks.empty() && !s.has_l7;
  // Istio rejects an empty source; silently matching everyone would turn a half-written ALLOW
  // rule into allow-all.
  if (empty) value.fail("source sets no field");
  return s;
}

AuthzOperation read_operation(const YamlValue& value) {
  auto o = value.object(
      {"ports", "notPorts", "hosts", "notHosts", "methods", "notMethods", "paths", "notPaths"});
  AuthzOperation op;
  op.ports = ports_of(o, "ports");
  op.not_ports = ports_of(o, "notPorts");
  op.has_l7 = any_set(o, {"hosts", "notHosts", "methods", "notMethods", "paths", "notPaths"});
  if (op.ports.empty() && op.not_ports.empty() && !op.has_l7) value.fail("operation sets no field");
  return op;
}

// Returns false for a condition on an L7 attribute (validated, then left to the fail-safe).
bool read_condition(const YamlValue& value, AuthzCondition& out) {
  auto o = value.object({"key", "values", "notValues"});
  auto key_value = o.required("key");
  std::string key = key_value.string();
  auto values = o.optional("values");
  auto not_values = o.optional("notValues");
  if ((!values || values->items().empty()) && (!not_values || not_values->items().empty())) {
    o.fail("a condition needs values or notValues");
  }
  using Key = AuthzCondition::Key;
  if (key == "source.ip" || key == "remote.ip") {
    out.key = Key::kSourceIp;
  } else if (key == "destination.ip") {
    out.key = Key::kDestinationIp;
  } else if (key == "source.principal") {
    out.key = Key::kSourcePrincipal;
  } else if (key == "source.namespace") {
    out.key = Key::kSourceNamespace;
  } else if (key == "destination.port") {
    out.key = Key::kDestinationPort;
  } else if (ztunnel::is_l7_condition_key(key)) {
    if (values) values->strings();
    if (not_values) not_values->strings();
    return false;
  } else {
    key_value.fail(fmt::format("'{}' is not a condition key", key));
  }
  switch (out.key) {
    case Key::kSourceIp:
    case Key::kDestinationIp:
      if (values) out.ip_values = values->cidrs();
      if (not_values) out.not_ip_values = not_values->cidrs();
      break;
    case Key::kDestinationPort:
      if (values) out.port_values = values->ports();
      if (not_values) out.not_port_values = not_values->ports();
      break;
    case Key::kSourcePrincipal:
    case Key::kSourceNamespace:
      if (values) out.values = values->strings();
      if (not_values) out.not_values = not_values->strings();
      break;
  }
  return true;
}

AuthzRule read_rule(const YamlValue& value) {
  auto o = value.object({"from", "to", "when"});
  AuthzRule rule;
  if (auto from = o.optional("from")) {
    for (const auto& item : from->items()) {
      rule.from.push_back(read_source(item.object({"source"}).required("source")));
    }
  }
  if (auto to = o.optional("to")) {
    for (const auto& item : to->items()) {
      rule.to.push_back(read_operation(item.object({"operation"}).required("operation")));
    }
  }
  if (auto when = o.optional("when")) {
    for (const auto& item : when->items()) {
      AuthzCondition condition;
      if (read_condition(item, condition)) {
        rule.when.push_back(std::move(condition));
      } else {
        rule.has_l7_conditions = true;
      }
    }
  }
  return rule;
}

AuthzAction read_action(const YamlValue& value) {
  std::string action = value.string();
  if (action == "ALLOW") return AuthzAction::kAllow;
  if (action == "DENY") return AuthzAction::kDeny;
  if (action == "AUDIT" || action == "CUSTOM") {
    value.fail(fmt::format("action {} is not supported (ALLOW | DENY)", action));
  }
  value.fail(fmt::format("'{}' is not an action (ALLOW | DENY)", action));
}

}  // namespace

ztunnel::AuthorizationPolicy read_authorization_policy(const YamlValue& item) {
  auto o = item.item_object({"name", "namespace", "selector", "action", "rules"});
  ztunnel::AuthorizationPolicy policy;
  policy.name = o.required("name").kubernetes_name();
  policy.ns = o.required("namespace").kubernetes_name();
  o.name_object(policy.uid());
  if (auto selector = o.optional("selector")) {
    auto match = selector->object({"matchLabels"}).optional("matchLabels");
    if (match) policy.selector = match->string_map();
  }
  if (auto action = o.optional("action")) policy.action = read_action(*action);
  if (auto rules = o.optional("rules")) {
    for (const auto& rule : rules->items()) policy.rules.push_back(read_rule(rule));
  }
  return policy;
}

}  // namespace ambit::agent
