// Internal to the analyzer: the reporter the checks share and the check families.
#pragma once

#include <string_view>
#include <vector>

#include "controller/config/diagnostics.h"
#include "controller/config/model.h"
#include "controller/config/topology.h"

namespace ambit::controller::config {

class Findings {
 public:
  explicit Findings(std::vector<Diagnostic>& out) : out_(out) {}
  void add(std::string_view code, Severity severity, const ObjectMeta& meta, const Origin& at,
           std::string message);
  // About the object as a whole (its first line).
  void add(std::string_view code, Severity severity, const ObjectMeta& meta, std::string field,
           std::string message);

 private:
  std::vector<Diagnostic>& out_;
};

// AMB0024 when a non-empty selector picks no Pod (root_is_mesh_wide: see Topology).
void check_selector(const Topology& topology, Findings& findings, const ObjectMeta& meta,
                    const std::optional<StringMap>& selector, const Origin& at,
                    bool root_is_mesh_wide);

// Each check of `part`: findings about objects of that part's kinds (ConfigModel::Part). The mesh
// part's read only mesh-part objects.
void check_networking(const Topology& topology, Findings& findings, ConfigModel::Part part);
void check_security(const Topology& topology, Findings& findings, ConfigModel::Part part);
void check_linkerd_smi(const Topology& topology, Findings& findings);

}  // namespace ambit::controller::config
