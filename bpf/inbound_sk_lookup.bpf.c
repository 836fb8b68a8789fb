// sk_lookup on a pod's netns: TCP to an enrolled pod IP arriving from outside the netns goes
// to the agent's inbound listener for that IP (ambit_inb_lsn), except the agent's own ports.
// Fails closed: an enrolled IP without a listener (agent down) is refused (SK_DROP: the SYN gets
// a RST), so a STRICT pod is never reachable in plaintext around the mesh. The accepted socket's
// local address is the original destination.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "lib/capture_consts.h"
#include "lib/capture_helpers.h"
#include "lib/capture_maps.h"

SEC("sk_lookup")
int ambit_inbound(struct bpf_sk_lookup *ctx) {
  if (ctx->protocol != AMBIT_IPPROTO_TCP) return SK_PASS;
  // Traffic made inside the netns. A connect to the pod's own IP travels over lo, but the
  // kernel reports the IP's device (the veth), not lo, as ingress_ifindex; so the agent's own
  // connections to the app (made inside the pod's netns, from the pod IP) are recognised by
  // source == destination. A packet from outside with the pod's own IP as source is a martian
  // (dropped before lookup for IPv4; IPv6 cannot complete a handshake: the SYN-ACK stays local).
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
    if (ctx->remote_ip4 == key.addr[0]) return SK_PASS;
  } else if (ctx->family == AMBIT_AF_INET6) {
    key.addr[0] = ctx->local_ip6[0];
    key.addr[1] = ctx->local_ip6[1];
    key.addr[2] = ctx->local_ip6[2];
    key.addr[3] = ctx->local_ip6[3];
    if (ctx->remote_ip6[0] == key.addr[0] && ctx->remote_ip6[1] == key.addr[1] &&
        ctx->remote_ip6[2] == key.addr[2] && ctx->remote_ip6[3] == key.addr[3])
      return SK_PASS;
  } else {
    return SK_PASS;
  }
  if (!bpf_map_lookup_elem(&ambit_enrolled, &key)) return SK_PASS;

  // SK_DROP makes the lookup find no socket: the SYN is answered with a RST, never delivered.
  struct bpf_sock *listener = bpf_map_lookup_elem(&ambit_inb_lsn, &key);
  if (!listener) return SK_DROP;
  long err = bpf_sk_assign(ctx, listener, 0);
  bpf_sk_release(listener);
  return err ? SK_DROP : SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
