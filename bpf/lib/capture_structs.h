// Map keys and values, shared by the BPF programs and the C++ loader (bpf/capture_programs.cpp).
// Only fixed-width fields, no implicit padding: the same bytes on both sides.
#pragma once

// An IPv4 or IPv6 address. IPv4 is addr[0] (network order) with the other words zero.
struct ambit_ip {
  __u32 family;  // AF_INET or AF_INET6
  __u32 addr[4];
};

// Where the application wanted to go: value of ambit_conn_dst (per socket) and ambit_orig_dst.
struct ambit_orig_dst {
  __u16 family;  // AF_INET or AF_INET6; 0 = already handed to ambit_orig_dst
  __u16 port;    // network order
  __u32 addr[4];
};

// The application's end of a redirected connection, as the agent sees it (its peer address).
struct ambit_conn_key {
  __u64 netns_cookie;
  __u16 family;
  __u16 port;  // network order
  __u32 pad;
  __u32 addr[4];
};
