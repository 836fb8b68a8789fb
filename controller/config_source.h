// Where configuration comes from: a directory of files today, the Kubernetes API later. A source
// turns what it reads into immutable ViewSource states and hands each new one to the controller.
#pragma once

#include <functional>
#include <memory>

#include "controller/view_source.h"
#include "core/result.h"

namespace ambit::controller {

class ConfigSource {
 public:
  using OnChange = std::function<void(std::shared_ptr<const ViewSource>)>;
  virtual ~ConfigSource() = default;

  // Calls on_change with the first state before returning (or fails), then again, from a thread of
  // the source's own, each time the configuration changes, until the source is destroyed.
  virtual Status start(OnChange on_change) = 0;
};

}  // namespace ambit::controller
