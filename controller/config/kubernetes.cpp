// The Kubernetes kinds the mesh reads: Namespace, ServiceAccount, Pod, Service, and the Gateway
// API Gateway that declares a waypoint. Only the fields the mesh uses are read; the rest of a
// real object's fields are warned about as unknown, except the ones listed as tolerated here
// (containers, status conditions...) which a `kubectl get -o yaml` always carries.
#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "controller/config/parse_context.h"

namespace ambit::controller::config {

void read_namespace(const YamlObject& root, ObjectMeta meta, ParseContext& ctx, ConfigModel& m) {
  if (auto spec = root.optional("spec")) spec->object({"finalizers"});
  m.namespaces.push_back({std::move(meta)});
}

void read_service_account(const YamlObject& root, ObjectMeta meta, ParseContext& ctx,
                          ConfigModel& m) {
  m.service_accounts.push_back({std::move(meta)});
}

namespace {

// spec.containers[].ports[]: only the named ones, which named Service targetPorts resolve to.
// The containers' other fields are not the mesh's and are not checked.
void read_container_ports(const YamlObject& spec, Pod& pod) {
  for_each_item(spec, "containers", [&](const YamlValue& container, size_t) {
    if (!container.node().IsMap()) container.fail("a container is a mapping");
    auto ports = container.node()["ports"];
    if (!ports) return;
    YamlValue list(ports, std::make_shared<ConfigLocation>(container.where()),
                   container.field() + ".ports");
    for (const auto& item : list.items()) {
      auto p = item.object({"name", "containerPort", "protocol", "hostPort", "hostIP"});
      uint16_t number = p.required("containerPort").port();
      if (auto name = p.optional("name")) pod.named_ports[name->string()] = number;
    }
  });
}

}  // namespace

void read_pod(const YamlObject& root, ObjectMeta meta, ParseContext& ctx, ConfigModel& m) {
  Pod pod;
  pod.meta = std::move(meta);
  if (auto spec = root.optional("spec")) {
    auto o = spec->object({"nodeName",
                           "serviceAccountName",
                           "serviceAccount",
                           "containers",
                           "initContainers",
                           "ephemeralContainers",
                           "volumes",
                           "restartPolicy",
                           "hostNetwork",
                           "hostPID",
                           "hostIPC",
                           "securityContext",
                           "terminationGracePeriodSeconds",
                           "activeDeadlineSeconds",
                           "dnsPolicy",
                           "dnsConfig",
                           "schedulerName",
                           "tolerations",
                           "priority",
                           "priorityClassName",
                           "enableServiceLinks",
                           "preemptionPolicy",
                           "affinity",
                           "nodeSelector",
                           "imagePullSecrets",
                           "hostname",
                           "subdomain",
                           "runtimeClassName",
                           "overhead",
                           "readinessGates",
                           "topologySpreadConstraints",
                           "automountServiceAccountToken",
                           "shareProcessNamespace",
                           "os",
                           "hostAliases",
                           "setHostnameAsFQDN",
                           "schedulingGates",
                           "resourceClaims",
                           "hostUsers"});
    read_container_ports(o, pod);
    pod.node_name = o.string_or("nodeName", "");
    pod.service_account = o.string_or("serviceAccount", "default");
    if (auto sa = o.optional("serviceAccountName")) pod.service_account = sa->kubernetes_name();
  }
  if (auto status = root.optional("status")) {
    auto o = status->object({"podIP", "podIPs", "phase", "hostIP", "hostIPs", "conditions",
                             "containerStatuses", "initContainerStatuses",
                             "ephemeralContainerStatuses", "qosClass", "startTime", "message",
                             "reason", "nominatedNodeName", "resize"});
    if (auto ips = o.optional("podIPs")) {
      for (const auto& item : ips->items()) {
        auto ip = item.object({"ip"}).required("ip");
        ip.ip();  // checks it
        pod.addresses.push_back(ip.string());
      }
    }
    if (auto ip = o.optional("podIP")) {
      ip->ip();
      std::string text = ip->string();
      if (pod.addresses.empty()) {
        pod.addresses.push_back(text);
      } else if (pod.addresses.front() != text) {
        ctx.error(codes::kInvalidValue, *ip, "podIP must be the first of podIPs");
      }
    }
  }
  auto annotation = [&](const char* key) {
    auto it = pod.meta.annotations.find(key);
    return it == pod.meta.annotations.end() ? std::string() : it->second;
  };
  pod.netns = annotation("ambit.io/netns");
  pod.cgroup = annotation("ambit.io/cgroup");
  m.pods.push_back(std::move(pod));
}

namespace {

ServicePort read_service_port(const YamlValue& item, ParseContext& ctx) {
  auto o = item.object({"port", "targetPort", "name", "appProtocol", "protocol", "nodePort"});
  ServicePort port;
  port.port = o.required("port").port();
  if (auto target = o.optional("targetPort")) {
    std::string text = target->string();
    port.target_port_at = origin_of(*target);
    if (!text.empty() && text.find_first_not_of("0123456789") != std::string::npos) {
      port.target_port_name = text;  // resolved per pod, through its container ports
    } else {
      port.target_port = target->port();
    }
  }
  port.name = o.string_or("name", "");
  port.app_protocol = o.string_or("appProtocol", "");
  port.protocol = o.string_or("protocol", "TCP");
  if (port.protocol != "TCP" && port.protocol != "UDP" && port.protocol != "SCTP") {
    ctx.error(codes::kInvalidValue, o.required("protocol"),
              fmt::format("'{}' is not a protocol (TCP | UDP | SCTP)", port.protocol));
  }
  return port;
}

}  // namespace

void read_service(const YamlObject& root, ObjectMeta meta, ParseContext& ctx, ConfigModel& m) {
  Service service;
  service.meta = std::move(meta);
  auto spec = root.required("spec").object({"clusterIP", "clusterIPs", "ports", "selector", "type",
                                            "sessionAffinity", "ipFamilies", "ipFamilyPolicy",
                                            "internalTrafficPolicy", "externalTrafficPolicy",
                                            "publishNotReadyAddresses"});
  auto add_ip = [&](const YamlValue& v) {
    std::string text = v.string();
    if (text == "None" || text.empty()) return;  // headless
    v.ip();
    if (std::find(service.cluster_ips.begin(), service.cluster_ips.end(), text) ==
        service.cluster_ips.end()) {
      service.cluster_ips.push_back(text);
    }
  };
  if (auto ip = spec.optional("clusterIP")) add_ip(*ip);
  if (auto ips = spec.optional("clusterIPs")) {
    for (const auto& item : ips->items()) add_ip(item);
  }
  if (auto ports = spec.optional("ports")) {
    for (const auto& item : ports->items()) service.ports.push_back(read_service_port(item, ctx));
  }
  if (auto selector = spec.optional("selector")) {
    service.selector = selector->string_map();
    service.selector_at = origin_of(*selector);
  }
  auto export_to = service.meta.annotations.find("networking.istio.io/exportTo");
  if (export_to != service.meta.annotations.end()) {
    std::vector<std::string> values;
    std::stringstream list(export_to->second);
    for (std::string v; std::getline(list, v, ',');) {
      v.erase(0, v.find_first_not_of(' '));
      v.erase(v.find_last_not_of(' ') + 1);
      values.push_back(v);
    }
    YamlValue at(root.required("metadata").node()["annotations"],
                 std::make_shared<ConfigLocation>(root.where()), "metadata.annotations");
    service.export_to = check_export_to(values, at, ctx);
  }
  m.services.push_back(std::move(service));
}

bool read_gateway(const YamlObject& root, ObjectMeta meta, ParseContext& ctx, ConfigModel& m) {
  auto spec_value = root.required("spec");
  // Other classes are not ours: do not check their fields.
  auto class_node = spec_value.node()["gatewayClassName"];
  std::string gateway_class = class_node && class_node.IsScalar() ? class_node.Scalar() : "";
  if (gateway_class != "ambit-waypoint" && gateway_class != "istio-waypoint") return false;
  auto spec = spec_value.object({"gatewayClassName", "listeners", "addresses", "infrastructure"});
  if (auto listeners = spec.optional("listeners")) {
    for (const auto& item : listeners->items()) {
      auto l = item.object({"name", "port", "protocol", "hostname", "allowedRoutes", "tls"});
      if (auto port = l.optional("port")) port->port();
    }
  }
  m.waypoints.push_back({std::move(meta), gateway_class});
  return true;
}

}  // namespace ambit::controller::config
