// What the engine is running, as JSON for /config_dump: the first thing to look at when traffic
// does not go where it should. Never contains key material.
#pragma once

#include <string>

#include <span>

#include "agent/enrollment.h"
#include "agent/local_config.h"
#include "ztunnel/engine_config.h"

namespace ambit::agent {

// pods: the enrollment state of this node's pods; capture_mode: "ebpf" | "iptables" | "none".
std::string config_dump_json(const LocalConfig& local, const ztunnel::EngineConfig& engine,
                             std::span<const Enrollment::PodStatus> pods = {},
                             std::string_view capture_mode = "none");

}  // namespace ambit::agent
