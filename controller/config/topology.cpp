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

bool exported_to(const std::vector<std::string>& export_to, std::string_view owner_ns,
                 std::string_view viewer_ns) {
  if (export_to.empty()) return true;
  return std::any_of(export_to.begin(), export_to.end(), [&](const std::string& v) {
    return v == "*" || (v == "." && owner_ns == viewer_ns) || v == viewer_ns;
  });
}

bool exports_overlap(const std::vector<std::string>& a, std::string_view a_ns,
                     const std::vector<std::string>& b, std::string_view b_ns) {
  // The namespaces each one names ("*" for all); a viewer must be in both.
  auto viewers = [](const std::vector<std::string>& e, std::string_view ns) {
    std::vector<std::string> out;
    if (e.empty()) return std::vector<std::string>{"*"};
    for (const auto& v : e) {
      if (v == "~") continue;
      out.push_back(v == "." ? std::string(ns) : v);
    }
    return out;
  };
  auto va = viewers(a, a_ns);
  auto vb = viewers(b, b_ns);
  auto all = [](const std::vector<std::string>& v) {
    return std::find(v.begin(), v.end(), "*") != v.end();
  };
  if (va.empty() || vb.empty()) return false;
  if (all(va) || all(vb)) return true;
  return std::any_of(va.begin(), va.end(), [&](const std::string& n) {
    return std::find(vb.begin(), vb.end(), n) != vb.end();
  });
}

std::string label_or_empty(const StringMap& labels, std::string_view key) {
  auto it = labels.find(std::string(key));
  return it == labels.end() ? std::string() : it->second;
}

std::optional<WaypointReference> waypoint_label(const ObjectMeta& meta) {
  // Asked of every pod on every change: no strings made for a pod without the labels.
  static const std::string kKeys[][2] = {
      {"ambit.io/use-waypoint", "ambit.io/use-waypoint-namespace"},
      {"istio.io/use-waypoint", "istio.io/use-waypoint-namespace"}};
  if (meta.labels.empty()) return std::nullopt;
  for (const auto& [key, ns_key] : kKeys) {
    auto it = meta.labels.find(key);
    if (it == meta.labels.end() || it->second.empty()) continue;
    const std::string& name = it->second;
    if (name == "none") return WaypointReference{"", key};
    std::string ns = label_or_empty(meta.labels, ns_key);
    if (ns.empty()) ns = meta.ns.empty() ? meta.name : meta.ns;  // a Namespace's own name
    return WaypointReference{ns + "/" + name, key};
  }
  return std::nullopt;
}

Topology::Topology(const ConfigModel& model) : model_(model) {
  std::string label;  // one buffer for the keys: a string is made only for a label not seen yet
  for (const auto& pod : model_.pods) {
    pods_by_ns_[pod.meta.ns].push_back(&pod);
    for (const auto& [key, value] : pod.meta.labels) {
      label.assign(pod.meta.ns).push_back('\0');
      label.append(key).push_back('\0');
      label.append(value);
      pods_by_label_[label].push_back(&pod);
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
  // A waypoint speaks HBONE itself, whatever its namespace's or its own dataplane-mode says
  // (Istio's waypoint pods carry dataplane-mode none: they are not captured, yet are the mesh).
  if (!runs_waypoint(pod).empty()) return true;
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
      for (const Service* s : services_with_fqdn(fqdn)) {
        if (exported_to(s->export_to, s->meta.ns, from_ns)) out.push_back(s);
      }
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
    if (!exported_to(s.export_to, s.meta.ns, from_ns)) continue;
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
    if (!exported_to(se.export_to, se.meta.ns, from_ns)) continue;
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
    if (!exported_to(dr.export_to, dr.meta.ns, from_ns)) continue;
    if (hosts_match(expanded, expand_host(dr.host, dr.meta.ns))) out.push_back(&dr);
  }
  return out;
}

const Service* Topology::find_service(std::string_view name, std::string_view ns) const {
  auto it = services_by_ns_.find(std::string(ns));
  if (it == services_by_ns_.end()) return nullptr;
  for (const Service* s : it->second) {
    if (s->meta.name == name) return s;
  }
  return nullptr;
}

std::vector<std::string> Topology::attached_hosts(const GatewayRoute& route,
                                                  const ParentRef& parent) const {
  const std::string& ns = parent.ns.empty() ? route.meta.ns : parent.ns;
  std::vector<std::string> out;
  if (parent.is_service()) {
    if (find_service(parent.name, ns) != nullptr) out.push_back(service_fqdn(parent.name, ns));
    return out;
  }
  if (!parent.is_gateway()) return out;
  std::string waypoint = ns + "/" + parent.name;
  if (find_waypoint(waypoint) == nullptr) return out;
  for (const auto& s : model_.services) {
    if (waypoint_of(s) != waypoint) continue;
    std::string fqdn = service_fqdn(s.meta.name, s.meta.ns);
    bool named = route.hostnames.empty() ||
                 std::any_of(route.hostnames.begin(), route.hostnames.end(), [&](const auto& h) {
                   return hosts_match(expand_host(h, route.meta.ns), fqdn);
                 });
    if (named) out.push_back(std::move(fqdn));
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
  // A waypoint's own pod is not sent through a waypoint (its namespace may name itself).
  if (!runs_waypoint(pod).empty()) return "";
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

std::string Topology::waypoint_of(const ServiceEntry& entry) const {
  return resolve_waypoint(waypoint_label(entry.meta), entry.meta.ns);
}

std::string Topology::runs_waypoint(const Pod& pod) const {
  if (pod.meta.labels.empty() || model_.waypoints.empty()) return "";
  auto it = pod.meta.labels.find(kGatewayNameLabel);
  if (it == pod.meta.labels.end() || it->second.empty()) return "";
  std::string uid = pod.meta.ns + "/" + it->second;
  return find_waypoint(uid) != nullptr ? uid : "";
}

namespace {

template <typename Objects>
auto find_named(const Objects& objects, const TargetRef& ref) -> decltype(&objects.front()) {
  for (const auto& o : objects) {
    if (o.meta.name == ref.name && o.meta.ns == ref.ns) return &o;
  }
  return nullptr;
}

}  // namespace

bool Topology::target_exists(const TargetRef& ref) const {
  if (ref.kind == "Gateway") return find_waypoint(ref.ns + "/" + ref.name) != nullptr;
  if (ref.kind == "GatewayClass") {
    return std::any_of(model_.waypoints.begin(), model_.waypoints.end(),
                       [&](const Waypoint& w) { return w.gateway_class == ref.name; });
  }
  if (ref.kind == "Service") return find_named(model_.services, ref) != nullptr;
  if (ref.kind == "ServiceEntry") return find_named(model_.service_entries, ref) != nullptr;
  return false;
}

bool Topology::target_reaches(const TargetRef& ref, const Waypoint& waypoint) const {
  if (ref.kind == "Gateway") return ref.ns == waypoint.meta.ns && ref.name == waypoint.meta.name;
  if (ref.kind == "GatewayClass") return ref.name == waypoint.gateway_class;
  if (ref.kind == "Service") {
    const Service* s = find_named(model_.services, ref);
    return s != nullptr && waypoint_of(*s) == waypoint.meta.uid();
  }
  if (ref.kind == "ServiceEntry") {
    const ServiceEntry* e = find_named(model_.service_entries, ref);
    return e != nullptr && waypoint_of(*e) == waypoint.meta.uid();
  }
  return false;
}

namespace {

bool bypass_allowed(const ObjectMeta& meta) {
  auto it = meta.annotations.find(kWaypointBypassAnnotation);
  return it != meta.annotations.end() && it->second == "allow";
}

bool enforced_in_waypoint(const AuthorizationPolicy& ap) {
  using Action = AuthorizationPolicy::Action;
  return !ap.target_refs.empty() && !ap.dry_run &&
         (ap.action == Action::kAllow || ap.action == Action::kDeny);
}

}  // namespace

std::vector<WaypointGuard> Topology::waypoint_guards() const {
  std::vector<WaypointGuard> out;
  const auto& policies = model_.authorization_policies;
  if (std::none_of(policies.begin(), policies.end(), enforced_in_waypoint)) return out;
  // The pods behind each waypoint, with the Services through which they use it; opted-out pods
  // (themselves, their namespace, or one of those Services) left out.
  struct Served {
    const Pod* pod;
    std::vector<const Service*> services;
  };
  std::unordered_map<std::string, std::vector<Served>> served;
  for (const auto& pod : model_.pods) {
    std::string waypoint = waypoint_of(pod);
    if (waypoint.empty() || bypass_allowed(pod.meta)) continue;
    const Namespace* ns = find_namespace(pod.meta.ns);
    if (ns != nullptr && bypass_allowed(ns->meta)) continue;
    Served entry{&pod, {}};
    bool opted_out = false;
    for (const Service* s : services_of(pod)) {
      if (waypoint_of(*s) != waypoint) continue;
      opted_out |= bypass_allowed(s->meta);
      entry.services.push_back(s);
    }
    if (!opted_out) served[waypoint].push_back(std::move(entry));
  }
  for (const auto& ap : policies) {
    if (!enforced_in_waypoint(ap)) continue;
    for (const auto& w : model_.waypoints) {
      auto behind = served.find(w.meta.uid());
      if (behind == served.end()) continue;
      WaypointGuard guard{&ap, &w, {}};
      for (const Served& s : behind->second) {
        bool reached = std::any_of(ap.target_refs.begin(), ap.target_refs.end(), [&](auto& ref) {
          if (ref.kind == "Service") {
            return std::any_of(s.services.begin(), s.services.end(), [&](const Service* svc) {
              return svc->meta.name == ref.name && svc->meta.ns == ref.ns;
            });
          }
          return ref.kind != "ServiceEntry" && target_reaches(ref, w);
        });
        if (reached) guard.pods.push_back(s.pod);
      }
      if (!guard.pods.empty()) out.push_back(std::move(guard));
    }
  }
  return out;
}

std::vector<std::string> Topology::waypoint_guarded_pods() const {
  std::vector<std::string> out;
  for (const auto& guard : waypoint_guards()) {
    for (const Pod* pod : guard.pods) out.push_back(pod->meta.uid());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace ambit::controller::config
