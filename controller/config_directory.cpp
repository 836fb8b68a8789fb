#include "controller/config_directory.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "controller/config/analyzer.h"
#include "controller/config/views.h"

namespace ambit::controller {
namespace fs = std::filesystem;

ConfigDirectory::ConfigDirectory(fs::path dir, std::string trust_domain,
                                 std::vector<v1::Resource> extra)
    : dir_(std::move(dir)), trust_domain_(std::move(trust_domain)), extra_(std::move(extra)) {}

ConfigDirectory::~ConfigDirectory() {
  if (stop_fd_.valid()) {
    uint64_t one = 1;
    (void)!::write(stop_fd_.get(), &one, sizeof(one));
  }
  if (thread_.joinable()) thread_.join();
}

bool ConfigDirectory::reload() {
  std::vector<fs::path> present;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    auto ext = entry.path().extension();
    if ((ext == ".yaml" || ext == ".yml") && entry.is_regular_file()) present.push_back(entry.path());
  }
  bool changed = false;
  for (auto it = files_.begin(); it != files_.end();) {
    if (std::find(present.begin(), present.end(), it->first) == present.end()) {
      spdlog::info("config: {} removed", it->first.filename().string());
      it = files_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  for (const auto& path : present) {
    auto mtime = fs::last_write_time(path, ec);
    auto size = fs::file_size(path, ec);
    File& f = files_[path];
    if ((f.good || !f.errors.empty()) && f.mtime == mtime && f.size == size) continue;
    f.mtime = mtime;
    f.size = size;
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    // What this file says on its own: its YAML, its objects, their values.
    config::ConfigSnapshot alone;
    config::load_yaml_text(text.str(), path.filename().string(), alone);
    f.errors.clear();
    for (const auto& d : alone.diagnostics) {
      if (d.severity == config::Severity::kError) f.errors.push_back(d.format());
    }
    if (f.errors.empty()) {
      f.good = text.str();
    } else {
      spdlog::error("config: {} rejected, {} stays in force:", path.filename().string(),
                    f.good ? "its last good content" : "nothing of it");
      for (const auto& e : f.errors) spdlog::error("  {}", e);
    }
    changed = true;
  }
  return changed;
}

std::shared_ptr<const ViewSource> ConfigDirectory::build() {
  config::ConfigSnapshot all;
  std::vector<std::string> errors;
  for (const auto& [path, f] : files_) {
    if (f.good) config::load_yaml_text(*f.good, path.filename().string(), all);
    errors.insert(errors.end(), f.errors.begin(), f.errors.end());
  }
  config::AnalysisReport report = config::analyze(all);
  std::vector<v1::Resource> resources;
  if (report.has_errors()) {
    spdlog::error("config: the change is inconsistent; the last good configuration stays in force:");
    for (const auto& d : report.diagnostics) {
      if (d.severity != config::Severity::kError) continue;
      spdlog::error("  {}", d.format());
      errors.push_back(d.format());
    }
    resources = last_good_;
  } else {
    for (const auto& d : report.diagnostics) spdlog::debug("config: {}", d.format());
    resources = config::agent_view(all.model, config::kAllNodes, trust_domain_);
    resources.insert(resources.end(), extra_.begin(), extra_.end());
    last_good_ = resources;
  }
  auto view = StaticViewSource::create(std::move(resources), trust_domain_, interner_, errors);
  interner_.end_version();
  return view;
}

Status ConfigDirectory::start(OnChange on_change) {
  on_change_ = std::move(on_change);
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return Error::format("--config-dir {}: not a directory", dir_.string());
  inotify_.reset(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!inotify_.valid() ||
      inotify_add_watch(inotify_.get(), dir_.c_str(),
                        IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE) < 0) {
    return Error::format("watching '{}': {}", dir_.string(), std::strerror(errno));
  }
  reload();
  on_change_(build());
  stop_fd_.reset(eventfd(0, EFD_CLOEXEC));
  thread_ = std::thread([this] { watch_loop(); });
  return {};
}

void ConfigDirectory::watch_loop() {
  pollfd fds[2] = {{inotify_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
  char buf[16 * 1024];
  while (true) {
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    // Editors write in several steps: let them finish (well under the one-second promise).
    ::poll(nullptr, 0, 50);
    while (::read(inotify_.get(), buf, sizeof(buf)) > 0) {
    }
    if (reload()) on_change_(build());
  }
}

}  // namespace ambit::controller
