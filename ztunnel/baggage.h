// The W3C `baggage` header that ztunnel puts on every HBONE CONNECT to describe the source
// workload (k8s.namespace.name, k8s.<type>.name, service.name, service.version,
// k8s.cluster.name), so the destination can label telemetry even for a source it does not know.
#pragma once

#include <string>
#include <string_view>

#include "ztunnel/workload.h"

namespace ambit::ztunnel {

struct Baggage {
  std::string cluster, ns, workload_name, service_name, service_version;
};

// From a workload: its namespace and name (type "pod"), service.name from the canonical-name
// labels (service.istio.io/canonical-name, app.kubernetes.io/name, app) and service.version
// from the revision labels (service.istio.io/canonical-revision, app.kubernetes.io/version,
// version), as Istio derives them.
Baggage baggage_of(const Workload& w);
std::string format_baggage(const Baggage& b);
// Unknown keys are ignored; any k8s.<type>.name fills workload_name.
Baggage parse_baggage(std::string_view header);

}  // namespace ambit::ztunnel
