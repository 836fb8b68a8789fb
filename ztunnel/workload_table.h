// Where a connection goes: the node's view of workloads and services, indexed for the data path.
//
// Built once (add_workload / add_service), then shared read-only by every worker thread. Nothing
// in a const method mutates, so no lock is needed; a new view means a new table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/net_address.h"
#include "core/result.h"
#include "ztunnel/workload.h"

namespace ambit::ztunnel {

struct Destination {
  enum class Kind { kWorkload, kPassthrough } kind = Kind::kPassthrough;
  const Workload* workload = nullptr;  // kWorkload
  const Service* service = nullptr;    // set when reached through a service VIP
  // Endpoint to connect to: workload ip:target port, or the original dst for passthrough.
  SocketAddress address;
  // Steered to the service's waypoint: `workload` is one of the waypoint's pods and `address`
  // the service VIP:port the client dialled (the CONNECT authority the waypoint routes on).
  bool via_waypoint = false;

  // A known workload can still be outside the mesh (mesh = false); it is then reached in
  // plaintext like a passthrough destination, only HBONE needs a mesh workload.
  bool uses_hbone() const { return kind == Kind::kWorkload && workload && workload->mesh; }
};

class WorkloadTable {
 public:
  WorkloadTable() = default;
  // Pointers handed out point into heap objects the table owns, so moving keeps them valid;
  // copying would not, hence move-only.
  WorkloadTable(WorkloadTable&&) noexcept = default;
  WorkloadTable& operator=(WorkloadTable&&) noexcept = default;
  WorkloadTable(const WorkloadTable&) = delete;
  WorkloadTable& operator=(const WorkloadTable&) = delete;

  // Error on an empty name/namespace, a duplicate uid, or an address already owned by another
  // workload or used as a service VIP. A failed add leaves the table unchanged.
  Status add_workload(Workload w);
  // Error on a duplicate uid, a VIP already used by another service or owned by a workload, or
  // a port declared twice. A failed add leaves the table unchanged.
  Status add_service(Service s);

  const Workload* find_by_address(const IpAddress& ip) const;
  const Workload* find_by_uid(std::string_view uid) const;
  const Service* find_service_by_address(const IpAddress& vip) const;
  const Service* find_service_by_uid(std::string_view uid) const;
  // A ServiceEntry host as written; else "<name>.<ns>.svc.<cluster domain>" (or the short
  // "<name>.<ns>" and "<name>.<ns>.svc").
  const Service* find_service_by_hostname(std::string_view host) const;

  // Workloads in the service's namespace whose labels match its (non-empty) selector, in the
  // order they were added.
  std::vector<const Workload*> endpoints_of(const Service& service) const;
  // The pods that run the waypoint `waypoint_uid` (Workload::runs_waypoint), in the order added.
  std::vector<const Workload*> waypoint_pods(std::string_view waypoint_uid) const;

  // VIP:port -> an endpoint chosen with `entropy` (a per-connection counter gives round robin,
  // a random value a uniform spread) at the service's target port; a workload ip -> that
  // workload; anything else -> passthrough to original_dst. A VIP with no endpoints, or a port
  // the service doesn't declare, is an Error naming the service and the port.
  // `source` is the workload the connection comes from (the outbound listener's). For it, a VIP
  // of a service with a waypoint resolves to one of the waypoint's pods (chosen with `entropy`,
  // via_waypoint set) unless `source` runs that waypoint itself; a waypoint with no pod is an
  // Error naming it: its policy is never bypassed for want of a pod. Without a source (a caller
  // choosing among endpoints itself, as the waypoint does) nothing is steered.
  Result<Destination> resolve(const SocketAddress& original_dst, uint64_t entropy,
                              const Workload* source = nullptr) const;

  size_t workload_count() const { return workloads_.size(); }
  size_t service_count() const { return services_.size(); }
  // In the order added; for admin dumps.
  std::vector<const Workload*> workloads() const;
  std::vector<const Service*> services() const;

 private:
  // An endpoint with the address to use for one IP family.
  struct Target {
    const Workload* workload;
    IpAddress ip;
  };
  struct ServiceEntry {
    Service service;
    std::vector<const Workload*> endpoints;
    // Precomputed so resolve() only indexes: a VIP of one family prefers endpoint addresses of
    // the same family and falls back to the other when there are none.
    std::vector<Target> v4_targets, v6_targets;
  };

  static bool is_endpoint(const Service& service, const Workload& w);
  static void index_endpoint(ServiceEntry& entry, const Workload& w);
  const ServiceEntry* entry_of(const Service& service) const;
  Result<Destination> to_waypoint(const Service& service, const SocketAddress& original_dst,
                                  uint64_t entropy) const;

  std::vector<std::unique_ptr<Workload>> workloads_;
  std::vector<std::unique_ptr<ServiceEntry>> services_;
  std::unordered_map<IpAddress, const Workload*> workload_by_address_;
  std::map<std::string, const Workload*, std::less<>> workload_by_uid_;
  std::unordered_map<IpAddress, const ServiceEntry*> service_by_vip_;
  std::map<std::string, const ServiceEntry*, std::less<>> service_by_uid_;
  // ServiceEntry hosts (Service names are their hosts): the first added of each.
  std::map<std::string, const ServiceEntry*, std::less<>> entry_by_host_;
  std::map<std::string, std::vector<const Workload*>, std::less<>> waypoint_pods_;
};

}  // namespace ambit::ztunnel
