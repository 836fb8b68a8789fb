#include "controller/view_source.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace ambit::controller {

std::shared_ptr<const ViewResource> ViewResource::make(v1::Resource resource) {
  auto r = std::make_shared<ViewResource>();
  r->resource_ = std::move(resource);
  r->kind_ = resource_kind(r->resource_);
  // Deterministic: map fields (labels, selectors) in a fixed order, so equal objects have equal
  // bytes and the interner recognises an unchanged object as the same one.
  {
    google::protobuf::io::StringOutputStream stream(&r->encoded_);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    r->resource_.SerializeToCodedStream(&coded);
  }
  return r;
}

ResourcePtr ResourceInterner::intern(v1::Resource resource, std::string_view variant) {
  std::string key;
  key.append(resource_kind(resource)).push_back('\0');
  key.append(resource.uid()).push_back('\0');
  key.append(variant);
  ResourcePtr fresh = ViewResource::make(std::move(resource));
  Slot& slot = by_key_[key];
  slot.seen = true;
  if (slot.resource && slot.resource->encoded() == fresh->encoded()) return slot.resource;
  slot.resource = std::move(fresh);
  return slot.resource;
}

void ResourceInterner::end_version() {
  for (auto it = by_key_.begin(); it != by_key_.end();) {
    if (!it->second.seen) {
      it = by_key_.erase(it);
    } else {
      it->second.seen = false;
      ++it;
    }
  }
}

}  // namespace ambit::controller
