#include "waypoint/upstream.h"

#include <fmt/format.h>
#include <nghttp2/nghttp2.h>

namespace ambit::waypoint {

bool HboneUpstream::open(ztunnel::Worker& worker, const ztunnel::EngineConfig& config,
                         const ztunnel::Workload& endpoint, const std::string& source_workload,
                         const std::string& forwarded) {
  auto creds = config.credentials.find(source_workload);
  if (creds == config.credentials.end() || !creds->second.client) return false;
  ztunnel::HboneConnection* conn = worker.pool().get(
      {source_workload, creds->second.identity, endpoint.hbone_address, endpoint.identity},
      creds->second.client->get());
  if (conn == nullptr) return false;
  std::vector<std::pair<std::string, std::string>> headers;
  headers.emplace_back("forwarded", forwarded);
  auto* stream = conn->open_stream(this, address_.to_string(), std::move(headers));
  if (stream == nullptr) return false;
  connection_ = conn;
  stream_ = stream;
  return true;
}

void HboneUpstream::count_in(std::shared_ptr<ClusterLoad> load, const ConnectionPolicy& policy) {
  policy_ = policy;
  if (load == nullptr) return;
  if (stream_ == nullptr) {
    load->connections.fetch_sub(1);  // already gone
    return;
  }
  load_ = std::move(load);
}

void HboneUpstream::let_go() {
  if (auto load = std::exchange(load_, nullptr)) load->connections.fetch_sub(1);
}

void HboneUpstream::send(std::string_view b) {
  if (stream_ != nullptr && !b.empty()) connection_->send(stream_, byte_view(b));
}
void HboneUpstream::end() {
  if (stream_ != nullptr) connection_->end_stream(stream_);
}
void HboneUpstream::reset() {
  if (stream_ == nullptr) return;
  auto* s = stream_;
  stream_ = nullptr;
  let_go();
  connection_->reset_stream(s, NGHTTP2_CANCEL);
}
size_t HboneUpstream::backlog() const { return stream_ ? connection_->backlog(stream_) : 0; }
void HboneUpstream::consume(size_t n) {
  if (stream_ != nullptr) connection_->consume(stream_, n);
}

void HboneUpstream::on_stream_response(int status) {
  answered_ = status == 200;
  if (answered_) return;
  reset();
  on_failed(fmt::format("HBONE CONNECT to {} refused with {}", address_.to_string(), status));
}

void HboneUpstream::on_stream_closed(uint32_t error_code, const std::string& why) {
  stream_ = nullptr;
  let_go();
  on_failed(why.empty() && error_code != 0
                ? fmt::format("stream reset (HTTP/2 error {})", error_code)
                : why);
}

std::string upstream_reset_body(bool connected) {
  return fmt::format("upstream connect error or disconnect/reset before headers. reset reason: {}",
                     connected ? "connection termination" : "connection failure");
}

FailureAnswer failure_answer(std::string_view flags) {
  auto has = [&](std::string_view flag) {
    for (size_t at = 0; at <= flags.size();) {
      size_t comma = std::min(flags.find(',', at), flags.size());
      if (flags.substr(at, comma - at) == flag) return true;
      at = comma + 1;
    }
    return false;
  };
  if (has("UPE")) return {502, "upstream sent a response the waypoint cannot read"};
  if (has("UT")) return {504, "upstream request timeout"};
  if (has("UO")) {
    return {503,
            "upstream connect error or disconnect/reset before headers. reset reason: overflow"};
  }
  return {503, upstream_reset_body(has("UC"))};
}

}  // namespace ambit::waypoint
