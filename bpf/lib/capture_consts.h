// Constants shared by the capture programs. The tunables are rodata (`const volatile`): the
// loader sets them before load and the verifier then sees them as constants.
#pragma once

#define AMBIT_AF_INET 2
#define AMBIT_AF_INET6 10
#define AMBIT_SOCK_STREAM 1
#define AMBIT_IPPROTO_TCP 6
#define AMBIT_SOL_IP 0
#define AMBIT_SOL_IPV6 41
// SO_ORIGINAL_DST (SOL_IP) and IP6T_SO_ORIGINAL_DST (SOL_IPV6) share the number 80.
#define AMBIT_SO_ORIGINAL_DST 80
#define AMBIT_LOOPBACK_IFINDEX 1
// Ports the inbound program never steers (the agent's own listeners); 0 ends the list.
#define AMBIT_MAX_SKIP_PORTS 8

#ifdef __BPF__
// Weak so that every entry file can see them and the static linker keeps one copy.
__weak const volatile __u32 agent_mark = 0x539;
__weak const volatile __u16 outbound_port = 15001;
__weak const volatile __u16 inbound_skip_ports[AMBIT_MAX_SKIP_PORTS] = {15008, 15001, 15006};
#endif
