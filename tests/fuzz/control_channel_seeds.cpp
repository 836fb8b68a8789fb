// Writes the seed corpus of control_channel_fuzz: valid streams of each message kind, framed as on
// the wire (updates by the push server's own encoder). Deterministic. To regenerate after a change
// to proto/ambit/v1/control.proto or mesh.proto:
//   build/release/tests/control_channel_seeds tests/fuzz/corpus/control_channel
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "ambit/v1/control.pb.h"
#include "control/control_channel.h"

namespace {

using namespace ambit;

std::string frame(const google::protobuf::MessageLite& message) {
  std::string body = message.SerializeAsString();
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>(body.size() >> shift));
  return out + body;
}

std::vector<v1::Resource> one_of_each_kind() {
  std::vector<v1::Resource> out(7);
  out[0].set_uid("shop");
  auto* ns = out[0].mutable_namespace_();
  ns->set_name("shop");
  (*ns->mutable_labels())["ambit.io/dataplane-mode"] = "ambient";
  ns->set_ambient(true);

  out[1].set_uid("shop/api");
  auto* w = out[1].mutable_workload();
  w->set_uid("shop/api");
  w->set_name("api");
  w->set_namespace_("shop");
  w->set_service_account("api");
  w->set_node("node2");
  w->add_addresses("10.244.2.10");
  (*w->mutable_labels())["app"] = "api";
  w->set_mesh(true);
  w->set_hbone_address("10.244.2.10:15008");
  w->set_peer_auth(v1::STRICT);

  out[2].set_uid("shop/api");
  auto* s = out[2].mutable_service();
  s->set_uid("shop/api");
  s->set_name("api");
  s->set_namespace_("shop");
  s->add_vips("10.96.0.20");
  auto* port = s->add_ports();
  port->set_port(80);
  port->set_target_port(8080);
  port->set_protocol("HTTP");
  (*s->mutable_selector())["app"] = "api";
  s->add_hosts("api.shop.svc.cluster.local");

  out[3].set_uid("shop/allow-client");
  auto* p = out[3].mutable_authorization_policy();
  p->set_uid("shop/allow-client");
  p->set_name("allow-client");
  p->set_namespace_("shop");
  (*p->mutable_selector())["app"] = "api";
  auto* rule = p->add_rules();
  rule->add_from()->add_principals("cluster.local/ns/shop/sa/client");
  rule->add_to()->add_ports("8080");
  auto* when = rule->add_when();
  when->set_key("source.ip");
  when->add_values("10.244.1.0/24");

  out[4].set_uid("cluster.local");
  auto* t = out[4].mutable_trust_bundle();
  t->set_trust_domain("cluster.local");
  t->add_root_certificates_pem("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");

  out[5].set_uid("shop/api-routes");
  auto* vs = out[5].mutable_virtual_service();
  vs->set_uid("shop/api-routes");
  vs->set_name("api-routes");
  vs->set_namespace_("shop");
  vs->add_hosts("api.shop.svc.cluster.local");
  vs->set_origin("VirtualService");
  auto* route = vs->add_http();
  route->add_match()->mutable_uri()->set_prefix("/v2");
  auto* to = route->add_route();
  to->mutable_destination()->set_host("api.shop.svc.cluster.local");
  to->mutable_destination()->set_subset("v2");
  to->set_weight(100);
  route->set_timeout("1.5s");

  out[6].set_uid("shop/api");
  auto* dr = out[6].mutable_destination_rule();
  dr->set_uid("shop/api");
  dr->set_name("api");
  dr->set_namespace_("shop");
  dr->set_host("api.shop.svc.cluster.local");
  auto* subset = dr->add_subsets();
  subset->set_name("v2");
  (*subset->mutable_labels())["version"] = "v2";
  return out;
}

std::string update_frame(uint64_t version, uint64_t base_version,
                         const std::vector<v1::Resource>& added,
                         const std::vector<v1::ResourceKey>& removed) {
  std::vector<std::string> encoded;
  for (const auto& r : added) encoded.push_back(r.SerializeAsString());
  control::UpdateParts parts;
  parts.version = version;
  parts.base_version = base_version;
  parts.snapshot = base_version == 0;
  for (const auto& e : encoded) parts.added.push_back(&e);
  parts.removed = removed;
  return control::encode_update_frame(parts);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
    return 2;
  }
  std::vector<std::pair<std::string, std::string>> seeds;

  v1::ClientMessage subscribe;
  subscribe.mutable_subscribe()->set_node("node1");
  v1::ClientMessage resume;
  resume.mutable_subscribe()->set_role(v1::Subscribe::WAYPOINT);
  resume.mutable_subscribe()->set_node("shop/waypoint");
  resume.mutable_subscribe()->set_have_version(41);
  v1::ClientMessage ack;
  ack.mutable_ack()->set_version(42);
  v1::ClientMessage nack;
  nack.mutable_nack()->set_version(43);
  nack.mutable_nack()->set_reason("workload shop/api: address '10.244.2' is not an IP");
  v1::ClientMessage csr;
  csr.mutable_certificate_request()->set_id(1);
  csr.mutable_certificate_request()->set_workload_uid("shop/client");
  csr.mutable_certificate_request()->set_csr_pem(
      "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n");
  seeds.emplace_back("client-subscribe", frame(subscribe));
  seeds.emplace_back("client-subscribe-resume", frame(resume));
  seeds.emplace_back("client-ack", frame(ack));
  seeds.emplace_back("client-nack", frame(nack));
  seeds.emplace_back("client-certificate-request", frame(csr));
  // What an agent sends on a new connection, in one read.
  seeds.emplace_back("client-session", frame(subscribe) + frame(csr) + frame(ack));
  // A length over kMaxFrameBytes (64 MiB + 1): refused before anything is buffered.
  seeds.emplace_back("client-oversized-length", std::string("\x04\x00\x00\x01\x0a", 5));

  auto all = one_of_each_kind();
  v1::ResourceKey gone;
  gone.set_kind("Workload");
  gone.set_uid("shop/old");
  seeds.emplace_back("server-snapshot", update_frame(42, 0, all, {}));
  seeds.emplace_back("server-delta", update_frame(43, 42, {all[3]}, {gone}));
  seeds.emplace_back("server-empty-snapshot", update_frame(1, 0, {}, {}));
  v1::ServerMessage issued;
  issued.mutable_certificate_response()->set_id(1);
  issued.mutable_certificate_response()->set_certificate_chain_pem(
      "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  v1::ServerMessage refused;
  refused.mutable_certificate_response()->set_id(2);
  refused.mutable_certificate_response()->set_error("workload 'shop/api' is not on node 'node1'");
  seeds.emplace_back("server-certificate", frame(issued));
  seeds.emplace_back("server-certificate-refused", frame(refused));
  // A delta and an answer back to back, the second cut short as a TLS record may cut it.
  std::string both = update_frame(44, 43, {all[0]}, {}) + frame(refused);
  seeds.emplace_back("server-stream-truncated", both.substr(0, both.size() - 5));

  for (const auto& [name, bytes] : seeds) {
    std::string path = std::string(argv[1]) + "/" + name;
    std::ofstream out(path, std::ios::binary);
    out << bytes;
    if (!out) {
      std::fprintf(stderr, "writing %s failed\n", path.c_str());
      return 1;
    }
  }
  std::printf("%zu seeds written to %s\n", seeds.size(), argv[1]);
  return 0;
}
