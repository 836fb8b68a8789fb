#include "controller/config/loader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "controller/config/parse_context.h"

namespace ambit::controller::config {
namespace {

namespace fs = std::filesystem;

using Reader = void (*)(const YamlObject&, ObjectMeta, ParseContext&, ConfigModel&);

struct KindEntry {
  std::string_view group;  // apiVersion without the version ("" for core v1)
  std::string_view kind;
  std::vector<std::string_view> versions;
  Reader read;  // null: understood, not acted on (ignored with a warning)
  bool cluster_scoped = false;
  std::string_view why_ignored = {};
};

const std::vector<KindEntry>& kinds() {
  static const std::vector<std::string_view> kIstioNet = {"v1alpha3", "v1beta1", "v1"};
  static const std::vector<std::string_view> kIstioSec = {"v1beta1", "v1"};
  static const std::vector<std::string_view> kGatewayApi = {"v1", "v1beta1", "v1alpha2"};
  static const std::vector<std::string_view> kApps = {"v1"};
  static const std::vector<std::string_view> kV1 = {"v1"};
  static const std::vector<KindEntry> all = {
      {"", "Namespace", kV1, read_namespace, true},
      {"", "ServiceAccount", kV1, read_service_account},
      {"", "Pod", kV1, read_pod},
      {"", "Service", kV1, read_service},
      {"networking.istio.io", "VirtualService", kIstioNet, read_virtual_service},
      {"networking.istio.io", "DestinationRule", kIstioNet, read_destination_rule},
      {"networking.istio.io", "ServiceEntry", kIstioNet, read_service_entry},
      {"security.istio.io", "PeerAuthentication", kIstioSec, read_peer_authentication},
      {"security.istio.io", "AuthorizationPolicy", kIstioSec, read_authorization_policy},
      {"linkerd.io", "ServiceProfile", {"v1alpha2", "v1alpha1"}, read_service_profile},
      {"split.smi-spec.io",
       "TrafficSplit",
       {"v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4"},
       read_traffic_split},
      {"gateway.networking.k8s.io", "HTTPRoute", kGatewayApi, read_http_route},
      {"gateway.networking.k8s.io", "GRPCRoute", {"v1", "v1alpha2"}, read_grpc_route},
      {"gateway.networking.k8s.io", "TCPRoute", {"v1alpha2"}, read_tcp_route},
      // Only its envoy.filters.http.local_ratelimit patches are acted on (local_rate_limit.cpp).
      {"networking.istio.io", "EnvoyFilter", kIstioNet, read_envoy_filter},
      {"ambit.io", "LocalRateLimit", {"v1alpha1"}, read_local_rate_limit},
      // Understood, not acted on.
      {"", "ConfigMap", kV1, nullptr, false, "ambit has no sidecar injector to configure"},
      {"", "Secret", kV1, nullptr, false, "ambit does not read Secrets"},
      {"apps", "Deployment", kApps, nullptr, false,
       "standalone mode does not run controllers; declare its workloads as Pods"},
      {"apps", "StatefulSet", kApps, nullptr, false,
       "standalone mode does not run controllers; declare its workloads as Pods"},
      {"apps", "DaemonSet", kApps, nullptr, false,
       "standalone mode does not run controllers; declare its workloads as Pods"},
      {"apps", "ReplicaSet", kApps, nullptr, false,
       "standalone mode does not run controllers; declare its workloads as Pods"},
      {"networking.istio.io", "Gateway", kIstioNet, nullptr, false,
       "ingress/east-west gateways are not part of ambit"},
      {"networking.istio.io", "Sidecar", kIstioNet, nullptr, false, "ambit has no sidecars"},
      {"networking.istio.io", "WorkloadEntry", kIstioNet, nullptr, false,
       "declare non-Kubernetes workloads as Pods in standalone mode"},
      {"networking.istio.io", "WorkloadGroup", kIstioNet, nullptr, false, "not supported yet"},
      {"security.istio.io", "RequestAuthentication", kIstioSec, nullptr, false,
       "JWT authentication is not supported yet"},
      {"telemetry.istio.io",
       "Telemetry",
       {"v1alpha1", "v1"},
       nullptr,
       false,
       "telemetry is not configurable yet"},
  };
  return all;
}

bool is_gateway_api_gateway(std::string_view group, std::string_view kind) {
  return group == "gateway.networking.k8s.io" && kind == "Gateway";
}

void split_api_version(const std::string& api_version, std::string& group, std::string& version) {
  auto slash = api_version.find('/');
  if (slash == std::string::npos) {
    group.clear();
    version = api_version;
  } else {
    group = api_version.substr(0, slash);
    version = api_version.substr(slash + 1);
  }
}

ObjectMeta read_metadata(const YamlObject& root, std::string api_version, std::string kind,
                         bool cluster_scoped) {
  ObjectMeta meta;
  meta.api_version = std::move(api_version);
  meta.kind = std::move(kind);
  meta.file = root.where().file;
  meta.line = root.line();
  auto metadata = root.required("metadata")
                      .object({"name", "namespace", "labels", "annotations", "uid",
                               "resourceVersion", "generation", "creationTimestamp",
                               "ownerReferences", "finalizers", "generateName", "managedFields",
                               "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"});
  auto name = metadata.required("name");
  // ServiceProfile names are FQDNs; every name is a DNS-1123 subdomain either way.
  meta.name = name.kubernetes_name();
  if (!cluster_scoped) {
    auto ns = metadata.optional("namespace");
    meta.ns = ns ? ns->kubernetes_name() : "default";
  }
  if (auto labels = metadata.optional("labels")) meta.labels = labels->string_map();
  if (auto annotations = metadata.optional("annotations")) {
    meta.annotations = annotations->string_map();
  }
  meta.creation_timestamp = metadata.string_or("creationTimestamp", "");
  return meta;
}

void read_document(const YAML::Node& doc, const std::string& file, int first_line,
                   ConfigSnapshot& snapshot) {
  ParseContext ctx(snapshot.diagnostics);
  auto where = std::make_shared<ConfigLocation>();
  where->file = file;
  where->first_line = first_line;
  // Security kinds fail closed: a field we do not know (misspelt, or from a newer Istio) may be
  // what narrows the policy, and dropping it would apply a wider one.
  bool security_kind = false;
  where->on_unknown_field = [&ctx, &security_kind](const ConfigError& problem) {
    if (!security_kind) return ctx.report(codes::kUnknownField, Severity::kWarning, problem);
    ConfigError refused = problem;
    refused.problem += "; in a security policy an unknown field refuses the object, since "
                       "ignoring it could widen what the policy allows";
    ctx.report(codes::kUnknownField, Severity::kError, refused);
  };
  try {
    YamlValue whole(doc, where, "");
    if (!doc.IsMap()) whole.fail("a document must be a mapping with apiVersion and kind");
    // The kind decides which top-level fields exist, so read it before checking them.
    auto peek = [&](const char* key) -> std::string {
      auto node = doc[key];
      if (!node || !node.IsScalar()) {
        whole.fail(fmt::format("'{}' is required and must be a single value", key));
      }
      return node.Scalar();
    };
    std::string api_version = peek("apiVersion");
    std::string kind = peek("kind");
    std::string group, version;
    split_api_version(api_version, group, version);
    if (group.empty() && version == "v1" && kind == "List") {  // `kubectl get -o yaml`
      auto list = YamlObject(doc, where, "", {"apiVersion", "kind", "items", "metadata"});
      if (auto items = list.optional("items")) {
        for (const auto& item : items->items()) {
          read_document(item.node(), file, first_line, snapshot);
        }
      }
      return;
    }

    const KindEntry* entry = nullptr;
    bool version_known = false;
    for (const auto& k : kinds()) {
      if (k.group == group && k.kind == kind) {
        entry = &k;
        version_known =
            std::find(k.versions.begin(), k.versions.end(), version) != k.versions.end();
      }
    }
    bool waypoint_candidate = is_gateway_api_gateway(group, kind);
    security_kind = group == "security.istio.io";
    if (security_kind && entry == nullptr) {
      // A misspelt kind ("AuthorizaionPolicy") would otherwise drop the policy unnoticed.
      ctx.error(codes::kUnknownKind, whole,
                fmt::format("{} is not a kind of {} that ambit knows (AuthorizationPolicy, "
                            "PeerAuthentication, RequestAuthentication); the object is refused",
                            kind, group));
      return;
    }
    if (security_kind && !version_known) {
      // Not applying a policy is as wrong as applying a wider one: an error, not an ignore.
      ctx.error(codes::kUnknownKind, whole,
                fmt::format("{} {} is not a supported version of {} (supported: {}); the policy "
                            "is refused",
                            api_version, kind, kind, fmt::join(entry->versions, ", ")));
      return;
    }
    if (!waypoint_candidate && (entry == nullptr || !version_known)) {
      ctx.warning(codes::kUnknownKind, whole,
                  entry == nullptr ? fmt::format("unknown kind {} ({}); ignored", kind, api_version)
                                   : fmt::format("{} {} is not a supported version of {}; ignored",
                                                 api_version, kind, kind));
      return;
    }
    if (!waypoint_candidate && entry->read == nullptr) {
      // Not checked field by field: its schema is not ours.
      auto lenient = std::make_shared<ConfigLocation>(ConfigLocation{file, "", {}, first_line});
      lenient->on_unknown_field = [](const ConfigError&) {};
      YamlObject any_root(doc, lenient, "", {"metadata"});
      ObjectMeta meta = read_metadata(any_root, api_version, kind, entry->cluster_scoped);
      where->object = meta.describe();
      ctx.warning(codes::kIgnoredKind, whole,
                  fmt::format("{} is not used by ambit ({}); ignored", kind, entry->why_ignored));
      snapshot.model.ignored.push_back({std::move(meta)});
      return;
    }
    YamlObject root(doc, where, "", {"apiVersion", "kind", "metadata", "spec", "status"});
    bool cluster_scoped = entry != nullptr && entry->cluster_scoped;
    ObjectMeta meta = read_metadata(root, api_version, kind, cluster_scoped);
    where->object = meta.describe();
    if (waypoint_candidate) {
      if (!read_gateway(root, meta, ctx, snapshot.model)) {
        ctx.warning(codes::kIgnoredKind, whole,
                    "a Gateway whose gatewayClassName is not ambit-waypoint is not used by "
                    "ambit; ignored");
        snapshot.model.ignored.push_back({std::move(meta)});
      }
      return;
    }
    entry->read(root, std::move(meta), ctx, snapshot.model);
  } catch (const ConfigError& e) {
    ctx.report(codes::kInvalidObject, Severity::kError, e);
  }
}

bool is_document_marker(std::string_view line, std::string_view marker) {
  return line.starts_with(marker) &&
         (line.size() == 3 || std::string_view(" \t\r\n").find(line[3]) != std::string_view::npos);
}

// Calls read(document_text, first_line) for each document of a YAML stream, until it returns
// false. A document starts at a `---` line or after a `...` line; comments and directives before
// a `---` belong to the document it starts. Parsing one document at a time keeps only its nodes
// alive (yaml-cpp's nodes take ~100 times the text they come from). A marker at the start of a
// line ends any scalar in YAML, so cutting there reads what a parse of the whole stream reads.
template <typename Read>
void for_each_document(std::string_view text, Read&& read) {
  size_t start = 0, pos = 0;
  int first_line = 0, line_number = 0;
  bool has_content = false;
  auto emit = [&](size_t end, size_t next_start, int next_line) {
    bool go_on = true;
    if (end > start) go_on = read(text.substr(start, end - start), first_line);
    start = next_start;
    first_line = next_line;
    has_content = false;
    return go_on;
  };
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    size_t next = eol == std::string_view::npos ? text.size() : eol + 1;
    std::string_view line = text.substr(pos, next - pos);
    if (is_document_marker(line, "---")) {
      if (has_content && !emit(pos, pos, line_number)) return;
      has_content = true;
    } else if (is_document_marker(line, "...")) {
      if (!emit(next, next, line_number + 1)) return;
    } else if (!has_content) {
      auto first = line.find_first_not_of(" \t\r\n");
      has_content = first != std::string_view::npos && line[first] != '#' && line[0] != '%';
    }
    pos = next;
    ++line_number;
  }
  emit(text.size(), text.size(), line_number);
}

Result<std::vector<std::string>> expand_paths(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const auto& path : paths) {
    std::error_code ec;
    auto status = fs::status(path, ec);
    if (ec || !fs::exists(status)) return Error::format("{}: no such file or directory", path);
    if (!fs::is_directory(status)) {
      files.push_back(path);
      continue;
    }
    std::vector<std::string> in_dir;
    for (const auto& e : fs::directory_iterator(path, ec)) {
      auto ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) {
        in_dir.push_back(e.path().string());
      }
    }
    if (ec) return Error::format("{}: cannot list: {}", path, ec.message());
    // As kubectl apply -f: a directory given is meant to hold configuration.
    if (in_dir.empty()) return Error::format("{}: no .yaml or .yml files in the directory", path);
    std::sort(in_dir.begin(), in_dir.end());
    files.insert(files.end(), in_dir.begin(), in_dir.end());
  }
  return files;
}

}  // namespace

Result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return Error::format("{}: cannot read", path);
  std::string text;
  if (auto size = in.tellg(); size >= 0) {  // a regular file: one allocation of its size
    text.resize(static_cast<size_t>(size));
    in.seekg(0);
    in.read(text.data(), size);
    text.resize(static_cast<size_t>(in.gcount()));  // shorter if it shrank meanwhile
  } else {  // a pipe
    in.clear();
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (in.bad() || (in.fail() && !in.eof())) return Error::format("{}: cannot read", path);
  return text;
}

void load_yaml_text(std::string_view text, const std::string& file_name, ConfigSnapshot& snapshot) {
  for_each_document(text, [&](std::string_view document, int first_line) {
    YAML::Node doc;
    try {
      doc = YAML::Load(std::string(document));
    } catch (const YAML::Exception& e) {
      Diagnostic d;
      d.code = std::string(codes::kYamlSyntax);
      d.file = file_name;
      d.line = e.mark.is_null() ? 0 : first_line + e.mark.line + 1;
      // yaml-cpp says "bad file" when it stops at its depth limit.
      d.message = dynamic_cast<const YAML::DeepRecursion*>(&e) != nullptr
                      ? fmt::format(
                            "invalid YAML: nested too deeply (the reader stops at a "
                            "depth of {})",
                            static_cast<const YAML::DeepRecursion&>(e).depth())
                      : "invalid YAML: " + e.msg;
      snapshot.diagnostics.push_back(std::move(d));
      return false;  // as kubectl: the documents after a syntax error are not read
    }
    if (doc && !doc.IsNull()) read_document(doc, file_name, first_line, snapshot);
    return true;
  });
}

Result<ConfigSnapshot> load_config(const std::vector<std::string>& paths) {
  auto files = expand_paths(paths);
  if (!files) return files.error();
  ConfigSnapshot snapshot;
  for (const auto& file : *files) {
    auto text = read_text_file(file);
    if (!text) return text.error();
    snapshot.files.push_back(file);
    load_yaml_text(*text, file, snapshot);
  }
  sort_diagnostics(snapshot.diagnostics);
  return snapshot;
}

}  // namespace ambit::controller::config
