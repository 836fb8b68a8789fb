#include "controller/static_view_directory.h"

#include <google/protobuf/util/json_util.h>
#include <poll.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ambit/v1json/control.pb.h"
#include "core/log.h"

namespace ambit::controller {

namespace fs = std::filesystem;

Result<std::vector<v1::Resource>> parse_resource_file(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return Error::format("{}: cannot open", file.string());
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, false);
  if (doc.is_discarded()) return Error::format("{}: not valid JSON", file.string());
  if (doc.is_object() && doc.contains("resources")) doc = doc["resources"];
  if (!doc.is_array())
    return Error::format("{}: expected a JSON array of resources", file.string());
  std::vector<v1::Resource> out;
  out.reserve(doc.size());
  for (size_t i = 0; i < doc.size(); ++i) {
    // JSON needs reflection, which only the full-runtime twin of the messages has; the same
    // fields and numbers make its bytes a v1::Resource.
    v1json::Resource json;
    auto status = google::protobuf::util::JsonStringToMessage(doc[i].dump(), &json);
    if (!status.ok()) {
      return Error::format("{}: resource {}: {}", file.string(), i, status.ToString());
    }
    v1::Resource r;
    if (!r.ParseFromString(json.SerializeAsString())) {
      return Error::format("{}: resource {}: does not convert to ambit.v1", file.string(), i);
    }
    if (r.uid().empty() || resource_kind(r).empty()) {
      return Error::format("{}: resource {}: needs a uid and a kind", file.string(), i);
    }
    out.push_back(std::move(r));
  }
  return out;
}

StaticViewDirectory::StaticViewDirectory(fs::path path, std::string trust_domain,
                                         std::vector<v1::Resource> extra)
    : FileConfigSource(std::move(path), {".json"}), trust_domain_(std::move(trust_domain)) {
  for (auto& r : extra) extra_.push_back(ViewResource::make(std::move(r)));
}

StaticViewDirectory::~StaticViewDirectory() { stop(); }

void StaticViewDirectory::read(const WatchedFiles::Changes& changes) {
  for (const auto& p : changes.removed) files_.erase(p);
  for (const fs::path& p : changes.changed) {
    File& f = files_[p];
    auto parsed = parse_resource_file(p);
    if (parsed) {
      // Objects are made once per read of their file; the other files' objects keep their
      // pointers, which is what makes a one-file change cheap to push.
      f.resources.clear();
      for (auto& r : *parsed) f.resources.push_back(ViewResource::make(std::move(r)));
      f.error.clear();
    } else {
      spdlog::warn("config: {} (keeping its last good content)", parsed.error().message);
      f.error = parsed.error().message;
    }
  }
}

std::shared_ptr<const ViewSource> StaticViewDirectory::build() {
  std::vector<ResourcePtr> all = extra_;
  std::vector<std::string> errors;
  for (const auto& [p, f] : files_) {
    all.insert(all.end(), f.resources.begin(), f.resources.end());
    if (!f.error.empty()) errors.push_back(f.error);
  }
  return StaticViewSource::create(std::move(all), trust_domain_, std::move(errors));
}

}  // namespace ambit::controller
