// networking.istio.io ServiceEntry: services outside the registry (hosts, addresses, ports,
// location, resolution, endpoints).
#include <fmt/format.h>

#include "controller/config/parse_context.h"

namespace ambit::controller::config {

void read_service_entry(const YamlObject& root, ObjectMeta meta, ParseContext& ctx,
                        ConfigModel& m) {
  ServiceEntry se;
  se.meta = std::move(meta);
  auto spec = root.required("spec").object({"hosts", "addresses", "ports", "location", "resolution",
                                            "endpoints", "workloadSelector", "exportTo",
                                            "subjectAltNames"});
  auto hosts = spec.required("hosts");
  se.hosts = hosts.strings();
  if (se.hosts.empty()) hosts.fail("at least one host is required");
  if (auto addresses = spec.optional("addresses")) {
    addresses->cidrs();  // addresses or CIDR ranges
    se.addresses = addresses->strings();
  }
  if (auto ports = spec.optional("ports")) {
    for (const auto& item : ports->items()) {
      auto p = item.object({"number", "protocol", "name", "targetPort"});
      ServiceEntry::Port port;
      port.number = p.required("number").port();
      port.protocol = p.string_or("protocol", "");
      port.name = p.string_or("name", "");
      port.target_port = port_or_none(p, "targetPort").value_or(0);
      se.ports.push_back(std::move(port));
    }
  }
  if (auto location = spec.optional("location")) {
    std::string l = location->string();
    if (l == "MESH_EXTERNAL") {
      se.location = ServiceEntry::Location::kMeshExternal;
    } else if (l == "MESH_INTERNAL") {
      se.location = ServiceEntry::Location::kMeshInternal;
    } else {
      ctx.error(codes::kInvalidValue, *location,
                fmt::format("'{}' is not a location (MESH_EXTERNAL | MESH_INTERNAL)", l));
    }
  }
  if (auto resolution = spec.optional("resolution")) {
    std::string r = resolution->string();
    using R = ServiceEntry::Resolution;
    if (r == "NONE") {
      se.resolution = R::kNone;
    } else if (r == "STATIC") {
      se.resolution = R::kStatic;
    } else if (r == "DNS") {
      se.resolution = R::kDns;
    } else if (r == "DNS_ROUND_ROBIN") {
      se.resolution = R::kDnsRoundRobin;
    } else {
      ctx.error(codes::kInvalidValue, *resolution,
                fmt::format("'{}' is not a resolution (NONE | STATIC | DNS | DNS_ROUND_ROBIN)", r));
    }
  }
  if (auto endpoints = spec.optional("endpoints")) {
    for (const auto& item : endpoints->items()) {
      auto e = item.object(
          {"address", "ports", "labels", "network", "locality", "weight", "serviceAccount"});
      ServiceEntry::Endpoint ep;
      ep.address = e.string_or("address", "");
      if (se.resolution == ServiceEntry::Resolution::kStatic && !ep.address.empty()) {
        e.required("address").ip();
      }
      if (auto ports = e.optional("ports")) {
        for (const auto& [name, key, port] : ports->fields()) {
          if (!ep.ports.emplace(name, port.port()).second) {
            key.fail(fmt::format("key '{}' repeats", name));
          }
        }
      }
      if (auto labels = e.optional("labels")) ep.labels = labels->string_map();
      ep.network = e.string_or("network", "");
      ep.locality = e.string_or("locality", "");
      ep.weight = static_cast<uint32_t>(integer_or_none(e, "weight").value_or(0));
      se.endpoints.push_back(std::move(ep));
    }
  }
  if (auto selector = spec.optional("workloadSelector")) {
    auto labels = selector->object({"labels"}).optional("labels");
    se.workload_selector = labels ? labels->string_map() : StringMap{};
    se.workload_selector_at = origin_of(*selector);
  }
  if (se.resolution == ServiceEntry::Resolution::kStatic && se.endpoints.empty() &&
      !se.workload_selector) {
    ctx.error(codes::kInvalidValue, *spec.optional("resolution"),
              "STATIC resolution needs endpoints or a workloadSelector");
  }
  se.export_to = strings_or_empty(spec, "exportTo");
  se.subject_alt_names = strings_or_empty(spec, "subjectAltNames");
  m.service_entries.push_back(std::move(se));
}

}  // namespace ambit::controller::config
