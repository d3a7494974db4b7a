/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * SYN rate limiting and bans.
 *
 * The limiter is GCRA (gcra.h, the token bucket the egress cap uses too): per
 * aggregated source one timestamp, tat, moved only by compare-and-swap, so
 * SYNs of one source arriving on several CPUs at once draw from a single
 * budget.
 *
 * Invariants:
 *  - rate state is soft (a fixed set-associative table, see struct
 *    rg_rate_set): losing an entry only refills that source's bucket; bans
 *    are in their own tables, which nothing evicts;
 *  - a ban ends when the program sees now >= expires_ns, with or without a
 *    controller; an expired entry never hides a broader live ban behind it
 *    (up to RG_BAN_HOPS nested expired entries);
 *  - every time comes from rg_now() (clock.h), so tests can drive the same
 *    code with a controllable clock.
 */
#ifndef RELAYGUARD_RATE_H
#define RELAYGUARD_RATE_H

#include "clock.h"
#include "events.h"
#include "gcra.h"
#include "parse.h"
#include "relayguard_abi.h"

#define RG_BAN_HOPS 4   /* nested expired bans looked past, towards broader prefixes */


/* The rate table (see struct rg_rate_set): preallocated, so charging a SYN
 * allocates nothing and takes no lock, whatever the number of sources. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RG_RATE_SETS + 1);  /* + the header */
	__uint(map_flags, BPF_F_MMAPABLE);      /* page-aligned: an entry is one cache line */
	__type(key, __u32);
	__type(value, struct rg_rate_set);
} RG_MAP_RATE SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, RG_BAN_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct rg_lpm4_key);
	__type(value, struct rg_ban);
} RG_MAP_BANS4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, RG_BAN_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct rg_lpm6_key);
	__type(value, struct rg_ban);
} RG_MAP_BANS6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RG_ESC_MAX_ENTRIES);
	__type(key, struct rg_src_key);
	__type(value, struct rg_esc_state);
} RG_MAP_ESC SEC(".maps");

/* Test source spoofing: when the controller loads the program with
 * rg_test_spoof = 1 (tests and benchmarks only), every parsed packet gets a
 * new source address from a per-CPU sequence, so BPF_PROG_RUN with repeat=N
 * sees N different sources, like a spoofed flood: IPv4 sources walk
 * 198.18.0.0/15 (131,072 addresses), IPv6 sources walk the /64s of
 * 2001:db8::/32. The egress program gives the destination a new address
 * instead (rg_spoof_addr), like a spam run to many MXs. In production the
 * branch is constant and the verifier removes it. */
const volatile __u8 rg_test_spoof = 0;
#define RG_TEST_SPOOF_CPUS 64
#define RG_TEST_SPOOF_STRIDE 16  /* one cache line per CPU's counter */
__u32 rg_test_spoof_seq[RG_TEST_SPOOF_CPUS * RG_TEST_SPOOF_STRIDE];

/* Replaces addr (p->saddr or p->daddr) with the next one of the sequence. */
static __always_inline void rg_spoof_addr(const struct parsed *p, __u8 *addr)
{
	__u32 cpu, v;

	if (!rg_test_spoof)
		return;
	cpu = bpf_get_smp_processor_id() % RG_TEST_SPOOF_CPUS;
	/* An odd multiplier permutes the sequence modulo any power of two,
	 * so each cycle visits every address once, in scattered order. CPUs
	 * start half an IPv4 cycle (2^16) and 2^28 IPv6 /64s apart. */
	v = (rg_test_spoof_seq[cpu * RG_TEST_SPOOF_STRIDE]++ + (cpu << 16) + (cpu << 28)) * 0x9e3779b1u;
	if (p->family == 4) {
		__u32 a = (198u << 24 | 18u << 16) + (v & 0x1ffff);

		a = bpf_htonl(a);
		__builtin_memcpy(addr, &a, 4);
	} else {
		__u32 hi = bpf_htonl(0x20010db8), lo = bpf_htonl(v);

		__builtin_memcpy(addr, &hi, 4);
		__builtin_memcpy(addr + 4, &lo, 4);
	}
}

static __always_inline void rg_spoof_source(struct parsed *p)
{
	rg_spoof_addr(p, p->saddr);
}

/* Clears the bits of addr[0..len) beyond plen. */
static __always_inline void mask_addr(__u8 *addr, int len, int plen)
{
#pragma unroll
	for (int i = 0; i < 16; i++) {
		int bits = plen - i * 8;

		if (i >= len)
			break;
		if (bits >= 8)
			continue;
		addr[i] &= bits <= 0 ? 0 : (__u8)(0xff << (8 - bits));
	}
}

/* Both LPM key layouts start with the prefix length. */
union ban_key {
	struct rg_lpm4_key v4;
	struct rg_lpm6_key v6;
};

/* The rate table's header element (struct rg_rate_header). */
static __always_inline struct rg_rate_header *rate_header(void)
{
	__u32 idx = RG_RATE_SETS;

	return bpf_map_lookup_elem(&RG_MAP_RATE, &idx);
}

/* The live ban covering the source, if any. */
static __always_inline struct rg_ban *ban_find(const struct parsed *p, __u64 now)
{
	void *map = p->family == 4 ? (void *)&RG_MAP_BANS4 : (void *)&RG_MAP_BANS6;
	struct rg_rate_header *h = rate_header();
	union ban_key k = {};
	struct rg_ban *b;

	/* No bans at all (the usual case): skip the trie lookup, a call that
	 * costs more than the rest of a clean packet's checks. */
	if (h && !*(volatile __u64 *)&h->bans)
		return NULL;

	if (p->family == 4) {
		k.v4.prefixlen = 32;
		__builtin_memcpy(k.v4.addr, p->saddr, 4);
	} else {
		k.v6.prefixlen = 128;
		__builtin_memcpy(k.v6.addr, p->saddr, 16);
	}
	/* One lookup, then one more per expired entry looked past. */
	for (int i = 0; i <= RG_BAN_HOPS; i++) {
		b = bpf_map_lookup_elem(map, &k);
		if (!b)
			return NULL;
		if (now < b->expires_ns)
			return b;
		if (b->prefixlen == 0 || b->prefixlen > k.v6.prefixlen)
			return NULL;
		k.v6.prefixlen = b->prefixlen - 1;  /* only broader entries match now */
	}
	return NULL;
}

/* Bans src for ttl; its event says where the packet that caused it came in. */
static __always_inline void ban_add(const struct rg_src_key *src, __u32 reason, __u64 now, __u64 ttl,
				    const struct rg_config *cfg, const struct event_where *where)
{
	struct rg_ban b = {
		.expires_ns = now + ttl,
		.created_ns = now,
		.reason = reason,
		.prefixlen = src->prefixlen,
	};
	struct rg_rate_header *h;
	union ban_key k = {};

	k.v6.prefixlen = src->prefixlen;
	if (src->family == 4) {
		__builtin_memcpy(k.v4.addr, src->addr, 4);
		bpf_map_update_elem(&RG_MAP_BANS4, &k.v4, &b, BPF_ANY);
	} else {
		__builtin_memcpy(k.v6.addr, src->addr, 16);
		bpf_map_update_elem(&RG_MAP_BANS6, &k.v6, &b, BPF_ANY);
	}
	/* After the insert: see struct rg_rate_header. */
	h = rate_header();
	if (h && !*(volatile __u64 *)&h->bans)
		*(volatile __u64 *)&h->bans = 1;
	event_ban(&cfg->events, src, reason, now, now + ttl, where);
}

/* Counts an automatic ban against the source's escalation prefix; from the
 * esc_after-th ban inside one window on, each bans the whole prefix (while
 * that ban is live no source inside reaches the limiter, so this renews an
 * escalation ban only after it expired). */
static __always_inline void escalate(const struct rg_config *cfg, const struct rg_src_key *src, __u64 now,
				     const struct event_where *where)
{
	const struct rg_rate_config *rc = &cfg->rate;
	__u8 eplen = src->family == 4 ? rc->esc_prefix4 : rc->esc_prefix6;
	struct rg_esc_state *e;
	struct rg_src_key ek;
	__u32 bans;

	if (!rc->esc_after || eplen >= src->prefixlen)
		return;
	ek = *src;
	ek.prefixlen = eplen;
	mask_addr(ek.addr, src->family == 4 ? 4 : 16, eplen);
	e = bpf_map_lookup_elem(&RG_MAP_ESC, &ek);
	if (e && now - e->window_start <= rc->esc_window_ns) {
		bans = __sync_add_and_fetch(&e->bans, 1);
	} else {
		struct rg_esc_state fresh = { .window_start = now, .bans = 1 };

		bpf_map_update_elem(&RG_MAP_ESC, &ek, &fresh, BPF_ANY);
		bans = 1;
	}
	if (bans >= rc->esc_after)
		ban_add(&ek, RG_BAN_ESCALATION, now, rc->ban_ttl_ns, cfg, where);
}

/* A source key (struct rg_src_key) that can also be read as three 64-bit
 * words, the last one half padding: word 0 holds family, prefix length and
 * address bytes 0-3 (all of an IPv4 key), word 1 bytes 4-11, word 2 bytes
 * 12-15. */
union rate_key {
	struct rg_src_key k;
	__u64 w[3];
};

/* The network-order mask of the first plen bits of a 32-bit (64-bit) field. */
static __always_inline __u32 mask32(int plen)
{
	return plen <= 0 ? 0 : plen >= 32 ? ~0u : bpf_htonl(~0u << (32 - plen));
}

static __always_inline __u64 mask64(int plen)
{
	return plen <= 0 ? 0 : plen >= 64 ? ~0ULL : bpf_cpu_to_be64(~0ULL << (64 - plen));
}

/* The source's key (struct rg_src_key: the address masked to prefix4 or
 * prefix6), built a word at a time. */
static __always_inline void rate_key(union rate_key *k, const struct parsed *p, const struct rg_rate_config *rc)
{
	__u32 a0, a2;
	__u64 a1;
	int plen;

	__builtin_memcpy(&a0, p->saddr, 4);
	if (p->family == 4) {
		plen = rc->prefix4 > 32 ? 32 : rc->prefix4;
		k->w[0] = 4 | (__u64)plen << 8 | (__u64)(a0 & mask32(plen)) << 32;
		return;
	}
	plen = rc->prefix6 > 128 ? 128 : rc->prefix6;
	__builtin_memcpy(&a1, p->saddr + 4, 8);
	__builtin_memcpy(&a2, p->saddr + 12, 4);
	k->w[0] = 6 | (__u64)plen << 8 | (__u64)(a0 & mask32(plen)) << 32;
	k->w[1] = a1 & mask64(plen - 32);
	k->w[2] = a2 & mask32(plen - 96);
}

/* The table's hash seed: random, set once by the first CPU that needs it. A
 * secret seed keeps senders from choosing sources that share a set. */
static __always_inline __u64 rate_seed(void)
{
	struct rg_rate_header *h = rate_header();
	__u64 seed, fresh, old;

	if (!h)
		return 0;
	seed = *(volatile __u64 *)&h->seed;
	if (seed)
		return seed;
	fresh = ((__u64)bpf_get_prandom_u32() << 32 | bpf_get_prandom_u32()) | 1;
	old = __sync_val_compare_and_swap(&h->seed, 0, fresh);
	return old ? old : fresh;
}

/* The keyed hash of a source; tag and set index both come from it. Word 0
 * holds family, prefix length and the first 4 address bytes (all of an IPv4
 * key); IPv6 keys mix in the other 12 bytes, each word with its own rotation
 * of the seed, mixed in parallel (a chain of three would add two multiply
 * latencies) and combined by xor. */
static __always_inline __u64 rate_hash(const union rate_key *k, __u64 seed)
{
	__u64 h = rg_mix64(seed ^ k->w[0]);

	if ((k->w[0] & 0xff) == 6)
		h ^= rg_mix64(((seed << 21) | (seed >> 43)) ^ k->w[1]) ^
		     rg_mix64(((seed << 42) | (seed >> 22)) ^ k->w[2]);
	return h;
}

/* 1 when x < y (unsigned), computed without a branch: BPF has no conditional
 * move, and which way of a set is stalest is random under a spoofed flood, so
 * a compare-and-branch per way would often mispredict. */
static __always_inline __u64 rate_lt(__u64 x, __u64 y)
{
	return ((~x & y) | ((~x | y) & (x - y))) >> 63;
}

/* The eviction score of a way, lowest first out: 0 for a free way, else its
 * tat (a source whose tat is past has a full bucket and loses nothing by
 * being forgotten; the more budget spent, the later its tat), plus burst_ns
 * for a source in an over-budget episode, which puts it after every source
 * within budget. Branch-free. */
static __always_inline __u64 rate_score(__u64 tag, __u64 tat, const struct rg_rate_config *rc)
{
	__u64 taken = (tag | -tag) >> 63;  /* 1 when tag != 0 */

	return ((tat & ~RG_RATE_TAT_OVER) + (-(tat & RG_RATE_TAT_OVER) & rc->burst_ns)) & -taken;
}

/* The way of the source with this tag in its set, or of a way taken for it
 * (*claimed set; *reset set when the way had another source, whose counters
 * the caller overwrites). -1 when other CPUs kept changing the set: the SYN
 * then passes uncharged.
 *
 * Taking a way: the victim's tat is first reset to 0 if it is ahead of now or
 * in an episode (compare-and-swap against the value read, so a charge made
 * meanwhile wins), then its tag is swapped for ours (compare-and-swap, so two
 * CPUs never take one way for different sources). A full bucket and tat 0
 * charge alike, so a SYN of our source on another CPU that finds the tag
 * before the claiming CPU is done is charged correctly. What racing CPUs can
 * still get wrong, each at most once per CPU per replacement: a SYN of the
 * evicted source already past its tag check charges the new source; counter
 * increments made between the claim and the caller's counter reset are lost;
 * two CPUs missing the same new source at once can give it two ways (one
 * extra token). */
_Static_assert((RG_RATE_WAYS & (RG_RATE_WAYS - 1)) == 0, "rate_way masks a way index with RG_RATE_WAYS - 1");

static __always_inline int rate_way(struct rg_rate_set *set, __u64 tag, const struct rg_rate_config *rc,
				    __u64 now, int *claimed, int *reset)
{
#pragma unroll
	for (int attempt = 0; attempt < 2; attempt++) {
		__u64 best = ~0ULL, vtag = 0, vtat = 0, victim = 0;

#pragma unroll
		for (int w = 0; w < RG_RATE_WAYS; w++) {
			__u64 t = *(volatile __u64 *)&set->tag[w];
			__u64 tat, score, m;

			if (t == tag)
				return w;
			tat = *(volatile __u64 *)&set->tat[w];
			score = rate_score(t, tat, rc);
			m = -rate_lt(score, best);  /* all ones when this way is staler */
			best ^= (best ^ score) & m;
			victim ^= (victim ^ w) & m;
			vtag ^= (vtag ^ t) & m;
			vtat ^= (vtat ^ tat) & m;
		}
		/* victim is already below RG_RATE_WAYS; the mask, which the
		 * barrier keeps clang from removing, lets older verifiers (6.1)
		 * bound it: they lose track of it through the xor selects. */
		barrier_var(victim);
		victim &= RG_RATE_WAYS - 1;
		if ((vtat > now || (vtat & RG_RATE_TAT_OVER)) &&
		    __sync_val_compare_and_swap(&set->tat[victim], vtat, 0) != vtat)
			continue;  /* its source was just charged: look again */
		if (__sync_val_compare_and_swap(&set->tag[victim], vtag, tag) != vtag)
			continue;  /* another CPU took it first */
		*claimed = 1;
		*reset = vtag != 0;
		return victim;
	}
	return -1;
}

/* A SYN on its way to the limiter: its source's key, tag and set. */
struct rate_ctx {
	struct rg_rate_set *set;  /* NULL: nothing to charge */
	__u64 tag;
	union rate_key k;
};

/* Finds the source's set and starts loading it. The set is a random line of
 * a table larger than the caches: called before the checks that precede the
 * limiter, the load overlaps them instead of stalling the charge. */
static __always_inline void rate_prepare(struct rate_ctx *c, const struct rg_rate_config *rc, const struct parsed *p)
{
	__u64 hash;
	__u32 idx;

	rate_key(&c->k, p, rc);
	hash = rate_hash(&c->k, rate_seed());
	c->tag = hash | 1;
	idx = (__u32)(hash >> 32) & (RG_RATE_SETS - 1);
	c->set = bpf_map_lookup_elem(&RG_MAP_RATE, &idx);
	if (c->set)
		(void)*(volatile __u64 *)&c->set->tag[0];
}

/* Charges one SYN (prepared by rate_prepare) to its source's budget. Returns
 * 1 when the SYN is over budget (and issues a ban, with its event, when the
 * source has been over budget more than ban_after times), 0 when it conforms. */
static __always_inline int rate_charge(struct rate_ctx *c, const struct rg_config *cfg, __u64 now,
				       const struct event_where *where)
{
	const struct rg_rate_config *rc = &cfg->rate;
	__u64 interval = rc->interval_ns;
	struct rg_rate_set *set = c->set;
	struct rg_rate_entry *e;
	int w, claimed = 0, reset = 0, ended = 0;
	__u64 *tatp;
	__u32 over;

	if (!set)
		return 0;
	w = rate_way(set, c->tag, rc, now, &claimed, &reset);
	if (w < 0 || w >= RG_RATE_WAYS)
		return 0;
	e = &set->way[w];
	tatp = &set->tat[w];
	if (reset) {
		/* The way had another source: plain stores, no read of the
		 * line (under a spoofed flood this is the common case). */
		e->syns = 1;
		e->limited = 0;
		e->over = 0;
	} else {
		__sync_fetch_and_add(&e->syns, 1);
	}
	if (claimed) {
		__u64 *kw = (__u64 *)&e->key;

		kw[0] = c->k.w[0];
		kw[1] = c->k.w[1];
		*(__u32 *)&kw[2] = (__u32)c->k.w[2];
	}
	e->last_seen = now;
	if (gcra_charge(tatp, now, interval, rc->burst_ns, &ended) != GCRA_OVER) {
		if (ended)
			e->over = 0;
		return 0;
	}
	__sync_fetch_and_add(&e->limited, 1);
	if (!(*(volatile __u64 *)tatp & RG_RATE_TAT_OVER))
		__sync_fetch_and_or(tatp, RG_RATE_TAT_OVER);
	over = __sync_fetch_and_add(&e->over, 1);
	/* The ban goes to the CPU whose increment is still the latest when it
	 * resets the count, so one crossing of ban_after bans once. */
	if (rc->ban_ttl_ns && over >= rc->ban_after &&
	    __sync_val_compare_and_swap(&e->over, over + 1, 0) == over + 1) {
		ban_add(&c->k.k, RG_BAN_RATELIMIT, now, rc->ban_ttl_ns, cfg, where);
		escalate(cfg, &c->k.k, now, where);
	}
	return 1;
}

#endif /* RELAYGUARD_RATE_H */
