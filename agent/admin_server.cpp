#include "agent/admin_server.h"

namespace ambit::agent {

Result<std::unique_ptr<AdminServer>> AdminServer::start(const Endpoints& endpoints,
                                                        Content content) {
  auto shared = std::make_shared<Content>(std::move(content));
  HttpEndpoints::Handler ready = [shared]() -> HttpEndpoints::Response {
    if (shared->ready()) return {200, "text/plain", "ready\n"};
    return {503, "text/plain", "not ready\n"};
  };
  HttpEndpoints::Handler metrics = [shared]() -> HttpEndpoints::Response {
    return {200, "text/plain; version=0.0.4", shared->metrics()};
  };
  HttpEndpoints::Handler dump = [shared]() -> HttpEndpoints::Response {
    return {200, "application/json", shared->config_dump()};
  };
  std::vector<HttpEndpoints::Listener> listeners;
  // The admin port serves everything; config_dump nowhere else (keep admin on localhost).
  if (endpoints.admin) {
    listeners.push_back({"admin", *endpoints.admin,
                         {{"/healthz/ready", ready}, {"/metrics", metrics},
                          {"/stats/prometheus", metrics}, {"/config_dump", dump}}});
  }
  if (endpoints.metrics) {
    listeners.push_back({"metrics", *endpoints.metrics,
                         {{"/metrics", metrics}, {"/stats/prometheus", metrics}}});
  }
  if (endpoints.readiness) {
    listeners.push_back({"readiness", *endpoints.readiness, {{"/healthz/ready", ready}}});
  }
  auto http = HttpEndpoints::start(std::move(listeners));
  if (!http) return http.error();
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(*http)));
}

}  // namespace ambit::agent
