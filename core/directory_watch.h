// Changes to the files of one directory (inotify). The directory, not the file: editors and `mv`
// replace files, which a watch on the file itself would miss.
//
// Two ways to use it: DirectoryWatch is an fd for a poll loop that already exists (the agent's,
// beside its signalfd); DirectoryWatchThread runs the same watch on a thread of its own and calls
// back (the controller's configuration sources).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/result.h"
#include "core/unique_fd.h"

namespace ambit {

class DirectoryWatch {
 public:
  enum class Events {
    kNewContent,  // a file written, created or moved in
    kAnyChange,   // also a file moved out or deleted
  };
  static Result<DirectoryWatch> open(const std::filesystem::path& dir, Events events);

  // Readable (POLLIN) while events are pending. Non-blocking.
  int fd() const { return fd_.get(); }
  // Reads every pending event; the names of the files they were about, in order (may repeat).
  std::vector<std::string> drain();

 private:
  explicit DirectoryWatch(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

class DirectoryWatchThread {
 public:
  // on_change runs on the watch's thread, once per burst of events (after a 10 ms settle, so an
  // editor's several writes are one change; a rename is atomic anyway).
  static Result<std::unique_ptr<DirectoryWatchThread>> start(const std::filesystem::path& dir,
                                                             std::function<void()> on_change);
  ~DirectoryWatchThread();  // stops and joins the thread

 private:
  DirectoryWatchThread(DirectoryWatch watch, std::function<void()> on_change);
  void run();

  DirectoryWatch watch_;
  std::function<void()> on_change_;
  UniqueFd stop_fd_;
  std::thread thread_;
};

}  // namespace ambit
