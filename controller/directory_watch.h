// Watches a directory (inotify) on a thread of its own and calls back when a file in it is
// written, created, renamed or removed: the configuration sources' change trigger.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <thread>

#include "core/result.h"
#include "core/unique_fd.h"

namespace ambit::controller {

class DirectoryWatch {
 public:
  // on_change runs on the watch's thread, once per burst of events (after a 10 ms settle, so
  // an editor's several writes are one change; a rename is atomic anyway).
  static Result<std::unique_ptr<DirectoryWatch>> start(const std::filesystem::path& dir,
                                                       std::function<void()> on_change);
  ~DirectoryWatch();  // stops and joins the thread

 private:
  DirectoryWatch() = default;
  void run();

  std::function<void()> on_change_;
  UniqueFd inotify_;
  UniqueFd stop_fd_;
  std::thread thread_;
};

}  // namespace ambit::controller
