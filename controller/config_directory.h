// `--config-dir D`: the standalone configuration source. A directory of Kubernetes, Istio,
// Linkerd, SMI and Gateway API YAML (*.yaml, *.yml), watched with inotify; a change is applied
// within a second.
//
// Errors never take anything away: a file whose own content has errors (bad YAML, an object
// that cannot be read, a bad value) is rejected whole and its last good content stays in force;
// a change that makes the whole configuration inconsistent (a subset no DestinationRule
// defines, conflicting PeerAuthentications...) is rejected and the last good configuration
// stays in force. Either way the analyze messages go to the log and to /status.
#pragma once

#include <filesystem>
#include <map>
#include <optional>

#include "controller/config/loader.h"
#include "controller/config/topology.h"
#include "controller/static_view_source.h"
#include "controller/watched_files.h"

namespace ambit::controller {

class ConfigDirectory : public FileConfigSource {
 public:
  // `extra`: objects the controller adds itself (the TrustBundle).
  ConfigDirectory(std::filesystem::path dir, std::string trust_domain,
                  std::vector<v1::Resource> extra);
  ~ConfigDirectory() override;

 private:
  struct File {
    // The last content without errors of its own, parsed once when it was read.
    std::optional<config::ConfigSnapshot> good;
    std::vector<std::string> errors;  // of the current content, when rejected
  };
  Status usable() const override;
  void read(const WatchedFiles::Changes& changes) override;
  // The configuration from every file's good content, if it analyzes without errors.
  std::shared_ptr<const ViewSource> build() override;

  std::string trust_domain_;
  std::vector<v1::Resource> extra_;
  std::map<std::filesystem::path, File> files_;
  std::vector<ResourcePtr> last_good_;  // what was published last without errors
  // The mesh part of last_good_ (namespaces, workloads, services), and whether a file it is made
  // from changed since (then the next build without errors makes it again).
  std::vector<ResourcePtr> mesh_;
  bool mesh_changed_ = true;
  // Every file's good content summed (the mesh part as of mesh_changed_), and the findings of
  // analyze on its mesh part.
  config::ConfigSnapshot all_;
  std::vector<config::Diagnostic> mesh_findings_;
  std::unique_ptr<config::Topology> topology_;  // of all_.model, made with its mesh part
  std::vector<std::string> guarded_pods_;       // what mesh_ was made with (waypoint_guarded_pods)
  ResourceInterner mesh_interner_;
  ResourceInterner interner_;  // the rest: policies, L7, the controller's own objects
  bool trim_pending_ = false;  // a large file was parsed since the last build
  static constexpr size_t kTrimAfterBytes = 1u << 20;
};

}  // namespace ambit::controller
