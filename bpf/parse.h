/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Packet parsing with a cursor. Every pull checks the packet bounds first, so
 * a truncated header is reported (NULL) and never read past data_end.
 * The one parser of both programs: the XDP program (ingress, relayguard.bpf.c)
 * and the TC program (egress, egress.h); both start at the Ethernet header.
 */
#ifndef RELAYGUARD_PARSE_H
#define RELAYGUARD_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

#define RG_MAX_VLAN_TAGS 2
#define RG_MAX_IPV6_EXTHDRS 8

struct cursor {
	void *pos;
	void *end;
};

struct vlan_tag {
	__be16 tci;
	__be16 encap_proto;
};

/* Return a pointer to the next len bytes and advance, or NULL if the packet
 * is shorter. len must be bounded (constant, or checked by the caller). */
static __always_inline void *cur_pull(struct cursor *c, __u32 len)
{
	void *p = c->pos;

	if (p + len > c->end)
		return NULL;
	c->pos = p + len;
	return p;
}

/* Outcome of parsing up to the TCP header. */
enum parse_status {
	PARSE_TCP,       /* got a TCP header: fields below are valid */
	PARSE_NOT_IP,
	PARSE_NOT_TCP,
	PARSE_FRAGMENT,
	PARSE_MALFORMED,
	PARSE_UNPARSED,
};

struct parsed {
	__u8 family;     /* 4 or 6 */
	__u8 syn;        /* SYN without ACK */
	__be16 dport;
	__u8 saddr[16];  /* first 4 bytes used for IPv4 */
	__u8 daddr[16];  /* as saddr */
};

/* Ethernet with up to RG_MAX_VLAN_TAGS 802.1Q/802.1ad tags. Stores the
 * inner ethertype (network order) in *proto -- still a VLAN ethertype if
 * there were more tags than we parse -- and returns 0, or -1 on truncation. */
static __always_inline int parse_eth(struct cursor *c, __be16 *proto_out)
{
	struct ethhdr *eth = cur_pull(c, sizeof(*eth));
	__be16 proto;
	int i;

	if (!eth)
		return -1;
	proto = eth->h_proto;
#pragma unroll
	for (i = 0; i < RG_MAX_VLAN_TAGS; i++) {
		struct vlan_tag *tag;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		tag = cur_pull(c, sizeof(*tag));
		if (!tag)
			return -1;
		proto = tag->encap_proto;
	}
	*proto_out = proto;
	return 0;
}

static __always_inline enum parse_status parse_tcp(struct cursor *c, struct parsed *p)
{
	struct tcphdr *tcp = cur_pull(c, sizeof(*tcp));

	if (!tcp || tcp->doff < 5)
		return PARSE_MALFORMED;
	p->dport = tcp->dest;
	p->syn = tcp->syn && !tcp->ack;
	return PARSE_TCP;
}

/* IPv4 with any header length (options are skipped, not interpreted). */
static __always_inline enum parse_status parse_ipv4(struct cursor *c, struct parsed *p)
{
	struct iphdr *ip = cur_pull(c, sizeof(*ip));
	__u32 hlen;

	if (!ip || ip->version != 4 || ip->ihl < 5)
		return PARSE_MALFORMED;
	hlen = ip->ihl * 4;
	if (hlen > sizeof(*ip) && !cur_pull(c, hlen - sizeof(*ip)))
		return PARSE_MALFORMED;
	/* Offset != 0: a later fragment carries no TCP header. The first
	 * fragment (offset 0, MF set) does and is judged like any packet. */
	if (ip->frag_off & bpf_htons(0x1fff))
		return PARSE_FRAGMENT;
	if (ip->protocol != IPPROTO_TCP)
		return PARSE_NOT_TCP;
	p->family = 4;
	__builtin_memcpy(p->saddr, &ip->saddr, 4);
	__builtin_memcpy(p->daddr, &ip->daddr, 4);
	return parse_tcp(c, p);
}

struct ipv6_opt_hdr_min {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct ipv6_frag_hdr_min {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset << 3 | flags */
	__be32 id;
};

/* IPv6 and its extension-header chain: hop-by-hop, routing, destination
 * options, fragment and AH are walked; ESP, no-next-header and anything
 * unknown end the chain as "not TCP". */
static __always_inline enum parse_status parse_ipv6(struct cursor *c, struct parsed *p)
{
	struct ipv6hdr *ip6 = cur_pull(c, sizeof(*ip6));
	__u8 nh;
	int i;

	if (!ip6 || ip6->version != 6)
		return PARSE_MALFORMED;
	p->family = 6;
	__builtin_memcpy(p->saddr, &ip6->saddr, 16);
	__builtin_memcpy(p->daddr, &ip6->daddr, 16);
	nh = ip6->nexthdr;

	/* Up to RG_MAX_IPV6_EXTHDRS extension headers, then TCP. */
	for (i = 0; i < RG_MAX_IPV6_EXTHDRS; i++) {
		struct ipv6_opt_hdr_min *opt;
		struct ipv6_frag_hdr_min *frag;
		__u32 len;

		switch (nh) {
		case IPPROTO_TCP:
			return parse_tcp(c, p);
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case IPPROTO_AH:
			opt = cur_pull(c, sizeof(*opt));
			if (!opt)
				return PARSE_MALFORMED;
			/* AH counts its length in 4-octet units minus 2, the
			 * others in 8-octet units minus 1 (RFC 4302, RFC 8200). */
			if (nh == IPPROTO_AH)
				len = ((__u32)opt->hdrlen + 2) * 4;
			else
				len = ((__u32)opt->hdrlen + 1) * 8;
			nh = opt->nexthdr;
			if (!cur_pull(c, len - sizeof(*opt)))
				return PARSE_MALFORMED;
			break;
		case IPPROTO_FRAGMENT:
			frag = cur_pull(c, sizeof(*frag));
			if (!frag)
				return PARSE_MALFORMED;
			if (frag->frag_off & bpf_htons(0xfff8))
				return PARSE_FRAGMENT;
			nh = frag->nexthdr;
			break;
		default:
			return PARSE_NOT_TCP;
		}
	}
	if (nh == IPPROTO_TCP)
		return parse_tcp(c, p);
	switch (nh) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
	case IPPROTO_FRAGMENT:
		return PARSE_UNPARSED; /* a longer chain than we follow */
	default:
		return PARSE_NOT_TCP;
	}
}

/* Parse from the Ethernet header down to TCP. */
static __always_inline enum parse_status parse_packet(struct cursor *c, struct parsed *p)
{
	__be16 proto;

	if (parse_eth(c, &proto))
		return PARSE_MALFORMED;
	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(c, p);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(c, p);
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return PARSE_UNPARSED;
	return PARSE_NOT_IP;
}

#endif /* RELAYGUARD_PARSE_H */
