// Key building shared by the sockmap fast-path programs. struct bpf_sock_ops and struct
// sk_msg_md name their address fields alike (local_port host order, remote_port network
// order), so one macro fills the key from either context. remote_port: both contexts load the
// 16-bit network-order port shifted into the upper half on little-endian (historical ABI), so
// take whichever half holds it.
#pragma once

#include <bpf/bpf_endian.h>

#include "lib/capture_helpers.h"
#include "lib/capture_structs.h"

// Fills *key from ctx; evaluates to 0 for a connection that is not loopback IPv4/IPv6.
#define AMBIT_SOCK_KEY_FROM(ctx, key)                                                          \
  ({                                                                                            \
    int __ok = 0;                                                                               \
    (key)->local_port = bpf_htons((__u16)(ctx)->local_port);                                    \
    __u32 __rp = (ctx)->remote_port;                                                            \
    (key)->remote_port = (__u16)(__rp > 0xffff ? __rp >> 16 : __rp);                            \
    if ((ctx)->family == AMBIT_AF_INET) {                                                       \
      (key)->family = AMBIT_AF_INET;                                                            \
      (key)->local[0] = (ctx)->local_ip4;                                                       \
      (key)->remote[0] = (ctx)->remote_ip4;                                                     \
      __ok = ambit_is_loopback4((key)->local[0]) && ambit_is_loopback4((key)->remote[0]);       \
    } else if ((ctx)->family == AMBIT_AF_INET6) {                                               \
      __u32 __l[4] = {(ctx)->local_ip6[0], (ctx)->local_ip6[1], (ctx)->local_ip6[2],            \
                      (ctx)->local_ip6[3]};                                                     \
      __u32 __r[4] = {(ctx)->remote_ip6[0], (ctx)->remote_ip6[1], (ctx)->remote_ip6[2],         \
                      (ctx)->remote_ip6[3]};                                                    \
      if (ambit_is_v4_mapped(__l) && ambit_is_v4_mapped(__r)) {                                 \
        (key)->family = AMBIT_AF_INET;                                                          \
        (key)->local[0] = __l[3];                                                               \
        (key)->remote[0] = __r[3];                                                              \
        __ok = ambit_is_loopback4(__l[3]) && ambit_is_loopback4(__r[3]);                        \
      } else {                                                                                  \
        (key)->family = AMBIT_AF_INET6;                                                         \
        __builtin_memcpy((key)->local, __l, sizeof(__l));                                       \
        __builtin_memcpy((key)->remote, __r, sizeof(__r));                                      \
        __ok = ambit_is_loopback6(__l) && ambit_is_loopback6(__r);                              \
      }                                                                                         \
    }                                                                                           \
    __ok;                                                                                       \
  })
