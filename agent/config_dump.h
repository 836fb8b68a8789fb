// What the engine is running, as JSON for /config_dump: the first thing to look at when traffic
// does not go where it should. Never contains key material.
#pragma once

#include <string>

#include "agent/local_config.h"
#include "ztunnel/engine_config.h"

namespace ambit::agent {

std::string config_dump_json(const LocalConfig& local, const ztunnel::EngineConfig& engine);

}  // namespace ambit::agent
