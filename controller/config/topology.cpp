#include "controller/config/topology.h"

#include <fmt/format.h>

#include <algorithm>

namespace ambit::controller::config {

std::string service_fqdn(std::string_view name, std::string_view ns) {
  return fmt::format("{}.{}.svc.{}", name, ns, kClusterDomain);
}

std::string expand_host(std::string_view host, std::string_view from_ns) {
  if (host.empty() || host.front() == '*') return std::string(host);
  auto dots = std::count(host.begin(), host.end(), '.');
  if (dots == 0) return service_fqdn(host, from_ns);
  constexpr std::string_view kSvc = ".svc";
  if (dots == 2 && host.size() > kSvc.size() && host.substr(host.size() - kSvc.size()) == kSvc) {
    return fmt::format("{}.{}", host, kClusterDomain);
  }
  return std::string(host);
}

namespace {

bool wildcard_covers(std::string_view pattern, std::string_view host) {
  if (pattern == "*") return true;
  if (pattern.size() < 2 || pattern.substr(0, 2) != "*.") return false;
  std::string_view suffix = pattern.substr(1);  // ".example.com"
  return host.size() > suffix.size() && host.substr(host.size() - suffix.size()) == suffix;
}

}  // namespace

bool hosts_match(std::string_view a, std::string_view b) {
  return a == b || wildcard_covers(a, b) || wildcard_covers(b, a);
}

bool selector_matches(const StringMap& selector, const StringMap& labels) {
  return std::all_of(selector.begin(), selector.end(), [&](const auto& kv) {
    auto it = labels.find(kv.first);
    return it != labels.end() && it->second == kv.second;
  });
}

std::string label_or_empty(const StringMap& labels, std::string_view key) {
  auto it = labels.find(std::string(key));
  return it == labels.end() ? std::string() : it->second;
}

std::optional<WaypointReference> waypoint_label(const ObjectMeta& meta) {
  for (const char* prefix : {"ambit.io", "istio.io"}) {
    std::string key = fmt::format("{}/use-waypoint", prefix);
    std::string name = label_or_empty(meta.labels, key);
    if (name.empty()) continue;
    if (name == "none") return WaypointReference{"", key};
    std::string ns = label_or_empty(meta.labels, fmt::format("{}/use-waypoint-namespace", prefix));
    if (ns.empty()) ns = meta.ns.empty() ? meta.name : meta.ns;  // a Namespace's own name
    return WaypointReference{ns + "/" + name, key};
  }
  return std::nullopt;
}

Topology::Topology(const ConfigModel& model) : model_(model) {
  for (const auto& pod : model_.pods) {
    pods_by_ns_[pod.meta.ns].push_back(&pod);
    for (const auto& [key, value] : pod.meta.labels) {
      pods_by_label_[pod.meta.ns + '\0' + key + '\0' + value].push_back(&pod);
    }
  }
  for (const auto& s : model_.services) {
    services_by_ns_[s.meta.ns].push_back(&s);
    services_by_name_.emplace(ServiceKey{s.meta.name, s.meta.ns}, &s);
    if (waypoint_label(s.meta)) services_name_waypoint_[s.meta.ns] = true;
  }
  for (const auto& ns : model_.namespaces) namespaces_.emplace(ns.meta.name, &ns);  // first wins
}

const Namespace* Topology::find_namespace(std::string_view name) const {
  auto it = namespaces_.find(std::string(name));
  return it == namespaces_.end() ? nullptr : it->second;
}

bool Topology::namespace_ambient(std::string_view name) const {
  const Namespace* ns = find_namespace(name);
  if (ns == nullptr) return false;
  return label_or_empty(ns->meta.labels, "ambit.io/dataplane-mode") == "ambient" ||
         label_or_empty(ns->meta.labels, "istio.io/dataplane-mode") == "ambient";
}

bool Topology::pod_in_mesh(const Pod& pod) const {
  if (!namespace_ambient(pod.meta.ns)) return false;
  return label_or_empty(pod.meta.labels, "ambit.io/dataplane-mode") != "none" &&
         label_or_empty(pod.meta.labels, "istio.io/dataplane-mode") != "none";
}

std::vector<const Pod*> Topology::selected_pods(std::string_view ns,
                                                const std::optional<StringMap>& selector,
                                                bool root_is_mesh_wide) const {
  bool all_namespaces = root_is_mesh_wide && ns == kRootNamespace;
  std::vector<const Pod*> out;
  if (all_namespaces) {
    for (const auto& pod : model_.pods) {
      if (!selector || selector_matches(*selector, pod.meta.labels)) out.push_back(&pod);
    }
    return out;
  }
  const std::vector<const Pod*>* candidates = nullptr;
  if (selector && !selector->empty()) {
    const auto& [key, value] = *selector->begin();
    auto it = pods_by_label_.find(std::string(ns) + '\0' + key + '\0' + value);
    if (it == pods_by_label_.end()) return out;
    candidates = &it->second;
  } else {
    auto it = pods_by_ns_.find(std::string(ns));
    if (it == pods_by_ns_.end()) return out;
    candidates = &it->second;
  }
  for (const Pod* pod : *candidates) {
    if (!selector || selector_matches(*selector, pod->meta.labels)) out.push_back(pod);
  }
  return out;
}

std::vector<const Service*> Topology::services_of(const Pod& pod) const {
  std::vector<const Service*> out;
  auto in_ns = services_by_ns_.find(pod.meta.ns);
  if (in_ns == services_by_ns_.end()) return out;
  for (const Service* s : in_ns->second) {
    if (!s->selector.empty() && selector_matches(s->selector, pod.meta.labels)) out.push_back(s);
  }
  return out;
}

size_t Topology::ServiceKeyHash::operator()(const ServiceKey& k) const {
  std::hash<std::string_view> hash;
  return hash(k.name) * 31 + hash(k.ns);
}

std::vector<const Service*> Topology::services_with_fqdn(std::string_view fqdn) const {
  std::vector<const Service*> out;
  std::string suffix = fmt::format(".svc.{}", kClusterDomain);
  if (!fqdn.ends_with(suffix)) return out;
  std::string_view name_ns = fqdn.substr(0, fqdn.size() - suffix.size());
  // Names may have dots (and our reader lets namespaces have them): try every split.
  for (auto dot = name_ns.find('.'); dot != std::string_view::npos;
       dot = name_ns.find('.', dot + 1)) {
    auto [first, last] =
        services_by_name_.equal_range(ServiceKey{name_ns.substr(0, dot), name_ns.substr(dot + 1)});
    for (auto it = first; it != last; ++it) out.push_back(it->second);
  }
  return out;
}

std::vector<const Service*> Topology::services_for_host(std::string_view host,
                                                        std::string_view from_ns) const {
  std::string expanded = expand_host(host, from_ns);
  std::vector<const Service*> out;
  if (expanded.find('*') == std::string::npos) {
    // Equal to the FQDN, or "<name>.<ns>" as written.
    auto add = [&](const std::string& fqdn) {
      auto found = services_with_fqdn(fqdn);
      out.insert(out.end(), found.begin(), found.end());
    };
    add(expanded);
    if (std::count(host.begin(), host.end(), '.') >= 1) {
      add(fmt::format("{}.svc.{}", host, kClusterDomain));
    }
    std::sort(out.begin(), out.end());  // model order: the services are one vector
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }
  for (const auto& s : model_.services) {
    if (hosts_match(expanded, service_fqdn(s.meta.name, s.meta.ns)) ||
        host == fmt::format("{}.{}", s.meta.name, s.meta.ns)) {
      out.push_back(&s);
    }
  }
  return out;
}

std::vector<const ServiceEntry*> Topology::service_entries_for_host(
    std::string_view host, std::string_view from_ns) const {
  std::string expanded = expand_host(host, from_ns);
  std::vector<const ServiceEntry*> out;
  for (const auto& se : model_.service_entries) {
    for (const auto& h : se.hosts) {
      if (hosts_match(host, h) || hosts_match(expanded, expand_host(h, se.meta.ns))) {
        out.push_back(&se);
        break;
      }
    }
  }
  return out;
}

bool Topology::host_known(std::string_view host, std::string_view from_ns) const {
  return !services_for_host(host, from_ns).empty() ||
         !service_entries_for_host(host, from_ns).empty();
}

std::vector<const DestinationRule*> Topology::destination_rules_for_host(
    std::string_view host, std::string_view from_ns) const {
  std::string expanded = expand_host(host, from_ns);
  std::vector<const DestinationRule*> out;
  for (const auto& dr : model_.destination_rules) {
    if (hosts_match(expanded, expand_host(dr.host, dr.meta.ns))) out.push_back(&dr);
  }
  return out;
}

const Waypoint* Topology::find_waypoint(std::string_view uid) const {
  for (const auto& w : model_.waypoints) {
    if (w.meta.uid() == uid) return &w;
  }
  return nullptr;
}

std::string Topology::resolve_waypoint(const std::optional<WaypointReference>& own,
                                       std::string_view ns) const {
  std::optional<WaypointReference> ref = own;
  if (!ref) {
    if (const Namespace* n = find_namespace(ns)) ref = waypoint_label(n->meta);
  }
  if (!ref || ref->uid.empty() || find_waypoint(ref->uid) == nullptr) return "";
  return ref->uid;
}

std::string Topology::waypoint_of(const Service& service) const {
  return resolve_waypoint(waypoint_label(service.meta), service.meta.ns);
}

std::string Topology::waypoint_of(const Pod& pod) const {
  auto own = waypoint_label(pod.meta);
  if (!own && services_name_waypoint_.contains(pod.meta.ns)) {
    auto services = services_of(pod);
    std::sort(services.begin(), services.end(),
              [](auto* a, auto* b) { return a->meta.name < b->meta.name; });
    for (const Service* s : services) {
      if ((own = waypoint_label(s->meta))) break;
    }
  }
  return resolve_waypoint(own, pod.meta.ns);
}

}  // namespace ambit::controller::config
