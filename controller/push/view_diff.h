// The difference between two views of one client, by (kind, uid): what to send as a delta.
#pragma once

#include "controller/view_source.h"

namespace ambit::controller {

struct ViewDiff {
  std::vector<const ViewResource*> added;  // added or changed, in view order
  std::vector<v1::ResourceKey> removed;
  bool empty() const { return added.empty() && removed.empty(); }
};

// Both views sorted by (kind, uid). Shared objects are skipped by pointer; two different objects
// with one key are compared by their bytes.
ViewDiff diff_views(const View& from, const View& to);

}  // namespace ambit::controller
