#include "agent/local_config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "agent/engine_policy.h"
#include "controller/config/loader.h"
#include "controller/config/views.h"
#include "core/yaml_reader.h"

namespace ambit::agent {
namespace {

constexpr uint16_t kHbonePort = 15008;

void check_trust_domain(const YamlValue& value) {
  // Identity::parse holds the SPIFFE rules; reuse them on a sample ID of this trust domain.
  auto sample = Identity::parse(fmt::format("spiffe://{}/ns/a/sa/b", value.string()));
  if (!sample) {
    value.fail(
        fmt::format("'{}' is not a valid trust domain (lowercase letters, digits, '.', "
                    "'-', '_')",
                    value.string()));
  }
}

// Certificates belong to workloads hosted here; one for a pod on another node is a mistake the
// agent could otherwise only discover when a peer rejects the handshake.
void check_hosted_here(const YamlValue& reference, const Workload& w, const std::string& node) {
  if (!w.node.empty() && w.node != node) {
    reference.fail(
        fmt::format("workload {} runs on node '{}', not on this node '{}'", w.uid(), w.node, node));
  }
}

class ConfigReader {
 public:
  explicit ConfigReader(const std::string& source) { config_.source = source; }

  LocalConfig read(const YAML::Node& root) {
    YamlObject doc(
        root, std::make_shared<ConfigLocation>(ConfigLocation{config_.source, "", {}}), "",
        {"node", "trustDomain", "trustBundle", "workloads", "services", "authorizationPolicies",
         "certificates", "listeners", "namespaces", "certificateAuthority"});
    config_.node = doc.required("node").string();
    if (auto td = doc.optional("trustDomain")) {
      check_trust_domain(*td);
      config_.trust_domain = td->string();
    }
    config_.trust_bundle = doc.string_or("trustBundle", "");
    if (auto ca = doc.optional("certificateAuthority")) {
      auto o = ca->object({"certificate", "privateKey"});
      config_.certificate_authority = CertificateAuthorityPaths{o.required("certificate").string(),
                                                                o.required("privateKey").string()};
    }
    // Namespaces first: whether a pod is in the mesh follows its namespace's labels.
    for_each_item(doc, "namespaces", [&](const YamlValue& v, size_t) { read_namespace(v); });
    for_each_item(doc, "workloads", [&](const YamlValue& v, size_t) { read_workload(v); });
    for_each_item(doc, "services", [&](const YamlValue& v, size_t) { read_service(v); });
    for_each_item(doc, "authorizationPolicies",
                  [&](const YamlValue& v, size_t) { read_policy(v); });
    for_each_item(doc, "certificates", [&](const YamlValue& v, size_t) { read_certificate(v); });
    for_each_item(doc, "listeners", [&](const YamlValue& v, size_t) { read_listener(v); });
    return std::move(config_);
  }

 private:
  void read_namespace(const YamlValue& item) {
    auto o = item.item_object({"name", "labels"});
    NamespaceConfig ns;
    ns.name = o.required("name").kubernetes_name();
    o.name_object(ns.name);
    if (auto labels = o.optional("labels")) ns.labels = labels->string_map();
    for (const auto& existing : config_.namespaces) {
      if (existing.name == ns.name)
        item.fail(fmt::format("namespace {} is defined twice", ns.name));
    }
    config_.namespaces.push_back(std::move(ns));
  }

  // In a declared namespace, a pod is in the mesh when the namespace is enrolled
  // (dataplane-mode=ambient) and the pod does not opt out (dataplane-mode=none); elsewhere it is
  // in the mesh unless it says `mesh: false`.
  bool in_mesh_by_labels(const Workload& w, bool default_value) const {
    for (const auto& ns : config_.namespaces) {
      if (ns.name != w.ns) continue;
      for (const char* key : {"ambit.io/dataplane-mode", "istio.io/dataplane-mode"}) {
        auto it = w.labels.find(key);
        if (it != w.labels.end() && it->second == "none") return false;
      }
      return ns.ambient();
    }
    return default_value;
  }

  void read_workload(const YamlValue& item) {
    auto o = item.item_object({"name", "namespace", "serviceAccount", "node", "addresses",
                               "hboneAddress", "labels", "peerAuthentication", "mesh",
                               "certificate", "privateKey", "netns", "cgroup"});
    Workload w;
    w.name = o.required("name").kubernetes_name();
    w.ns = o.required("namespace").kubernetes_name();
    o.name_object(w.uid());
    // Kubernetes runs a pod without a service account as "default".
    auto sa = o.optional("serviceAccount");
    w.service_account = sa ? sa->kubernetes_name() : "default";
    w.node = o.string_or("node", "");
    auto addresses = o.required("addresses");
    w.addresses = addresses.ips();
    if (w.addresses.empty()) addresses.fail("a workload needs at least one address");
    if (auto labels = o.optional("labels")) w.labels = labels->string_map();
    if (auto mode = o.optional("peerAuthentication")) {
      auto parsed = ztunnel::parse_peer_auth_mode(mode->string());
      if (!parsed) mode->fail(parsed.error().message);
      w.peer_auth = *parsed;
    }
    if (auto mesh = o.optional("mesh")) {
      w.mesh = mesh->boolean();
    } else {
      w.mesh = in_mesh_by_labels(w, true);
    }
    auto netns = o.optional("netns");
    auto cgroup = o.optional("cgroup");
    if (netns && !cgroup)
      o.fail_field("cgroup", "required when netns is set (in-pod capture needs both)");
    if (cgroup && !netns)
      o.fail_field("netns", "required when cgroup is set (in-pod capture needs both)");
    if (netns) {
      // Kept for pods of other nodes too (one file can serve every node); only the pod's
      // own node uses it.
      config_.sandboxes[w.uid()] = SandboxPaths{netns->string(), cgroup->string()};
    }
    if (auto hbone = o.optional("hboneAddress")) {
      w.hbone_address = hbone->socket_address();
    } else if (w.mesh) {
      w.hbone_address = SocketAddress(w.addresses.front(), kHbonePort);
    }
    w.identity = Identity(config_.trust_domain, w.ns, w.service_account);

    auto certificate = o.optional("certificate");
    auto key = o.optional("privateKey");
    if (certificate && !key) o.fail_field("privateKey", "required when certificate is set");
    if (key && !certificate) o.fail_field("certificate", "required when privateKey is set");
    if (certificate) {
      check_hosted_here(*certificate, w, config_.node);
      add_certificate(*certificate, {w.uid(), certificate->string(), key->string()});
    }

    if (auto added = validation_table_.add_workload(w); !added) o.fail(added.error().message);
    workload_index_.emplace(w.uid(), config_.workloads.size());
    config_.workloads.push_back(std::move(w));
  }

  void read_service(const YamlValue& item) {
    auto o = item.item_object({"name", "namespace", "addresses", "ports", "selector"});
    Service s;
    s.name = o.required("name").kubernetes_name();
    s.ns = o.required("namespace").kubernetes_name();
    o.name_object(s.uid());
    auto addresses = o.required("addresses");
    s.vips = addresses.ips();
    if (s.vips.empty()) addresses.fail("a service needs at least one address");
    auto ports = o.required("ports");
    for (const auto& port_item : ports.items()) {
      auto p = port_item.object({"port", "targetPort"});
      uint16_t port = p.required("port").port();
      auto target = p.optional("targetPort");
      s.ports.push_back({port, target ? target->port() : port});
    }
    if (s.ports.empty()) ports.fail("a service needs at least one port");
    if (auto selector = o.optional("selector")) s.selector = selector->string_map();

    if (auto added = validation_table_.add_service(s); !added) o.fail(added.error().message);
    config_.services.push_back(std::move(s));
  }

  // Istio's AuthorizationPolicy is read by the controller's reader and converted as the
  // controller's view and the agent's pushed path do, so a policy means one thing everywhere.
  void read_policy(const YamlValue& item) {
    auto model = controller::config::read_listed_authorization_policy(item);
    // Strict reading has already refused the actions views leave out (AUDIT, CUSTOM).
    auto resource = controller::config::authorization_policy_resource(model);
    if (!resource) item.fail("the policy's action is not enforced by ambit");
    auto policy = engine_policy(*resource);
    if (!policy) item.fail(policy.error().message);
    for (const auto& existing : config_.policies) {
      if (existing.uid() == policy->uid()) {
        item.fail(fmt::format("authorization policy {} is defined twice", policy->uid()));
      }
    }
    config_.policies.push_back(std::move(*policy));
  }

  void read_certificate(const YamlValue& item) {
    auto o = item.item_object({"workload", "certificate", "privateKey"});
    auto workload = o.required("workload");
    o.name_object(workload.string());
    check_hosted_here(workload, find_workload(workload), config_.node);
    auto certificate = o.required("certificate");
    add_certificate(certificate,
                    {workload.string(), certificate.string(), o.required("privateKey").string()});
  }

  void read_listener(const YamlValue& item) {
    auto o = item.item_object({"kind", "address", "workload", "destination"});
    ListenerConfig listener;
    auto kind = o.required("kind");
    std::string kind_text = kind.string();
    if (kind_text == "outbound") {
      listener.kind = ListenerKind::kOutbound;
    } else if (kind_text == "inbound") {
      listener.kind = ListenerKind::kInbound;
    } else if (kind_text == "inboundPlaintext") {
      listener.kind = ListenerKind::kInboundPlaintext;
    } else {
      kind.fail(fmt::format("'{}' is not a listener kind (outbound | inbound | inboundPlaintext)",
                            kind_text));
    }
    // Port 0 is allowed: tests bind ephemeral ports.
    auto address = o.required("address");
    listener.address = address.socket_address(/*allow_port_zero=*/true);
    o.name_object(listener.address.to_string());

    auto workload = listener.kind == ListenerKind::kInbound ? o.optional("workload")
                                                            : std::optional(o.required("workload"));
    if (workload) {
      check_hosted_here(*workload, find_workload(*workload), config_.node);
      listener.workload = workload->string();
    }
    if (auto destination = o.optional("destination")) {
      if (listener.kind == ListenerKind::kInbound) {
        destination->fail("an inbound (HBONE) listener takes its destination from each CONNECT");
      }
      listener.destination = destination->socket_address();
    }
    for (const auto& other : config_.listeners) {
      if (listener.address.port() != 0 && other.address == listener.address) {
        address.fail(fmt::format("another listener already uses {}", listener.address.to_string()));
      }
    }
    config_.listeners.push_back(std::move(listener));
  }

  const Workload& find_workload(const YamlValue& reference) {
    std::string uid = reference.string();
    auto it = workload_index_.find(uid);
    if (it == workload_index_.end()) {
      reference.fail(fmt::format("no workload '{}' (write it as <namespace>/<name>)", uid));
    }
    return config_.workloads[it->second];
  }

  void add_certificate(const YamlValue& where, CertificatePaths paths) {
    for (const auto& existing : config_.certificates) {
      if (existing.workload == paths.workload) {
        where.fail(fmt::format("workload {} already has a certificate", paths.workload));
      }
    }
    config_.certificates.push_back(std::move(paths));
  }

  LocalConfig config_;
  std::map<std::string, size_t> workload_index_;
  // Built alongside so conflicts (duplicate uids, shared addresses, VIPs) are reported against
  // the object and line that introduced them.
  WorkloadTable validation_table_;
};

std::string resolve_against(const std::filesystem::path& base, const std::string& path) {
  if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (base / path).lexically_normal().string();
}

}  // namespace

bool NamespaceConfig::ambient() const {
  for (const char* key : {"ambit.io/dataplane-mode", "istio.io/dataplane-mode"}) {
    auto it = labels.find(key);
    if (it != labels.end() && it->second == "ambient") return true;
  }
  return false;
}

std::string_view to_string(ListenerKind kind) {
  switch (kind) {
    case ListenerKind::kOutbound:
      return "outbound";
    case ListenerKind::kInbound:
      return "inbound";
    case ListenerKind::kInboundPlaintext:
      return "inboundPlaintext";
    case ListenerKind::kExtension:
      return "extension";
  }
  return "unknown";
}

Result<LocalConfig> parse_local_config(std::string_view yaml, const std::string& source_name) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    return ConfigReader(source_name).read(root);
  } catch (const ConfigError& e) {
    return Error{e.message};
  } catch (const YAML::Exception& e) {
    return Error{
        describe_config_problem({source_name, "", {}}, "", e.mark, "invalid YAML: " + e.msg)};
  } catch (const std::exception& e) {
    return Error::format("{}: {}", source_name, e.what());
  }
}

Result<LocalConfig> load_local_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error::format("{}: cannot open: {}", path, std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return Error::format("{}: cannot read: {}", path, std::strerror(errno));

  auto config = parse_local_config(text.str(), path);
  if (!config) return config;
  auto base = std::filesystem::path(path).parent_path();
  config->trust_bundle = resolve_against(base, config->trust_bundle);
  if (auto& ca = config->certificate_authority) {
    ca->certificate = resolve_against(base, ca->certificate);
    ca->private_key = resolve_against(base, ca->private_key);
  }
  for (auto& c : config->certificates) {
    c.certificate = resolve_against(base, c.certificate);
    c.private_key = resolve_against(base, c.private_key);
  }
  return config;
}

Result<WorkloadTable> build_workload_table(const LocalConfig& config) {
  WorkloadTable table;
  std::string prefix = config.source.empty() ? "" : config.source + ": ";
  for (size_t i = 0; i < config.workloads.size(); ++i) {
    const auto& w = config.workloads[i];
    if (auto added = table.add_workload(w); !added) {
      return Error::format("{}workloads[{}] \"{}\": {}", prefix, i, w.uid(), added.error().message);
    }
  }
  for (size_t i = 0; i < config.services.size(); ++i) {
    const auto& s = config.services[i];
    if (auto added = table.add_service(s); !added) {
      return Error::format("{}services[{}] \"{}\": {}", prefix, i, s.uid(), added.error().message);
    }
  }
  return table;
}

}  // namespace ambit::agent
