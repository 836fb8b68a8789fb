#include "core/yaml_reader.h"

#include <fmt/format.h>

#include <charconv>

namespace ambit {
namespace {

std::string_view kind_of(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return "a single value";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Undefined:
      break;
  }
  return "an undefined value";
}

struct MapEntry {
  YAML::Node key, value;
};

// Only a plain `<<` is a merge key; a quoted "<<" is an ordinary key.
bool is_merge_key(const YAML::Node& key) {
  return key.IsScalar() && key.Tag() == "?" && key.Scalar() == "<<";
}

bool has_scalar_key(const std::vector<MapEntry>& entries, const std::string& key) {
  for (const auto& e : entries) {
    if (e.key.IsScalar() && e.key.Scalar() == key) return true;
  }
  return false;
}

// A mapping that merges itself (`&a {<<: *a}`) would expand forever, and mappings that each
// merge several aliases of the one before grow exponentially: both are refused.
constexpr int kMaxMergeDepth = 32;
constexpr int kMaxMergedEntries = 10000;

// The entries written in `map`, then those its merge keys bring that it does not write itself.
// `budget` counts down the entries looked at while expanding one mapping.
std::vector<MapEntry> mapping_entries(const YAML::Node& map, const ConfigLocation& where,
                                      const std::string& field, int depth, int& budget) {
  std::vector<MapEntry> out;
  std::vector<MapEntry> merges;
  for (const auto& kv : map) {
    (is_merge_key(kv.first) ? merges : out).push_back({kv.first, kv.second});
  }
  std::string merge_field = field.empty() ? "<<" : field + ".<<";
  for (const auto& merge : merges) {
    std::vector<YAML::Node> sources;
    if (merge.value.IsMap()) {
      sources.push_back(merge.value);
    } else if (merge.value.IsSequence()) {
      for (size_t i = 0; i < merge.value.size(); ++i) {
        if (!merge.value[i].IsMap()) {
          throw make_config_error(
              where, fmt::format("{}[{}]", merge_field, i), merge.value[i].Mark(),
              fmt::format("a merge key (<<) takes a mapping or a list of mappings; item {} is {}",
                          i, kind_of(merge.value[i])));
        }
        sources.push_back(merge.value[i]);
      }
    } else {
      throw make_config_error(
          where, merge_field, merge.key.Mark(),
          fmt::format("a merge key (<<) takes a mapping or a list of mappings, got {}",
                      kind_of(merge.value)));
    }
    for (const auto& source : sources) {
      budget -= static_cast<int>(source.size()) + 1;
      if (depth >= kMaxMergeDepth || budget < 0) {
        throw make_config_error(
            where, merge_field, merge.key.Mark(),
            fmt::format("merge keys (<<) nested more than {} deep or expanding to more than {} "
                        "entries (does a mapping merge itself?)",
                        kMaxMergeDepth, kMaxMergedEntries));
      }
      for (auto& e : mapping_entries(source, where, field, depth + 1, budget)) {
        if (!e.key.IsScalar() || !has_scalar_key(out, e.key.Scalar())) out.push_back(std::move(e));
      }
    }
  }
  return out;
}

std::vector<MapEntry> mapping_entries(const YAML::Node& map, const ConfigLocation& where,
                                      const std::string& field) {
  int budget = kMaxMergedEntries;
  return mapping_entries(map, where, field, 0, budget);
}

std::string join(std::initializer_list<std::string_view> names) {
  std::string out;
  for (auto n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

}  // namespace

int line_in_file(const ConfigLocation& where, const YAML::Mark& mark) {
  return mark.is_null() ? 0 : where.first_line + mark.line + 1;
}

std::string describe_config_problem(const ConfigLocation& where, std::string_view field,
                                    const YAML::Mark& mark, std::string_view message) {
  std::string out = where.file.empty() ? "<config>" : where.file;
  out += ": ";
  if (!where.object.empty()) {
    out += where.object;
    out += ": ";
  }
  if (!field.empty()) {
    out += "field ";
    out += field;
    out += ": ";
  }
  out += message;
  if (!mark.is_null()) out += fmt::format(" (line {})", line_in_file(where, mark));
  return out;
}

ConfigError make_config_error(const ConfigLocation& where, std::string_view field,
                              const YAML::Mark& mark, std::string_view message) {
  ConfigError e;
  e.message = describe_config_problem(where, field, mark, message);
  e.file = where.file;
  e.object = where.object;
  e.field = std::string(field);
  e.problem = std::string(message);
  e.line = line_in_file(where, mark);
  return e;
}

// --- YamlValue ---------------------------------------------------------------------------------

void YamlValue::fail(std::string_view message) const { throw problem(message); }

ConfigError YamlValue::problem(std::string_view message) const {
  return make_config_error(*where_, field_, node_.Mark(), message);
}

std::string YamlValue::string() const {
  if (node_.IsMap() && node_.size() == 1) {
    // `- 2001:db8::` is, to YAML (Go's reader too), the key "2001:db8:" with no value.
    auto kv = *node_.begin();
    if (kv.first.IsScalar() && kv.first.Tag() == "?" && kv.second.IsNull() &&
        kv.first.Scalar().ends_with(':')) {
      fail(
          fmt::format("expected a single value, got a mapping: YAML reads the plain value "
                      "'{0}:' as the key '{0}' with no value; quote it (\"{0}:\")",
                      kv.first.Scalar()));
    }
  }
  if (!node_.IsScalar()) fail(fmt::format("expected a single value, got {}", kind_of(node_)));
  return node_.Scalar();
}

std::string YamlValue::kubernetes_name() const {
  std::string text = string();
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  bool valid = !text.empty() && text.size() <= 253 && alnum(text.front()) && alnum(text.back());
  for (char c : text) valid = valid && (alnum(c) || c == '-' || c == '.');
  if (!valid) {
    fail(
        fmt::format("'{}' is not a valid name (lowercase letters, digits, '-' and '.', starting "
                    "and ending with a letter or digit)",
                    text));
  }
  return text;
}

bool YamlValue::boolean() const {
  std::string text = string();
  if (text == "true") return true;
  if (text == "false") return false;
  fail(fmt::format("'{}' is not true or false", text));
}

uint16_t YamlValue::port() const {
  std::string text = string();
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
    fail(fmt::format("'{}' is not a port number from 1 to 65535", text));
  }
  return static_cast<uint16_t>(value);
}

int64_t YamlValue::integer() const {
  std::string text = string();
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    fail(fmt::format("'{}' is not a whole number", text));
  }
  return value;
}

double YamlValue::number() const {
  std::string text = string();
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    fail(fmt::format("'{}' is not a number", text));
  }
  return value;
}

IpAddress YamlValue::ip() const {
  auto ip = IpAddress::parse(string());
  if (!ip) fail(ip.error().message);
  return *ip;
}

SocketAddress YamlValue::socket_address(bool allow_port_zero) const {
  auto address = SocketAddress::parse(string());
  if (!address) fail(address.error().message);
  if (address->port() == 0 && !allow_port_zero) {
    fail(fmt::format("'{}' has port 0; give the port to use", node_.Scalar()));
  }
  return *address;
}

Cidr YamlValue::cidr() const {
  auto cidr = Cidr::parse(string());
  if (!cidr) fail(cidr.error().message);
  return *cidr;
}

StringMap YamlValue::string_map() const {
  StringMap out;
  if (node_.IsNull()) return out;
  if (!node_.IsMap()) fail(fmt::format("expected a mapping of strings, got {}", kind_of(node_)));
  for (const auto& [name, key, value] : fields()) {
    if (!out.emplace(name, value.string()).second) fail(fmt::format("key '{}' repeats", name));
  }
  return out;
}

std::vector<YamlField> YamlValue::fields() const {
  std::vector<YamlField> out;
  if (node_.IsNull()) return out;
  if (!node_.IsMap()) fail(fmt::format("expected a mapping, got {}", kind_of(node_)));
  for (auto& e : mapping_entries(node_, *where_, field_)) {
    YamlValue key(std::move(e.key), where_, field_);
    std::string name = key.string();
    std::string field = field_ + "." + name;
    out.push_back({std::move(name), std::move(key), YamlValue(std::move(e.value), where_, field)});
  }
  return out;
}

YamlObject YamlValue::object(std::initializer_list<std::string_view> known) const {
  return YamlObject(node_, where_, field_, known);
}

YamlObject YamlValue::item_object(std::initializer_list<std::string_view> known) const {
  auto where = std::make_shared<ConfigLocation>(*where_);
  where->object = field_;
  return YamlObject(node_, std::move(where), "", known);
}

std::vector<YamlValue> YamlValue::items() const {
  std::vector<YamlValue> out;
  if (node_.IsNull()) return out;
  if (!node_.IsSequence()) fail(fmt::format("expected a list, got {}", kind_of(node_)));
  out.reserve(node_.size());
  for (size_t i = 0; i < node_.size(); ++i) {
    out.emplace_back(node_[i], where_, fmt::format("{}[{}]", field_, i));
  }
  return out;
}

std::vector<std::string> YamlValue::strings() const {
  std::vector<std::string> out;
  for (const auto& item : items()) out.push_back(item.string());
  return out;
}

std::vector<IpAddress> YamlValue::ips() const {
  std::vector<IpAddress> out;
  for (const auto& item : items()) out.push_back(item.ip());
  return out;
}

std::vector<Cidr> YamlValue::cidrs() const {
  std::vector<Cidr> out;
  for (const auto& item : items()) out.push_back(item.cidr());
  return out;
}

std::vector<uint16_t> YamlValue::ports() const {
  std::vector<uint16_t> out;
  for (const auto& item : items()) out.push_back(item.port());
  return out;
}

// --- YamlObject --------------------------------------------------------------------------------

YamlObject::YamlObject(const YAML::Node& node, SharedLocation where, std::string path,
                       std::initializer_list<std::string_view> known)
    : node_(node), where_(std::move(where)), path_(std::move(path)) {
  if (node_.IsNull()) return;
  if (!node_.IsMap()) {
    throw make_config_error(*where_, path_, node_.Mark(),
                            fmt::format("expected a mapping, got {}", kind_of(node_)));
  }
  for (const auto& kv : mapping_entries(node_, *where_, path_)) {
    if (!kv.key.IsScalar()) {
      throw make_config_error(*where_, path_, kv.key.Mark(), "a field name must be a single value");
    }
    std::string key = kv.key.Scalar();
    bool is_known = false;
    for (auto k : known) is_known = is_known || k == key;
    if (!is_known) {
      auto problem =
          make_config_error(*where_, field_name(key), kv.key.Mark(),
                            fmt::format("unknown field (known fields: {})", join(known)));
      if (!where_->on_unknown_field) throw problem;
      where_->on_unknown_field(problem);
      unknown_keys_.push_back(std::move(key));
      continue;
    }
    for (const auto& e : entries_) {
      if (e.key == key) {
        throw make_config_error(*where_, field_name(key), kv.key.Mark(), "appears twice");
      }
    }
    entries_.push_back({std::move(key), kv.key, kv.value});
  }
}

void YamlObject::name_object(std::string_view uid) {
  where_->object = fmt::format("{} \"{}\"", where_->object, uid);
}

std::string YamlObject::field_name(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

std::optional<YamlValue> YamlObject::optional(std::string_view key) const {
  for (const auto& e : entries_) {
    if (e.key == key && !e.value.IsNull()) return YamlValue(e.value, where_, field_name(key));
  }
  return std::nullopt;
}

YamlValue YamlObject::required(std::string_view key) const {
  auto value = optional(key);
  if (!value) fail_field(key, "required");
  return *value;
}

std::string YamlObject::string_or(std::string_view key, std::string fallback) const {
  auto value = optional(key);
  return value ? value->string() : std::move(fallback);
}

bool YamlObject::boolean_or(std::string_view key, bool fallback) const {
  auto value = optional(key);
  return value ? value->boolean() : fallback;
}

void YamlObject::fail(std::string_view message) const {
  throw make_config_error(*where_, path_, node_.Mark(), message);
}

void YamlObject::fail_field(std::string_view key, std::string_view message) const {
  // A missing field has no node of its own; point at the object that lacks it.
  YAML::Mark mark = node_.Mark();
  for (const auto& e : entries_) {
    if (e.key == key) mark = e.key_node.Mark();
  }
  throw make_config_error(*where_, field_name(key), mark, message);
}

}  // namespace ambit
