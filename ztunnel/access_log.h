// One structured line per closed connection, in ztunnel's key=value shape so existing log
// pipelines and habits carry over:
//   connection complete src.addr=10.0.0.1:4444 src.workload="default/sleep" ... duration="12ms"
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/identity.h"
#include "core/net_address.h"

namespace ambit::ztunnel {

struct ConnectionRecord {
  std::string direction;  // "outbound" | "inbound"
  SocketAddress src, dst;
  std::optional<SocketAddress> hbone_address;
  std::string src_workload, dst_workload;  // uids; empty when unknown (omitted from the line)
  std::optional<Identity> src_identity, dst_identity;
  // Set when the connection was sent to a waypoint ("<ns>/<name>"): dst.workload is then the
  // waypoint's pod and dst.addr the service address it was asked to reach.
  std::string dst_waypoint;
  uint64_t bytes_sent = 0, bytes_received = 0;
  std::chrono::nanoseconds duration{};
  std::string error;  // empty: the connection completed normally
};

// Absent optional and empty string fields are left out. String values are double-quoted with
// '"', '\\' and control characters escaped, so a line is always one parseable line.
std::string format_access_log(const ConnectionRecord& record);

// Pieces of such a line, for other logs of the same shape (the waypoint's per-request line):
// ` key="value"` (quoted and escaped; nothing when value is empty) and ` key=value`.
void append_string(std::string& out, std::string_view key, std::string_view value);
void append_raw(std::string& out, std::string_view key, std::string_view value);

// Logs at info on the default logger; formats nothing when info is off.
void write_access_log(const ConnectionRecord& record);

}  // namespace ambit::ztunnel
