// Who may speak on the control channel: the SPIFFE IDs of agents, waypoints and the controller,
// and the credentials (certificate chain + key) each end presents. The CA issues them; both ends
// of the channel check them, so they live with the channel rather than with the CA.
#pragma once

#include <string>
#include <string_view>

namespace ambit::control {

// Control-channel identities live beside workload ones under a path only the CA issues:
//   spiffe://<td>/ambit/node/<node>          an agent
//   spiffe://<td>/ambit/waypoint/<ns>/<name> a waypoint
//   spiffe://<td>/ambit/controller           the controller's serving certificate
std::string node_spiffe_id(std::string_view trust_domain, std::string_view node);
std::string waypoint_spiffe_id(std::string_view trust_domain, std::string_view waypoint_uid);
std::string controller_spiffe_id(std::string_view trust_domain);

// A certificate chain and its key, PEM. `key_pem` is secret: write it with write_private_file.
struct Credentials {
  std::string certificate_chain_pem;  // leaf first
  std::string key_pem;
};

}  // namespace ambit::control
