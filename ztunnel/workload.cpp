#include "ztunnel/workload.h"

namespace ambit::ztunnel {

std::string_view to_string(PeerAuthMode mode) {
  switch (mode) {
    case PeerAuthMode::kStrict:
      return "STRICT";
    case PeerAuthMode::kPermissive:
      return "PERMISSIVE";
    case PeerAuthMode::kDisable:
      return "DISABLE";
  }
  return "UNKNOWN";
}

Result<PeerAuthMode> parse_peer_auth_mode(std::string_view text) {
  if (text == "STRICT") return PeerAuthMode::kStrict;
  if (text == "PERMISSIVE") return PeerAuthMode::kPermissive;
  if (text == "DISABLE") return PeerAuthMode::kDisable;
  return Error::format("'{}' is not a PeerAuthentication mode (STRICT | PERMISSIVE | DISABLE)",
                       text);
}

bool selector_matches(const Labels& selector, const Labels& labels) {
  for (const auto& [key, value] : selector) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

std::string Workload::uid() const { return ns + "/" + name; }

Identity Workload::waypoint_identity() const {
  auto slash = waypoint.find('/');
  if (slash == std::string::npos) return {};
  return Identity(identity.trust_domain(), waypoint.substr(0, slash), waypoint.substr(slash + 1));
}

std::string Service::uid() const { return ns + "/" + name; }

std::string Service::hostname() const {
  if (from_entry()) return name;
  return name + "." + ns + ".svc." + std::string(kClusterDomain);
}

std::optional<uint16_t> ServicePort::target_on(const Workload& endpoint) const {
  if (target_port_name.empty()) return target_port != 0 ? target_port : port;
  auto it = endpoint.named_ports.find(target_port_name);
  if (it == endpoint.named_ports.end()) return std::nullopt;
  return it->second;
}

const ServicePort* Service::find_port(uint16_t port) const {
  for (const auto& p : ports) {
    if (p.port == port) return &p;
  }
  return nullptr;
}

}  // namespace ambit::ztunnel
