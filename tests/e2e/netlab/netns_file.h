// Network namespaces that live as bind-mounted nsfs files (like /run/netns/<name>), created
// without ever touching the caller's namespace: a short-lived thread unshares and mounts.
#pragma once

#include <string>

#include "core/result.h"

namespace ambit::netlab {

// Creates a fresh network namespace and pins it at path (the file is created).
Status create_netns_file(const std::string& path);
// Unmounts and unlinks the file; the namespace dies with its last user. Missing file: ok.
Status remove_netns_file(const std::string& path);
// Writes a sysctl of that namespace (e.g. "net/ipv4/ip_forward", "1").
Status write_netns_sysctl(const std::string& netns_path, const std::string& key,
                          const std::string& value);

}  // namespace ambit::netlab
