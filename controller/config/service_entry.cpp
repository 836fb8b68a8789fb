// networking.istio.io ServiceEntry: services outside the registry (hosts, addresses, ports,
// location, resolution, endpoints).
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "controller/config/parse_context.h"
#include "core/net_address.h"

namespace ambit::controller::config {
namespace {

bool is_fqdn(std::string_view host) {
  if (host.empty() || host.find('*') != std::string_view::npos || host.find('.') == host.npos) {
    return false;
  }
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
}

bool is_http_or_tls(const ServiceEntry::Port& port) {
  std::string protocol = port.protocol_upper();
  for (std::string_view p : {"HTTP", "HTTP2", "HTTPS", "GRPC", "GRPC-WEB", "TLS"}) {
    if (protocol == p) return true;
  }
  return false;
}

// Istio's ServiceEntry validation rules, each an error naming its field (AMB0006).
void check_service_entry_rules(const YamlObject& spec, const ServiceEntry& se, ParseContext& ctx) {
  using R = ServiceEntry::Resolution;
  auto hosts = spec.required("hosts").items();
  for (size_t i = 0; i < se.hosts.size(); ++i) {
    if (se.hosts[i] == "*") {
      ctx.error(codes::kInvalidValue, hosts[i],
                "'*' is not a ServiceEntry host (Istio refuses it)");
    }
  }
  bool cidr = std::any_of(se.addresses.begin(), se.addresses.end(),
                          [](const std::string& a) { return a.find('/') != std::string::npos; });
  if (cidr && se.resolution != R::kNone && se.resolution != R::kStatic) {
    ctx.error(codes::kInvalidValue, *spec.optional("addresses"),
              "CIDR addresses are allowed only with resolution NONE or STATIC");
  }
  if (auto ports = spec.optional("ports")) {
    auto items = ports->items();
    for (size_t i = 0; i < se.ports.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (se.ports[i].number == se.ports[j].number) {
          ctx.error(codes::kInvalidValue, items[i],
                    fmt::format("port {} is defined twice", se.ports[i].number));
        } else if (se.ports[i].name == se.ports[j].name) {
          ctx.error(codes::kInvalidValue, items[i],
                    fmt::format("port name '{}' is defined twice", se.ports[i].name));
        }
      }
    }
  }
  auto endpoints = spec.optional("endpoints");
  if (endpoints && se.workload_selector) {
    ctx.error(codes::kInvalidValue, *endpoints,
              "endpoints and workloadSelector cannot both be set (as in Istio)");
  }
  if (endpoints && se.resolution == R::kNone) {
    ctx.error(codes::kInvalidValue, *endpoints, "resolution NONE takes no endpoints");
  }
  if (!endpoints && (se.resolution == R::kDns || se.resolution == R::kDnsRoundRobin)) {
    for (size_t i = 0; i < se.hosts.size(); ++i) {
      if (se.hosts[i] != "*" && !is_fqdn(se.hosts[i])) {
        ctx.error(codes::kInvalidValue, hosts[i],
                  fmt::format("'{}': with DNS resolution and no endpoints the hosts are resolved, "
                              "so each must be a fully qualified name (no wildcard)",
                              se.hosts[i]));
      }
    }
  }
  if (endpoints) {
    auto items = endpoints->items();
    for (size_t i = 0; i < se.endpoints.size(); ++i) {
      const auto& ep = se.endpoints[i];
      bool ip = IpAddress::parse(ep.address).ok();
      if (ep.address.starts_with("unix://")) {
        if (se.resolution != R::kStatic) {
          ctx.error(codes::kInvalidValue, items[i], "a unix:// endpoint needs resolution STATIC");
        } else if (!ep.ports.empty()) {
          ctx.error(codes::kInvalidValue, items[i], "a unix:// endpoint takes no ports");
        } else if (se.ports.size() != 1) {
          ctx.error(codes::kInvalidValue, items[i],
                    "a ServiceEntry with unix:// endpoints has exactly one port");
        }
      }
      if ((se.resolution == R::kDns || se.resolution == R::kDnsRoundRobin) && !ip &&
          !is_fqdn(ep.address)) {
        ctx.error(
            codes::kInvalidValue, items[i],
            fmt::format("endpoint address '{}' is not an IP address or a DNS name", ep.address));
      }
      for (const auto& [name, port] : ep.ports) {
        bool defined = std::any_of(se.ports.begin(), se.ports.end(),
                                   [&](const ServiceEntry::Port& p) { return p.name == name; });
        if (!defined) {
          ctx.error(codes::kInvalidValue, items[i],
                    fmt::format("endpoint port '{}' is not a port name of the ServiceEntry", name));
        }
      }
    }
  }
  if (se.resolution != R::kNone && se.hosts.size() > 1) {
    // Plain TCP carries no name to tell the hosts apart by.
    bool named = std::all_of(se.ports.begin(), se.ports.end(), is_http_or_tls);
    if (!named) {
      ctx.error(codes::kInvalidValue, spec.required("hosts"),
                "several hosts need HTTP or TLS ports (or resolution NONE): plain TCP cannot tell "
                "the hosts apart");
    }
  }
}

}  // namespace

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
      // STATIC endpoints are IP addresses, or Unix sockets (unix:///path) as Istio allows.
      if (se.resolution == ServiceEntry::Resolution::kStatic && !ep.address.empty() &&
          !ep.address.starts_with("unix://")) {
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
  check_service_entry_rules(spec, se, ctx);
  se.export_to = read_export_to(spec, ctx);
  se.subject_alt_names = strings_or_empty(spec, "subjectAltNames");
  m.service_entries.push_back(std::move(se));
}

}  // namespace ambit::controller::config
