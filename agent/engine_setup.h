// Turns the agent's configuration into what the ztunnel engine runs: the workload table, the
// authorizer, TLS contexts for the workloads this node hosts, and listener specs.
#pragma once

#include "agent/local_config.h"
#include "ztunnel/engine_config.h"

namespace ambit::agent {

Result<ztunnel::EngineConfig> engine_config_from(const LocalConfig& config);

}  // namespace ambit::agent
