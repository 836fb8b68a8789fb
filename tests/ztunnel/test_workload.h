// A workload of the integration tests' tables: name, identity, node, addresses, label app=<name>.
#pragma once

#include <initializer_list>
#include <string>

#include "ztunnel/workload.h"

namespace ambit::testing {

inline ztunnel::Workload test_workload(std::string name, const Identity& id, std::string node,
                                       std::initializer_list<const char*> ips) {
  ztunnel::Workload w;
  w.name = std::move(name);
  w.ns = id.ns();
  w.service_account = id.service_account();
  w.node = std::move(node);
  w.identity = id;
  for (const char* ip : ips) w.addresses.push_back(*IpAddress::parse(ip));
  w.labels = {{"app", w.name}};
  return w;
}

}  // namespace ambit::testing
