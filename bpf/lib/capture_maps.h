// The capture maps. Weak definitions: each entry file includes this header and the static
// linker (bpftool gen object) merges them into one object, so all programs share each map.
#pragma once

#include "lib/capture_structs.h"

// connect4/6 -> sockops: the original destination of an app socket, until its port is known.
struct {
  __uint(type, BPF_MAP_TYPE_SK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct ambit_orig_dst);
} ambit_conn_dst SEC(".maps") __weak;

// sockops -> getsockopt: original destination by the app end of the connection.
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct ambit_conn_key);
  __type(value, struct ambit_orig_dst);
} ambit_orig_dst SEC(".maps") __weak;

// Pod IP -> the agent's inbound (15006) listener inside that pod's netns.
struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __uint(max_entries, 4096);
  __type(key, struct ambit_ip);
  __type(value, __u64);
} ambit_inb_lsn SEC(".maps") __weak;

// Pod IPs whose inbound traffic must go through the agent (fail closed if no listener).
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, struct ambit_ip);
  __type(value, __u32);
} ambit_enrolled SEC(".maps") __weak;
