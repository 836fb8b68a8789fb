#include "ztunnel/access_log.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iterator>
#include <string_view>

namespace ambit::ztunnel {
namespace {

// Workers may be the first threads to touch spdlog (tests and tools that never set up logging):
// build its registry during static initialisation, before any thread exists, instead of letting
// two workers race to construct it on their first access log line.
[[maybe_unused]] const spdlog::logger* const kDefaultLogger = spdlog::default_logger_raw();

void append_quoted(std::string& out, std::string_view value) {
  out.push_back('"');
  for (char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          fmt::format_to(std::back_inserter(out), "\\x{:02x}", static_cast<unsigned char>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

}  // namespace

void append_string(std::string& out, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  out.push_back(' ');
  out += key;
  out.push_back('=');
  append_quoted(out, value);
}

void append_raw(std::string& out, std::string_view key, std::string_view value) {
  out.push_back(' ');
  out += key;
  out.push_back('=');
  out += value;
}

std::string format_access_log(const ConnectionRecord& r) {
  std::string out = "connection complete";
  out.reserve(320);
  append_raw(out, "src.addr", r.src.to_string());
  append_string(out, "src.workload", r.src_workload);
  if (r.src_identity) append_string(out, "src.identity", r.src_identity->to_string());
  append_raw(out, "dst.addr", r.dst.to_string());
  if (r.hbone_address) append_raw(out, "dst.hbone_addr", r.hbone_address->to_string());
  append_string(out, "dst.workload", r.dst_workload);
  if (r.dst_identity) append_string(out, "dst.identity", r.dst_identity->to_string());
  append_string(out, "dst.waypoint", r.dst_waypoint);
  append_string(out, "direction", r.direction);
  append_raw(out, "bytes_sent", std::to_string(r.bytes_sent));
  append_raw(out, "bytes_recv", std::to_string(r.bytes_received));
  // Whole milliseconds, as ztunnel prints them.
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(r.duration).count();
  append_string(out, "duration", fmt::format("{}ms", ms));
  append_string(out, "error", r.error);
  return out;
}

void write_access_log(const ConnectionRecord& record) {
  // The raw default logger is read without the registry's lock: workers call this for every
  // closed connection and must not contend on a mutex.
  spdlog::logger* logger = spdlog::default_logger_raw();
  if (logger->should_log(spdlog::level::info)) logger->info(format_access_log(record));
}

}  // namespace ambit::ztunnel
