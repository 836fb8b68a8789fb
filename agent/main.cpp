// ambit-agent: the node agent. For now it runs the ztunnel engine from a local configuration
// file; the controller replaces the file in a later step.
#include <CLI/CLI.hpp>
#include <signal.h>

#include <atomic>
#include <chrono>

#include "agent/admin_server.h"
#include "agent/config_dump.h"
#include "agent/engine_setup.h"
#include "agent/local_config.h"
#include "core/log.h"
#include "ztunnel/engine.h"
#include "ztunnel/metrics.h"

int main(int argc, char** argv) {
  CLI::App app{"ambit-agent: node agent of the ambit mesh"};
  std::string config_path;
  unsigned workers = 0;
  std::string log_level = "info";
  unsigned drain_ms = 10'000;
  app.add_option("-c,--config", config_path, "local configuration file (YAML)")->required();
  app.add_option("-w,--workers", workers, "worker threads (0 = one per core)");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off");
  app.add_option("--drain-timeout-ms", drain_ms,
                 "on SIGTERM, how long live connections may take to finish");
  std::string admin, metrics, readiness;
  app.add_option("--admin", admin, "admin endpoint ip:port (config_dump, metrics, ready); keep it on localhost");
  app.add_option("--metrics", metrics, "Prometheus endpoint ip:port (/metrics), e.g. 0.0.0.0:15020");
  app.add_option("--readiness", readiness, "readiness endpoint ip:port (/healthz/ready), e.g. 0.0.0.0:15021");
  CLI11_PARSE(app, argc, argv);
  ambit::init_logging(log_level);

  auto config = ambit::agent::load_local_config(config_path);
  if (!config) {
    spdlog::error("{}", config.error().message);
    return 1;
  }
  auto engine_config = ambit::agent::engine_config_from(*config);
  if (!engine_config) {
    spdlog::error("{}: {}", config_path, engine_config.error().message);
    return 1;
  }
  engine_config->workers = workers;
  size_t workloads = engine_config->table->workload_count();
  std::string dump = ambit::agent::config_dump_json(*config, *engine_config);

  ambit::agent::AdminServer::Endpoints endpoints;
  for (auto [text, slot] : {std::pair{&admin, &endpoints.admin}, std::pair{&metrics, &endpoints.metrics},
                            std::pair{&readiness, &endpoints.readiness}}) {
    if (text->empty()) continue;
    auto address = ambit::SocketAddress::parse(*text);
    if (!address) {
      spdlog::error("endpoint address: {}", address.error().message);
      return 1;
    }
    *slot = *address;
  }

  // Signals are taken synchronously below; the workers never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto engine = ambit::ztunnel::Engine::start(std::move(*engine_config));
  if (!engine) {
    spdlog::error("{}", engine.error().message);
    return 1;
  }
  ambit::ztunnel::Engine* running = engine->get();
  std::atomic<bool> serving{true};  // readiness turns false as soon as draining starts
  auto admin_server = ambit::agent::AdminServer::start(
      endpoints, {[running] { return ambit::ztunnel::render_prometheus(running->stats()); },
                  [dump] { return dump; }, [&serving] { return serving.load(); }});
  if (!admin_server) {
    spdlog::error("{}", admin_server.error().message);
    return 1;
  }
  std::string addresses;
  for (const auto& a : (*engine)->listener_addresses()) {
    addresses += (addresses.empty() ? "" : " ") + a.to_string();
  }
  for (const auto& a : (*admin_server)->addresses()) addresses += " http://" + a.to_string();
  spdlog::info("ready node={} workers={} workloads={} listeners=[{}]", config->node,
               (*engine)->worker_count(), workloads, addresses);

  int sig = 0;
  sigwait(&signals, &sig);
  serving = false;
  spdlog::info("received signal {}: draining (deadline {} ms)", sig, drain_ms);
  (*engine)->drain(std::chrono::milliseconds(drain_ms));
  admin_server->reset();
  const auto& s = (*engine)->stats();
  spdlog::info("stopped: outbound={} inbound={} refused={} bytes_sent={} bytes_received={}",
               s.outbound_connections.load(), s.inbound_connections.load(),
               s.refused_connections.load(), s.bytes_sent.load(), s.bytes_received.load());
  return 0;
}
