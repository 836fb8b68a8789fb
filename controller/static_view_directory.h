// `--static-view PATH`: mesh objects already in the pushed form (ambit.v1.Resource in protobuf
// JSON), one JSON array per *.json file, from a file or a directory that is watched (inotify).
// A changed file is re-read alone; a file that fails to parse keeps its last good content and its
// error is reported in /status. The bridge until the config model (YAML -> views) is wired in.
#pragma once

#include <filesystem>
#include <map>

#include "controller/static_view_source.h"
#include "controller/watched_files.h"

namespace ambit::controller {

class StaticViewDirectory : public FileConfigSource {
 public:
  // `extra`: objects the controller adds itself (the TrustBundle).
  StaticViewDirectory(std::filesystem::path path, std::string trust_domain,
                      std::vector<v1::Resource> extra);
  ~StaticViewDirectory() override;

 private:
  struct File {
    std::vector<ResourcePtr> resources;  // the last good content
    std::string error;                   // of the current content, when rejected
  };
  void read(const WatchedFiles::Changes& changes) override;
  std::shared_ptr<const ViewSource> build() override;

  std::string trust_domain_;
  std::vector<ResourcePtr> extra_;
  std::map<std::filesystem::path, File> files_;
};

// One file's objects; errors name the file and the element.
Result<std::vector<v1::Resource>> parse_resource_file(const std::filesystem::path& file);

}  // namespace ambit::controller
