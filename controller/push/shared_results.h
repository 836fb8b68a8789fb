// Results the push server's sessions share instead of each making its own: the delta between two
// views, the encoded snapshot of a view. 1,000 agents whose nodes see the same view would otherwise
// each walk (or encode) the 100,000 objects of it on every change.
#pragma once

#include <algorithm>
#include <deque>
#include <exception>
#include <future>
#include <memory>
#include <mutex>

namespace ambit::controller {

// A value made once per key by whichever thread asks first; the others (also those asking while
// it is being made) wait for it and share it. Keeps the `capacity` most recent keys (and whatever
// their keys hold alive). Thread-safe.
template <typename Key, typename Value>
class SharedResults {
 public:
  explicit SharedResults(size_t capacity) : capacity_(capacity) {}

  template <typename Make>
  std::shared_ptr<const Value> get(const Key& key, Make&& make) {
    std::shared_future<std::shared_ptr<const Value>> made;
    std::promise<std::shared_ptr<const Value>> mine;
    {
      std::lock_guard lock(mu_);
      auto it = std::find_if(entries_.begin(), entries_.end(),
                             [&](const Entry& e) { return e.key == key; });
      if (it != entries_.end()) {
        made = it->value;
      } else {
        entries_.push_back({key, mine.get_future().share()});
        if (entries_.size() > capacity_) entries_.pop_front();
      }
    }
    if (made.valid()) return made.get();
    try {
      auto value = std::make_shared<const Value>(make());
      mine.set_value(value);
      return value;
    } catch (...) {
      mine.set_exception(std::current_exception());
      throw;
    }
  }

 private:
  struct Entry {
    Key key;
    std::shared_future<std::shared_ptr<const Value>> value;
  };
  const size_t capacity_;
  std::mutex mu_;
  std::deque<Entry> entries_;  // most recent last
};

}  // namespace ambit::controller
