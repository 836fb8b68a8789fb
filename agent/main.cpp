// ambit-agent: the node agent. For now it runs the ztunnel engine from a local configuration
// file; the controller replaces the file in a later step.
#include <CLI/CLI.hpp>
#include <signal.h>

#include <chrono>

#include "agent/engine_setup.h"
#include "agent/local_config.h"
#include "core/log.h"
#include "ztunnel/engine.h"

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
  std::string addresses;
  for (const auto& a : (*engine)->listener_addresses()) {
    addresses += (addresses.empty() ? "" : " ") + a.to_string();
  }
  spdlog::info("ready node={} workers={} workloads={} listeners=[{}]", config->node,
               (*engine)->worker_count(), workloads, addresses);

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received signal {}: draining (deadline {} ms)", sig, drain_ms);
  (*engine)->drain(std::chrono::milliseconds(drain_ms));
  const auto& s = (*engine)->stats();
  spdlog::info("stopped: outbound={} inbound={} refused={} bytes_sent={} bytes_received={}",
               s.outbound_connections.load(), s.inbound_connections.load(),
               s.refused_connections.load(), s.bytes_sent.load(), s.bytes_received.load());
  return 0;
}
