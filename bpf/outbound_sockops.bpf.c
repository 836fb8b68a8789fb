// sockops on a pod's cgroup: when a redirected socket sends its SYN its local port is known, so
// its original destination moves from the socket (ambit_conn_dst) to ambit_orig_dst, keyed by
// the address the agent will see as the peer of the accepted connection.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "lib/capture_consts.h"
#include "lib/capture_helpers.h"
#include "lib/capture_maps.h"

SEC("sockops")
int ambit_sockops(struct bpf_sock_ops *skops) {
  if (skops->op != BPF_SOCK_OPS_TCP_CONNECT_CB) return 1;
  struct bpf_sock *sk = skops->sk;
  if (!sk) return 1;
  struct ambit_orig_dst *orig = bpf_sk_storage_get(&ambit_conn_dst, sk, 0, 0);
  if (!orig || orig->family == 0) return 1;

  struct ambit_conn_key key = {};
  key.netns_cookie = bpf_get_netns_cookie(skops);
  key.port = bpf_htons((__u16)skops->local_port);
  if (orig->family == AMBIT_AF_INET) {
    // Also for a v4-mapped connect on an IPv6 socket: the connection itself is IPv4, and the
    // kernel has set the IPv4 source (local_ip4) before this callback.
    key.family = AMBIT_AF_INET;
    key.addr[0] = skops->local_ip4;
  } else {
    key.family = AMBIT_AF_INET6;
    key.addr[0] = skops->local_ip6[0];
    key.addr[1] = skops->local_ip6[1];
    key.addr[2] = skops->local_ip6[2];
    key.addr[3] = skops->local_ip6[3];
  }
  struct ambit_orig_dst value = *orig;
  bpf_map_update_elem(&ambit_orig_dst, &key, &value, BPF_ANY);
  orig->family = 0;
  return 1;
}

char LICENSE[] SEC("license") = "GPL";
