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

namespace {

using Part = config::ConfigModel::Part;

bool feeds_mesh(const std::optional<config::ConfigSnapshot>& good) {
  return good && good->model.has(Part::kMesh);
}

}  // namespace

void ConfigDirectory::read(const WatchedFiles::Changes& changes) {
  size_t bytes_read = 0;
  for (const auto& path : changes.removed) {
    spdlog::info("config: {} removed", path.filename().string());
    if (auto it = files_.find(path); it != files_.end() && feeds_mesh(it->second.good)) {
      mesh_changed_ = true;
    }
    files_.erase(path);
  }
  for (const auto& path : changes.changed) {
    File& f = files_[path];
    // What this file says on its own: its YAML, its objects, their values.
    config::ConfigSnapshot alone;
    f.errors.clear();
    if (auto text = config::read_text_file(path.string())) {
      bytes_read += text->size();
      config::load_yaml_text(*text, path.filename().string(), alone);
    } else {
      f.errors.push_back(text.error().message);
    }
    for (const auto& d : alone.diagnostics) {
      if (d.severity == config::Severity::kError) f.errors.push_back(d.format());
    }
    if (f.errors.empty()) {
      if (feeds_mesh(f.good) || alone.model.has(Part::kMesh)) mesh_changed_ = true;
      f.good = std::move(alone);
    } else {
      spdlog::error("config: {} rejected, {} stays in force:", path.filename().string(),
                    f.good ? "its last good content" : "nothing of it");
      for (const auto& e : f.errors) spdlog::error("  {}", e);
    }
  }
  if (bytes_read >= kTrimAfterBytes) trim_pending_ = true;
}

std::shared_ptr<const ViewSource> ConfigDirectory::build() {
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  auto t0 = Clock::now();
  // Each file was parsed once, when it changed; the directory's model is their sum, kept between
  // versions: its mesh part (every pod) is summed again only when a file with such objects changed.
  config::ConfigSnapshot& all = all_;
  // (mesh_changed_ stays set until a build without errors made mesh_ from the new sum.)
  bool sum_mesh = mesh_changed_;
  all.model.clear(Part::kRest);
  if (sum_mesh) all.model.clear(Part::kMesh);
  all.diagnostics.clear();
  all.files.clear();
  std::vector<std::string> errors;
  for (const auto& [path, f] : files_) {
    if (f.good) {
      if (sum_mesh) all.model.append(f.good->model, Part::kMesh);
      all.model.append(f.good->model, Part::kRest);
      all.diagnostics.insert(all.diagnostics.end(), f.good->diagnostics.begin(),
                             f.good->diagnostics.end());
      all.files.push_back(path.filename().string());
    }
    errors.insert(errors.end(), f.errors.begin(), f.errors.end());
  }
  auto t1 = Clock::now();
  // analyze(all) as its two parts; the mesh part's findings only when that part was summed again.
  // The Topology indexes only the mesh part (the rest it reads from the model when asked).
  if (sum_mesh || !topology_) {
    topology_ = std::make_unique<config::Topology>(all.model);
    mesh_findings_ = config::analyze(*topology_, Part::kMesh).diagnostics;
  }
  config::AnalysisReport report = config::analyze(*topology_, Part::kRest);
  report.diagnostics.insert(report.diagnostics.end(), mesh_findings_.begin(),
                            mesh_findings_.end());
  report.diagnostics.insert(report.diagnostics.end(), all.diagnostics.begin(),
                            all.diagnostics.end());
  config::sort_diagnostics(report.diagnostics);
  auto t2 = Clock::now();
  spdlog::debug("config timing: load {:.1f} ms, analyze {:.1f} ms", ms(t0, t1), ms(t1, t2));
  bool refused = config::has_blocking_errors(report.diagnostics);
  if (refused) {
    spdlog::error(
        "config: the change is inconsistent; the last good configuration stays in force:");
  } else if (report.has_errors()) {
    // References to objects that are not there (yet): served, as Istio serves them; what
    // they name answers as Istio's would (503 for a route to a missing host).
    spdlog::error("config: served with errors about what it refers to:");
  }
  for (const auto& d : report.diagnostics) {
    if (d.severity != config::Severity::kError) continue;
    spdlog::error("  {}", d.format());
    errors.push_back(d.format());
  }
  if (!refused) {
    for (const auto& d : report.diagnostics) {
      if (d.severity != config::Severity::kError) spdlog::debug("config: {}", d.format());
    }
    // Interned: objects that did not change keep their pointers, so pushes send only changes.
    // The mesh part (config::agent_mesh_resources: every pod) is made again only when a file with
    // objects it is made from changed; a policy edit costs the policies.
    // Workload.waypoint_guard comes from policies: a policy edit that guards other pods makes
    // the mesh part again.
    auto guarded = topology_->waypoint_guarded_pods();
    if (guarded != guarded_pods_) {
      guarded_pods_ = std::move(guarded);
      mesh_changed_ = true;
    }
    if (mesh_changed_) {
      mesh_.clear();
      for (auto& r : config::agent_mesh_resources(*topology_, config::kAllNodes, guarded_pods_)) {
        mesh_.push_back(mesh_interner_.intern(std::move(r)));
      }
      mesh_interner_.end_version();
      mesh_changed_ = false;
    }
    auto resources = config::agent_policy_resources(all.model);
    // L7 configuration rides along; StaticViewSource gives it to the waypoints that serve it.
    auto l7 = config::l7_resources(all.model);
    resources.insert(resources.end(), std::make_move_iterator(l7.begin()),
                     std::make_move_iterator(l7.end()));
    auto limits = config::rate_limit_resources(*topology_, all.model.local_rate_limits);
    resources.insert(resources.end(), std::make_move_iterator(limits.begin()),
                     std::make_move_iterator(limits.end()));
    auto policies = config::waypoint_policies(all.model);
    resources.insert(resources.end(), std::make_move_iterator(policies.begin()),
                     std::make_move_iterator(policies.end()));
    resources.insert(resources.end(), extra_.begin(), extra_.end());
    last_good_ = mesh_;
    for (auto& r : resources) last_good_.push_back(interner_.intern(std::move(r)));
    interner_.end_version();
  }
  auto t3 = Clock::now();
  auto view = StaticViewSource::create(last_good_, trust_domain_, errors);
  // Parsing a large file leaves freed heap behind; give it back to the system (only then: a trim
  // walks the whole heap, too slow to do on every small edit of a large mesh).
  if (trim_pending_) {
    malloc_trim(0);
    trim_pending_ = false;
  }
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
