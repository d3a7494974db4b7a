// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The flood generator: run with BPF_PROG_RUN in live-frames mode
 * (BPF_F_TEST_XDP_LIVE_FRAMES). Every invocation takes the next source
 * address (from a list, or a range), writes it and the two checksums into the
 * template frame and redirects the frame to the sending end of a veth pair,
 * whose peer (the receiver) runs the filter under test.
 *
 * The index lives in .bss, so one generator must run on one CPU at a time
 * (the runner pins itself and makes one BPF_PROG_RUN call at a time). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "flood_common.h"

const volatile struct rgf_gen_config cfg = {};

__u32 rgf_next = 0;  /* index of the next source */
__u32 rgf_next_port = 0;  /* offset of the next source port */
__u64 rgf_frames = 0;  /* frames handed to bpf_redirect() */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);  /* sized by the runner */
	__type(key, __u32);
	__type(value, struct rgf_source);
} RGF_GEN_MAP_SOURCES SEC(".maps");

static __always_inline __u16 csum_finish(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Sum of the 16-bit words of an address, as stored (byte order does not
 * matter to a ones' complement sum as long as both sides use the same). */
static __always_inline __u32 words32(__u32 v)
{
	return (v & 0xffff) + (v >> 16);
}

SEC("xdp")
int rgf_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 i = rgf_next;
	__u32 w[4];

	rgf_next = i + 1 >= cfg.count ? 0 : i + 1;
	__u32 port_sum = 0;
	struct tcphdr *th = data + RGF_ETH_LEN + (cfg.family == 4 ? RGF_IP4_LEN : RGF_IP6_LEN);

	if ((void *)th + RGF_TCP_LEN > end)
		return XDP_ABORTED;
	if (cfg.sport_count > 1) {
		/* Every frame its own 4-tuple, as in a real SYN flood: a listener
		 * that sees it makes a request socket per SYN. */
		__u32 p = rgf_next_port;

		rgf_next_port = p + 1 >= cfg.sport_count ? 0 : p + 1;
		th->source = bpf_htons((__u16)(cfg.sport_base + p));
		port_sum = th->source;
	}

	if (cfg.list) {
		struct rgf_source *s = bpf_map_lookup_elem(&RGF_GEN_MAP_SOURCES, &i);

		if (!s)
			return XDP_ABORTED;
		__builtin_memcpy(w, s->addr, sizeof(w));
	}

	if (cfg.family == 4) {
		struct iphdr *ip = data + RGF_ETH_LEN;
		struct tcphdr *tcp = data + RGF_ETH_LEN + RGF_IP4_LEN;
		__u32 src;

		if ((void *)tcp + RGF_TCP_LEN > end)
			return XDP_ABORTED;
		src = cfg.list ? w[0] : bpf_htonl(cfg.range_base + i);
		ip->saddr = src;
		ip->check = csum_finish(cfg.csum_ip + words32(src));
		tcp->check = csum_finish(cfg.csum_tcp + port_sum + words32(src));
	} else {
		struct ipv6hdr *ip6 = data + RGF_ETH_LEN;
		struct tcphdr *tcp = data + RGF_ETH_LEN + RGF_IP6_LEN;
		__u32 *saddr = (__u32 *)&ip6->saddr;

		if ((void *)tcp + RGF_TCP_LEN > end)
			return XDP_ABORTED;
		if (cfg.list) {
			saddr[0] = w[0];
			saddr[1] = w[1];
			saddr[2] = w[2];
			saddr[3] = w[3];
			tcp->check = csum_finish(cfg.csum_tcp + port_sum + words32(w[0]) + words32(w[1]) +
						 words32(w[2]) + words32(w[3]));
		} else {
			/* One 32-bit word varies (e.g. word 1 gives every frame its own
			 * /64); the others stay as in the template (part of csum_tcp). */
			__u32 v = bpf_htonl(cfg.range_base + i);

			saddr[cfg.vary_word & 3] = v;
			tcp->check = csum_finish(cfg.csum_tcp + port_sum + words32(v));
		}
	}
	rgf_frames++;
	return bpf_redirect(cfg.ifindex, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
