#include "controller/config_directory.h"

#include <malloc.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "controller/config/analyzer.h"
#include "controller/config/loader.h"
#include "controller/config/views.h"

namespace ambit::controller {
namespace fs = std::filesystem;

ConfigDirectory::ConfigDirectory(fs::path dir, std::string trust_domain,
                                 std::vector<v1::Resource> extra)
    : FileConfigSource(std::move(dir), {".yaml", ".yml"}),
      trust_domain_(std::move(trust_domain)),
      extra_(std::move(extra)) {}

ConfigDirectory::~ConfigDirectory() { stop(); }

void ConfigDirectory::read(const WatchedFiles::Changes& changes) {
  for (const auto& path : changes.removed) {
    spdlog::info("config: {} removed", path.filename().string());
    files_.erase(path);
  }
  for (const auto& path : changes.changed) {
    File& f = files_[path];
    // What this file says on its own: its YAML, its objects, their values.
    config::ConfigSnapshot alone;
    f.errors.clear();
    if (auto text = config::read_text_file(path.string())) {
      config::load_yaml_text(*text, path.filename().string(), alone);
    } else {
      f.errors.push_back(text.error().message);
    }
    for (const auto& d : alone.diagnostics) {
      if (d.severity == config::Severity::kError) f.errors.push_back(d.format());
    }
    if (f.errors.empty()) {
      f.good = std::move(alone);
    } else {
      spdlog::error("config: {} rejected, {} stays in force:", path.filename().string(),
                    f.good ? "its last good content" : "nothing of it");
      for (const auto& e : f.errors) spdlog::error("  {}", e);
    }
  }
}

std::shared_ptr<const ViewSource> ConfigDirectory::build() {
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  auto t0 = Clock::now();
  // Each file was parsed once, when it changed; the directory's model is their sum.
  config::ConfigSnapshot all;
  std::vector<std::string> errors;
  for (const auto& [path, f] : files_) {
    if (f.good) {
      all.model.append(f.good->model);
      all.diagnostics.insert(all.diagnostics.end(), f.good->diagnostics.begin(),
                             f.good->diagnostics.end());
      all.files.push_back(path.filename().string());
    }
    errors.insert(errors.end(), f.errors.begin(), f.errors.end());
  }
  auto t1 = Clock::now();
  config::AnalysisReport report = config::analyze(all);
  auto t2 = Clock::now();
  spdlog::debug("config timing: load {:.1f} ms, analyze {:.1f} ms", ms(t0, t1), ms(t1, t2));
  if (report.has_errors()) {
    spdlog::error(
        "config: the change is inconsistent; the last good configuration stays in force:");
    for (const auto& d : report.diagnostics) {
      if (d.severity != config::Severity::kError) continue;
      spdlog::error("  {}", d.format());
      errors.push_back(d.format());
    }
  } else {
    for (const auto& d : report.diagnostics) spdlog::debug("config: {}", d.format());
    auto resources = config::agent_view(all.model, config::kAllNodes, trust_domain_);
    // L7 configuration rides along; StaticViewSource gives it to the waypoints that serve it.
    auto l7 = config::l7_resources(all.model);
    resources.insert(resources.end(), std::make_move_iterator(l7.begin()),
                     std::make_move_iterator(l7.end()));
    resources.insert(resources.end(), extra_.begin(), extra_.end());
    // Interned: objects that did not change keep their pointers, so pushes send only changes.
    last_good_.clear();
    for (auto& r : resources) last_good_.push_back(interner_.intern(std::move(r)));
    interner_.end_version();
  }
  auto t3 = Clock::now();
  auto view = StaticViewSource::create(last_good_, trust_domain_, errors);
  // Parsing a large file leaves freed heap behind; give it back to the system.
  malloc_trim(0);
  spdlog::debug("config timing: views {:.1f} ms, publish {:.1f} ms", ms(t2, t3),
                ms(t3, Clock::now()));
  return view;
}

Status ConfigDirectory::usable() const {
  std::error_code ec;
  if (!fs::is_directory(path(), ec))
    return Error::format("--config-dir {}: not a directory", path().string());
  return {};
}

}  // namespace ambit::controller
