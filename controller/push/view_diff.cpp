#include "controller/push/view_diff.h"

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

}  // namespace ambit::controller
