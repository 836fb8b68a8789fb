// sk_lookup on a pod's netns: TCP to an enrolled pod IP arriving from outside the netns (not on
// lo) goes to the agent's inbound listener for that IP (ambit_inb_lsn), except the agent's own
// ports. Fails closed: an enrolled IP without a listener (agent down) is dropped, so a STRICT pod
// is never reachable in plaintext around the mesh. The accepted socket's local address is the
// original destination.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "lib/capture_consts.h"
#include "lib/capture_helpers.h"
#include "lib/capture_maps.h"

SEC("sk_lookup")
int ambit_inbound(struct bpf_sk_lookup *ctx) {
  if (ctx->protocol != AMBIT_IPPROTO_TCP) return SK_PASS;
  // The agent's own connections to the app come from inside the netns, over lo.
  if (ctx->ingress_ifindex == AMBIT_LOOPBACK_IFINDEX) return SK_PASS;
  __u16 port = (__u16)ctx->local_port;
#pragma unroll
  for (int i = 0; i < AMBIT_MAX_SKIP_PORTS; i++) {
    if (inbound_skip_ports[i] == 0) break;
    if (inbound_skip_ports[i] == port) return SK_PASS;
  }

  struct ambit_ip key = {};
  key.family = ctx->family;
  if (ctx->family == AMBIT_AF_INET) {
    key.addr[0] = ctx->local_ip4;
  } else if (ctx->family == AMBIT_AF_INET6) {
    key.addr[0] = ctx->local_ip6[0];
    key.addr[1] = ctx->local_ip6[1];
    key.addr[2] = ctx->local_ip6[2];
    key.addr[3] = ctx->local_ip6[3];
  } else {
    return SK_PASS;
  }
  if (!bpf_map_lookup_elem(&ambit_enrolled, &key)) return SK_PASS;

  struct bpf_sock *listener = bpf_map_lookup_elem(&ambit_inb_lsn, &key);
  if (!listener) return SK_DROP;
  long err = bpf_sk_assign(ctx, listener, 0);
  bpf_sk_release(listener);
  return err ? SK_DROP : SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
