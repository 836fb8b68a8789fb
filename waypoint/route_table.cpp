#include "waypoint/route_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "core/http_text.h"

namespace ambit::waypoint {
namespace pb = ambit::v1;
namespace {

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals_ascii(s.substr(0, prefix.size()), prefix);
}

HeaderEdits edits_of(const pb::HeaderOperations& ops) {
  HeaderEdits e;
  // Maps arrive in protobuf's unspecified order; sorted, every worker and run agree.
  for (const auto& [k, v] : ops.set()) e.set.push_back({ascii_lower(k), v});
  for (const auto& [k, v] : ops.add()) e.add.push_back({ascii_lower(k), v});
  for (const auto& k : ops.remove()) e.remove.push_back(ascii_lower(k));
  auto by_name = [](const Header& a, const Header& b) { return a.name < b.name; };
  std::sort(e.set.begin(), e.set.end(), by_name);
  std::sort(e.add.begin(), e.add.end(), by_name);
  return e;
}

}  // namespace

bool host_matches(std::string_view pattern, std::string_view host) {
  if (pattern == "*") return true;
  if (pattern.starts_with("*.")) {
    std::string_view suffix = pattern.substr(1);
    return host.size() > suffix.size() &&
           iequals_ascii(host.substr(host.size() - suffix.size()), suffix);
  }
  return iequals_ascii(pattern, host);
}

void HeaderEdits::apply_to(std::vector<Header>& headers) const {
  for (const auto& name : remove) {
    std::erase_if(headers, [&](const Header& h) { return h.name == name; });
  }
  for (const auto& h : set) {
    std::erase_if(headers, [&](const Header& x) { return x.name == h.name; });
    headers.push_back(h);
  }
  for (const auto& h : add) headers.push_back(h);
}

void HeaderEdits::append(const HeaderEdits& other) {
  set.insert(set.end(), other.set.begin(), other.set.end());
  add.insert(add.end(), other.add.begin(), other.add.end());
  remove.insert(remove.end(), other.remove.begin(), other.remove.end());
}

std::string Cluster::key() const {
  return fmt::format("{}|{}|{}", service != nullptr ? service->uid() : "", subset, port);
}

bool RouteTable::StringMatcher::matches(std::string_view s, size_t* prefix_len) const {
  switch (kind) {
    case Kind::kPresent:
      return true;
    case Kind::kExact:
      return ignore_case ? iequals_ascii(s, value) : s == value;
    case Kind::kPrefix:
      if (!(ignore_case ? istarts_with(s, value) : s.starts_with(value))) return false;
      if (prefix_len != nullptr) *prefix_len = value.size();
      return true;
    case Kind::kPathPrefix: {
      // Whole segments: "/foo" is a prefix of /foo, /foo/ and /foo/bar, not of /foobar.
      if (!(ignore_case ? istarts_with(s, value) : s.starts_with(value))) return false;
      bool whole =
          value.empty() || value == "/" || s.size() == value.size() || s[value.size()] == '/';
      if (whole && prefix_len != nullptr) *prefix_len = value == "/" ? 0 : value.size();
      return whole;
    }
    case Kind::kRegex:
      return RE2::FullMatch(re2::StringPiece(s.data(), s.size()), *regex);
  }
  return false;
}

Result<RouteTable::StringMatcher> RouteTable::compile(const pb::StringMatch& m, bool ignore_case,
                                                      const std::string& where) {
  StringMatcher out;
  out.ignore_case = ignore_case;
  switch (m.match_type_case()) {
    case pb::StringMatch::kExact:
      out.kind = StringMatcher::Kind::kExact;
      out.value = m.exact();
      break;
    case pb::StringMatch::kPrefix:
      out.kind = StringMatcher::Kind::kPrefix;
      out.value = m.prefix();
      break;
    case pb::StringMatch::kPathPrefix: {
      out.kind = StringMatcher::Kind::kPathPrefix;
      out.value = m.path_prefix();
      while (out.value.size() > 1 && out.value.back() == '/') out.value.pop_back();
      break;
    }
    case pb::StringMatch::kRegex: {
      out.kind = StringMatcher::Kind::kRegex;
      out.value = m.regex();
      RE2::Options options;
      options.set_log_errors(false);
      auto re = std::make_shared<const RE2>(m.regex(), options);
      if (!re->ok()) {
        return Error::format("{}: invalid regex '{}': {}", where, m.regex(), re->error());
      }
      out.regex = std::move(re);
      break;
    }
    case pb::StringMatch::MATCH_TYPE_NOT_SET:
      out.kind = StringMatcher::Kind::kPresent;
  }
  return out;
}

Result<RouteTable::Match> RouteTable::compile(const pb::HTTPMatchRequest& m,
                                              const std::string& where) {
  Match out;
  auto one = [&](bool has, const pb::StringMatch& sm, std::string_view field,
                 std::optional<StringMatcher>& into, bool ignore_case = false) -> Status {
    if (!has) return {};
    auto c = compile(sm, ignore_case, fmt::format("{}.{}", where, field));
    if (!c) return c.error();
    into = std::move(*c);
    return {};
  };
  if (auto s = one(m.has_uri(), m.uri(), "uri", out.uri, m.ignore_uri_case()); !s) return s.error();
  if (auto s = one(m.has_scheme(), m.scheme(), "scheme", out.scheme); !s) return s.error();
  if (auto s = one(m.has_method(), m.method(), "method", out.method); !s) return s.error();
  if (auto s = one(m.has_authority(), m.authority(), "authority", out.authority); !s) {
    return s.error();
  }
  auto map = [&](const auto& in, std::string_view field, bool lowercase,
                 std::vector<std::pair<std::string, StringMatcher>>& into) -> Status {
    for (const auto& [name, sm] : in) {
      auto c = compile(sm, false, fmt::format("{}.{}[{}]", where, field, name));
      if (!c) return c.error();
      into.emplace_back(lowercase ? ascii_lower(name) : name, std::move(*c));
    }
    std::sort(into.begin(), into.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return {};
  };
  if (auto s = map(m.headers(), "headers", true, out.headers); !s) return s.error();
  if (auto s = map(m.without_headers(), "withoutHeaders", true, out.without_headers); !s) {
    return s.error();
  }
  if (auto s = map(m.query_params(), "queryParams", false, out.query_params); !s) {
    return s.error();
  }
  if (m.port() > 65535) return Error::format("{}.port: {} is not a port", where, m.port());
  out.port = static_cast<uint16_t>(m.port());
  out.source_labels = ztunnel::Labels(m.source_labels().begin(), m.source_labels().end());
  out.source_namespace = m.source_namespace();
  return out;
}

Result<std::shared_ptr<const RouteTable>> RouteTable::build(
    const std::vector<pb::VirtualService>& virtual_services,
    const std::vector<pb::DestinationRule>& destination_rules,
    std::shared_ptr<const ztunnel::WorkloadTable> table, const RetryBudgetPolicy& default_budget,
    const std::vector<pb::LocalRateLimit>& rate_limits, TokenBuckets* buckets, DnsResolver* dns) {
  std::shared_ptr<RouteTable> rt(new RouteTable());
  rt->table_ = std::move(table);
  rt->default_budget_ = default_budget;

  std::vector<const pb::VirtualService*> vss;
  for (const auto& vs : virtual_services) vss.push_back(&vs);
  std::sort(vss.begin(), vss.end(), [](auto* a, auto* b) { return a->uid() < b->uid(); });
  auto destination = [](const pb::HTTPRouteDestination& d,
                        const std::string& where) -> Result<WeightedDestination> {
    WeightedDestination w;
    w.host = d.destination().host();
    w.subset = d.destination().subset();
    if (d.destination().port() > 65535) {
      return Error::format("{}.destination.port: {} is not a port", where, d.destination().port());
    }
    w.port = static_cast<uint16_t>(d.destination().port());
    if (d.weight() < 0) return Error::format("{}.weight: {} is negative", where, d.weight());
    w.weight = static_cast<uint32_t>(d.weight());
    w.request_headers = edits_of(d.headers().request());
    w.response_headers = edits_of(d.headers().response());
    return w;
  };
  auto compile_l4 = [&destination](const pb::TCPRoute& tr, const std::string& where,
                                   std::string name) -> Result<TcpRoute> {
    if (tr.port() > 65535) return Error::format("{}.port: {} is not a port", where, tr.port());
    TcpRoute t;
    t.name = std::move(name);
    t.port = static_cast<uint16_t>(tr.port());
    for (int j = 0; j < tr.match_size(); ++j) {
      const auto& m = tr.match(j);
      std::string at = fmt::format("{}.match[{}]", where, j);
      if (m.port() > 65535) return Error::format("{}.port: {} is not a port", at, m.port());
      L4Match lm;
      lm.port = static_cast<uint16_t>(m.port());
      for (const auto& h : m.sni_hosts()) lm.sni_hosts.push_back(ascii_lower(h));
      for (const auto& c : m.destination_subnets()) {
        auto cidr = Cidr::parse(c);
        if (!cidr) return Error::format("{}.destinationSubnets: {}", at, cidr.error().message);
        lm.destination_subnets.push_back(*cidr);
      }
      lm.source_labels = ztunnel::Labels(m.source_labels().begin(), m.source_labels().end());
      t.matches.push_back(std::move(lm));
    }
    for (int j = 0; j < tr.route_size(); ++j) {
      auto d = destination(tr.route(j), fmt::format("{}.route[{}]", where, j));
      if (!d) return d.error();
      t.total_weight += d->weight;
      t.destinations.push_back(std::move(*d));
    }
    if (t.destinations.empty() || t.total_weight == 0) {
      return Error::format("{}.route: no destination with a weight", where);
    }
    return t;
  };
  for (const auto* in : vss) {
    VirtualService vs;
    vs.uid = in->uid();
    vs.hosts.assign(in->hosts().begin(), in->hosts().end());
    for (int i = 0; i < in->http_size(); ++i) {
      const auto& hr = in->http(i);
      std::string where = fmt::format("VirtualService {}: http[{}]", in->uid(), i);
      Route r;
      r.name = in->uid() + "#" + (hr.name().empty() ? std::to_string(i) : hr.name());
      r.written_name = hr.name();
      for (int j = 0; j < hr.match_size(); ++j) {
        auto m = compile(hr.match(j), fmt::format("{}.match[{}]", where, j));
        if (!m) return m.error();
        r.matches.push_back(std::move(*m));
      }
      for (int j = 0; j < hr.route_size(); ++j) {
        auto d = destination(hr.route(j), fmt::format("{}.route[{}]", where, j));
        if (!d) return d.error();
        r.total_weight += d->weight;
        r.destinations.push_back(std::move(*d));
      }
      if (hr.has_direct_response()) {
        r.direct_status = static_cast<int>(hr.direct_response().status());
        if (r.direct_status < 200 || r.direct_status > 599) {
          return Error::format("{}.directResponse.status: {} is not an HTTP status", where,
                               r.direct_status);
        }
      } else if (hr.has_redirect()) {
        r.redirect = hr.redirect();
      } else if (r.destinations.empty()) {
        return Error::format("{}: has no route, redirect or directResponse", where);
      } else if (r.total_weight == 0) {
        return Error::format("{}.route: every weight is 0", where);
      }
      r.rewrite = hr.rewrite();
      r.request_headers = edits_of(hr.headers().request());
      r.response_headers = edits_of(hr.headers().response());
      if (hr.has_mirror()) {
        pb::HTTPRouteDestination d;
        *d.mutable_destination() = hr.mirror();
        auto m = destination(d, where + ".mirror");
        if (!m) return m.error();
        r.mirror = std::move(*m);
        r.mirror_percent = hr.has_mirror_percentage() ? hr.mirror_percentage().value() : 100.0;
      }
      if (!hr.timeout().empty()) {
        auto t = parse_duration(hr.timeout());
        if (!t) return Error::format("{}.timeout: {}", where, t.error().message);
        r.resilience.timeout = std::chrono::ceil<std::chrono::milliseconds>(*t);
      }
      if (hr.has_retries()) {
        auto p = RetryPolicy::parse(hr.retries(), where);
        if (!p) return p.error();
        r.resilience.retry = std::move(*p);
      }
      if (hr.has_fault()) {
        auto f = Fault::parse(hr.fault(), where);
        if (!f) return f.error();
        r.resilience.fault = *f;
      }
      if (!hr.backend_request_timeout().empty() && r.resilience.retry.per_try_timeout.count() == 0) {
        auto t = parse_duration(hr.backend_request_timeout());
        if (!t) return Error::format("{}.timeouts.backendRequest: {}", where, t.error().message);
        r.resilience.retry.per_try_timeout = std::chrono::ceil<std::chrono::milliseconds>(*t);
      }
      vs.routes.push_back(std::move(r));
    }
    for (auto [list, kind, out] :
         {std::tuple{&in->tcp(), "tcp", &vs.tcp}, std::tuple{&in->tls(), "tls", &vs.tls}}) {
      for (int i = 0; i < list->size(); ++i) {
        auto t =
            compile_l4((*list)[i], fmt::format("VirtualService {}: {}[{}]", in->uid(), kind, i),
                       fmt::format("{}#{}{}", in->uid(), kind, i));
        if (!t) return t.error();
        out->push_back(std::move(*t));
      }
    }
    rt->virtual_services_.push_back(std::move(vs));
  }
  for (auto& vs : rt->virtual_services_) {
    // A VirtualService's routes share one retry budget (a ServiceProfile's routes share
    // Linkerd's); the first route's policy is the budget's.
    for (auto& r : vs.routes) r.resilience.budget_owner = &vs;
  }
  for (const auto& vs : rt->virtual_services_) {
    bool wildcard = false;
    for (const auto& h : vs.hosts) {
      if (h.find('*') != std::string::npos) {
        wildcard = true;
      } else {
        rt->by_host_.emplace(ascii_lower(h), &vs);  // the first by uid keeps it
      }
    }
    if (wildcard) rt->wildcards_.push_back(&vs);
  }

  if (auto ok = rt->build_clusters(destination_rules, dns); !ok) return ok.error();
  TokenBuckets own;
  if (auto ok = rt->build_rate_limits(rate_limits, buckets != nullptr ? *buckets : own); !ok) {
    return ok.error();
  }
  return std::shared_ptr<const RouteTable>(std::move(rt));
}

const RouteTable::ClusterInfo* RouteTable::cluster(const Cluster& c) const {
  auto it = clusters_.find(c.key());
  return it == clusters_.end() ? nullptr : &it->second;
}

const RouteTable::VirtualService* RouteTable::virtual_service_for(
    const Downstream& downstream, const HttpRequest& request) const {
  if (virtual_services_.empty()) return nullptr;
  std::string host = downstream.service != nullptr ? downstream.service->hostname()
                                                   : ascii_lower(authority_host(request.authority));
  if (auto it = by_host_.find(host); it != by_host_.end()) return it->second;
  for (const VirtualService* vs : wildcards_) {
    for (const auto& h : vs->hosts) {
      if (h.find('*') != std::string::npos && host_matches(h, host)) return vs;
    }
  }
  return nullptr;
}

bool RouteTable::matches(const Match& m, const HttpRequest& request, const Downstream& downstream,
                         size_t* prefix_len) const {
  if (m.uri && !m.uri->matches(request.path_only(), prefix_len)) return false;
  if (m.scheme && !m.scheme->matches(request.scheme)) return false;
  if (m.method && !m.method->matches(request.method)) return false;
  if (m.authority && !m.authority->matches(request.authority)) return false;
  if (m.port != 0 && downstream.destination.port() != m.port) return false;
  for (const auto& [name, sm] : m.headers) {
    const std::string* v = request.header(name);
    if (v == nullptr || !sm.matches(*v)) return false;
  }
  for (const auto& [name, sm] : m.without_headers) {
    const std::string* v = request.header(name);
    if (v != nullptr && sm.matches(*v)) return false;
  }
  for (const auto& [name, sm] : m.query_params) {
    auto v = request.query_param(name);
    if (!v || !sm.matches(*v)) return false;
  }
  const ztunnel::Workload* src = downstream.source_workload;
  if (!m.source_labels.empty() &&
      (src == nullptr || !ztunnel::selector_matches(m.source_labels, src->labels))) {
    return false;
  }
  if (!m.source_namespace.empty()) {
    std::string_view ns = src != nullptr                ? std::string_view(src->ns)
                          : downstream.peer.has_value() ? std::string_view(downstream.peer->ns())
                                                        : std::string_view();
    if (ns != m.source_namespace) return false;
  }
  return true;
}

std::optional<Cluster> RouteTable::resolve(const WeightedDestination& d,
                                           const Downstream& downstream) const {
  const ztunnel::Service* s = table_->find_service_by_hostname(d.host);
  if (s == nullptr || s->ports.empty()) return std::nullopt;
  Cluster c{s, d.subset, d.port};
  if (c.port == 0) {
    // Unset: the port the client dialled when the Service has it, else its only port.
    uint16_t dialled = downstream.destination.port();
    if (downstream.service == s || s->find_port(dialled) != nullptr) {
      c.port = dialled;
    } else if (s->ports.size() == 1) {
      c.port = s->ports.front().port;
    } else {
      return std::nullopt;
    }
  }
  if (cluster(c) == nullptr) return std::nullopt;  // also: a subset the rule lacks
  return c;
}

std::optional<Cluster> RouteTable::dialled(const Downstream& downstream) const {
  if (downstream.service == nullptr) return std::nullopt;
  Cluster c{downstream.service, "", downstream.destination.port()};
  if (cluster(c) == nullptr) return std::nullopt;
  return c;
}

const RouteTable::WeightedDestination& RouteTable::pick(const std::vector<WeightedDestination>& ds,
                                                        uint32_t total, uint64_t entropy) {
  // Each destination gets weight / total of the picks.
  uint32_t roll = static_cast<uint32_t>(entropy % total);
  for (const auto& candidate : ds) {
    if (roll < candidate.weight) return candidate;
    roll -= candidate.weight;
  }
  return ds.back();
}

bool RouteTable::L4Match::matches(const Downstream& downstream, std::string_view sni) const {
  if (port != 0 && port != downstream.destination.port()) return false;
  if (!sni_hosts.empty()) {
    bool hit = false;
    for (const auto& h : sni_hosts) {
      if (h == "*" || h == sni ||
          (h.starts_with("*.") && sni.size() > h.size() - 1 && sni.ends_with(h.substr(1)))) {
        hit = true;
        break;
      }
    }
    if (!hit) return false;
  }
  if (!destination_subnets.empty() &&
      std::none_of(destination_subnets.begin(), destination_subnets.end(),
                   [&](const Cidr& c) { return c.contains(downstream.destination.ip()); })) {
    return false;
  }
  const ztunnel::Workload* src = downstream.source_workload;
  return source_labels.empty() ||
         (src != nullptr && ztunnel::selector_matches(source_labels, src->labels));
}

std::optional<Cluster> RouteTable::tcp_route(const Downstream& downstream, std::string_view sni,
                                             uint64_t entropy, std::string* route) const {
  HttpRequest none;
  if (const VirtualService* vs = virtual_service_for(downstream, none)) {
    auto first = [&](const std::vector<TcpRoute>& routes, std::string_view name) {
      for (const TcpRoute& t : routes) {
        if (t.port != 0 && t.port != downstream.destination.port()) continue;
        if (!t.matches.empty() &&
            std::none_of(t.matches.begin(), t.matches.end(),
                         [&](const L4Match& m) { return m.matches(downstream, name); })) {
          continue;
        }
        return &t;
      }
      return static_cast<const TcpRoute*>(nullptr);
    };
    const TcpRoute* t = sni.empty() ? nullptr : first(vs->tls, sni);
    if (t == nullptr) t = first(vs->tcp, "");
    if (t != nullptr) {
      *route = t->name;
      return resolve(pick(t->destinations, t->total_weight, entropy), downstream);
    }
  }
  *route = "default";
  return dialled(downstream);
}

RouteResult RouteTable::route(HttpRequest& request, const Downstream& downstream,
                              uint64_t entropy) const {
  RouteResult out;
  const VirtualService* vs = virtual_service_for(downstream, request);
  if (vs == nullptr) {
    out.route = "default";
    if (!admit(request, downstream, nullptr, entropy, out)) return out;
    auto c = dialled(downstream);
    out.kind = c ? RouteResult::Kind::kForward : RouteResult::Kind::kNoCluster;
    if (c) out.cluster = std::move(*c);
    return out;
  }
  if (vs->routes.empty() && !vs->tcp.empty()) {
    // Only TCP routes (a Gateway API TCPRoute): HTTP on that port is carried as they say.
    auto c = tcp_route(downstream, "", entropy, &out.route);
    if (!admit(request, downstream, nullptr, entropy, out)) return out;
    out.kind = c ? RouteResult::Kind::kForward : RouteResult::Kind::kNoCluster;
    if (c) out.cluster = std::move(*c);
    return out;
  }
  out.route = vs->uid;
  for (const Route& r : vs->routes) {
    size_t prefix_len = std::string::npos;
    bool hit = r.matches.empty();
    for (const Match& m : r.matches) {
      prefix_len = std::string::npos;
      if (matches(m, request, downstream, &prefix_len)) {
        hit = true;
        break;
      }
    }
    if (!hit) continue;
    out.route = r.name;
    if (!admit(request, downstream, &r, entropy, out)) return out;
    std::string_view path = request.path_only();
    std::string query = request.path.substr(path.size());
    if (r.direct_status != 0) {
      out.kind = RouteResult::Kind::kDirectResponse;
      out.status = r.direct_status;
      return out;
    }
    if (r.redirect) {
      const auto& rd = *r.redirect;
      out.kind = RouteResult::Kind::kRedirect;
      out.status = rd.redirect_code() != 0 ? static_cast<int>(rd.redirect_code()) : 301;
      std::string host = rd.authority().empty() ? request.authority : rd.authority();
      if (rd.port() != 0) host = fmt::format("{}:{}", authority_host(host), rd.port());
      std::string target = request.path;
      if (!rd.uri().empty()) {
        target = rd.uri();
      } else if (!rd.uri_prefix().empty() && prefix_len != std::string::npos) {
        target = rd.uri_prefix() + std::string(path.substr(prefix_len)) + query;
      }
      out.location = fmt::format("{}://{}{}", rd.scheme().empty() ? request.scheme : rd.scheme(),
                                 host, target);
      return out;
    }
    const WeightedDestination* d = &pick(r.destinations, r.total_weight, entropy);
    auto c = resolve(*d, downstream);
    if (!c) {
      out.kind = RouteResult::Kind::kNoCluster;
      return out;
    }
    out.kind = RouteResult::Kind::kForward;
    out.cluster = std::move(*c);
    out.resilience = &r.resilience;
    // Rewrites: a prefix match's prefix is replaced, any other match's whole path.
    if (!r.rewrite.full_path().empty()) {
      request.path = r.rewrite.full_path() + query;
    } else if (!r.rewrite.uri().empty()) {
      std::string rest =
          prefix_len != std::string::npos ? std::string(path.substr(prefix_len)) : "";
      std::string p = r.rewrite.uri();
      if (p.ends_with('/') && rest.starts_with('/')) p.pop_back();  // "/" + "/x" is "/x"
      p += rest;
      request.path = (p.empty() ? "/" : p) + query;
    }
    if (!r.rewrite.authority().empty()) request.authority = r.rewrite.authority();
    r.request_headers.apply_to(request.headers);
    d->request_headers.apply_to(request.headers);
    out.response_headers = r.response_headers;
    out.response_headers.append(d->response_headers);
    if (r.mirror && static_cast<double>((entropy >> 32) % 10000) < r.mirror_percent * 100.0) {
      out.mirror = resolve(*r.mirror, downstream);
    }
    return out;
  }
  if (!admit(request, downstream, nullptr, entropy, out)) return out;
  out.kind = RouteResult::Kind::kNoRoute;
  return out;
}

}  // namespace ambit::waypoint
