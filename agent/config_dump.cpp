#include "agent/config_dump.h"

#include <nlohmann/json.hpp>

#include <chrono>

#include "core/json_text.h"
#include "core/x509.h"

namespace ambit::agent {

using nlohmann::json;

namespace {

json addresses(const std::vector<IpAddress>& ips) {
  json out = json::array();
  for (const auto& ip : ips) out.push_back(ip.to_string());
  return out;
}

}  // namespace

std::string config_dump_json(const LocalConfig& local, const ztunnel::EngineConfig& engine,
                             std::span<const Enrollment::PodStatus> pods,
                             std::string_view capture_mode) {
  json dump;
  dump["node"] = engine.node;
  dump["trustDomain"] = local.trust_domain;
  json workloads = json::array();
  for (const ztunnel::Workload* w : engine.table->workloads()) {
    workloads.push_back({{"uid", w->uid()},
                         {"identity", w->identity.to_string()},
                         {"node", w->node},
                         {"addresses", addresses(w->addresses)},
                         {"hboneAddress", w->hbone_address.to_string()},
                         {"peerAuthentication", std::string(to_string(w->peer_auth))},
                         {"mesh", w->mesh},
                         {"waypoint", w->waypoint},
                         {"runsWaypoint", w->runs_waypoint},
                         {"waypointGuard", w->waypoint_guard},
                         {"labels", w->labels}});
  }
  dump["workloads"] = workloads;
  json services = json::array();
  for (const ztunnel::Service* s : engine.table->services()) {
    json ports = json::array();
    for (const auto& p : s->ports) ports.push_back({{"port", p.port}, {"targetPort", p.target_port}});
    json endpoints = json::array();
    for (const ztunnel::Workload* w : engine.table->endpoints_of(*s)) endpoints.push_back(w->uid());
    services.push_back({{"uid", s->uid()},
                        {"addresses", addresses(s->vips)},
                        {"ports", ports},
                        {"waypoint", s->waypoint},
                        {"endpoints", endpoints}});
  }
  dump["services"] = services;
  json policies = json::array();
  for (const auto& p : local.policies) {
    policies.push_back({{"uid", p.uid()},
                        {"action", std::string(to_string(p.action))},
                        {"selector", p.selector},
                        {"rules", p.rules.size()}});
  }
  dump["authorizationPolicies"] = policies;
  json certificates = json::array();
  for (const auto& [uid, creds] : engine.credentials) {
    certificates.push_back({{"workload", uid}, {"identity", creds.identity.to_string()}});
  }
  dump["certificates"] = certificates;
  json listeners = json::array();
  for (const auto& l : engine.listeners) {
    json entry = {{"kind", std::string(to_string(l.kind))},
                  {"address", l.address.to_string()},
                  {"workload", l.workload}};
    if (l.destination) entry["destination"] = l.destination->to_string();
    listeners.push_back(entry);
  }
  dump["listeners"] = listeners;
  json enrolled = json::array();
  for (const auto& p : pods) {
    enrolled.push_back({{"uid", p.uid}, {"netns", p.netns}, {"state", p.state}});
  }
  dump["capture"] = {{"mode", std::string(capture_mode)}, {"pods", enrolled}};
  return json_text(dump) + "\n";
}

}  // namespace ambit::agent
