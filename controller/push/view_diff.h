// The difference between two views of one client, by (kind, uid): what to send as a delta.
#pragma once

#include <deque>
#include <future>
#include <mutex>

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

// Deltas computed once for every client with the same (from, to) pair of views: the agents of a
// mesh whose nodes see the same view would otherwise each walk the 100,000 objects of both.
// Keeps the most recent pairs (and their views alive). Thread-safe; a second asker of a pair being
// computed waits for it.
class ViewDiffCache {
 public:
  std::shared_ptr<const ViewDiff> diff(const ViewPtr& from, const ViewPtr& to);

 private:
  struct Entry {
    ViewPtr from, to;
    std::shared_future<std::shared_ptr<const ViewDiff>> diff;
  };
  static constexpr size_t kEntries = 16;
  std::mutex mu_;
  std::deque<Entry> entries_;  // most recent last
};

}  // namespace ambit::controller
