#include "agent/enrollment.h"

#include <spdlog/spdlog.h>

#include <set>

#include "agent/engine_setup.h"

namespace ambit::agent {
namespace {

bool same_sandbox(const PodSandbox& a, const PodSandbox& b) {
  return a.netns_path == b.netns_path && a.cgroup_path == b.cgroup_path &&
         a.addresses == b.addresses;
}

// In-pod listeners: 15001 on loopback (capture redirects there), 15006 and 15008 on every
// address. Dual-stack wildcard when the pod has an IPv6 address.
std::vector<ztunnel::ListenerSpec> pod_listeners(const std::string& uid, bool ipv6,
                                                 const CaptureSettings& ports) {
  auto at = [](const char* ip, uint16_t port) { return SocketAddress(*IpAddress::parse(ip), port); };
  const char* any = ipv6 ? "::" : "0.0.0.0";
  std::vector<ztunnel::ListenerSpec> specs;
  specs.push_back({ztunnel::ListenerKind::kOutbound, at("127.0.0.1", ports.outbound_port), uid,
                   std::nullopt});
  if (ipv6) {
    specs.push_back({ztunnel::ListenerKind::kOutbound, at("::1", ports.outbound_port), uid,
                     std::nullopt});
  }
  specs.push_back({ztunnel::ListenerKind::kInbound, at(any, ports.hbone_port), uid, std::nullopt});
  specs.push_back({ztunnel::ListenerKind::kInboundPlaintext,
                   at(any, ports.inbound_plaintext_port), uid, std::nullopt});
  return specs;
}

}  // namespace

bool enrolls(const ztunnel::Workload& w, std::string_view node) {
  return w.node == node && w.mesh && w.runs_waypoint.empty();
}

Enrollment::Enrollment(ztunnel::Engine& engine, std::unique_ptr<Capture> capture,
                       Options options, std::unique_ptr<CertificateSource> certificates)
    : engine_(engine),
      capture_(std::move(capture)),
      options_(std::move(options)),
      certificates_(std::move(certificates)),
      external_certificates_(certificates_ != nullptr) {
  if (capture_) {
    for (const auto& uid : capture_->enrolled()) captured_.emplace(uid, std::nullopt);
  }
}

std::string_view Enrollment::capture_mode() const { return capture_ ? capture_->mode() : "none"; }

Status Enrollment::use_configured_ca(const LocalConfig& config) {
  if (external_certificates_) return {};
  if (!config.certificate_authority) {
    certificates_.reset();
    ca_paths_.reset();
    ca_pem_.clear();
    return {};
  }
  const auto& paths = *config.certificate_authority;
  if (ca_paths_ && ca_paths_->certificate == paths.certificate &&
      ca_paths_->private_key == paths.private_key) {
    return {};
  }
  auto ca = LocalCertificateAuthority::load(paths);
  if (!ca) return ca.error();
  ca_pem_ = ca->certificate_pem();
  certificates_ = std::make_unique<LocalCaCertificates>(std::move(*ca), options_.certificate_ttl);
  ca_paths_ = paths;
  return {};
}

Status Enrollment::apply(const LocalConfig& config) {
  std::lock_guard serial(apply_mutex_);
  auto next = engine_config_from(config);
  if (!next) return next.error();
  if (auto ok = use_configured_ca(config); !ok) return ok;
  std::optional<TrustBundle> bundle;
  if (!config.trust_bundle_pem.empty()) {
    auto parsed = TrustBundle::from_pem(config.trust_bundle_pem);
    if (!parsed) return Error::format("trust bundle: {}", parsed.error().message);
    bundle = std::move(*parsed);
  } else if (!config.trust_bundle.empty()) {
    auto loaded = TrustBundle::load_pem_file(config.trust_bundle);
    if (!loaded) return Error::format("trustBundle {}: {}", config.trust_bundle, loaded.error().message);
    bundle = std::move(*loaded);
  } else if (!ca_pem_.empty()) {
    auto from_ca = TrustBundle::from_pem(ca_pem_);
    if (!from_ca) return from_ca.error();
    bundle = std::move(*from_ca);
  }

  // The pods that should be enrolled, with their listeners.
  std::vector<PodStatus> status;
  std::map<std::string, std::vector<size_t>> listeners_of;  // uid -> indexes in next->listeners
  for (const auto& w : config.workloads) {
    auto sandbox_paths = config.sandboxes.find(w.uid());
    if (!enrolls(w, config.node) || sandbox_paths == config.sandboxes.end()) {
      if (w.node == config.node && !w.runs_waypoint.empty()) {
        status.push_back({w.uid(), "", "not captured: runs waypoint " + w.runs_waypoint});
      }
      continue;
    }
    PodSandbox sandbox{w.uid(), sandbox_paths->second.netns, sandbox_paths->second.cgroup,
                       w.addresses};
    Pod& pod = pods_[w.uid()];
    if (!pod.netns || pod.sandbox.netns_path != sandbox.netns_path) {
      auto ns = NetnsHandle::open(sandbox.netns_path);
      if (!ns) {
        pods_.erase(w.uid());
        status.push_back({w.uid(), sandbox.netns_path, ns.error().message});
        continue;
      }
      pod.netns = std::make_shared<const NetnsHandle>(std::move(*ns));
    }
    pod.sandbox = sandbox;
    if (!next->credentials.contains(w.uid())) {
      std::string problem;
      if (!bundle) {
        problem = "no trust bundle";
      } else if (!certificates_) {
        problem = "no certificate: give the workload certificate/privateKey or the agent a certificateAuthority";
      } else if (auto cert = certificates_->current(w.uid(), w.identity); !cert) {
        problem = "waiting for its certificate";
      } else {
        // TLS contexts copy what they need from the certificate.
        auto client = TlsContext::client(*cert, *bundle);
        auto server = TlsContext::server(*cert, *bundle);
        if (!client || !server) {
          problem = (!client ? client.error() : server.error()).message;
        } else {
          next->credentials[w.uid()] =
              ztunnel::WorkloadCredentials{w.identity, std::move(*client), std::move(*server)};
        }
      }
      if (!problem.empty()) {
        status.push_back({w.uid(), sandbox.netns_path, problem});
        continue;
      }
    }
    next->netns[w.uid()] = pod.netns;
    bool ipv6 = false;
    for (const auto& a : w.addresses) ipv6 |= a.family() == AF_INET6;
    for (auto& spec : pod_listeners(w.uid(), ipv6, options_.capture)) {
      listeners_of[w.uid()].push_back(next->listeners.size());
      next->listeners.push_back(std::move(spec));
    }
  }

  // Leaving pods: capture off before their listeners close.
  std::vector<std::string> leaving;
  for (const auto& [uid, sandbox] : captured_) {
    if (!listeners_of.contains(uid)) leaving.push_back(uid);
  }
  for (const auto& uid : leaving) release(uid);
  for (auto it = pods_.begin(); it != pods_.end();) {
    it = listeners_of.contains(it->first) ? std::next(it) : pods_.erase(it);
  }

  next->socket_mark = options_.capture.agent_mark;
  std::vector<ztunnel::ListenerSpec> specs = next->listeners;
  auto report = engine_.update(std::move(*next));

  // Joining pods: capture on once every listener of theirs is bound.
  for (const auto& [uid, indexes] : listeners_of) {
    const Pod& pod = pods_.at(uid);
    std::string problem;
    for (size_t i : indexes) {
      if (!report.listeners[i]) {
        problem = fmt::format("listener {}: {}", specs[i].address.to_string(),
                              report.listeners[i].error().message);
        break;
      }
    }
    auto captured = captured_.find(uid);
    bool current = captured != captured_.end() && captured->second &&
                   same_sandbox(*captured->second, pod.sandbox);
    if (problem.empty() && capture_ && !current) {
      const auto& plaintext = specs[indexes.back()];
      UniqueFd fd = engine_.duplicate_listener_fd(plaintext);
      auto started = std::chrono::steady_clock::now();
      if (auto ok = capture_->enroll(pod.sandbox, fd.get()); !ok) {
        problem = fmt::format("{} capture: {}", capture_->mode(), ok.error().message);
      } else {
        captured_[uid] = pod.sandbox;
        auto took = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - started);
        SPDLOG_INFO("enrolled pod {} (netns {}, {} capture in {} µs)", uid,
                    pod.sandbox.netns_path, capture_->mode(), took.count());
      }
    }
    if (!problem.empty()) {
      SPDLOG_WARN("pod {} not enrolled: {}", uid, problem);
      if (captured_.contains(uid)) release(uid);
    }
    status.push_back({uid, pod.sandbox.netns_path, problem.empty() ? "enrolled" : problem});
  }
  std::lock_guard lock(status_mutex_);
  status_ = std::move(status);
  return {};
}

void Enrollment::release(const std::string& uid) {
  if (capture_) {
    if (auto ok = capture_->release(uid); !ok) {
      SPDLOG_WARN("releasing pod {}: {}", uid, ok.error().message);
    } else {
      SPDLOG_INFO("released pod {} ({} capture)", uid, capture_->mode());
    }
  }
  captured_.erase(uid);
}

Status Enrollment::release_all() {
  if (!capture_) return {};
  std::vector<std::string> all;
  for (const auto& [uid, sandbox] : captured_) all.push_back(uid);
  for (const auto& uid : all) release(uid);
  return capture_->uninstall();
}

std::vector<Enrollment::PodStatus> Enrollment::status() const {
  std::lock_guard lock(status_mutex_);
  return status_;
}

}  // namespace ambit::agent
