// Optional sockmap fast path, part 1 (sockops on the pod's cgroup AND on the agent's cgroup):
// when a loopback TCP connection to the outbound port becomes established, each end goes into
// ambit_sockmap under its own 4-tuple. The app's end is an active open (pod cgroup) with remote
// port = outbound_port; the agent's end is the accepted socket (passive open), which belongs to
// the agent's cgroup because the agent created the listener. Part 2 (sockmap_msg.bpf.c)
// redirects what either end sends straight to the other end's receive queue.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "lib/capture_consts.h"
#include "lib/sockmap_helpers.h"
#include "lib/sockmap_maps.h"

SEC("sockops")
int ambit_sockmap_ops(struct bpf_sock_ops *skops) {
  __u32 op = skops->op;
  if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
    return 1;
  struct ambit_sock_key key = {};
  if (!AMBIT_SOCK_KEY_FROM(skops, &key)) return 1;
  __u16 port = bpf_htons(outbound_port);
  if (op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB ? key.remote_port != port : key.local_port != port)
    return 1;
  key.netns_cookie = bpf_get_netns_cookie(skops);
  // Fails only when the map is full: then this connection simply takes the TCP path.
  bpf_sock_hash_update(skops, &ambit_sockmap, &key, BPF_ANY);
  return 1;
}

char LICENSE[] SEC("license") = "GPL";
