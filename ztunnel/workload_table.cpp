#include "ztunnel/workload_table.h"

#include "ztunnel/baggage.h"

#include <set>

namespace ambit::ztunnel {

Status WorkloadTable::add_workload(Workload w) {
  if (w.name.empty()) return Error::format("workload in namespace '{}' has no name", w.ns);
  if (w.ns.empty()) return Error::format("workload '{}' has no namespace", w.name);
  std::string uid = w.uid();
  if (workload_by_uid_.count(uid)) return Error::format("workload {} already exists", uid);

  // Validate every address before touching any index, so a failure leaves no half-added entry.
  std::set<IpAddress> seen;
  for (const auto& ip : w.addresses) {
    if (!seen.insert(ip).second) {
      return Error::format("workload {} lists address {} twice", uid, ip.to_string());
    }
    if (auto it = workload_by_address_.find(ip); it != workload_by_address_.end()) {
      return Error::format("workload {}: address {} already belongs to workload {}", uid,
                           ip.to_string(), it->second->uid());
    }
    if (auto it = service_by_vip_.find(ip); it != service_by_vip_.end()) {
      return Error::format("workload {}: address {} is a VIP of service {}", uid, ip.to_string(),
                           it->second->service.uid());
    }
  }

  w.source_baggage = format_baggage(baggage_of(w));
  auto& stored = *workloads_.emplace_back(std::make_unique<Workload>(std::move(w)));
  workload_by_uid_.emplace(std::move(uid), &stored);
  for (const auto& ip : stored.addresses) workload_by_address_.emplace(ip, &stored);
  if (!stored.runs_waypoint.empty()) waypoint_pods_[stored.runs_waypoint].push_back(&stored);
  for (auto& entry : services_) {
    if (is_endpoint(entry->service, stored)) index_endpoint(*entry, stored);
  }
  return {};
}

Status WorkloadTable::add_service(Service s) {
  if (s.name.empty()) return Error::format("service in namespace '{}' has no name", s.ns);
  if (s.ns.empty()) return Error::format("service '{}' has no namespace", s.name);
  std::string uid = s.uid();
  if (service_by_uid_.count(uid)) return Error::format("service {} already exists", uid);

  std::set<IpAddress> seen_vips;
  for (const auto& vip : s.vips) {
    if (!seen_vips.insert(vip).second) {
      return Error::format("service {} lists VIP {} twice", uid, vip.to_string());
    }
    if (auto it = service_by_vip_.find(vip); it != service_by_vip_.end()) {
      return Error::format("service {}: VIP {} already belongs to service {}", uid, vip.to_string(),
                           it->second->service.uid());
    }
    if (auto it = workload_by_address_.find(vip); it != workload_by_address_.end()) {
      return Error::format("service {}: VIP {} is an address of workload {}", uid, vip.to_string(),
                           it->second->uid());
    }
  }
  std::set<uint16_t> seen_ports;
  for (const auto& p : s.ports) {
    if (!seen_ports.insert(p.port).second) {
      return Error::format("service {} declares port {} twice", uid, p.port);
    }
  }

  auto& entry = *services_.emplace_back(std::make_unique<ServiceEntry>());
  entry.service = std::move(s);
  service_by_uid_.emplace(std::move(uid), &entry);
  if (entry.service.from_entry()) entry_by_host_.emplace(entry.service.name, &entry);
  for (const auto& vip : entry.service.vips) service_by_vip_.emplace(vip, &entry);
  for (const auto& w : workloads_) {
    if (is_endpoint(entry.service, *w)) index_endpoint(entry, *w);
  }
  return {};
}

bool WorkloadTable::is_endpoint(const Service& service, const Workload& w) {
  // An empty selector selects nothing: Kubernetes leaves endpoints of such a Service to be
  // managed by hand, it does not make every pod of the namespace a backend.
  return !service.selector.empty() && w.ns == service.ns &&
         selector_matches(service.selector, w.labels);
}

void WorkloadTable::index_endpoint(ServiceEntry& entry, const Workload& w) {
  entry.endpoints.push_back(&w);
  auto first_of_family = [&w](bool v4) -> const IpAddress* {
    for (const auto& ip : w.addresses) {
      if (ip.is_v4() == v4) return &ip;
    }
    return nullptr;
  };
  if (const IpAddress* ip = first_of_family(true)) entry.v4_targets.push_back({&w, *ip});
  if (const IpAddress* ip = first_of_family(false)) entry.v6_targets.push_back({&w, *ip});
}

const WorkloadTable::ServiceEntry* WorkloadTable::entry_of(const Service& service) const {
  auto it = service_by_uid_.find(service.uid());
  if (it == service_by_uid_.end() || &it->second->service != &service) return nullptr;
  return it->second;
}

const Workload* WorkloadTable::find_by_address(const IpAddress& ip) const {
  auto it = workload_by_address_.find(ip);
  return it == workload_by_address_.end() ? nullptr : it->second;
}

const Workload* WorkloadTable::find_by_uid(std::string_view uid) const {
  auto it = workload_by_uid_.find(uid);
  return it == workload_by_uid_.end() ? nullptr : it->second;
}

const Service* WorkloadTable::find_service_by_address(const IpAddress& vip) const {
  auto it = service_by_vip_.find(vip);
  return it == service_by_vip_.end() ? nullptr : &it->second->service;
}

const Service* WorkloadTable::find_service_by_uid(std::string_view uid) const {
  auto it = service_by_uid_.find(uid);
  return it == service_by_uid_.end() ? nullptr : &it->second->service;
}

const Service* WorkloadTable::find_service_by_hostname(std::string_view host) const {
  if (auto it = entry_by_host_.find(host); it != entry_by_host_.end()) return &it->second->service;
  size_t dot = host.find('.');
  if (dot == std::string_view::npos || dot == 0) return nullptr;
  std::string_view name = host.substr(0, dot), rest = host.substr(dot + 1);
  size_t end = rest.find('.');
  std::string_view ns = rest.substr(0, end);
  if (ns.empty()) return nullptr;
  if (end != std::string_view::npos) {
    std::string_view suffix = rest.substr(end + 1);
    std::string full = "svc." + std::string(kClusterDomain);
    if (suffix != "svc" && suffix != full) return nullptr;
  }
  std::string uid;
  uid.reserve(ns.size() + 1 + name.size());
  uid.append(ns).append("/").append(name);
  return find_service_by_uid(uid);
}

std::vector<const Workload*> WorkloadTable::endpoints_of(const Service& service) const {
  if (const ServiceEntry* entry = entry_of(service)) return entry->endpoints;
  // A Service that is not (this copy of) one of ours: select from scratch.
  std::vector<const Workload*> out;
  for (const auto& w : workloads_) {
    if (is_endpoint(service, *w)) out.push_back(w.get());
  }
  return out;
}

std::vector<const Workload*> WorkloadTable::waypoint_pods(std::string_view waypoint_uid) const {
  auto it = waypoint_pods_.find(waypoint_uid);
  return it == waypoint_pods_.end() ? std::vector<const Workload*>{} : it->second;
}

Result<Destination> WorkloadTable::to_waypoint(const Service& service,
                                               const SocketAddress& original_dst,
                                               uint64_t entropy) const {
  auto it = waypoint_pods_.find(service.waypoint);
  if (it != waypoint_pods_.end()) {
    const auto& pods = it->second;
    for (size_t i = 0; i < pods.size(); ++i) {
      const Workload* pod = pods[(entropy + i) % pods.size()];
      if (pod->mesh && pod->hbone_address.port() != 0) {
        return Destination{Destination::Kind::kWorkload, pod, &service, original_dst, true};
      }
    }
  }
  return Error::format("no waypoint pod for {} (the waypoint of service {}, {})", service.waypoint,
                       service.uid(), original_dst.to_string());
}

Result<Destination> WorkloadTable::resolve(const SocketAddress& original_dst, uint64_t entropy,
                                           const Workload* source) const {
  const IpAddress& ip = original_dst.ip();
  if (auto it = service_by_vip_.find(ip); it != service_by_vip_.end()) {
    const ServiceEntry& entry = *it->second;
    const Service& service = entry.service;
    const ServicePort* port = service.find_port(original_dst.port());
    if (!port) {
      return Error::format("service {} ({}) does not declare port {}", service.uid(),
                           ip.to_string(), original_dst.port());
    }
    if (source != nullptr && !service.waypoint.empty() &&
        source->runs_waypoint != service.waypoint) {
      return to_waypoint(service, original_dst, entropy);
    }
    const auto& same_family = ip.is_v4() ? entry.v4_targets : entry.v6_targets;
    const auto& other_family = ip.is_v4() ? entry.v6_targets : entry.v4_targets;
    const auto& targets = same_family.empty() ? other_family : same_family;
    if (targets.empty()) {
      return Error::format("service {} has no endpoints for {}", service.uid(),
                           original_dst.to_string());
    }
    // From the picked endpoint on, the first that has the port (a named targetPort may be
    // declared by some endpoints only).
    for (size_t i = 0; i < targets.size(); ++i) {
      const Target& t = targets[(entropy + i) % targets.size()];
      if (auto target_port = port->target_on(*t.workload)) {
        return Destination{Destination::Kind::kWorkload, t.workload, &service,
                           SocketAddress(t.ip, *target_port)};
      }
    }
    return Error::format("service {} has no endpoint declaring port '{}' for {}", service.uid(),
                         port->target_port_name, original_dst.to_string());
  }
  if (const Workload* w = find_by_address(ip)) {
    return Destination{Destination::Kind::kWorkload, w, nullptr, original_dst};
  }
  return Destination{Destination::Kind::kPassthrough, nullptr, nullptr, original_dst};
}

std::vector<const Workload*> WorkloadTable::workloads() const {
  std::vector<const Workload*> out;
  out.reserve(workloads_.size());
  for (const auto& w : workloads_) out.push_back(w.get());
  return out;
}

std::vector<const Service*> WorkloadTable::services() const {
  std::vector<const Service*> out;
  out.reserve(services_.size());
  for (const auto& e : services_) out.push_back(&e->service);
  return out;
}

}  // namespace ambit::ztunnel
