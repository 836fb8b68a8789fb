// cgroup/connect4 on a pod's cgroup: a TCP connect from the app to a non-loopback IPv4
// destination goes to the agent's outbound listener 127.0.0.1:<outbound_port> inside the pod's
// netns; the original destination is kept on the socket (ambit_conn_dst) for sockops.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "lib/capture_consts.h"
#include "lib/capture_helpers.h"
#include "lib/capture_maps.h"

SEC("cgroup/connect4")
int ambit_connect4(struct bpf_sock_addr *ctx) {
  if (ctx->type != AMBIT_SOCK_STREAM) return 1;
  struct bpf_sock *sk = ctx->sk;
  if (!sk || sk->mark == agent_mark) return 1;
  __u32 dst = ctx->user_ip4;
  if (ambit_is_loopback4(dst)) return 1;

  struct ambit_orig_dst *orig =
      bpf_sk_storage_get(&ambit_conn_dst, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
  if (!orig) return 1;  // no memory: leave the connect alone rather than lose its destination
  orig->family = AMBIT_AF_INET;
  orig->port = (__u16)ctx->user_port;
  orig->addr[0] = dst;
  orig->addr[1] = orig->addr[2] = orig->addr[3] = 0;

  ctx->user_ip4 = bpf_htonl(0x7f000001);
  ctx->user_port = bpf_htons(outbound_port);
  return 1;
}

char LICENSE[] SEC("license") = "GPL";
