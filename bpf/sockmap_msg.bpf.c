// Optional sockmap fast path, part 2 (sk_msg, attached to ambit_sockmap): a sendmsg on a socket
// of ambit_sockmap goes straight to the peer socket's receive queue (BPF_F_INGRESS), skipping
// TCP/IP on loopback. The peer is the entry under the reversed 4-tuple. While the peer is not
// in the map yet (its end of the handshake is still being processed), the data takes the
// normal TCP path.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "lib/capture_consts.h"
#include "lib/sockmap_helpers.h"
#include "lib/sockmap_maps.h"

SEC("sk_msg")
int ambit_sockmap_msg(struct sk_msg_md *msg) {
  struct ambit_sock_key own = {};
  if (!AMBIT_SOCK_KEY_FROM(msg, &own)) return SK_PASS;
  struct ambit_sock_key peer = {};
  peer.netns_cookie = bpf_get_netns_cookie(msg);
  peer.family = own.family;
  peer.local_port = own.remote_port;
  peer.remote_port = own.local_port;
  __builtin_memcpy(peer.local, own.remote, sizeof(peer.local));
  __builtin_memcpy(peer.remote, own.local, sizeof(peer.remote));
  // SK_DROP from the helper only means "no such peer": then pass, and TCP carries the data.
  bpf_msg_redirect_hash(msg, &ambit_sockmap, &peer, BPF_F_INGRESS);
  return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
