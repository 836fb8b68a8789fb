// What the controller pushes, as the config model hands it over: one immutable state of the
// mesh (a ViewSource) per configuration version, from which each client's view is cut.
//
// Views are vectors of shared, immutable ViewResources sorted by (kind, uid). An object that did
// not change between two versions should be the *same* ViewResource in both (ResourceInterner does
// that), so the push server diffs 10,000-object views by pointer and sends cached bytes instead of
// comparing and re-serializing every object for every client on every change.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ambit/v1/control.pb.h"
#include "ambit/v1/resource_kind.h"
#include "core/identity.h"

namespace ambit::controller {

namespace v1 = ::ambit::v1;

using v1::resource_kind;

class ViewResource {
 public:
  static std::shared_ptr<const ViewResource> make(v1::Resource resource);

  const v1::Resource& resource() const { return resource_; }
  std::string_view kind() const { return kind_; }
  const std::string& uid() const { return resource_.uid(); }
  // The serialized Resource, computed once and sent as is.
  const std::string& encoded() const { return encoded_; }

  // Order of views: by kind, then uid.
  friend bool key_less(const ViewResource& a, const ViewResource& b) {
    return a.kind_ != b.kind_ ? a.kind_ < b.kind_ : a.uid() < b.uid();
  }

 private:
  v1::Resource resource_;
  std::string_view kind_;
  std::string encoded_;
};

using ResourcePtr = std::shared_ptr<const ViewResource>;
using View = std::vector<ResourcePtr>;  // sorted by (kind, uid), no duplicate keys
using ViewPtr = std::shared_ptr<const View>;

// One state of the configuration. Immutable once published; called from many threads.
class ViewSource {
 public:
  virtual ~ViewSource() = default;

  // The resources `who` (role + node) should have at this state, sorted by (kind, uid).
  // Implementations should return the same ViewPtr for repeated calls with the same client.
  virtual ViewPtr view_for(const v1::Subscribe& who) const = 0;

  // Certificate authorization: whether the workload runs on `node` (for a waypoint client: is
  // served by it), and the SPIFFE identity it gets. Unknown workloads: false / nullopt.
  virtual bool workload_on_node(std::string_view workload_uid, std::string_view node) const = 0;
  virtual std::optional<Identity> identity_of(std::string_view workload_uid) const = 0;

  // Errors found in the configuration at this state, for /status ("file: object: field: why").
  virtual std::vector<std::string> config_errors() const { return {}; }
};

// Keeps ViewResources across versions: interning a Resource whose (kind, uid) and bytes are those
// of the previous version's object returns the previous pointer. Not thread-safe; one per source.
class ResourceInterner {
 public:
  // `variant` tells apart two forms of one object (e.g. a workload with and without its node-local
  // fields) so both survive from version to version.
  ResourcePtr intern(v1::Resource resource, std::string_view variant = {});
  // Forgets objects not interned since the last call (call once per published version).
  void end_version();

 private:
  struct Slot {
    ResourcePtr resource;
    bool seen = false;
  };
  std::map<std::string, Slot> by_key_;  // kind \0 uid \0 variant
};

}  // namespace ambit::controller
