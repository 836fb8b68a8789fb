// Typed, strict reading of YAML configuration with errors that say where the problem is:
//   demo.yaml: workloads[1] "default/server": field addresses[0]: '10.0.0.x' is not an IPv4 or
//   IPv6 address (line 14)
//
// Used inside configuration loaders (the agent's local file, the controller's Istio-style
// objects). A problem throws ConfigError, which the loader's entry point catches and returns as
// an Error or a diagnostic: the schema code then reads as a straight list of fields instead of a
// ladder of early returns, and nothing is thrown past the loader.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/net_address.h"

namespace ambit {

// `message` is the whole sentence (see describe_config_problem); the other members are its
// parts, for callers that present problems in their own format.
struct ConfigError {
  std::string message;
  std::string file, object, field, problem;
  int line = 0;  // 1-based; 0 when unknown
};

using StringMap = std::map<std::string, std::string>;

// The file and the object being read (`workloads[2] "default/client"`, empty at top level).
// Shared by an object and every value read from it, so naming the object once its name is known
// also names it in errors about values read before that.
struct ConfigLocation {
  std::string file;
  std::string object;
  // When set, an unknown field is passed here and skipped instead of failing the object
  // (lenient reading of foreign schemas such as Istio's, where a newer field should not make
  // the whole object unreadable).
  std::function<void(const ConfigError&)> on_unknown_field;
  // Lines before the text the nodes were parsed from (a file is parsed one document at a time;
  // marks count from the document's first line).
  int first_line = 0;
};
using SharedLocation = std::shared_ptr<ConfigLocation>;

// The 1-based line of a mark in the file; 0 when unknown.
int line_in_file(const ConfigLocation& where, const YAML::Mark& mark);

// Formats "<file>: <object>: field <field>: <message> (line N)", leaving out empty parts.
std::string describe_config_problem(const ConfigLocation& where, std::string_view field,
                                    const YAML::Mark& mark, std::string_view message);
// The same problem as a ConfigError, parts and sentence.
ConfigError make_config_error(const ConfigLocation& where, std::string_view field,
                              const YAML::Mark& mark, std::string_view message);

class YamlObject;
struct YamlField;

// One value and the name to blame for it.
class YamlValue {
 public:
  YamlValue(YAML::Node node, SharedLocation where, std::string field)
      : node_(std::move(node)), where_(std::move(where)), field_(std::move(field)) {}

  const YAML::Node& node() const { return node_; }
  const std::string& field() const { return field_; }
  const ConfigLocation& where() const { return *where_; }
  int line() const { return line_in_file(*where_, node_.Mark()); }
  [[noreturn]] void fail(std::string_view message) const;
  ConfigError problem(std::string_view message) const;  // what fail() would throw

  std::string string() const;  // any scalar, as written
  // A Kubernetes object name (DNS-1123 subdomain): lowercase letters, digits, '-' and '.',
  // starting and ending with a letter or digit. Names end up in uids and SPIFFE IDs.
  std::string kubernetes_name() const;
  bool boolean() const;     // true | false
  uint16_t port() const;    // 1..65535
  int64_t integer() const;  // a whole number
  double number() const;    // a decimal number
  bool is_scalar() const { return node_.IsScalar(); }
  IpAddress ip() const;
  SocketAddress socket_address(bool allow_port_zero = false) const;
  Cidr cidr() const;
  StringMap string_map() const;
  // A mapping's entries, with YAML merge keys expanded (see YamlObject).
  std::vector<YamlField> fields() const;
  // A mapping whose keys must all be in `known`; unknown keys are errors naming them. Its fields
  // are named under this one ("rules[0].from[0].source.principals").
  YamlObject object(std::initializer_list<std::string_view> known) const;
  // The same for an item of a top-level list: the item becomes the object errors name
  // (`workloads[2]`), its fields are named from there ("addresses[0]").
  YamlObject item_object(std::initializer_list<std::string_view> known) const;
  std::vector<YamlValue> items() const;  // a sequence; null counts as empty

  std::vector<std::string> strings() const;
  std::vector<IpAddress> ips() const;
  std::vector<Cidr> cidrs() const;
  std::vector<uint16_t> ports() const;

 private:
  YAML::Node node_;
  SharedLocation where_;
  std::string field_;
};

// One entry of a mapping: the key's text, the key (for errors about it) and the value.
struct YamlField {
  std::string name;
  YamlValue key, value;
};

// A mapping whose fields are looked up by name. Constructing it checks for unknown and repeated
// keys, so a misspelt field is reported as such rather than as a missing one.
//
// YAML merge keys (`<<: *defaults`, `<<: [*a, *b]`), which kubectl accepts, are expanded as the
// merge-key spec says: a key written in the mapping wins over a merged one, and of several merged
// mappings the earlier wins. Merging anything but a mapping or a list of mappings is an error.
class YamlObject {
 public:
  YamlObject(const YAML::Node& node, SharedLocation where, std::string path,
             std::initializer_list<std::string_view> known);

  // Names the object in later errors, once its name is known (`workloads[2] "default/client"`).
  void set_object_label(std::string label) { where_->object = std::move(label); }
  // Appends the object's uid to its label: `workloads[2]` becomes `workloads[2] "default/client"`.
  void name_object(std::string_view uid);

  // A field set to null (`labels:` with nothing after it) counts as absent.
  std::optional<YamlValue> optional(std::string_view key) const;
  YamlValue required(std::string_view key) const;
  std::string string_or(std::string_view key, std::string fallback) const;
  bool boolean_or(std::string_view key, bool fallback) const;

  [[noreturn]] void fail(std::string_view message) const;  // about the object as a whole
  [[noreturn]] void fail_field(std::string_view key, std::string_view message) const;

  const YAML::Node& node() const { return node_; }
  const ConfigLocation& where() const { return *where_; }
  const std::string& path() const { return path_; }
  int line() const { return line_in_file(*where_, node_.Mark()); }
  bool has(std::string_view key) const { return optional(key).has_value(); }
  // The fields it does not know (reported, and left out), in the order written.
  const std::vector<std::string>& unknown_keys() const { return unknown_keys_; }

 private:
  struct Entry {
    std::string key;
    YAML::Node key_node, value;
  };
  std::string field_name(std::string_view key) const;

  YAML::Node node_;
  SharedLocation where_;
  std::string path_;  // prefix for field names of nested objects, "" at an object's root
  std::vector<Entry> entries_;
  std::vector<std::string> unknown_keys_;
};

// Reads a list field of objects, calling parse(item, index) for each; absent means empty.
template <typename Parse>
void for_each_item(const YamlObject& object, std::string_view key, Parse&& parse) {
  auto list = object.optional(key);
  if (!list) return;
  auto items = list->items();
  for (size_t i = 0; i < items.size(); ++i) parse(items[i], i);
}

}  // namespace ambit
