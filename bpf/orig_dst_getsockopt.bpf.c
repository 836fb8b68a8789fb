// cgroup/getsockopt on the *agent's* cgroup: getsockopt(SOL_IP, SO_ORIGINAL_DST) or
// getsockopt(SOL_IPV6, IP6T_SO_ORIGINAL_DST) on a connection the agent accepted on its outbound
// listener answers the app's original destination (from ambit_orig_dst, then deleted).
// cgroup socket programs run for the cgroup the socket was created in; an accepted socket
// inherits the listener's, and the agent creates the listeners, hence the agent's cgroup.
// Every other getsockopt passes through untouched.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "lib/capture_consts.h"
#include "lib/capture_helpers.h"
#include "lib/capture_maps.h"

struct ambit_sockaddr_in {
  __u16 family;
  __u16 port;
  __u32 addr;
  __u8 zero[8];
};

struct ambit_sockaddr_in6 {
  __u16 family;
  __u16 port;
  __u32 flowinfo;
  __u32 addr[4];
  __u32 scope_id;
};

SEC("cgroup/getsockopt")
int ambit_sockopt(struct bpf_sockopt *ctx) {
  if (ctx->optname != AMBIT_SO_ORIGINAL_DST) return 1;
  int level = ctx->level;
  if (level != AMBIT_SOL_IP && level != AMBIT_SOL_IPV6) return 1;
  struct bpf_sock *sk = ctx->sk;
  if (!sk) return 1;

  struct ambit_conn_key key = {};
  key.netns_cookie = bpf_get_netns_cookie(ctx);
  key.port = (__u16)sk->dst_port;
  if (sk->family == AMBIT_AF_INET) {
    key.family = AMBIT_AF_INET;
    key.addr[0] = sk->dst_ip4;
  } else if (sk->family == AMBIT_AF_INET6) {
    __u32 peer[4] = {sk->dst_ip6[0], sk->dst_ip6[1], sk->dst_ip6[2], sk->dst_ip6[3]};
    if (ambit_is_v4_mapped(peer)) {  // accepted on a dual-stack listener
      key.family = AMBIT_AF_INET;
      key.addr[0] = peer[3];
    } else {
      key.family = AMBIT_AF_INET6;
      key.addr[0] = peer[0];
      key.addr[1] = peer[1];
      key.addr[2] = peer[2];
      key.addr[3] = peer[3];
    }
  } else {
    return 1;
  }

  struct ambit_orig_dst *orig = bpf_map_lookup_elem(&ambit_orig_dst, &key);
  if (!orig) return 1;

  if (level == AMBIT_SOL_IP && orig->family == AMBIT_AF_INET) {
    struct ambit_sockaddr_in *out = ctx->optval;
    if ((void *)(out + 1) > ctx->optval_end) return 1;  // caller's buffer too small
    out->family = AMBIT_AF_INET;
    out->port = orig->port;
    out->addr = orig->addr[0];
    __builtin_memset(out->zero, 0, sizeof(out->zero));
    ctx->optlen = sizeof(*out);
  } else if (level == AMBIT_SOL_IPV6 && orig->family == AMBIT_AF_INET6) {
    struct ambit_sockaddr_in6 *out = ctx->optval;
    if ((void *)(out + 1) > ctx->optval_end) return 1;
    out->family = AMBIT_AF_INET6;
    out->port = orig->port;
    out->flowinfo = 0;
    out->addr[0] = orig->addr[0];
    out->addr[1] = orig->addr[1];
    out->addr[2] = orig->addr[2];
    out->addr[3] = orig->addr[3];
    out->scope_id = 0;
    ctx->optlen = sizeof(*out);
  } else {
    return 1;  // asked in the other family: leave the kernel's answer
  }
  ctx->retval = 0;
  bpf_map_delete_elem(&ambit_orig_dst, &key);
  return 1;
}

char LICENSE[] SEC("license") = "GPL";
