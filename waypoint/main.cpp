// ambit-waypoint: the L7 proxy of one waypoint Gateway. Runs in the waypoint's pod, takes its view
// from the controller (as waypoint <ns>/<name>), gets its pod's certificate by CSR, and serves
// HBONE on 15008: HTTP/1.1 routing, load balancing and L7 authorization (docs/waypoint.md).
//
//   ambit-waypoint --controller IP:15012 --waypoint NS/NAME --workload NS/POD --credentials DIR
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>

#include "agent/admin_server.h"
#include "agent/certificates.h"
#include "agent/mesh_view.h"
#include "control/control_client.h"
#include "core/log.h"
#include "waypoint/waypoint_view.h"
#include "ztunnel/engine.h"
#include "ztunnel/metrics.h"

using namespace ambit;

namespace {

std::optional<SocketAddress> parse_endpoint(const std::string& text, const char* flag, bool* ok) {
  if (text.empty()) return std::nullopt;
  auto a = SocketAddress::parse(text);
  if (!a) {
    spdlog::error("{} {}: {}", flag, text, a.error().message);
    *ok = false;
    return std::nullopt;
  }
  return *a;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ambit-waypoint: the L7 proxy of an ambit waypoint"};
  std::string controller_address, credentials_dir, log_level = "info";
  std::string listen = "0.0.0.0:15008", admin = "127.0.0.1:15000", metrics, readiness;
  std::string dns_server;
  unsigned dns_refresh_ms = 5000;
  waypoint::WaypointSettings settings;
  unsigned workers = 0, drain_ms = 10'000;
  app.add_option("--controller", controller_address, "controller ip:port (15012)")->required();
  app.add_option("--waypoint", settings.waypoint_uid, "<namespace>/<name> of the waypoint Gateway")
      ->required();
  app.add_option("--workload", settings.workload_uid,
                 "<namespace>/<pod> this process runs as (one of the Gateway's pods)")
      ->required();
  app.add_option("--credentials", credentials_dir,
                 "directory with waypoint.pem, waypoint.key and root.pem from `ambit-controller "
                 "bootstrap-waypoint`")
      ->required();
  app.add_option("--listen", listen, "HBONE listener ip:port");
  app.add_option("--workers", workers, "worker threads (0: one per core)");
  app.add_option("--admin", admin, "admin endpoint ip:port (config_dump, metrics, ready)");
  app.add_option("--metrics", metrics, "Prometheus endpoint ip:port (/metrics)");
  app.add_option("--readiness", readiness, "readiness endpoint ip:port (/healthz/ready)");
  app.add_option("--drain-ms", drain_ms, "on SIGTERM, how long live requests may finish");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off");
  app.add_option("--retry-budget-ratio", settings.default_budget.ratio,
                 "retries per original request a service may get, over the budget's window "
                 "(routes without a ServiceProfile retryBudget)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--retry-budget-min-per-second", settings.default_budget.min_per_second,
                 "retries per second allowed on top of the ratio");
  app.add_option("--dns-server", dns_server,
                 "ip:port of the DNS server for ServiceEntries of resolution DNS (default: the "
                 "system's resolver, as the pod's /etc/resolv.conf says)");
  app.add_option("--dns-refresh-ms", dns_refresh_ms,
                 "how often those names are resolved again (Envoy's dns_refresh_rate)");
  CLI11_PARSE(app, argc, argv);
  Logging logging(log_level);
  signal(SIGPIPE, SIG_IGN);

  bool ok = true;
  auto listen_at = parse_endpoint(listen, "--listen", &ok);
  agent::AdminServer::Endpoints endpoints{parse_endpoint(admin, "--admin", &ok),
                                          parse_endpoint(metrics, "--metrics", &ok),
                                          parse_endpoint(readiness, "--readiness", &ok)};
  auto dns_at = parse_endpoint(dns_server, "--dns-server", &ok);
  if (!ok || !listen_at) return 2;
  settings.listen = *listen_at;
  if (settings.waypoint_uid.find('/') == std::string::npos ||
      settings.workload_uid.find('/') == std::string::npos) {
    spdlog::error("--waypoint and --workload are <namespace>/<name>");
    return 2;
  }
  auto options = control::client_options(controller_address, settings.waypoint_uid, credentials_dir,
                                         "waypoint");
  if (!options) {
    spdlog::error("{}", options.error().message);
    return 2;
  }
  options->role = ambit::v1::Subscribe::WAYPOINT;

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  UniqueFd signal_fd(signalfd(-1, &signals, SFD_CLOEXEC));

  auto stats = std::make_shared<waypoint::RequestStats>(
      workers == 0 ? std::max(1u, std::thread::hardware_concurrency()) : workers);
  auto initial = waypoint::empty_config(settings, stats);
  if (!initial) {
    spdlog::error("{}", initial.error().message);
    return 1;
  }
  initial->workers = workers;
  auto engine = ztunnel::Engine::start(std::move(*initial));
  if (!engine) {
    spdlog::error("{}", engine.error().message);
    return 1;
  }
  ztunnel::Engine* running = engine->get();

  // A certificate that lands wakes the loop below, which compiles the view again with it.
  UniqueFd wake_fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  std::atomic<control::ControlClient*> client_ptr{nullptr};
  agent::RemoteCertificates certificates(
      [&client_ptr](const std::string& uid, const std::string& csr) -> Result<std::string> {
        control::ControlClient* client = client_ptr.load();
        if (client == nullptr) return Error{"not connected to the controller yet"};
        return client->request_certificate(uid, csr, std::chrono::seconds(10));
      });
  auto wake = [&wake_fd] {
    uint64_t one = 1;
    (void)!write(wake_fd.get(), &one, sizeof(one));
  };
  certificates.set_on_ready(wake);
  // A DNS ServiceEntry's addresses changed: the view is compiled again with them.
  settings.dns = std::make_shared<waypoint::DnsResolver>(
      dns_at, std::chrono::milliseconds(std::max(100u, dns_refresh_ms)), wake);

  std::mutex mutex;  // guards view, applied and last_error (the client's thread writes them)
  agent::MeshView view(agent::MeshView::Role::kWaypoint);
  bool applied = false;
  std::string last_error;
  std::atomic<uint64_t> rejected{0};
  auto apply = [&](const agent::MeshView& next) -> Status {
    auto config = waypoint::compile_view(next, settings, certificates, stats);
    if (!config) return config.error();
    auto report = running->update(std::move(*config));
    if (report.failed() > 0) {
      for (const auto& l : report.listeners) {
        if (!l) return Error::format("listener: {}", l.error().message);
      }
    }
    return {};
  };
  auto started = control::ControlClient::start(
      std::move(*options), [&](const ambit::v1::Update& update) -> Status {
        std::lock_guard lock(mutex);
        auto next = view.with(update);
        Status s = next ? apply(*next) : Status(next.error());
        if (!s) {
          rejected.fetch_add(1);
          last_error = s.error().message;
          spdlog::error("view v{} refused, the previous one stays in force: {}", update.version(),
                        last_error);
          return s;
        }
        view = std::move(*next);
        applied = true;
        spdlog::info("controller view v{} applied ({} objects)", view.version(), view.size());
        return {};
      });
  if (!started) {
    spdlog::error("controller {}: {}", controller_address, started.error().message);
    return 1;
  }
  std::unique_ptr<control::ControlClient> client = std::move(*started);
  client_ptr = client.get();

  auto has_certificate = [&] {
    auto config = running->config();
    return config->credentials.count(settings.workload_uid) > 0;
  };
  auto admin_server = agent::AdminServer::start(
      endpoints,
      {[&] {
         return stats->render_prometheus() + ztunnel::render_prometheus(running->stats()) +
                "# HELP ambit_config_rejected_total Views refused (nacked).\n"
                "# TYPE ambit_config_rejected_total counter\nambit_config_rejected_total " +
                std::to_string(rejected.load()) + "\n";
       },
       [&] {
         std::lock_guard lock(mutex);
         auto config = running->config();
         nlohmann::json j;
         j["waypoint"] = settings.waypoint_uid;
         j["workload"] = settings.workload_uid;
         j["view_version"] = view.version();
         j["objects"] = view.size();
         j["certificate"] = config->credentials.count(settings.workload_uid) > 0;
         j["last_rejection"] = last_error;
         auto& services = j["services"] = nlohmann::json::array();
         for (const auto* s : config->table->services()) services.push_back(s->uid());
         auto& routes = j["virtual_services"] = nlohmann::json::array();
         for (const auto* r : view.resources_of(ambit::v1::Resource::kVirtualService)) {
           routes.push_back(r->uid());
         }
         auto& rules = j["destination_rules"] = nlohmann::json::array();
         for (const auto* r : view.resources_of(ambit::v1::Resource::kDestinationRule)) {
           rules.push_back(r->uid());
         }
         auto& limits = j["local_rate_limits"] = nlohmann::json::array();
         for (const auto* r : view.resources_of(ambit::v1::Resource::kLocalRateLimit)) {
           limits.push_back(r->uid());
         }
         auto& policies = j["authorization_policies"] = nlohmann::json::array();
         for (const auto* r : view.resources_of(ambit::v1::Resource::kAuthorizationPolicy)) {
           policies.push_back(r->uid());
         }
         j["requests"] = stats->requests();
         return j.dump(2);
       },
       [&] {
         std::lock_guard lock(mutex);
         return applied && has_certificate();
       }});
  if (!admin_server) {
    spdlog::error("{}", admin_server.error().message);
    return 1;
  }
  spdlog::info("ready waypoint={} workload={} workers={} listen={}", settings.waypoint_uid,
               settings.workload_uid, running->worker_count(), settings.listen.to_string());

  int sig = 0;
  while (sig == 0) {
    pollfd fds[2] = {{signal_fd.get(), POLLIN, 0}, {wake_fd.get(), POLLIN, 0}};
    int n = poll(fds, 2, 10'000);
    if (n < 0 && errno != EINTR) break;
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info{};
      if (read(signal_fd.get(), &info, sizeof(info)) == sizeof(info)) {
        sig = static_cast<int>(info.ssi_signo);
      }
      continue;
    }
    if (fds[1].revents & POLLIN) {
      uint64_t count = 0;
      (void)!read(wake_fd.get(), &count, sizeof(count));
    }
    // A certificate arrived or is due for renewal, or a DNS answer changed: compile the view
    // in force again.
    std::lock_guard lock(mutex);
    if (!applied) continue;
    if (auto s = apply(view); !s) spdlog::warn("re-applying view: {}", s.error().message);
  }
  client->stop();
  spdlog::info("received signal {}: draining (deadline {} ms)", sig, drain_ms);
  running->drain(std::chrono::milliseconds(drain_ms));
  admin_server->reset();
  return 0;
}
