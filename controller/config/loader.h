// Reading the configuration: YAML files (multi-document) of Kubernetes, Istio, Linkerd, SMI and
// Gateway API objects into a ConfigModel, with a diagnostic for every problem found on the way.
//
// What the loader checks is what one object can tell: its YAML, its fields and their values
// (durations, regexes, principals, enum names, weights of one route). What needs several objects
// (hosts, subsets, selectors, conflicts) is the analyzer's (analyzer.h).
//
// An object that cannot be read (a missing name, a list where a mapping belongs) is reported as
// AMB0002 and left out of the model; a bad value inside a readable object is reported and the
// object kept (the value defaulted), so later checks still see it. Unknown fields and kinds are
// warnings: configuration written for a newer Istio keeps loading.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "controller/config/diagnostics.h"
#include "controller/config/model.h"
#include "core/result.h"
#include "core/yaml_reader.h"

namespace ambit::controller::config {

struct ConfigSnapshot {
  ConfigModel model;
  std::vector<Diagnostic> diagnostics;  // sorted (sort_diagnostics)
  std::vector<std::string> files;       // the files read, in reading order
};

// Reads files and directories (a directory: its *.yaml and *.yml files, not recursive, in name
// order). Fails only when a path given does not exist or cannot be read, or is a directory with
// no such file; everything else is a diagnostic.
Result<ConfigSnapshot> load_config(const std::vector<std::string>& paths);

// A whole file in one string (one copy of it in memory; the loader keeps no other).
Result<std::string> read_text_file(const std::string& path);

// Reads YAML text as if it were the file `file_name` and adds its objects and diagnostics to
// `snapshot` (diagnostics not re-sorted). Used by load_config, tests and the fuzz target.
void load_yaml_text(std::string_view text, const std::string& file_name, ConfigSnapshot& snapshot);

// An AuthorizationPolicy written as one item of a list, `name` and `namespace` beside the spec's
// fields (the agent's standalone file, docs/local-config.md), read by the same code as the
// security.istio.io kind. Strict: any problem, warnings included, throws ConfigError naming the
// item and the field.
AuthorizationPolicy read_listed_authorization_policy(const YamlValue& item);

}  // namespace ambit::controller::config
