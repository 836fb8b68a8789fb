// ambit-controller: the certificate authority and the push server for agents and waypoints.
//
//   ambit-controller [--config-dir D | --static-view PATH] --ca-dir D [--listen 0.0.0.0:15012]
//                    [--monitor 127.0.0.1:15014] [--trust-domain cluster.local] [--cert-ttl 24h]
//   ambit-controller bootstrap-node --ca-dir D --node N --out DIR
//   ambit-controller bootstrap-waypoint --ca-dir D --waypoint NS/NAME --out DIR
#include <CLI/CLI.hpp>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "controller/ca/certificate_authority.h"
#include "core/http_endpoints.h"
#include "controller/push/push_server.h"
#include "controller/config_directory.h"
#include "controller/static_view_directory.h"
#include "core/log.h"
#include "core/x509.h"

namespace {

using namespace ambit;
using namespace ambit::controller;
namespace fs = std::filesystem;

Result<std::chrono::seconds> parse_duration(const std::string& text) {
  if (text.empty()) return Error{"empty duration"};
  size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(text, &used);
  } catch (...) {
    return Error::format("duration '{}': expected e.g. 24h, 90m, 3600s", text);
  }
  std::string unit = text.substr(used);
  long long mult = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : 0;
  if (mult == 0 || n <= 0) return Error::format("duration '{}': expected e.g. 24h, 90m, 3600s", text);
  return std::chrono::seconds(n * mult);
}

Status write_public_file(const fs::path& path, const std::string& contents) {
  std::ofstream out(path, std::ios::trunc);
  out << contents;
  if (!out) return Error::format("writing '{}' failed", path.string());
  return {};
}

int bootstrap(const std::string& ca_dir, const std::string& trust_domain, const std::string& node,
              const std::string& waypoint, const std::string& out_dir) {
  CertificateAuthority::Options options;
  options.trust_domain = trust_domain;
  auto ca = CertificateAuthority::load_or_create(ca_dir, options);
  if (!ca) {
    spdlog::error("{}", ca.error().message);
    return 1;
  }
  auto creds = node.empty() ? (*ca)->issue_waypoint_credentials(waypoint)
                            : (*ca)->issue_node_credentials(node);
  if (!creds) {
    spdlog::error("{}", creds.error().message);
    return 1;
  }
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  const char* stem = node.empty() ? "waypoint" : "node";
  fs::path dir(out_dir);
  if (auto s = write_private_file(dir / fmt::format("{}.key", stem), creds->key_pem); !s) {
    spdlog::error("{}", s.error().message);
    return 1;
  }
  if (auto s = write_public_file(dir / fmt::format("{}.pem", stem), creds->certificate_chain_pem); !s) {
    spdlog::error("{}", s.error().message);
    return 1;
  }
  if (auto s = write_public_file(dir / "root.pem", (*ca)->root_pem()); !s) {
    spdlog::error("{}", s.error().message);
    return 1;
  }
  spdlog::info("wrote {}.pem, {}.key (0600) and root.pem to {}", stem, stem, out_dir);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ambit-controller: certificate authority and configuration push for ambit"};
  std::string ca_dir = "/var/lib/ambit/ca";
  std::string trust_domain = "cluster.local";
  std::string log_level = "info";
  std::string config_dir, static_view, listen = "0.0.0.0:15012", monitor = "127.0.0.1:15014";
  std::string cert_ttl = "24h";
  app.add_option("--ca-dir", ca_dir, "CA directory (root generated here at first start)");
  app.add_option("--trust-domain", trust_domain, "SPIFFE trust domain");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off");
  app.add_option("--config-dir", config_dir, "directory of YAML configuration (watched)");
  app.add_option("--static-view", static_view,
                 "JSON file or directory of ambit.v1.Resource arrays (watched)");
  app.add_option("--listen", listen, "control channel (mTLS) address");
  app.add_option("--monitor", monitor, "monitoring endpoint (/metrics, /status)");
  app.add_option("--cert-ttl", cert_ttl, "workload certificate lifetime (e.g. 24h, 90m)");

  std::string node, waypoint, out_dir;
  auto* boot_node = app.add_subcommand("bootstrap-node", "issue a node's control-channel credentials");
  boot_node->add_option("--node", node, "node name")->required();
  boot_node->add_option("--out", out_dir, "output directory")->required();
  boot_node->add_option("--ca-dir", ca_dir, "CA directory");
  boot_node->add_option("--trust-domain", trust_domain, "SPIFFE trust domain");
  auto* boot_wp = app.add_subcommand("bootstrap-waypoint", "issue a waypoint's credentials");
  boot_wp->add_option("--waypoint", waypoint, "<namespace>/<name>")->required();
  boot_wp->add_option("--out", out_dir, "output directory")->required();
  boot_wp->add_option("--ca-dir", ca_dir, "CA directory");
  boot_wp->add_option("--trust-domain", trust_domain, "SPIFFE trust domain");
  CLI11_PARSE(app, argc, argv);
  Logging logging(log_level);

  if (boot_node->parsed()) return bootstrap(ca_dir, trust_domain, node, "", out_dir);
  if (boot_wp->parsed()) return bootstrap(ca_dir, trust_domain, "", waypoint, out_dir);

  auto ttl = parse_duration(cert_ttl);
  auto listen_address = SocketAddress::parse(listen);
  auto monitor_address = SocketAddress::parse(monitor);
  if (!ttl || !listen_address || !monitor_address) {
    spdlog::error("{}", !ttl ? ttl.error().message
                             : !listen_address ? "--listen: " + listen_address.error().message
                                               : "--monitor: " + monitor_address.error().message);
    return 2;
  }
  if (!config_dir.empty() && !static_view.empty()) {
    spdlog::error("give --config-dir or --static-view, not both");
    return 2;
  }

  // SIGTERM/SIGINT are taken with sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  CertificateAuthority::Options ca_options;
  ca_options.trust_domain = trust_domain;
  auto ca = CertificateAuthority::load_or_create(ca_dir, ca_options);
  if (!ca) {
    spdlog::error("{}", ca.error().message);
    return 1;
  }
  spdlog::info("CA: {} root in {} (trust domain {})", (*ca)->generated() ? "generated a" : "loaded the",
               ca_dir, trust_domain);

  v1::Resource bundle;
  bundle.set_uid(trust_domain);
  bundle.mutable_trust_bundle()->set_trust_domain(trust_domain);
  bundle.mutable_trust_bundle()->add_root_certificates_pem((*ca)->root_pem());

  PushState state;
  std::unique_ptr<ConfigSource> source;
  ResourceInterner interner;
  if (!config_dir.empty()) {
    source = std::make_unique<ConfigDirectory>(config_dir, trust_domain,
                                               std::vector<v1::Resource>{bundle});
  } else if (!static_view.empty()) {
    source = std::make_unique<StaticViewDirectory>(static_view, trust_domain,
                                                   std::vector<v1::Resource>{bundle});
  }
  if (source) {
    if (auto s = source->start([&state](std::shared_ptr<const ViewSource> view) {
          uint64_t v = state.publish(std::move(view));
          spdlog::info("config: published version {}", v);
        });
        !s) {
      spdlog::error("{}", s.error().message);
      return 1;
    }
  } else {
    state.publish(StaticViewSource::create({bundle}, trust_domain, interner));
  }

  PushServerOptions push_options;
  push_options.listen = *listen_address;
  push_options.certificate_ttl = *ttl;
  auto server = PushServer::start(push_options, **ca, state);
  if (!server) {
    spdlog::error("{}", server.error().message);
    return 1;
  }
  auto monitor_server = HttpEndpoints::start(
      {{"monitor",
        *monitor_address,
        {{"/metrics",
          [&state]() -> HttpEndpoints::Response {
            return {200, "text/plain; version=0.0.4", state.metrics_text()};
          }},
         {"/status",
          [&state]() -> HttpEndpoints::Response {
            return {200, "application/json", state.status_json()};
          }},
         {"/healthz/ready", []() -> HttpEndpoints::Response { return {200, "text/plain", "ready\n"}; }}}}});
  if (!monitor_server) {
    spdlog::error("{}", monitor_server.error().message);
    return 1;
  }
  spdlog::info("monitor: http://{}/status, /metrics", (*monitor_server)->addresses().front().to_string());

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("controller: signal {}, stopping", sig);
  (*server)->stop();
  source.reset();
  return 0;
}
