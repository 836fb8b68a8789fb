// What an HBONE peer puts in a CONNECT's headers (:authority, Forwarded, baggage), through the
// inbound's decision. Input: byte 0 picks the peer (identity and addresses), then lines
// authority \n forwarded \n baggage. Besides not crashing, the decision must keep its promises:
// only the listener's workload is reached, and a peer that may not speak for an address never
// gets a policy to see it.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "ztunnel/connect_admission.h"

// Aborts with the broken promise named, so a crash file says what it found.
#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) {                                                       \
      std::fprintf(stderr, "connect_request_fuzz: broken: %s\n", #cond); \
      std::abort();                                                      \
    }                                                                    \
  } while (0)

namespace {

using namespace ambit;
using namespace ambit::ztunnel;

const Identity kEcho("cluster.local", "default", "echo");
const Identity kSleep("cluster.local", "default", "sleep");
const Identity kWaypoint("cluster.local", "default", "echo-waypoint");
const Identity kOther("cluster.local", "default", "other");

Workload workload(const char* name, const Identity& id, const char* node,
                  std::initializer_list<const char*> ips) {
  Workload w;
  w.name = name;
  w.ns = id.ns();
  w.service_account = id.service_account();
  w.node = node;
  w.identity = id;
  for (const char* ip : ips) w.addresses.push_back(*IpAddress::parse(ip));
  w.labels = {{"app", name}};
  return w;
}

AuthorizationPolicy ip_policy(const char* name, AuthzAction action, const char* cidr) {
  AuthzSource source;
  source.ip_blocks = {*Cidr::parse(cidr)};
  AuthzRule rule;
  rule.from = {source};
  AuthorizationPolicy p;
  p.name = name;
  p.ns = "default";
  p.action = action;
  p.rules = {rule};
  return p;
}

const EngineConfig& config() {
  static const EngineConfig c = [] {
    EngineConfig c;
    c.node = "node-b";
    auto table = std::make_shared<WorkloadTable>();
    Workload echo = workload("echo", kEcho, "node-b", {"10.0.0.3", "fd00::3"});
    echo.waypoint = "default/echo-waypoint";
    (void)table->add_workload(echo);
    (void)table->add_workload(workload("other-pod", kOther, "node-b", {"10.0.0.4"}));
    (void)table->add_workload(workload("sleep", kSleep, "node-a", {"10.0.0.9"}));
    Service svc;
    svc.name = "echo";
    svc.ns = "default";
    svc.vips = {*IpAddress::parse("10.96.0.10")};
    svc.ports = {{80, 8080}, {443, 0}};
    svc.selector = {{"app", "echo"}};
    (void)table->add_service(svc);
    c.table = table;
    c.authorizer = std::make_shared<Authorizer>(
        std::vector<AuthorizationPolicy>{ip_policy("deny-66", AuthzAction::kDeny, "10.66.0.0/16"),
                                         ip_policy("allow-10", AuthzAction::kAllow, "10.0.0.0/8"),
                                         ip_policy("allow-v6", AuthzAction::kAllow, "fd00::/8")});
    return c;
  }();
  return c;
}

std::string_view next_line(std::string_view& rest) {
  size_t nl = rest.find('\n');
  std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const Identity* const kPeers[] = {&kSleep, &kWaypoint, &kOther, &kEcho};
  static const char* const kPeerIps[] = {"10.0.0.9", "10.0.0.50", "10.70.0.1", "10.66.1.1"};
  static const char* const kLocalIps[] = {"10.0.0.3", "127.0.0.2", "fd00::3", "10.0.0.4"};
  InboundPeer peer{*kPeers[data[0] & 3],
                   SocketAddress(*IpAddress::parse(kPeerIps[(data[0] >> 2) & 3]), 40000),
                   SocketAddress(*IpAddress::parse(kLocalIps[(data[0] >> 4) & 3]), 15008)};
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  ConnectRequest request;
  request.authority = next_line(rest);
  request.forwarded = next_line(rest);
  request.baggage = next_line(rest);
  ConnectDecision d = admit_connect(config(), "default/echo", peer, request);
  CHECK(d.status == 200 || d.status == 400 || d.status == 401);
  if (d.status == 400) return 0;
  // Past the target: the destination is the listener's workload, on an address of its own.
  CHECK(d.destination != nullptr && d.destination->uid() == "default/echo");
  CHECK(d.upstream.port() != 0);
  // `other` owns no address it could claim and is nobody's waypoint: policies see its own.
  CHECK(peer.identity != kOther || d.record.src.ip() == peer.address.ip());
  CHECK(d.admission.source_ip == d.record.src.ip());
  // The DENY on 10.66/16 holds whatever was claimed.
  CHECK(d.status != 200 || !Cidr::parse("10.66.0.0/16")->contains(d.record.src.ip()));
  return 0;
}
