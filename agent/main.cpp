// ambit-agent: the node agent. Runs the ztunnel engine and enrolls this node's pods in the mesh
// (listeners inside each pod's netns, eBPF or iptables capture). Its view of the mesh comes from
// the controller (--controller: pushed over mTLS, certificates by CSR) or, standalone, from a
// configuration file it watches (--config).
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>

#include <sys/eventfd.h>

#include "agent/admin_server.h"
#include "agent/capabilities.h"
#include "agent/capture.h"
#include "agent/config_dump.h"
#include "agent/engine_setup.h"
#include "agent/enrollment.h"
#include "agent/local_config.h"
#include "agent/mesh_view.h"
#include "control/control_client.h"
#include "core/directory_watch.h"
#include "core/log.h"
#include "core/x509.h"
#include "ztunnel/engine.h"
#include "ztunnel/metrics.h"

namespace {

using namespace ambit;
using namespace ambit::agent;

// Removes every trace of capture this node has (both modes), for `--uninstall`.
int uninstall(const CaptureSettings& settings) {
  int status = 0;
  for (const char* mode : {"ebpf", "iptables"}) {
    auto capture = create_capture(mode, settings);
    if (!capture) {
      spdlog::info("uninstall: {} capture not available here ({}); nothing to remove", mode,
                   capture.error().message);
      continue;
    }
    size_t pods = (*capture)->enrolled().size();
    if (auto ok = (*capture)->uninstall(); !ok) {
      spdlog::error("uninstall: {}: {}", mode, ok.error().message);
      status = 1;
    } else {
      spdlog::info("uninstall: {} capture removed ({} pods released)", mode, pods);
    }
  }
  // The state directory itself, once nothing is recorded in it.
  std::error_code ec;
  if (std::filesystem::is_empty(settings.state_dir, ec))
    std::filesystem::remove(settings.state_dir, ec);
  return status;
}

// The configuration file's directory, watched for new content. Without a watch (inotify
// refused), the periodic resync still picks changes up.
std::optional<DirectoryWatch> watch_config_file(const std::string& path) {
  auto dir = std::filesystem::path(path).parent_path();
  auto watch = DirectoryWatch::open(dir.empty() ? "." : dir, DirectoryWatch::Events::kNewContent);
  if (!watch) {
    spdlog::warn("{}; changes are picked up by the periodic resync", watch.error().message);
    return std::nullopt;
  }
  return std::move(*watch);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ambit-agent: node agent of the ambit mesh"};
  std::string config_path;
  unsigned workers = 0;
  std::string log_level = "info";
  unsigned drain_ms = 10'000;
  std::string capture_mode = "auto";
  CaptureSettings settings;
  bool uninstall_only = false;
  unsigned resync_ms = 10'000;
  app.add_option("-c,--config", config_path, "configuration file (YAML), watched for changes");
  std::string controller_address, node_name, credentials_dir;
  app.add_option("--controller", controller_address,
                 "controller ip:port (15012): take the view and certificates from it");
  app.add_option("--node", node_name, "this node's name (with --controller)");
  app.add_option(
      "--credentials", credentials_dir,
      "directory with node.pem, node.key and root.pem from `ambit-controller bootstrap-node`");
  app.add_option("-w,--workers", workers, "worker threads (0 = one per core)");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off");
  app.add_option("--drain-timeout-ms", drain_ms,
                 "on SIGTERM, how long live connections may take to finish");
  app.add_option("--capture", capture_mode,
                 "auto|ebpf|iptables|none: how pods' traffic reaches the agent (auto: eBPF when "
                 "the kernel has the hooks, else iptables; none when no pod is in the config)");
  app.add_option("--state-dir", settings.state_dir,
                 "where enrolled pods are recorded, found again after a restart");
  app.add_option("--bpf-pin-dir", settings.bpf_pin_dir,
                 "where the eBPF capture pins its programs, maps and links (bpffs)");
  app.add_option("--resync-ms", resync_ms,
                 "re-apply the configuration this often (retries, certificate renewal)");
  app.add_flag("--uninstall", uninstall_only,
               "remove every program, pin, rule and record of capture from this node, then exit");
  std::string admin, metrics, readiness;
  app.add_option("--admin", admin,
                 "admin endpoint ip:port (config_dump, metrics, ready); keep it on localhost");
  app.add_option("--metrics", metrics,
                 "Prometheus endpoint ip:port (/metrics), e.g. 0.0.0.0:15020");
  app.add_option("--readiness", readiness,
                 "readiness endpoint ip:port (/healthz/ready), e.g. 0.0.0.0:15021");
  CLI11_PARSE(app, argc, argv);
  Logging logging(log_level);
  signal(SIGPIPE, SIG_IGN);

  if (uninstall_only) return uninstall(settings);
  const bool from_controller = !controller_address.empty();
  if (from_controller == !config_path.empty()) {
    spdlog::error(
        "give either --config (standalone) or --controller (with --node and --credentials)");
    return 1;
  }
  // The view the agent starts from: the file, or nothing until the controller's snapshot.
  Result<LocalConfig> config = LocalConfig{};
  control::ControlClientOptions controller;
  if (from_controller) {
    if (node_name.empty()) {
      spdlog::error("--node is required with --controller");
      return 1;
    }
    auto setup = control::client_options(controller_address, node_name, credentials_dir, "node");
    if (!setup) {
      spdlog::error("{}", setup.error().message);
      return 1;
    }
    controller = std::move(*setup);
    config->node = node_name;
  } else {
    config = load_local_config(config_path);
    if (!config) {
      spdlog::error("{}", config.error().message);
      return 1;
    }
  }
  auto engine_config = engine_config_from(*config);
  if (!engine_config) {
    spdlog::error("{}: {}", config_path, engine_config.error().message);
    return 1;
  }
  engine_config->workers = workers;

  // Capabilities first, so a missing one is named instead of surfacing as some EPERM later.
  // Standalone without pods needs no capture; the controller may send pods at any time.
  if (capture_mode == "auto" && !from_controller && config->sandboxes.empty())
    capture_mode = "none";
  if (capture_mode == "auto") {
    if (auto missing = missing_capabilities(capabilities_needed("ebpf")); !missing.empty()) {
      spdlog::warn("eBPF capture needs {}; trying the iptables fallback", missing.front());
      capture_mode = "iptables";
    }
  }
  if (auto missing = missing_capabilities(capabilities_needed(capture_mode)); !missing.empty()) {
    for (const auto& m : missing) spdlog::error("missing capability {}", m);
    return 1;
  }
  std::unique_ptr<Capture> capture;
  if (capture_mode != "none") {
    auto created = create_capture(capture_mode, settings);
    if (!created) {
      spdlog::error("capture mode {}: {}", capture_mode, created.error().message);
      return 1;
    }
    capture = std::move(*created);
  }

  AdminServer::Endpoints endpoints;
  for (auto [text, slot] :
       {std::pair{&admin, &endpoints.admin}, std::pair{&metrics, &endpoints.metrics},
        std::pair{&readiness, &endpoints.readiness}}) {
    if (text->empty()) continue;
    auto address = SocketAddress::parse(*text);
    if (!address) {
      spdlog::error("endpoint address: {}", address.error().message);
      return 1;
    }
    *slot = *address;
  }

  // Signals are read from a signalfd in the loop below; the workers never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  UniqueFd signal_fd(signalfd(-1, &signals, SFD_CLOEXEC));

  auto engine = ztunnel::Engine::start(std::move(*engine_config));
  if (!engine) {
    spdlog::error("{}", engine.error().message);
    return 1;
  }
  ztunnel::Engine* running = engine->get();
  // A certificate that lands (controller mode) wakes the loop below to apply it at once.
  UniqueFd wake_fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  auto wake = [&wake_fd] {
    uint64_t one = 1;
    (void)!write(wake_fd.get(), &one, sizeof(one));
  };
  std::unique_ptr<CertificateSource> certificates;
  std::atomic<control::ControlClient*> client_ptr{nullptr};
  if (from_controller) {
    certificates = std::make_unique<RemoteCertificates>(
        [&client_ptr](const std::string& uid, const std::string& csr) -> Result<std::string> {
          control::ControlClient* client = client_ptr.load();
          if (client == nullptr) return Error{"not connected to the controller yet"};
          return client->request_certificate(uid, csr, std::chrono::seconds(10));
        });
    certificates->set_on_ready(wake);
  }
  Enrollment enrollment(*running, std::move(capture), Enrollment::Options{settings},
                        std::move(certificates));
  if (!from_controller) {
    if (auto ok = enrollment.apply(*config); !ok) {
      spdlog::error("{}: {}", config_path, ok.error().message);
      return 1;
    }
  }

  std::mutex dump_mutex;  // guards dump and *config (the controller's thread replaces it)
  std::string dump;
  std::atomic<uint64_t> rejected{0};
  auto refresh_dump = [&] {
    auto pods = enrollment.status();
    std::lock_guard lock(dump_mutex);
    dump = config_dump_json(*config, *running->config(), pods, enrollment.capture_mode());
  };
  refresh_dump();

  // Controller mode: every update is applied on the client's thread and acked, or nacked with
  // the reason while the last good view stays in force.
  MeshView view;
  std::unique_ptr<control::ControlClient> client;
  if (from_controller) {
    auto started = control::ControlClient::start(
        std::move(controller), [&](const ambit::v1::Update& update) -> Status {
          auto next = view.with(update);
          if (!next) return next.error();
          auto next_config = next->to_local_config(node_name);
          if (!next_config) return next_config.error();
          if (auto ok = enrollment.apply(*next_config); !ok) {
            rejected.fetch_add(1);
            return ok;
          }
          view = std::move(*next);
          {
            std::lock_guard lock(dump_mutex);
            *config = std::move(*next_config);
          }
          refresh_dump();
          spdlog::info("controller view v{} applied ({} objects)", view.version(), view.size());
          return {};
        });
    if (!started) {
      spdlog::error("controller {}: {}", controller_address, started.error().message);
      return 1;
    }
    client = std::move(*started);
    client_ptr = client.get();
  }

  std::atomic<bool> serving{true};  // readiness turns false as soon as draining starts
  auto admin_server = AdminServer::start(
      endpoints, {[running, &rejected, &logging] {
                    return ztunnel::render_prometheus(running->stats()) +
                           "# HELP ambit_config_rejected_total Configuration changes refused (the "
                           "last good one stayed in force).\n"
                           "# TYPE ambit_config_rejected_total counter\n"
                           "ambit_config_rejected_total " +
                           std::to_string(rejected.load()) +
                           "\n"
                           "# HELP ambit_log_lines_dropped_total Log lines (access log included) "
                           "dropped because the log queue was full.\n"
                           "# TYPE ambit_log_lines_dropped_total counter\n"
                           "ambit_log_lines_dropped_total " +
                           std::to_string(logging.dropped_lines()) + "\n";
                  },
                  [&] {
                    std::lock_guard lock(dump_mutex);
                    return dump;
                  },
                  [&serving] { return serving.load(); }});
  if (!admin_server) {
    spdlog::error("{}", admin_server.error().message);
    return 1;
  }
  std::string addresses;
  for (const auto& a : running->listener_addresses()) {
    addresses += (addresses.empty() ? "" : " ") + a.to_string();
  }
  for (const auto& a : (*admin_server)->addresses()) addresses += " http://" + a.to_string();
  spdlog::info("ready node={} workers={} workloads={} capture={} view={} listeners=[{}]",
               config->node, running->worker_count(), running->config()->table->workload_count(),
               enrollment.capture_mode(),
               from_controller ? "controller " + controller_address : config_path, addresses);

  std::optional<DirectoryWatch> watch;
  if (!from_controller) watch = watch_config_file(config_path);
  const std::string config_name = std::filesystem::path(config_path).filename().string();
  int watch_fd = watch ? watch->fd() : -1;
  auto next_resync = std::chrono::steady_clock::now() + std::chrono::milliseconds(resync_ms);
  int sig = 0;
  while (sig == 0) {
    pollfd fds[3] = {
        {signal_fd.get(), POLLIN, 0}, {wake_fd.get(), POLLIN, 0}, {watch_fd, POLLIN, 0}};
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        next_resync - std::chrono::steady_clock::now());
    int n = poll(fds, watch_fd >= 0 ? 3 : 2, static_cast<int>(std::max<int64_t>(0, wait.count())));
    if (n < 0 && errno != EINTR) break;
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info{};
      if (read(signal_fd.get(), &info, sizeof(info)) == sizeof(info))
        sig = static_cast<int>(info.ssi_signo);
      continue;
    }
    bool woken = false;
    if (fds[1].revents & POLLIN) {
      uint64_t count = 0;
      woken = read(wake_fd.get(), &count, sizeof(count)) == sizeof(count);
    }
    bool changed = false;
    if (watch_fd >= 0 && (fds[2].revents & POLLIN)) {
      auto names = watch->drain();
      changed = std::find(names.begin(), names.end(), config_name) != names.end();
    }
    bool resync = std::chrono::steady_clock::now() >= next_resync;
    if (!changed && !resync && !woken) continue;
    if (resync)
      next_resync = std::chrono::steady_clock::now() + std::chrono::milliseconds(resync_ms);
    if (from_controller) {
      // The view in force again: pods waiting for a certificate, renewals, retries.
      LocalConfig current;
      {
        std::lock_guard lock(dump_mutex);
        current = *config;
      }
      if (auto ok = enrollment.apply(current); !ok) {
        spdlog::warn("re-applying controller view: {}", ok.error().message);
      }
      refresh_dump();
      continue;
    }
    auto reloaded = load_local_config(config_path);
    Status applied = reloaded ? enrollment.apply(*reloaded) : Status(reloaded.error());
    if (!applied) {
      if (changed) rejected.fetch_add(1);
      spdlog::error("configuration rejected, the last good one stays in force: {}",
                    applied.error().message);
      continue;
    }
    if (changed) spdlog::info("configuration {} applied", config_path);
    {
      std::lock_guard lock(dump_mutex);
      *config = std::move(*reloaded);
    }
    refresh_dump();
  }
  if (client) client->stop();
  serving = false;
  spdlog::info("received signal {}: draining (deadline {} ms)", sig, drain_ms);
  running->drain(std::chrono::milliseconds(drain_ms));
  admin_server->reset();
  const auto& s = running->stats();
  spdlog::info("stopped: outbound={} inbound={} refused={} bytes_sent={} bytes_received={}",
               s.outbound_connections.load(), s.inbound_connections.load(),
               s.refused_connections.load(), s.bytes_sent.load(), s.bytes_received.load());
  return 0;
}
