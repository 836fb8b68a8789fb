#include "waypoint/dispatch.h"

namespace ambit::waypoint {
namespace {

Dispatch answer(RequestRecord& record, int status, std::string body, std::string flags,
                std::string details, std::vector<Header> extra = {}) {
  Dispatch d;
  d.status = status;
  d.body = std::move(body);
  d.extra = std::move(extra);
  record.status = status;
  record.flags = std::move(flags);
  record.details = std::move(details);
  return d;
}

}  // namespace

Dispatch dispatch(const WaypointState& state, LoadBalancer& lb, unsigned shard,
                  HttpRequest& request, const Downstream& downstream, uint64_t entropy,
                  RequestRecord& record) {
  L7Decision decision = state.authorizer->check(request, downstream);
  if (!decision.allowed) {
    return answer(record, 403, "RBAC: access denied", "-",
                  "rbac_access_denied: " + decision.reason);
  }
  RouteResult route = state.routes->route(request, downstream, entropy);
  record.route = route.route;
  if (route.rate_limited_by != nullptr) {
    state.stats->count(shard, RequestStats::Event::kRateLimited, *route.rate_limited_by);
  }
  switch (route.kind) {
    case RouteResult::Kind::kForward:
      break;
    case RouteResult::Kind::kRedirect:
      return answer(record, route.status, "", "-", "redirect", {{"location", route.location}});
    case RouteResult::Kind::kDirectResponse:
      return answer(record, route.status, std::move(route.body), "-", "direct_response");
    case RouteResult::Kind::kNoRoute:
      return answer(record, 404, "", "NR", "route_not_found");
    case RouteResult::Kind::kNoCluster:
      return answer(record, 503, "", "NC", "cluster_not_found");
    case RouteResult::Kind::kRateLimited: {
      // Envoy's local_ratelimit answer.
      std::vector<Header> extra = std::move(route.rate_limit_headers);
      extra.push_back({"x-envoy-ratelimited", "true"});
      return answer(record, route.status, "local_rate_limited", "RL", "local_rate_limited",
                    std::move(extra));
    }
  }
  // Envoy's fault filter, before the router. An abort answers at once (when a delay fires too,
  // Envoy would answer after it; here the abort is not delayed).
  const Fault& fault = route.resilience->fault;
  std::chrono::milliseconds delay{0};
  if (fault.any()) {
    if ((fault.abort_status != 0 || fault.abort_grpc >= 0) &&
        happens(draw(entropy, kSaltFaultAbort), fault.abort_percent)) {
      if (fault.abort_grpc < 0) {
        return answer(record, fault.abort_status, "fault filter abort", "FI", "fault_filter_abort");
      }
      return answer(record, 200, "", "FI", "fault_filter_abort",
                    {{"content-type", "application/grpc"},
                     {"grpc-status", std::to_string(fault.abort_grpc)},
                     {"grpc-message", "fault filter abort"}});
    }
    if (fault.delay.count() > 0 && happens(draw(entropy, kSaltFaultDelay), fault.delay_percent)) {
      delay = fault.delay;
    }
  }
  std::string set_cookie;
  const RouteTable::ClusterInfo* info = state.routes->cluster(route.cluster);
  const RouteTable::Endpoint* ep =
      lb.pick(*state.routes, info, request, downstream, entropy, &set_cookie);
  if (ep == nullptr) {
    return answer(record, 503, "no healthy upstream", "UH", "no_healthy_upstream");
  }
  Dispatch d;
  d.kind = Dispatch::Kind::kForward;
  d.endpoint = ep;
  d.response_edits = std::move(route.response_headers);
  if (!set_cookie.empty()) d.response_edits.add.push_back({"set-cookie", std::move(set_cookie)});
  if (route.mirror) {
    d.mirror = lb.pick(*state.routes, *route.mirror, request, downstream, entropy >> 1);
  }
  d.cluster = std::move(route.cluster);
  d.cluster_info = info;
  d.resilience = route.resilience;
  d.delay = delay;
  if (delay.count() > 0) record.flags = "DI";
  lb.request_started(*ep);
  record.upstream = ep->address;
  record.upstream_workload = ep->workload->uid();
  return d;
}

bool upstream_http2(const RouteTable::Endpoint& endpoint, bool client_http2, bool upgrade) {
  if (upgrade) return false;
  switch (endpoint.protocol) {
    case UpstreamProtocol::kHttp1:
      return false;
    case UpstreamProtocol::kHttp2:
      return true;
    case UpstreamProtocol::kClient:
      return client_http2;
  }
  return false;
}

}  // namespace ambit::waypoint
