// Prometheus text exposition of the engine's counters (served on 15020 by the agent).
#pragma once

#include <string>

#include "ztunnel/worker.h"

namespace ambit::ztunnel {

std::string render_prometheus(const EngineStats& stats);

}  // namespace ambit::ztunnel
