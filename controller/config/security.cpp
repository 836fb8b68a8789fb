// security.istio.io PeerAuthentication (mTLS modes at mesh, namespace, workload and port scope)
// and AuthorizationPolicy (ALLOW/DENY rules on sources, operations and conditions).
#include <fmt/format.h>

#include <array>
#include <charconv>

#include "ambit/v1/condition_keys.h"
#include "controller/config/loader.h"
#include "controller/config/parse_context.h"
#include "controller/config/values.h"

namespace ambit::controller::config {
namespace {

MtlsMode read_mtls(const YamlValue& value, ParseContext& ctx) {
  auto mode_value = value.object({"mode"}).optional("mode");
  if (!mode_value) return MtlsMode::kUnset;
  std::string mode = mode_value->string();
  if (mode == "UNSET") return MtlsMode::kUnset;
  if (mode == "PERMISSIVE") return MtlsMode::kPermissive;
  if (mode == "STRICT") return MtlsMode::kStrict;
  if (mode == "DISABLE") return MtlsMode::kDisable;
  ctx.error(codes::kInvalidValue, *mode_value,
            fmt::format("'{}' is not an mTLS mode (UNSET | PERMISSIVE | STRICT | DISABLE)", mode));
  return MtlsMode::kUnset;
}

}  // namespace

void read_peer_authentication(const YamlObject& root, ObjectMeta meta, ParseContext& ctx,
                              ConfigModel& m) {
  PeerAuthentication pa;
  pa.meta = std::move(meta);
  if (auto spec_value = root.optional("spec")) {
    auto spec = spec_value->object({"selector", "mtls", "portLevelMtls"});
    pa.selector = match_labels(spec, "selector", pa.selector_at);
    if (auto mtls = spec.optional("mtls")) pa.mode = read_mtls(*mtls, ctx);
    if (auto ports = spec.optional("portLevelMtls")) {
      if (!pa.selector) {
        ctx.error(codes::kInvalidValue, *ports,
                  "portLevelMtls needs a selector (Istio ignores it on namespace-wide policies)");
      }
      if (!ports->node().IsMap()) ports->fail("expected a mapping of port to {mode}");
      for (const auto& [name, key, value] : ports->fields()) {
        YamlValue port(key.node(), std::make_shared<ConfigLocation>(value.where()), value.field());
        pa.port_level_mtls[port.port()] = read_mtls(value, ctx);
      }
    }
  }
  m.peer_authentications.push_back(std::move(pa));
}

namespace {

using Policy = AuthorizationPolicy;

void check_port_strings(const YamlObject& o, std::string_view key) {
  if (auto v = o.optional(key)) {
    for (const auto& item : v->items()) item.port();
  }
}

// Istio's serviceAccounts values: "<namespace>/<service-account>", or "<service-account>" for
// one of the policy's namespace; no wildcards. Returned with the namespace filled in.
std::vector<std::string> read_service_accounts(const YamlObject& o, std::string_view key,
                                               const std::string& policy_ns, ParseContext& ctx) {
  std::vector<std::string> out;
  auto list = o.optional(key);
  if (!list) return out;
  auto items = list->items();
  if (items.size() > 16) {
    ctx.error(codes::kInvalidValue, *list,
              fmt::format("at most 16 service accounts (Istio's limit); {} given", items.size()));
  }
  for (const auto& item : items) {
    std::string v = item.string();
    auto slash = v.find('/');
    std::string ns = slash == std::string::npos ? policy_ns : v.substr(0, slash);
    std::string sa = slash == std::string::npos ? v : v.substr(slash + 1);
    std::string_view problem;
    if (v.find('*') != std::string::npos) {
      problem = "wildcards are not allowed in service accounts (use principals for patterns)";
    } else if (slash == 0 ||
               !is_mesh_principal(fmt::format("{}/ns/{}/sa/{}", kClusterDomain, ns, sa))) {
      problem = "a service account is <namespace>/<service-account> or <service-account>";
    }
    if (!problem.empty()) {
      ctx.error(codes::kInvalidValue, item, fmt::format("'{}': {}", v, problem));
      continue;
    }
    out.push_back(ns + "/" + sa);
  }
  return out;
}

Policy::Source read_source(const YamlValue& value, const std::string& policy_ns,
                           ParseContext& ctx) {
  auto o = value.object({"principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals",
                         "namespaces", "notNamespaces", "serviceAccounts", "notServiceAccounts",
                         "trustDomains", "notTrustDomains", "ipBlocks", "notIpBlocks",
                         "remoteIpBlocks", "notRemoteIpBlocks"});
  Policy::Source s;
  s.service_accounts = read_service_accounts(o, "serviceAccounts", policy_ns, ctx);
  s.not_service_accounts = read_service_accounts(o, "notServiceAccounts", policy_ns, ctx);
  s.trust_domains = strings_or_empty(o, "trustDomains");
  s.not_trust_domains = strings_or_empty(o, "notTrustDomains");
  if (o.optional("serviceAccounts") && (o.optional("principals") || o.optional("namespaces"))) {
    ctx.error(codes::kInvalidValue, *o.optional("serviceAccounts"),
              "serviceAccounts cannot be set together with principals or namespaces (as in Istio)");
  }
  s.principals = strings_or_empty(o, "principals");
  s.not_principals = strings_or_empty(o, "notPrincipals");
  s.request_principals = strings_or_empty(o, "requestPrincipals");
  s.not_request_principals = strings_or_empty(o, "notRequestPrincipals");
  s.namespaces = strings_or_empty(o, "namespaces");
  s.not_namespaces = strings_or_empty(o, "notNamespaces");
  for (const char* key : {"ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"}) {
    if (auto v = o.optional(key)) v->cidrs();
  }
  s.ip_blocks = strings_or_empty(o, "ipBlocks");
  s.not_ip_blocks = strings_or_empty(o, "notIpBlocks");
  s.remote_ip_blocks = strings_or_empty(o, "remoteIpBlocks");
  s.not_remote_ip_blocks = strings_or_empty(o, "notRemoteIpBlocks");
  ctx.check_principals(o, "principals");
  ctx.check_principals(o, "notPrincipals");
  bool empty = s.principals.empty() && s.not_principals.empty() && s.request_principals.empty() &&
               s.not_request_principals.empty() && s.namespaces.empty() &&
               s.not_namespaces.empty() && s.ip_blocks.empty() && s.not_ip_blocks.empty() &&
               s.remote_ip_blocks.empty() && s.not_remote_ip_blocks.empty() &&
               !o.optional("serviceAccounts") && !o.optional("notServiceAccounts") &&
               s.trust_domains.empty() && s.not_trust_domains.empty();
  // Istio rejects an empty source: matching everyone would widen a half-written ALLOW rule.
  if (empty) ctx.error(codes::kInvalidValue, value, "a source must set at least one field");
  return s;
}

Policy::Operation read_operation(const YamlValue& value, ParseContext& ctx) {
  auto o = value.object(
      {"hosts", "notHosts", "ports", "notPorts", "methods", "notMethods", "paths", "notPaths"});
  Policy::Operation op;
  check_port_strings(o, "ports");
  check_port_strings(o, "notPorts");
  op.hosts = strings_or_empty(o, "hosts");
  op.not_hosts = strings_or_empty(o, "notHosts");
  op.ports = strings_or_empty(o, "ports");
  op.not_ports = strings_or_empty(o, "notPorts");
  op.methods = strings_or_empty(o, "methods");
  op.not_methods = strings_or_empty(o, "notMethods");
  op.paths = strings_or_empty(o, "paths");
  op.not_paths = strings_or_empty(o, "notPaths");
  bool empty = op.hosts.empty() && op.not_hosts.empty() && op.ports.empty() &&
               op.not_ports.empty() && op.methods.empty() && op.not_methods.empty() &&
               op.paths.empty() && op.not_paths.empty();
  if (empty) ctx.error(codes::kInvalidValue, value, "an operation must set at least one field");
  return op;
}

Policy::Condition read_condition(const YamlValue& value, const std::string& policy_ns,
                                 ParseContext& ctx) {
  auto o = value.object({"key", "values", "notValues"});
  Policy::Condition c;
  auto key = o.required("key");
  c.key = key.string();
  if (!ambit::v1::is_l4_condition_key(c.key) && !ambit::v1::is_l7_condition_key(c.key)) {
    ctx.error(codes::kInvalidValue, key, fmt::format("'{}' is not a condition key", c.key));
  }
  if (c.key == "source.serviceAccount") {
    c.values = read_service_accounts(o, "values", policy_ns, ctx);
    c.not_values = read_service_accounts(o, "notValues", policy_ns, ctx);
  } else {
    c.values = strings_or_empty(o, "values");
    c.not_values = strings_or_empty(o, "notValues");
  }
  if (c.values.empty() && c.not_values.empty()) {
    ctx.error(codes::kInvalidValue, value, "a condition needs values or notValues");
  }
  if (c.key == "source.principal") {
    ctx.check_principals(o, "values");
    ctx.check_principals(o, "notValues");
  }
  // Values the L4 authorizer compares as addresses or ports: a bad one is the file's error, not a
  // view that agents refuse.
  for (const char* list : {"values", "notValues"}) {
    auto v = o.optional(list);
    if (!v) continue;
    if (c.key == "source.ip" || c.key == "remote.ip" || c.key == "destination.ip") v->cidrs();
    if (c.key == "destination.port") v->ports();
  }
  return c;
}

Policy::Rule read_rule(const YamlValue& value, const std::string& policy_ns, ParseContext& ctx) {
  auto o = value.object({"from", "to", "when"});
  Policy::Rule rule;
  rule.at = origin_of(value);
  if (auto from = o.optional("from")) {
    for (const auto& item : from->items()) {
      rule.from.push_back(read_source(item.object({"source"}).required("source"), policy_ns, ctx));
    }
  }
  if (auto to = o.optional("to")) {
    for (const auto& item : to->items()) {
      rule.to.push_back(read_operation(item.object({"operation"}).required("operation"), ctx));
    }
  }
  if (auto when = o.optional("when")) {
    for (const auto& item : when->items()) {
      rule.when.push_back(read_condition(item, policy_ns, ctx));
    }
  }
  return rule;
}

// targetRef (Istio's older, single form) and targetRefs: what a waypoint-enforced policy is for.
void read_target_refs(const YamlObject& spec, ParseContext& ctx, Policy& policy) {
  std::vector<YamlValue> refs;
  if (auto one = spec.optional("targetRef")) refs.push_back(*one);
  if (auto many = spec.optional("targetRefs")) {
    auto items = many->items();
    if (items.size() > 16) {
      ctx.error(codes::kInvalidValue, *many,
                fmt::format("at most 16 targetRefs (Istio's limit); {} given", items.size()));
    }
    refs.insert(refs.end(), items.begin(), items.end());
  }
  if (refs.empty()) return;
  if (policy.selector) {
    ctx.error(codes::kInvalidValue, refs.front(),
              "a policy sets either selector or targetRefs, not both (as in Istio)");
  }
  for (const auto& value : refs) {
    auto o = value.object({"group", "kind", "name", "namespace"});
    TargetRef ref;
    ref.at = origin_of(value);
    if (auto g = o.optional("group")) ref.group = g->string();
    ref.kind = o.required("kind").string();
    ref.name = o.required("name").kubernetes_name();
    if (auto ns = o.optional("namespace")) ref.ns = ns->kubernetes_name();
    if (ref.group == "core") ref.group.clear();
    bool supported = (ref.group == kGatewayApiGroup && ref.kind == "Gateway") ||
                     (ref.group == kGatewayApiGroup && ref.kind == "GatewayClass") ||
                     (ref.group.empty() && ref.kind == "Service") ||
                     (ref.group == "networking.istio.io" && ref.kind == "ServiceEntry");
    if (!supported) {
      ctx.error(codes::kInvalidValue, value,
                fmt::format("{}{}{} is not a policy target (gateway.networking.k8s.io Gateway or "
                            "GatewayClass, core Service, networking.istio.io ServiceEntry)",
                            ref.group, ref.group.empty() ? "" : "/", ref.kind));
      continue;
    }
    if (!ref.ns.empty() && ref.ns != policy.meta.ns) {
      ctx.error(codes::kInvalidValue, value,
                fmt::format("targetRefs cannot name another namespace ({}; the policy is in {})",
                            ref.ns, policy.meta.ns));
      continue;
    }
    if (ref.kind == "GatewayClass" && policy.meta.ns != kRootNamespace) {
      ctx.error(codes::kInvalidValue, value,
                fmt::format("a GatewayClass target is only allowed in the root namespace {}",
                            kRootNamespace));
      continue;
    }
    ref.ns = policy.meta.ns;
    policy.target_refs.push_back(std::move(ref));
  }
}

}  // namespace

void read_authorization_policy(const YamlObject& root, ObjectMeta meta, ParseContext& ctx,
                               ConfigModel& m) {
  Policy policy;
  policy.meta = std::move(meta);
  auto dry_run = policy.meta.annotations.find("istio.io/dry-run");
  if (dry_run != policy.meta.annotations.end() && dry_run->second == "true") {
    // Istio logs what a dry-run policy would decide and enforces nothing; ambit has no such log
    // yet, so it leaves the policy out rather than enforce what was meant as a trial.
    policy.dry_run = true;
    ctx.warning(codes::kUnsupportedField, root.required("metadata"),
                "istio.io/dry-run: the policy is not enforced (as in Istio); ambit does not log "
                "its would-be decisions yet");
  }
  // No spec: {}, which allows nothing.
  if (auto spec = root.optional("spec")) {
    read_authorization_policy_spec(
        spec->object({"selector", "targetRef", "targetRefs", "action", "provider", "rules"}), ctx,
        policy);
  }
  m.authorization_policies.push_back(std::move(policy));
}

AuthorizationPolicy read_listed_authorization_policy(const YamlValue& item) {
  auto o = item.item_object(
      {"name", "namespace", "selector", "targetRef", "targetRefs", "action", "provider", "rules"});
  Policy policy;
  policy.meta.kind = "AuthorizationPolicy";
  policy.meta.name = o.required("name").kubernetes_name();
  policy.meta.ns = o.required("namespace").kubernetes_name();
  policy.meta.file = o.where().file;
  policy.meta.line = o.line();
  o.name_object(policy.meta.uid());
  ParseContext strict;
  read_authorization_policy_spec(o, strict, policy);
  return policy;
}

void read_authorization_policy_spec(const YamlObject& spec, ParseContext& ctx, Policy& policy) {
  policy.selector = match_labels(spec, "selector", policy.selector_at);
  if (auto action = spec.optional("action")) {
    std::string a = action->string();
    if (a == "ALLOW") {
      policy.action = Policy::Action::kAllow;
    } else if (a == "DENY") {
      policy.action = Policy::Action::kDeny;
    } else if (a == "AUDIT" || a == "CUSTOM") {
      policy.action = a == "AUDIT" ? Policy::Action::kAudit : Policy::Action::kCustom;
      ctx.warning(codes::kUnsupportedField, *action,
                  fmt::format("action {} is not supported (ALLOW | DENY); a policy with it is "
                              "not enforced",
                              a));
    } else {
      ctx.error(codes::kInvalidValue, *action,
                fmt::format("'{}' is not an action (ALLOW | DENY | AUDIT | CUSTOM)", a));
    }
  }
  if (auto provider = spec.optional("provider")) {
    policy.provider = provider->object({"name"}).required("name").string();
  }
  if (policy.action == Policy::Action::kCustom && policy.provider.empty()) {
    ctx.error(codes::kInvalidValue, *spec.optional("action"), "CUSTOM needs a provider");
  }
  read_target_refs(spec, ctx, policy);
  if (auto rules = spec.optional("rules")) {
    for (const auto& item : rules->items()) {
      policy.rules.push_back(read_rule(item, policy.meta.ns, ctx));
    }
  }
}

}  // namespace ambit::controller::config
