/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What the flood generator's BPF program and its runner (flood_tool.cpp)
 * share: the source table, the map names and the config block. Written with
 * __u32-style types so it compiles under clang -target bpf and C++. */
#ifndef RGF_FLOOD_COMMON_H
#define RGF_FLOOD_COMMON_H

#include <linux/types.h>

/* Source addresses the generator cycles through in list mode, in network
 * byte order; an IPv4 address uses the first 4 bytes. */
struct rgf_source {
	__u8 addr[16];
};
#define RGF_MAX_SOURCES (1u << 20)

/* Per-frame settings, set by the runner in .rodata before load.
 *
 * The runner builds one template frame (Ethernet + IPv4/IPv6 + TCP SYN with an
 * MSS option, correct checksums). Per frame the program writes a new source
 * address and both checksums. Because BPF_PROG_RUN's live-frames mode does not
 * rewrite a recycled page, the frame may still hold an earlier source; the
 * checksums are therefore derived from the template's constants, never from
 * what is in the frame (RFC 1624: HC' = ~(~HC + ~m + m'), with ~HC + ~m
 * precomputed as csum_tcp / csum_ip). */
struct rgf_gen_config {
	__u32 ifindex;    /* bpf_redirect() target (the sending end of the veth pair) */
	__u32 family;     /* 4 or 6 */
	__u32 count;      /* sources: list entries, or addresses in the range */
	__u32 list;       /* 1: sources from rgf_sources; 0: a range */
	__u32 range_base; /* range mode: host-order value of the varied 32-bit word for index 0 */
	__u32 vary_word;  /* range mode, IPv6: which 32-bit word of the source varies (0-3) */
	__u32 sport_base; /* TCP source port of the first frame */
	__u32 sport_count; /* source ports cycled through (1: fixed port) */
	__u32 csum_tcp;   /* ~template tcp check + sum of ~template words that vary (unfolded) */
	__u32 csum_ip;    /* the same for the IPv4 header checksum (IPv4 only) */
};

#define RGF_GEN_MAP_SOURCES rgf_sources
#define RGF_COUNT_MAP rgf_count

/* Layout of the template: no VLAN, no IP options; the TCP header carries one
 * MSS option (4 bytes). */
#define RGF_ETH_LEN 14
#define RGF_IP4_LEN 20
#define RGF_IP6_LEN 40
#define RGF_TCP_LEN 24

#endif
