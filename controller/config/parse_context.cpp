#include "controller/config/parse_context.h"

#include <fmt/format.h>

#include <algorithm>

#include "controller/config/values.h"

namespace ambit::controller::config {

void ParseContext::report(std::string_view code, Severity severity, const ConfigError& problem) {
  if (out_ == nullptr) throw problem;
  Diagnostic d;
  d.severity = severity;
  d.code = std::string(code);
  d.file = problem.file;
  d.line = problem.line;
  d.object = problem.object;
  d.field = problem.field;
  d.message = problem.problem;
  out_->push_back(std::move(d));
}

void ParseContext::report(std::string_view code, Severity severity, const YamlValue& at,
                          std::string_view message) {
  report(code, severity, at.problem(message));
}

std::optional<Duration> ParseContext::duration(const YamlValue& value) {
  std::string text = value.string();
  auto parsed = parse_duration(text);
  if (!parsed) {
    error(codes::kBadDuration, value, parsed.error().message);
    return std::nullopt;
  }
  return Duration{text, *parsed};
}

std::optional<Duration> ParseContext::duration(const YamlObject& object, std::string_view key) {
  auto value = object.optional(key);
  if (!value) return std::nullopt;
  return duration(*value);
}

bool ParseContext::check_regex(const YamlValue& value, const std::string& regex) {
  auto status = config::check_regex(regex);
  if (!status) error(codes::kBadRegex, value, status.error().message);
  return status.ok();
}

void ParseContext::check_principals(const YamlObject& source, std::string_view key) {
  auto list = source.optional(key);
  if (!list) return;
  for (const auto& item : list->items()) {
    std::string p = item.string();
    if (auto status = check_principal(p); !status) {
      error(codes::kBadPrincipal, item, status.error().message);
    } else if (p.find('*') == std::string::npos && !is_mesh_principal(p)) {
      // Istio accepts any string here; say what it means rather than refuse it.
      warning(codes::kBadPrincipal, item,
              fmt::format("'{}' is not of the form <trust-domain>/ns/<namespace>/sa/"
                          "<service-account>: it is compared as a string, as Istio does, and "
                          "matches no identity this mesh issues",
                          p));
    }
  }
}

Origin origin_of(const YamlValue& value) { return Origin{value.line(), value.field()}; }
Origin origin_of(const YamlObject& object) { return Origin{object.line(), object.path()}; }

std::vector<std::string> strings_or_empty(const YamlObject& o, std::string_view key) {
  auto v = o.optional(key);
  return v ? v->strings() : std::vector<std::string>{};
}

std::vector<std::string> check_export_to(const std::vector<std::string>& values,
                                         const YamlValue& at, ParseContext& ctx) {
  std::vector<std::string> out;
  for (const auto& v : values) {
    std::string problem;
    bool name = !v.empty() && v.size() <= 63 &&
                std::all_of(v.begin(), v.end(),
                            [](char c) {
                              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
                            }) &&
                v.front() != '-' && v.back() != '-';
    if (v != "." && v != "*" && v != "~" && !name) {
      problem = fmt::format("'{}' is not '.', '*', '~' or a namespace name", v);
    } else if ((v == "*" || v == "~") && values.size() > 1) {
      problem = fmt::format("'{}' must be the only exportTo value", v);
    } else if (std::find(out.begin(), out.end(), v) != out.end()) {
      problem = fmt::format("'{}' is listed twice", v);
    }
    if (!problem.empty()) {
      ctx.error(codes::kInvalidValue, at, "exportTo: " + problem);
      continue;
    }
    out.push_back(v);
  }
  return out;
}

std::vector<std::string> read_export_to(const YamlObject& spec, ParseContext& ctx) {
  auto v = spec.optional("exportTo");
  if (!v) return {};
  return check_export_to(v->strings(), *v, ctx);
}

std::optional<int64_t> integer_or_none(const YamlObject& o, std::string_view key) {
  auto v = o.optional(key);
  if (!v) return std::nullopt;
  return v->integer();
}

std::optional<uint32_t> port_or_none(const YamlObject& o, std::string_view key) {
  auto v = o.optional(key);
  if (!v) return std::nullopt;
  return v->port();
}

std::optional<StringMap> match_labels(const YamlObject& o, std::string_view key, Origin& at) {
  auto v = o.optional(key);
  if (!v) return std::nullopt;
  auto selector = v->object({"matchLabels"});
  at = origin_of(*v);
  auto labels = selector.optional("matchLabels");
  return labels ? labels->string_map() : StringMap{};
}

}  // namespace ambit::controller::config
