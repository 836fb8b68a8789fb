#include "controller/config/views.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "controller/config/topology.h"
#include "core/net_address.h"

namespace ambit::controller::config {
namespace {

namespace pb = ambit::v1;

pb::PeerAuthMode to_proto(MtlsMode mode) {
  switch (mode) {
    case MtlsMode::kPermissive:
      return pb::PERMISSIVE;
    case MtlsMode::kStrict:
      return pb::STRICT;
    case MtlsMode::kDisable:
      return pb::DISABLE;
    case MtlsMode::kUnset:
      break;
  }
  return pb::PEER_AUTH_UNSET;
}

// workload > namespace > mesh, each level's UNSET deferring to the next; PERMISSIVE at the end.
MtlsMode resolve_peer_auth(const Topology& topology, const Pod& pod) {
  const auto& pas = topology.model().peer_authentications;
  auto find = [&](auto&& pred) -> MtlsMode {
    for (const auto& pa : pas) {
      if (pred(pa) && pa.mode != MtlsMode::kUnset) return pa.mode;
    }
    return MtlsMode::kUnset;
  };
  MtlsMode mode = find([&](const PeerAuthentication& pa) {
    return pa.selector && pa.meta.ns == pod.meta.ns &&
           selector_matches(*pa.selector, pod.meta.labels);
  });
  if (mode == MtlsMode::kUnset) {
    mode = find(
        [&](const PeerAuthentication& pa) { return !pa.selector && pa.meta.ns == pod.meta.ns; });
  }
  if (mode == MtlsMode::kUnset) {
    mode = find(
        [&](const PeerAuthentication& pa) { return !pa.selector && pa.meta.ns == kRootNamespace; });
  }
  return mode == MtlsMode::kUnset ? MtlsMode::kPermissive : mode;
}

std::string address_with_port(const std::string& ip, uint32_t port) {
  if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(port);
  return ip + ":" + std::to_string(port);
}

// `guarded`: sorted uids of the pods a waypoint guards (Topology::waypoint_guarded_pods).
pb::Workload to_workload(const Topology& topology, const Pod& pod, std::string_view node,
                         const std::vector<std::string>& guarded) {
  pb::Workload w;
  w.set_uid(pod.meta.uid());
  w.set_name(pod.meta.name);
  w.set_namespace_(pod.meta.ns);
  w.set_service_account(pod.service_account);
  w.set_node(pod.node_name);
  for (const auto& a : pod.addresses) w.add_addresses(a);
  for (const auto& [k, v] : pod.meta.labels) (*w.mutable_labels())[k] = v;
  bool mesh = topology.pod_in_mesh(pod);
  w.set_mesh(mesh);
  if (mesh && !pod.addresses.empty()) {
    w.set_hbone_address(address_with_port(pod.addresses.front(), 15008));
  }
  w.set_peer_auth(to_proto(resolve_peer_auth(topology, pod)));
  w.set_waypoint(topology.waypoint_of(pod));
  w.set_runs_waypoint(topology.runs_waypoint(pod));
  w.set_waypoint_guard(!w.waypoint().empty() &&
                       std::binary_search(guarded.begin(), guarded.end(), w.uid()));
  for (const auto& [name, port] : pod.named_ports) (*w.mutable_named_ports())[name] = port;
  if (node == kAllNodes || (!node.empty() && pod.node_name == node)) {
    w.set_netns(pod.netns);
    w.set_cgroup(pod.cgroup);
  }
  return w;
}

// Istio's protocol selection: appProtocol, else the port name's prefix ("http-web" → HTTP).
std::string port_protocol(const ServicePort& p) {
  std::string name = p.app_protocol.empty() ? p.name.substr(0, p.name.find('-')) : p.app_protocol;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (name == "http") return "HTTP";
  if (name == "http2" || name == "h2c" || name == "kubernetes.io/h2c") return "HTTP2";
  if (name == "grpc" || name == "grpc-web") return "GRPC";
  if (name == "https") return "HTTPS";
  if (name == "tls") return "TLS";
  return p.protocol == "UDP" ? "UDP" : "TCP";
}

pb::Service to_service(const Topology& topology, const Service& s) {
  pb::Service out;
  out.set_uid(s.meta.uid());
  out.set_name(s.meta.name);
  out.set_namespace_(s.meta.ns);
  for (const auto& ip : s.cluster_ips) out.add_vips(ip);
  for (const auto& p : s.ports) {
    auto* port = out.add_ports();
    port->set_port(p.port);
    port->set_target_port(p.target_port);
    port->set_target_port_name(p.target_port_name);
    port->set_name(p.name);
    port->set_protocol(port_protocol(p));
  }
  for (const auto& [k, v] : s.selector) (*out.mutable_selector())[k] = v;
  out.set_waypoint(topology.waypoint_of(s));
  std::string fqdn = service_fqdn(s.meta.name, s.meta.ns);
  for (const auto& h :
       {fqdn, s.meta.name + "." + s.meta.ns + ".svc", s.meta.name + "." + s.meta.ns, s.meta.name}) {
    out.add_hosts(h);
  }
  return out;
}

// One host of a ServiceEntry, as a Service of the view: the host its name, the entry's IP
// addresses its VIPs (what the agents steer to its waypoint), its endpoints as written.
pb::Service to_service(const Topology& topology, const ServiceEntry& se, const std::string& host) {
  pb::Service out;
  out.set_uid(se.meta.ns + "/" + host);
  out.set_name(host);
  out.set_namespace_(se.meta.ns);
  out.set_entry(se.meta.uid());
  for (const auto& a : se.addresses) {
    if (IpAddress::parse(a).ok()) out.add_vips(a);  // a CIDR block has no VIP to steer
  }
  for (const auto& p : se.ports) {
    auto* port = out.add_ports();
    port->set_port(p.number);
    port->set_target_port(p.target_port);
    port->set_name(p.name);
    std::string protocol = p.protocol_upper();
    port->set_protocol(protocol.empty() ? "TCP" : protocol);
  }
  using R = ServiceEntry::Resolution;
  if (se.workload_selector) {
    for (const auto& [k, v] : *se.workload_selector) (*out.mutable_selector())[k] = v;
  } else {
    switch (se.resolution) {
      case R::kStatic:
        out.set_resolution(pb::Service::STATIC);
        break;
      case R::kDns:
        out.set_resolution(pb::Service::DNS);
        break;
      case R::kDnsRoundRobin:
        out.set_resolution(pb::Service::DNS_ROUND_ROBIN);
        break;
      case R::kNone:
        out.set_resolution(pb::Service::NONE);
        break;
    }
    for (const auto& ep : se.endpoints) {
      auto* e = out.add_endpoints();
      e->set_address(ep.address);
      for (const auto& [name, port] : ep.ports) (*e->mutable_ports())[name] = port;
      for (const auto& [k, v] : ep.labels) (*e->mutable_labels())[k] = v;
      e->set_weight(ep.weight);
    }
  }
  out.set_mesh_external(se.location == ServiceEntry::Location::kMeshExternal);
  out.set_waypoint(topology.waypoint_of(se));
  out.add_hosts(host);
  return out;
}

template <typename Field>
void copy(const std::vector<std::string>& from, Field* to) {
  for (const auto& s : from) to->Add(std::string(s));
}

pb::Namespace to_namespace(const Topology& topology, const std::string& name) {
  pb::Namespace out;
  out.set_name(name);
  if (const Namespace* ns = topology.find_namespace(name)) {
    for (const auto& [k, v] : ns->meta.labels) (*out.mutable_labels())[k] = v;
  }
  out.set_ambient(topology.namespace_ambient(name));
  return out;
}

int kind_rank(const pb::Resource& r) {
  switch (r.kind_case()) {
    case pb::Resource::kNamespace:
      return 0;
    case pb::Resource::kWorkload:
      return 1;
    case pb::Resource::kService:
      return 2;
    case pb::Resource::kAuthorizationPolicy:
      return 3;
    case pb::Resource::kVirtualService:
      return 4;
    case pb::Resource::kDestinationRule:
      return 5;
    case pb::Resource::kLocalRateLimit:
      return 6;
    case pb::Resource::kTrustBundle:
      return 7;
    case pb::Resource::KIND_NOT_SET:
      break;
  }
  return 8;
}

void sort_resources(std::vector<pb::Resource>& resources) {
  std::sort(resources.begin(), resources.end(), [](const auto& a, const auto& b) {
    int ra = kind_rank(a), rb = kind_rank(b);
    return ra != rb ? ra < rb : a.uid() < b.uid();
  });
}

}  // namespace

std::optional<pb::AuthorizationPolicy> authorization_policy_resource(
    const AuthorizationPolicy& ap) {
  pb::AuthorizationPolicy out;
  using Action = AuthorizationPolicy::Action;
  if (ap.action != Action::kAllow && ap.action != Action::kDeny) return std::nullopt;
  if (ap.dry_run) return std::nullopt;
  out.set_uid(ap.meta.uid());
  out.set_name(ap.meta.name);
  out.set_namespace_(ap.meta.ns);
  if (ap.selector) {
    for (const auto& [k, v] : *ap.selector) (*out.mutable_selector())[k] = v;
  }
  out.set_action(ap.action == Action::kAllow ? pb::AuthorizationPolicy::ALLOW
                                             : pb::AuthorizationPolicy::DENY);
  for (const auto& t : ap.target_refs) {
    auto* ref = out.add_target_refs();
    ref->set_group(t.group);
    ref->set_kind(t.kind);
    ref->set_name(t.name);
    ref->set_namespace_(t.ns);
  }
  for (const auto& rule : ap.rules) {
    auto* r = out.add_rules();
    for (const auto& f : rule.from) {
      auto* s = r->add_from();
      copy(f.principals, s->mutable_principals());
      copy(f.not_principals, s->mutable_not_principals());
      copy(f.request_principals, s->mutable_request_principals());
      copy(f.not_request_principals, s->mutable_not_request_principals());
      copy(f.namespaces, s->mutable_namespaces());
      copy(f.not_namespaces, s->mutable_not_namespaces());
      copy(f.ip_blocks, s->mutable_ip_blocks());
      copy(f.not_ip_blocks, s->mutable_not_ip_blocks());
      copy(f.remote_ip_blocks, s->mutable_remote_ip_blocks());
      copy(f.not_remote_ip_blocks, s->mutable_not_remote_ip_blocks());
      copy(f.service_accounts, s->mutable_service_accounts());
      copy(f.not_service_accounts, s->mutable_not_service_accounts());
      copy(f.trust_domains, s->mutable_trust_domains());
      copy(f.not_trust_domains, s->mutable_not_trust_domains());
    }
    for (const auto& t : rule.to) {
      auto* o = r->add_to();
      copy(t.hosts, o->mutable_hosts());
      copy(t.not_hosts, o->mutable_not_hosts());
      copy(t.ports, o->mutable_ports());
      copy(t.not_ports, o->mutable_not_ports());
      copy(t.methods, o->mutable_methods());
      copy(t.not_methods, o->mutable_not_methods());
      copy(t.paths, o->mutable_paths());
      copy(t.not_paths, o->mutable_not_paths());
    }
    for (const auto& c : rule.when) {
      auto* w = r->add_when();
      w->set_key(c.key);
      copy(c.values, w->mutable_values());
      copy(c.not_values, w->mutable_not_values());
    }
  }
  return out;
}

std::vector<pb::Resource> agent_mesh_resources(const ConfigModel& model, std::string_view node) {
  Topology topology(model);
  return agent_mesh_resources(topology, node, topology.waypoint_guarded_pods());
}

std::vector<pb::Resource> agent_mesh_resources(const Topology& topology, std::string_view node,
                                               const std::vector<std::string>& guarded) {
  const ConfigModel& model = topology.model();
  std::vector<pb::Resource> out;
  std::set<std::string> namespaces;
  for (const auto& ns : model.namespaces) namespaces.insert(ns.meta.name);
  for (const auto& pod : model.pods) namespaces.insert(pod.meta.ns);
  for (const auto& s : model.services) namespaces.insert(s.meta.ns);
  for (const auto& se : model.service_entries) namespaces.insert(se.meta.ns);
  for (const auto& name : namespaces) {
    pb::Resource r;
    r.set_uid(name);
    *r.mutable_namespace_() = to_namespace(topology, name);
    out.push_back(std::move(r));
  }
  for (const auto& pod : model.pods) {
    pb::Resource r;
    r.set_uid(pod.meta.uid());
    *r.mutable_workload() = to_workload(topology, pod, node, guarded);
    out.push_back(std::move(r));
  }
  for (const auto& s : model.services) {
    pb::Resource r;
    r.set_uid(s.meta.uid());
    *r.mutable_service() = to_service(topology, s);
    out.push_back(std::move(r));
  }
  // ServiceEntry hosts, one Service each (the first entry of a host in a namespace wins, as
  // the view has one Service per name).
  std::set<std::string> entries;
  for (const auto& se : model.service_entries) {
    for (const auto& host : se.hosts) {
      pb::Resource r;
      r.set_uid(se.meta.ns + "/" + host);
      if (!entries.insert(r.uid()).second) continue;
      *r.mutable_service() = to_service(topology, se, host);
      out.push_back(std::move(r));
    }
  }
  sort_resources(out);
  return out;
}

std::vector<pb::Resource> agent_policy_resources(const ConfigModel& model) {
  std::vector<pb::Resource> out;
  for (const auto& ap : model.authorization_policies) {
    // A policy with targetRefs is enforced by waypoints only, as in Istio; applying it here
    // would apply it to the whole namespace.
    if (!ap.target_refs.empty()) continue;
    pb::Resource r;
    auto policy = authorization_policy_resource(ap);
    if (!policy) continue;
    r.set_uid(ap.meta.uid());
    *r.mutable_authorization_policy() = std::move(*policy);
    out.push_back(std::move(r));
  }
  sort_resources(out);
  return out;
}

std::vector<pb::Resource> agent_view(const ConfigModel& model, std::string_view node,
                                     const std::string& trust_domain) {
  // Both parts sorted, and every mesh kind ranks before AuthorizationPolicy: the sum is sorted.
  std::vector<pb::Resource> out = agent_mesh_resources(model, node);
  auto policies = agent_policy_resources(model);
  out.insert(out.end(), std::make_move_iterator(policies.begin()),
             std::make_move_iterator(policies.end()));
  return out;
}

void add_route_destinations(const pb::VirtualService& vs, std::vector<std::string>& hosts) {
  auto add = [&](const std::string& host) {
    if (!host.empty() && std::find(hosts.begin(), hosts.end(), host) == hosts.end()) {
      hosts.push_back(host);
    }
  };
  for (const auto& http : vs.http()) {
    for (const auto& d : http.route()) add(d.destination().host());
    if (http.has_mirror()) add(http.mirror().host());
  }
  for (const auto* l4 : {&vs.tcp(), &vs.tls()}) {
    for (const auto& route : *l4) {
      for (const auto& d : route.route()) add(d.destination().host());
    }
  }
}

std::vector<pb::Resource> waypoint_view(const ConfigModel& model, std::string_view waypoint_uid) {
  Topology topology(model);
  std::vector<std::string> served_hosts, served_uids;
  for (const auto& s : model.services) {
    if (topology.waypoint_of(s) != waypoint_uid) continue;
    served_uids.push_back(s.meta.uid());
    served_hosts.push_back(service_fqdn(s.meta.name, s.meta.ns));
  }
  if (served_uids.empty()) return {};
  // The whole mesh without node-local fields: every Service a route may send to with its
  // endpoints, and the clients' workloads (their labels for sourceLabels, their addresses for
  // the Forwarded check). The listener accepts only the Services that name this waypoint.
  std::vector<pb::Resource> out =
      agent_mesh_resources(topology, "", topology.waypoint_guarded_pods());
  for (const auto& ap : model.authorization_policies) {
    auto policy = authorization_policy_resource(ap);
    if (!policy || !policy_for_waypoint(*policy, waypoint_uid, served_uids)) continue;
    pb::Resource r;
    r.set_uid(ap.meta.uid());
    *r.mutable_authorization_policy() = std::move(*policy);
    out.push_back(std::move(r));
  }
  if (!served_hosts.empty()) {
    std::string_view own_ns = waypoint_uid.substr(0, waypoint_uid.find('/'));
    auto l7 = l7_resources(model);
    std::vector<std::string> rule_hosts = served_hosts;
    for (const auto& r : l7) {
      if (r.has_virtual_service() && l7_for_waypoint(r, served_hosts, own_ns)) {
        add_route_destinations(r.virtual_service(), rule_hosts);
      }
    }
    for (auto& r : l7) {
      const auto& hosts = r.has_destination_rule() ? rule_hosts : served_hosts;
      if (l7_for_waypoint(r, hosts, own_ns)) out.push_back(std::move(r));
    }
    for (auto& r : rate_limit_resources(topology, model.local_rate_limits)) {
      if (l7_for_waypoint(r, served_hosts, own_ns)) out.push_back(std::move(r));
    }
  }
  sort_resources(out);
  return out;
}

}  // namespace ambit::controller::config
