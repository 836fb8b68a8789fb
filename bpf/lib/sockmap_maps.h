// The optional sockmap fast path (sock_ops + sk_msg) between an app's socket and the agent's
// accepted socket on the outbound port, both ends inside one pod netns over loopback.
// Weak like capture_maps.h so that the static linker keeps one copy.
#pragma once

#include "lib/capture_structs.h"

// Established loopback connections to/from the outbound port, by their own 4-tuple as seen from
// the socket (local first); the sk_msg program looks the peer up by the reversed tuple.
struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __uint(max_entries, 65536);
  __type(key, struct ambit_sock_key);
  __type(value, __u64);
} ambit_sockmap SEC(".maps") __weak;
