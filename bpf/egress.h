/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The egress program: outbound connection attempts, on clsact egress (TC).
 *
 * Invariants:
 *  - only a SYN without ACK to a watched destination port (rg_egconfig) is
 *    looked at; every other packet leaves as it came (TC_ACT_UNSPEC: the
 *    next TC filter, if any, still runs, then the default: send);
 *  - such a SYN is counted in total, per local source address, per
 *    destination prefix and in the minute's sketch (struct rg_egress_hll),
 *    then charged to the host's one budget (gcra.h, the inbound limiter's
 *    token bucket); over budget it is dropped (TC_ACT_SHOT) only by an
 *    instance loaded in cap mode while the global mode is not monitor, and
 *    counted as would-drop otherwise;
 *  - it parses with parse.h, the XDP program's parser.
 *
 * Included by relayguard.bpf.c after the shared maps (RG_MAP_CONFIG,
 * RG_MAP_STATS), rg_ifslot and rate.h (rg_spoof_addr), so both programs live
 * in one object and share one set of pinned maps.
 */
#ifndef RELAYGUARD_EGRESS_H
#define RELAYGUARD_EGRESS_H

#include <linux/pkt_cls.h>

#include "clock.h"
#include "gcra.h"
#include "parse.h"
#include "relayguard_abi.h"

/* Set by the controller before load: drop over-budget SYNs (cap) or only
 * count them (watch). */
const volatile __u8 rg_egress_cap = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rg_egress_config);
} RG_MAP_EGCONFIG SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rg_egress_state);
} RG_MAP_EGSTATE SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rg_egress_stats);
} RG_MAP_EGSTATS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RG_EGRESS_SRC_MAX_ENTRIES);
	__type(key, struct rg_src_key);
	__type(value, struct rg_egress_count);
} RG_MAP_EGSRC SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RG_EGRESS_DST_MAX_ENTRIES);
	__type(key, struct rg_src_key);
	__type(value, struct rg_egress_count);
} RG_MAP_EGDST SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);  /* one sketch per minute parity */
	__type(key, __u32);
	__type(value, struct rg_egress_hll);
} RG_MAP_EGHLL SEC(".maps");

static __always_inline int egress_port_watched(const struct rg_egress_config *ec, __be16 dport)
{
	__u16 port = bpf_ntohs(dport);

	return (ec->port_bitmap[port >> 6] >> (port & 63)) & 1;
}

/* Adds the SYN to key's counters, creating them at first sight. Returns 0,
 * or -1 when the table refused the new key. */
static __always_inline int egress_count(void *map, const struct rg_src_key *key, __u64 now, int over)
{
	struct rg_egress_count *v = bpf_map_lookup_elem(map, key);

	if (!v) {
		struct rg_egress_count fresh = { .first_seen = now };

		/* BPF_NOEXIST: a CPU that lost the race adds to the winner's. */
		if (bpf_map_update_elem(map, key, &fresh, BPF_NOEXIST) && !bpf_map_lookup_elem(map, key))
			return -1;
		v = bpf_map_lookup_elem(map, key);
		if (!v)
			return -1;
	}
	__sync_fetch_and_add(&v->syns, 1);
	if (over)
		__sync_fetch_and_add(&v->over, 1);
	v->last_seen = now;
	return 0;
}

/* Adds the destination prefix to this CPU's sketch of the current minute. */
static __always_inline void egress_sketch(const struct rg_src_key *dst, __u64 now)
{
	__u64 minute = now / RG_EGRESS_MINUTE_NS;
	__u32 parity = minute & 1;
	struct rg_egress_hll *hll = bpf_map_lookup_elem(&RG_MAP_EGHLL, &parity);
	__u64 h = rg_mix64(rg_hll_word(dst->family, dst->addr));
	__u32 idx = rg_hll_index(h) & (RG_HLL_REGS - 1);
	__u32 reg, want = RG_HLL_REG(minute, rg_hll_rank(h));

	if (!hll)
		return;
	reg = hll->reg[idx];
	/* Per-CPU: no other writer. Same minute: keep the larger rank; an
	 * older minute's register counts as empty. */
	if (RG_HLL_REG_TAG(reg) != RG_HLL_REG_TAG(want) || RG_HLL_REG_RANK(reg) < RG_HLL_REG_RANK(want))
		hll->reg[idx] = want;
}

/* The destination address masked to its sketch prefix. */
static __always_inline void egress_dst_key(struct rg_src_key *k, const struct parsed *p)
{
	k->family = p->family;
	if (p->family == 4) {
		k->prefixlen = RG_EGRESS_PREFIX4;
		__builtin_memcpy(k->addr, p->daddr, 3);
	} else {
		k->prefixlen = RG_EGRESS_PREFIX6;
		__builtin_memcpy(k->addr, p->daddr, 6);
	}
}

static __always_inline void egress_src_key(struct rg_src_key *k, const struct parsed *p)
{
	k->family = p->family;
	if (p->family == 4) {
		k->prefixlen = 32;
		__builtin_memcpy(k->addr, p->saddr, 4);
	} else {
		k->prefixlen = 128;
		__builtin_memcpy(k->addr, p->saddr, 16);
	}
}

/* Counts a capped (or would-cap) SYN under its reason in the interface's slot. */
static __always_inline void egress_count_reason(enum rg_reason reason, __u64 bytes)
{
	__u32 key = rg_ifslot * RG_REASON_STRIDE + reason;
	struct rg_counter *cnt = bpf_map_lookup_elem(&RG_MAP_STATS, &key);

	if (cnt) {
		cnt->packets++;
		cnt->bytes += bytes;
		cnt->syn++;
	}
}

SEC("tc")
int relayguard_egress(struct __sk_buff *skb)
{
	struct cursor c = {
		.pos = (void *)(long)skb->data,
		.end = (void *)(long)skb->data_end,
	};
	struct rg_src_key src = {}, dst = {};
	struct rg_egress_config *ec;
	struct rg_egress_stats *st;
	struct rg_egress_state *bucket;
	struct rg_config *cfg;
	struct parsed p = {};
	__u32 zero = 0;
	int over = 0, ended, drop;
	__u64 now;

	if (parse_packet(&c, &p) != PARSE_TCP || !p.syn)
		return TC_ACT_UNSPEC;
	rg_spoof_addr(&p, p.daddr);  /* tests only: see rate.h */
	ec = bpf_map_lookup_elem(&RG_MAP_EGCONFIG, &zero);
	if (!ec || !egress_port_watched(ec, p.dport))
		return TC_ACT_UNSPEC;

	now = rg_now();
	bucket = bpf_map_lookup_elem(&RG_MAP_EGSTATE, &zero);
	if (bucket && ec->interval_ns)
		over = gcra_charge(&bucket->tat, now, ec->interval_ns, ec->burst_ns, &ended) == GCRA_OVER;
	cfg = bpf_map_lookup_elem(&RG_MAP_CONFIG, &zero);
	drop = over && rg_egress_cap && cfg && !(cfg->flags & RG_CFG_MONITOR);

	egress_src_key(&src, &p);
	egress_dst_key(&dst, &p);
	st = bpf_map_lookup_elem(&RG_MAP_EGSTATS, &zero);
	if (st) {
		st->syns++;
		st->capped += drop;
		st->would_cap += over && !drop;
		if (egress_count(&RG_MAP_EGSRC, &src, now, over) | egress_count(&RG_MAP_EGDST, &dst, now, over))
			st->untracked++;
	}
	egress_sketch(&dst, now);
	if (!over)
		return TC_ACT_UNSPEC;
	egress_count_reason(drop ? RG_DROP_EGRESS_CAPPED : RG_WOULD_DROP_EGRESS_CAPPED, skb->len);
	return drop ? TC_ACT_SHOT : TC_ACT_UNSPEC;
}

#endif /* RELAYGUARD_EGRESS_H */
