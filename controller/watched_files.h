// What the file-based configuration sources share: which files they read (a directory's files
// with given extensions, or one file), which of those changed since the last look (by mtime and
// size, so a one-file edit re-reads one file), and the inotify watch that says when to look.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "controller/config_source.h"
#include "core/directory_watch.h"
#include "core/result.h"

namespace ambit::controller {

class WatchedFiles {
 public:
  // `path`: a directory (its regular files ending in one of `extensions`) or a single file.
  WatchedFiles(std::filesystem::path path, std::vector<std::string> extensions);

  struct Changes {
    std::vector<std::filesystem::path> changed;  // new, or another mtime or size
    std::vector<std::filesystem::path> removed;
    bool any() const { return !changed.empty() || !removed.empty(); }
  };
  // The files present now compared with the previous scan.
  Changes scan();

  // Calls on_change from the watch's thread after each burst of changes in the directory (the
  // owner then scans). stop() must run before the state on_change uses goes away.
  Status watch(std::function<void()> on_change);
  void stop() { watch_.reset(); }

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::vector<std::string> extensions_;
  std::map<std::filesystem::path, std::pair<std::filesystem::file_time_type, uintmax_t>> seen_;
  std::unique_ptr<DirectoryWatchThread> watch_;
};

// A ConfigSource over WatchedFiles: start() publishes the first state, then the watch's thread
// publishes a new one after each change that re-reading the changed files finds.
class FileConfigSource : public ConfigSource {
 public:
  Status start(OnChange on_change) final;

 protected:
  FileConfigSource(std::filesystem::path path, std::vector<std::string> extensions)
      : watched_(std::move(path), std::move(extensions)) {}
  // Each derived destructor calls this first: the watch's thread calls the two below.
  void stop() { watched_.stop(); }
  const std::filesystem::path& path() const { return watched_.path(); }

  // Why the source cannot start (checked before the first read); none by default.
  virtual Status usable() const { return {}; }
  // Takes in what changed (re-reads `changed`, forgets `removed`).
  virtual void read(const WatchedFiles::Changes& changes) = 0;
  // The state of the files as last read.
  virtual std::shared_ptr<const ViewSource> build() = 0;

 private:
  WatchedFiles watched_;
  OnChange on_change_;
};

}  // namespace ambit::controller
