#include "controller/push/view_diff.h"

#include <algorithm>

namespace ambit::controller {
namespace {

v1::ResourceKey key_of(const ViewResource& r) {
  v1::ResourceKey key;
  key.set_kind(std::string(r.kind()));
  key.set_uid(r.uid());
  return key;
}

}  // namespace

ViewDiff diff_views(const View& from, const View& to) {
  ViewDiff diff;
  if (&from == &to) return diff;
  size_t i = 0, j = 0;
  while (i < from.size() || j < to.size()) {
    if (i < from.size() && j < to.size() && from[i] == to[j]) {
      ++i;
      ++j;
    } else if (j == to.size() || (i < from.size() && key_less(*from[i], *to[j]))) {
      diff.removed.push_back(key_of(*from[i++]));
    } else if (i == from.size() || key_less(*to[j], *from[i])) {
      diff.added.push_back(to[j++].get());
    } else {
      if (from[i]->encoded() != to[j]->encoded()) diff.added.push_back(to[j].get());
      ++i;
      ++j;
    }
  }
  return diff;
}

std::shared_ptr<const ViewDiff> ViewDiffCache::diff(const ViewPtr& from, const ViewPtr& to) {
  std::shared_future<std::shared_ptr<const ViewDiff>> computed;
  std::promise<std::shared_ptr<const ViewDiff>> mine;
  {
    std::lock_guard lock(mu_);
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [&](const Entry& e) { return e.from == from && e.to == to; });
    if (it != entries_.end()) {
      computed = it->diff;
    } else {
      entries_.push_back({from, to, mine.get_future().share()});
      if (entries_.size() > kEntries) entries_.pop_front();
    }
  }
  if (computed.valid()) return computed.get();
  auto d = std::make_shared<const ViewDiff>(diff_views(*from, *to));
  mine.set_value(d);
  return d;
}

}  // namespace ambit::controller
