#include "controller/config/values.h"

#include <re2/re2.h>

#include <charconv>
#include <cmath>

#include "core/identity.h"

namespace ambit::controller::config {
namespace {

// Nanoseconds per unit, longest unit names first so "ms" is not read as "m".
struct Unit {
  std::string_view name;
  double ns;
};
constexpr Unit kUnits[] = {{"ns", 1},  {"us", 1e3}, {"\xC2\xB5s", 1e3}, {"ms", 1e6},
                           {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};

}  // namespace

Result<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return Error::format("'{}' is not a duration ({}; e.g. 1s, 500ms, 1m, 1h, 0.5s)", text, why);
  };
  if (text.empty()) return invalid("empty");
  if (text == "0") return std::chrono::nanoseconds(0);
  if (text.front() == '-') return invalid("negative");
  double total = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t digits = 0;
    while (digits < rest.size() &&
           ((rest[digits] >= '0' && rest[digits] <= '9') || rest[digits] == '.')) {
      ++digits;
    }
    if (digits == 0) return invalid("a number must come before each unit");
    double number = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + digits, number);
    if (ec != std::errc() || end != rest.data() + digits) return invalid("bad number");
    rest.remove_prefix(digits);
    const Unit* unit = nullptr;
    for (const auto& u : kUnits) {
      if (rest.substr(0, u.name.size()) == u.name &&
          (unit == nullptr || u.name.size() > unit->name.size())) {
        unit = &u;
      }
    }
    if (unit == nullptr) return invalid("missing or unknown unit (h, m, s, ms, us, ns)");
    rest.remove_prefix(unit->name.size());
    total += number * unit->ns;
  }
  if (!std::isfinite(total) || total > 9.2e18) return invalid("too long");
  return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(total)));
}

Status check_principal(std::string_view p) {
  if (p.empty()) return Error{"a principal cannot be empty"};
  if (p.substr(0, 9) == "spiffe://") {
    return Error::format("'{}': write principals without 'spiffe://' (Istio adds it)", p);
  }
  size_t stars = 0;
  for (char c : p) stars += c == '*';
  if (stars > 0) {
    if (p == "*") return {};
    if (stars == 1 && (p.front() == '*' || p.back() == '*')) return {};
    return Error::format("'{}': '*' may only be the whole principal, its start or its end", p);
  }
  return {};
}

bool is_mesh_principal(std::string_view p) {
  return Identity::parse("spiffe://" + std::string(p)).ok();
}

Status check_regex(std::string_view regex) {
  RE2 re(re2::StringPiece(regex.data(), regex.size()), RE2::Quiet);
  if (!re.ok()) return Error::format("'{}' is not a valid RE2 regex: {}", regex, re.error());
  return {};
}

}  // namespace ambit::controller::config
