// cgroup/connect6 on a pod's cgroup: as connect4 for IPv6, to [::1]:<outbound_port>. A
// v4-mapped destination (::ffff:a.b.c.d on a dual-stack socket) is an IPv4 connection: it goes
// to ::ffff:127.0.0.1 (the agent's IPv4 listener) and is remembered as IPv4.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "lib/capture_consts.h"
#include "lib/capture_helpers.h"
#include "lib/capture_maps.h"

SEC("cgroup/connect6")
int ambit_connect6(struct bpf_sock_addr *ctx) {
  if (ctx->type != AMBIT_SOCK_STREAM) return 1;
  struct bpf_sock *sk = ctx->sk;
  if (!sk || sk->mark == agent_mark) return 1;

  __u32 dst[4] = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]};
  int mapped = ambit_is_v4_mapped(dst);
  if (mapped ? ambit_is_loopback4(dst[3]) : (ambit_is_loopback6(dst) || ambit_is_unspecified6(dst)))
    return 1;

  struct ambit_orig_dst *orig =
      bpf_sk_storage_get(&ambit_conn_dst, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
  if (!orig) return 1;
  orig->port = (__u16)ctx->user_port;
  if (mapped) {
    orig->family = AMBIT_AF_INET;
    orig->addr[0] = dst[3];
    orig->addr[1] = orig->addr[2] = orig->addr[3] = 0;
    ctx->user_ip6[3] = bpf_htonl(0x7f000001);  // ::ffff:127.0.0.1
  } else {
    orig->family = AMBIT_AF_INET6;
    orig->addr[0] = dst[0];
    orig->addr[1] = dst[1];
    orig->addr[2] = dst[2];
    orig->addr[3] = dst[3];
    ctx->user_ip6[0] = 0;
    ctx->user_ip6[1] = 0;
    ctx->user_ip6[2] = 0;
    ctx->user_ip6[3] = bpf_htonl(1);  // ::1
  }
  ctx->user_port = bpf_htons(outbound_port);
  return 1;
}

char LICENSE[] SEC("license") = "GPL";
