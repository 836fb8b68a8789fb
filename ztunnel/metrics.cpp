#include "ztunnel/metrics.h"

#include <fmt/format.h>

namespace ambit::ztunnel {
namespace {

void metric(std::string& out, const char* name, const char* type, const char* help,
            const std::string& samples) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{}", name, help, name, type, samples);
}

std::string sample(const char* name, uint64_t value, const char* labels = "") {
  return fmt::format("{}{} {}\n", name, labels, value);
}

}  // namespace

std::string render_prometheus(const EngineStats& s) {
  auto load = [](const std::atomic<uint64_t>& v) { return v.load(std::memory_order_relaxed); };
  std::string out;
  metric(out, "ambit_tcp_connections_opened_total", "counter",
         "Connections accepted for tunnelling, by direction.",
         sample("ambit_tcp_connections_opened_total", load(s.outbound_connections),
                "{direction=\"outbound\"}") +
             sample("ambit_tcp_connections_opened_total", load(s.inbound_connections),
                    "{direction=\"inbound\"}"));
  metric(out, "ambit_tcp_connections_refused_total", "counter",
         "Connections refused (policy, STRICT mTLS, unknown destination, failed connect).",
         sample("ambit_tcp_connections_refused_total", load(s.refused_connections)));
  metric(
      out, "ambit_tcp_connections_closed_by_policy_total", "counter",
      "Live inbound connections closed because a policy change no longer admits them.",
      sample("ambit_tcp_connections_closed_by_policy_total", load(s.connections_closed_by_policy)));
  metric(out, "ambit_tcp_connections_active", "gauge", "Connections being relayed now.",
         sample("ambit_tcp_connections_active", load(s.active_connections)));
  metric(out, "ambit_tcp_sent_bytes_total", "counter",
         "Bytes delivered to destinations by closed connections.",
         sample("ambit_tcp_sent_bytes_total", load(s.bytes_sent)));
  metric(out, "ambit_tcp_received_bytes_total", "counter",
         "Bytes returned to sources by closed connections.",
         sample("ambit_tcp_received_bytes_total", load(s.bytes_received)));
  metric(out, "ambit_hbone_connections_opened_total", "counter",
         "Pooled HBONE (mTLS + HTTP/2) connections opened to other nodes.",
         sample("ambit_hbone_connections_opened_total", load(s.hbone_connections_opened)));
  metric(out, "ambit_hbone_connections_active", "gauge",
         "Pooled HBONE connections open now (closed after the pool's idle timeout).",
         sample("ambit_hbone_connections_active", load(s.hbone_connections_open)));
  return out;
}

}  // namespace ambit::ztunnel
