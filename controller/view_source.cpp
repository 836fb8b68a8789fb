#include "controller/view_source.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace ambit::controller {

std::string_view resource_kind(const v1::Resource& resource) {
  switch (resource.kind_case()) {
    case v1::Resource::kNamespace: return "Namespace";
    case v1::Resource::kWorkload: return "Workload";
    case v1::Resource::kService: return "Service";
    case v1::Resource::kAuthorizationPolicy: return "AuthorizationPolicy";
    case v1::Resource::kTrustBundle: return "TrustBundle";
    case v1::Resource::kVirtualService: return "VirtualService";
    case v1::Resource::kDestinationRule: return "DestinationRule";
    case v1::Resource::KIND_NOT_SET: break;
  }
  return {};
}

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
