#include "controller/watched_files.h"

#include <algorithm>

namespace ambit::controller {

namespace fs = std::filesystem;

WatchedFiles::WatchedFiles(fs::path path, std::vector<std::string> extensions)
    : path_(std::move(path)), extensions_(std::move(extensions)) {}

WatchedFiles::Changes WatchedFiles::scan() {
  std::vector<fs::path> present;
  std::error_code ec;
  if (fs::is_directory(path_, ec)) {
    for (const auto& entry : fs::directory_iterator(path_, ec)) {
      auto ext = entry.path().extension().string();
      bool wanted = std::find(extensions_.begin(), extensions_.end(), ext) != extensions_.end();
      if (wanted && entry.is_regular_file()) present.push_back(entry.path());
    }
  } else if (fs::exists(path_, ec)) {
    present.push_back(path_);
  }
  Changes changes;
  for (auto it = seen_.begin(); it != seen_.end();) {
    if (std::find(present.begin(), present.end(), it->first) == present.end()) {
      changes.removed.push_back(it->first);
      it = seen_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& p : present) {
    std::pair stamp{fs::last_write_time(p, ec), fs::file_size(p, ec)};
    auto [it, added] = seen_.emplace(p, stamp);
    if (!added && it->second == stamp) continue;
    it->second = stamp;
    changes.changed.push_back(p);
  }
  return changes;
}

Status WatchedFiles::watch(std::function<void()> on_change) {
  std::error_code ec;
  fs::path dir = fs::is_directory(path_, ec) ? path_ : path_.parent_path();
  if (dir.empty()) dir = ".";
  auto watch = DirectoryWatchThread::start(dir, std::move(on_change));
  if (!watch) return watch.error();
  watch_ = std::move(*watch);
  return {};
}

Status FileConfigSource::start(OnChange on_change) {
  if (auto ok = usable(); !ok) return ok;
  on_change_ = std::move(on_change);
  read(watched_.scan());
  on_change_(build());
  return watched_.watch([this] {
    auto changes = watched_.scan();
    if (!changes.any()) return;
    read(changes);
    on_change_(build());
  });
}

}  // namespace ambit::controller
