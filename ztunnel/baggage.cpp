#include "ztunnel/baggage.h"

#include <array>
#include <utility>

#include "core/http_text.h"

namespace ambit::ztunnel {
namespace {

std::string first_label(const Labels& labels, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    if (auto it = labels.find(k); it != labels.end() && !it->second.empty()) return it->second;
  }
  return {};
}

}  // namespace

Baggage baggage_of(const Workload& w) {
  Baggage b;
  b.ns = w.ns;
  b.workload_name = w.name;
  b.service_name =
      first_label(w.labels, {"service.istio.io/canonical-name", "app.kubernetes.io/name", "app"});
  if (b.service_name.empty()) b.service_name = w.name;
  b.service_version = first_label(
      w.labels, {"service.istio.io/canonical-revision", "app.kubernetes.io/version", "version"});
  if (b.service_version.empty()) b.service_version = "latest";
  return b;
}

std::string format_baggage(const Baggage& b) {
  const std::array<std::pair<const char*, const std::string*>, 5> fields{{
      {"k8s.cluster.name", &b.cluster},
      {"k8s.namespace.name", &b.ns},
      {"k8s.pod.name", &b.workload_name},
      {"service.name", &b.service_name},
      {"service.version", &b.service_version},
  }};
  std::string out;
  for (const auto& [key, value] : fields) {
    if (value->empty()) continue;
    if (!out.empty()) out += ',';
    out.append(key).append("=").append(*value);
  }
  return out;
}

Baggage parse_baggage(std::string_view header) {
  Baggage b;
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view member = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    // Properties after ';' carry nothing ztunnel uses.
    member = member.substr(0, member.find(';'));
    size_t eq = member.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = trim_ows(member.substr(0, eq)), value = trim_ows(member.substr(eq + 1));
    if (value.empty()) continue;
    if (key == "k8s.cluster.name") {
      b.cluster = value;
    } else if (key == "k8s.namespace.name") {
      b.ns = value;
    } else if (key.starts_with("k8s.") && key.ends_with(".name") && key.size() > 9) {
      b.workload_name = value;
    } else if (key == "service.name") {
      b.service_name = value;
    } else if (key == "service.version") {
      b.service_version = value;
    }
  }
  return b;
}

}  // namespace ambit::ztunnel
