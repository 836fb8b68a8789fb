// Small address helpers for the capture programs.
#pragma once

#include <bpf/bpf_endian.h>

static __always_inline int ambit_is_loopback4(__u32 addr_be) {
  return (bpf_ntohl(addr_be) >> 24) == 127;
}

static __always_inline int ambit_is_v4_mapped(const __u32 a[4]) {
  return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff);
}

static __always_inline int ambit_is_loopback6(const __u32 a[4]) {
  return a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == bpf_htonl(1);
}

static __always_inline int ambit_is_unspecified6(const __u32 a[4]) {
  return a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0;
}
