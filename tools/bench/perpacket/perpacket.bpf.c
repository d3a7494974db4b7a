// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Reference programs for the per-packet benchmark (rg-perpacket):
 *  - rgb_drop: XDP_DROP and nothing else, the floor of any XDP program;
 *  - rgb_lpm: parse Ethernet / IPv4 or IPv6 / TCP, and for a SYN to port 25
 *    do one longest-prefix lookup of the source in a plain BPF LPM trie
 *    (drop on a hit). This is what a straightforward blocklist filter costs,
 *    so relayguard's figures can be read against it.
 *
 * Self-contained on purpose (its own parser and maps, nothing from bpf/): the
 * reference must not change when relayguard's data path does.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "perpacket_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, RGB_LPM_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct rgb_lpm4_key);
	__type(value, __u64);
} rgb_lpm4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, RGB_LPM_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct rgb_lpm6_key);
	__type(value, __u64);
} rgb_lpm6 SEC(".maps");

SEC("xdp")
int rgb_drop(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_DROP;
}

static __always_inline int syn_to_25(struct tcphdr *tcp, void *end)
{
	if ((void *)(tcp + 1) > end)
		return 0;
	return tcp->dest == bpf_htons(25) && tcp->syn && !tcp->ack;
}

SEC("xdp")
int rgb_lpm(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		struct rgb_lpm4_key k = { .prefixlen = 32 };

		if ((void *)(ip + 1) > end || ip->ihl < 5 || ip->protocol != IPPROTO_TCP ||
		    (ip->frag_off & bpf_htons(0x3fff)))
			return XDP_PASS;
		if (!syn_to_25((void *)ip + ip->ihl * 4, end))
			return XDP_PASS;
		__builtin_memcpy(k.addr, &ip->saddr, 4);
		return bpf_map_lookup_elem(&rgb_lpm4, &k) ? XDP_DROP : XDP_PASS;
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		struct rgb_lpm6_key k = { .prefixlen = 128 };

		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_TCP)
			return XDP_PASS;
		if (!syn_to_25((void *)(ip6 + 1), end))
			return XDP_PASS;
		__builtin_memcpy(k.addr, &ip6->saddr, 16);
		return bpf_map_lookup_elem(&rgb_lpm6, &k) ? XDP_DROP : XDP_PASS;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
