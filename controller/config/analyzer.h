// Cross-object checks of a loaded configuration, as `istioctl analyze` does them: hosts and
// subsets that nothing defines, selectors that match no pod, conflicting PeerAuthentications,
// L7 policies without a waypoint, duplicates... (codes in diagnostics.h, docs/configuration.md).
#pragma once

#include <vector>

#include "controller/config/diagnostics.h"
#include "controller/config/loader.h"
#include "controller/config/model.h"
#include "controller/config/topology.h"

namespace ambit::controller::config {

struct AnalysisReport {
  std::vector<Diagnostic> diagnostics;  // sorted (sort_diagnostics)
  bool has_errors() const { return config::has_errors(diagnostics); }
};

// The checks that need more than one object.
AnalysisReport analyze(const ConfigModel& model);
// The findings about objects of one part's kinds (ConfigModel::Part); analyze(model) is both,
// sorted together. Those of the mesh part read only mesh-part objects, so they stay as they are
// while that part does (the controller re-checks only the rest when only policies changed).
AnalysisReport analyze(const ConfigModel& model, ConfigModel::Part part);
// The same on a Topology of the model, which holds only the mesh part's indexes: one kept while
// that part does not change serves every edit of the rest.
AnalysisReport analyze(const Topology& topology, ConfigModel::Part part);
// Everything about a snapshot: the loader's diagnostics and analyze(model), sorted together.
// The controller refuses to serve a snapshot whose report has blocking errors
// (has_blocking_errors); the others it serves and reports.
AnalysisReport analyze(const ConfigSnapshot& snapshot);

}  // namespace ambit::controller::config
