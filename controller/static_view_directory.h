// `--static-view PATH`: mesh objects already in the pushed form (ambit.v1.Resource in protobuf
// JSON), one JSON array per *.json file, from a file or a directory that is watched (inotify).
// A changed file is re-read alone; a file that fails to parse keeps its last good content and its
// error is reported in /status. The bridge until the config model (YAML -> views) is wired in.
#pragma once

#include <filesystem>
#include <map>

#include "controller/config_source.h"
#include "controller/static_view_source.h"
#include "controller/directory_watch.h"

namespace ambit::controller {

class StaticViewDirectory : public ConfigSource {
 public:
  // `extra`: objects the controller adds itself (the TrustBundle).
  StaticViewDirectory(std::filesystem::path path, std::string trust_domain,
                      std::vector<v1::Resource> extra);
  ~StaticViewDirectory() override;
  Status start(OnChange on_change) override;

 private:
  struct File {
    std::filesystem::file_time_type mtime;
    uintmax_t size = 0;
    std::vector<ResourcePtr> resources;
    std::string error;
    bool loaded = false;
  };
  // Re-reads changed files; true if anything changed.
  bool reload();
  std::shared_ptr<const ViewSource> build();

  std::filesystem::path path_;
  std::filesystem::path dir_;
  std::string trust_domain_;
  std::vector<ResourcePtr> extra_;
  std::map<std::filesystem::path, File> files_;
  OnChange on_change_;
  std::unique_ptr<DirectoryWatch> watch_;  // last: stops before the rest goes
};

// One file's objects; errors name the file and the element.
Result<std::vector<v1::Resource>> parse_resource_file(const std::filesystem::path& file);

}  // namespace ambit::controller
