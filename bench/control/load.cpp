// ambit-bench-control-load: N simulated agents on the control channel, for bench/run control.
// Each is a ControlClient with its own node credentials (issued in-process from --ca-dir). Output
// on stdout, one event per line, wall-clock nanoseconds (comparable with the driver's clock):
//   SNAPSHOT <first_connect_ns> <all_acked_ns>   every client has applied its first snapshot
//   ACKED <marker> <ns>                          every client has applied the policy change
// where <marker> is the first principal of the first rule of --watch-policy.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <unordered_map>

#include "control/control_client.h"
#include "controller/ca/certificate_authority.h"
#include "core/log.h"

namespace {

using namespace ambit;
using namespace ambit::controller;
using namespace ambit::control;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"simulated agents for the controller benchmark"};
  std::string controller = "127.0.0.1:15012", ca_dir, trust_domain = "cluster.local";
  std::string watch_policy = "bench/changing";
  int clients = 200;
  app.add_option("--controller", controller);
  app.add_option("--ca-dir", ca_dir)->required();
  app.add_option("--trust-domain", trust_domain);
  app.add_option("--clients", clients);
  app.add_option("--watch-policy", watch_policy);
  CLI11_PARSE(app, argc, argv);
  Logging logging("warn");

  CertificateAuthority::Options ca_options;
  ca_options.trust_domain = trust_domain;
  auto ca = CertificateAuthority::load_or_create(ca_dir, ca_options);
  auto address = SocketAddress::parse(controller);
  if (!ca || !address) {
    std::fprintf(stderr, "load: %s\n", !ca ? ca.error().message.c_str() : "bad --controller");
    return 1;
  }
  std::vector<ControlClientOptions> options;
  for (int i = 0; i < clients; ++i) {
    ControlClientOptions o;
    o.controller = *address;
    o.node = fmt::format("node-{}", i);
    auto creds = (*ca)->issue_node_credentials(o.node);
    if (!creds) return 1;
    o.credentials = std::move(*creds);
    o.root_pem = (*ca)->root_pem();
    o.trust_domain = trust_domain;
    options.push_back(std::move(o));
  }

  std::mutex mu;
  int snapshots = 0;
  std::map<std::string, int> marker_counts;
  auto print = [&](const std::string& line) {
    std::fputs(line.c_str(), stdout);
    std::fflush(stdout);
  };

  std::vector<std::unique_ptr<ControlClient>> running;
  int64_t first_connect = now_ns();
  for (auto& o : options) {
    // Each client keeps a view as the agent would: a map of what it holds, replaced or patched.
    // (uid -> size: the bench measures the controller, not the agent's tables.)
    auto view = std::make_shared<std::unordered_map<std::string, size_t>>();
    auto on_update = [&, view](const v1::Update& u) -> Status {
      if (u.snapshot()) view->clear();
      std::string marker;
      for (const auto& r : u.added()) {
        if (r.has_authorization_policy() && r.uid() == watch_policy &&
            r.authorization_policy().rules_size() > 0 &&
            r.authorization_policy().rules(0).from_size() > 0 &&
            r.authorization_policy().rules(0).from(0).principals_size() > 0) {
          marker = r.authorization_policy().rules(0).from(0).principals(0);
        }
        (*view)[r.uid()] = r.ByteSizeLong();
      }
      for (const auto& k : u.removed()) view->erase(k.uid());
      std::lock_guard lock(mu);
      if (u.snapshot() && ++snapshots == static_cast<int>(options.size())) {
        print(fmt::format("SNAPSHOT {} {}\n", first_connect, now_ns()));
      }
      if (!u.snapshot() && !marker.empty() &&
          ++marker_counts[marker] == static_cast<int>(options.size())) {
        print(fmt::format("ACKED {} {}\n", marker, now_ns()));
      }
      return {};
    };
    auto client = ControlClient::start(o, on_update);
    if (!client) {
      std::fprintf(stderr, "load: %s\n", client.error().message.c_str());
      return 1;
    }
    running.push_back(std::move(*client));
  }
  // Until the driver closes stdin.
  char c;
  while (::read(0, &c, 1) > 0) {
  }
  running.clear();
  return 0;
}
