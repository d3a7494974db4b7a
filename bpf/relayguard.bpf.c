// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * relayguard XDP filter.
 *
 * Invariants:
 *  - anything not parsed down to a TCP header, or not to a protected port,
 *    passes (XDP_PASS); only blocklist, ban and rate-limit verdicts drop;
 *  - the allowlist is consulted before any drop and always wins: allowlisted
 *    sources are never rate limited or banned;
 *  - checks run allowlist, blocklist, bans, then the SYN rate limiter;
 *  - a blocklist entry drops only if one of its sources is not a shadow
 *    source; every blocklist hit is attributed to all sources of its entry;
 *  - every exit goes through finish(), which counts exactly one reason;
 *  - every drop and would-drop is offered to events.h, which writes an event
 *    for a source's first one per interval (and bans made here have theirs).
 */
#include "events.h"
#include "parse.h"
#include "rate.h"
#include "relayguard_abi.h"

/* Set by the controller before load: the interface slot whose counters this
 * program instance updates (see struct rg_iface). */
const volatile __u32 rg_ifslot = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rg_config);
} RG_MAP_CONFIG SEC(".maps");

/* The compiled lists (see relayguard_abi.h), written by the controller
 * through mmap. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RG_TBL24_GROUPS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct rg_tbl24_group);
} RG_MAP_TBL24 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RG_PFX4_BUCKETS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct rg_pfx4_bucket);
} RG_MAP_PFX4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RG_PFX6_BUCKETS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct rg_pfx6_bucket);
} RG_MAP_PFX6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RG_SLOTS6);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct rg_slot6);
} RG_MAP_SLOTS6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RG_MAX_CLASSES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct rg_class);
} RG_MAP_CLASSES SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RG_STATS_ENTRIES);
	__type(key, __u32);
	__type(value, struct rg_counter);
} RG_MAP_STATS SEC(".maps");

/* Controller-only registry of attachments; declared here so it is created and
 * pinned with the other maps. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RG_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct rg_iface);
} RG_MAP_IFACES SEC(".maps");

/* Controller-only feed registry, indexed by source bit (see struct rg_feed). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RG_MAX_SOURCES);
	__type(key, __u32);
	__type(value, struct rg_feed);
} RG_MAP_FEEDS SEC(".maps");

/* Drop attribution per source bit (see struct rg_source_stats). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rg_source_stats);
} RG_MAP_SRCSTATS SEC(".maps");

/* See struct rg_lcache_entry. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RG_LCACHE_SETS);
	__type(key, __u32);
	__type(value, struct rg_lcache_set);
} RG_MAP_LCACHE SEC(".maps");

/* The egress program (SEC("tc")) and its maps: after the maps it shares. */
#include "egress.h"

static __always_inline int finish(enum rg_reason reason, __u64 bytes, __u8 syn)
{
	__u32 key = rg_ifslot * RG_REASON_STRIDE + reason;
	struct rg_counter *cnt = bpf_map_lookup_elem(&RG_MAP_STATS, &key);

	if (cnt) {
		cnt->packets++;
		cnt->bytes += bytes;
		cnt->syn += syn;
	}
	return reason == RG_DROP_BLOCKLIST || reason == RG_DROP_BANNED || reason == RG_DROP_RATELIMIT
		       ? XDP_DROP : XDP_PASS;
}

static __always_inline int port_protected(const struct rg_config *cfg, __be16 dport)
{
	__u16 port = bpf_ntohs(dport);

	return (cfg->port_bitmap[port >> 6] >> (port & 63)) & 1;
}

#define RG_READ_ONCE(x) (*(volatile typeof(x) *)&(x))
#define RG_WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))

/* The rg_lcache tag of this packet's lookup, 0 if the cache is not to be
 * used (a list update is running, no list was ever written, or it is off). */
static __always_inline __u64 lcache_tag(const struct rg_config *cfg, __u8 family)
{
	__u64 gen = RG_READ_ONCE(cfg->lists_gen);

	if ((gen & 1) || !gen || (cfg->flags & RG_CFG_NO_LCACHE))
		return 0;
	return gen | (family == 6);
}

/* The cache set of (hi, lo), with its tag in *tag; NULL if the cache is not
 * to be used now. Called only where a probe would follow, so a lookup that
 * rg_tbl24 or the slot answers alone never reads the cache. */
static __always_inline struct rg_lcache_set *lcache_open(const struct rg_config *cfg, __u8 family, __u64 hi,
							 __u64 lo, __u64 *tag)
{
	__u32 k;

	*tag = lcache_tag(cfg, family);
	if (!*tag)
		return NULL;
	k = rg_lcache_index(hi, lo);
	return bpf_map_lookup_elem(&RG_MAP_LCACHE, &k);
}

/* The cached class of (hi, lo) for this tag, 0 if none. */
static __always_inline __u32 lcache_find(struct rg_lcache_set *set, __u64 hi, __u64 lo, __u64 tag)
{
#pragma unroll
	for (int w = 0; w < RG_LCACHE_WAYS; w++) {
		struct rg_lcache_entry *e = &set->way[w];
		__u32 seq = RG_READ_ONCE(e->seq), cls;

		if (seq & 1)
			continue;
		if (RG_READ_ONCE(e->tag) != tag || RG_READ_ONCE(e->lo) != lo || RG_READ_ONCE(e->hi) != hi)
			continue;
		cls = RG_READ_ONCE(e->cls);
		if (RG_READ_ONCE(e->seq) == seq)
			return cls;
	}
	return 0;
}

_Static_assert(RG_LCACHE_WAYS == 2, "lcache_put chooses between two ways");

/* Caches cls for (hi, lo): in a way whose tag is stale, else in the way that
 * a bit of the address picks. Gives up if another run on this CPU holds the
 * entry. */
static __always_inline void lcache_put(struct rg_lcache_set *set, __u64 hi, __u64 lo, __u64 tag, __u32 cls)
{
	struct rg_lcache_entry *e;
	__u32 seq;

	if (RG_READ_ONCE(set->way[0].tag) != tag)
		e = &set->way[0];
	else if (RG_READ_ONCE(set->way[1].tag) != tag)
		e = &set->way[1];
	else
		e = &set->way[(lo >> 13) & 1];
	seq = RG_READ_ONCE(e->seq);
	if ((seq & 1) || __sync_val_compare_and_swap(&e->seq, seq, seq + 1) != seq)
		return;
	RG_WRITE_ONCE(e->hi, hi);
	RG_WRITE_ONCE(e->lo, lo);
	RG_WRITE_ONCE(e->tag, tag);
	RG_WRITE_ONCE(e->cls, cls);
	RG_WRITE_ONCE(e->seq, seq + 2);
}

/* The class of the IPv4 prefix (addr, len) in rg_pfx4, 0 if absent. */
static __always_inline __u32 pfx4_find(__u32 addr, __u32 len)
{
	__u64 want = RG_PFX4_REC(addr, len, 0);

	for (__u32 which = 0; which < 2; which++) {
		__u32 b = rg_pfx4_bucket(addr, len, which);
		struct rg_pfx4_bucket *bk = bpf_map_lookup_elem(&RG_MAP_PFX4, &b);

		if (!bk)
			return 0;
#pragma unroll
		for (int i = 0; i < RG_PFX4_BUCKET; i++) {
			__u64 rec = RG_READ_ONCE(bk->rec[i]);

			if ((rec & RG_PFX4_KEY_MASK) == want)
				return RG_PFX4_CLASS(rec);
		}
	}
	return 0;
}

/* The class of the longest listed prefix containing an IPv4 source. The
 * rg_tbl24 entry answers alone unless its /24 holds longer prefixes; only
 * then are rg_lcache and rg_pfx4 consulted. */
static __always_inline __u32 classify4(const __u8 *saddr, const struct rg_config *cfg)
{
	__u32 addr, e, longer, g, cls = 0;
	struct rg_tbl24_group *grp;
	struct rg_lcache_set *cs;
	__u64 tag;

	__builtin_memcpy(&addr, saddr, 4);
	addr = bpf_ntohl(addr);
	g = (addr >> 8) / RG_TBL24_PER_GROUP;
	grp = bpf_map_lookup_elem(&RG_MAP_TBL24, &g);
	if (!grp)
		return 0;
	e = RG_READ_ONCE(grp->e[(addr >> 8) & (RG_TBL24_PER_GROUP - 1)]);
	longer = e >> RG_T24_LONG_SHIFT;
	if (!longer)
		return RG_T24_CLASS(e);
	cs = lcache_open(cfg, 4, 0, addr, &tag);
	if (cs) {
		cls = lcache_find(cs, 0, addr, tag);
		if (cls)
			return cls;
	}
#pragma unroll
	for (int len = 32; len > 24; len--) {
		if (!(longer & (1u << (len - 25))))
			continue;
		cls = pfx4_find(addr & (0xffffffffu << (32 - len)), len);
		if (cls)
			break;
	}
	if (!cls)
		cls = RG_T24_CLASS(e);
	if (cls && cs)
		lcache_put(cs, 0, addr, tag, cls);
	return cls;
}

/* The class of the IPv6 prefix (hi, lo, len) in rg_pfx6, 0 if absent. */
static __always_inline __u32 pfx6_find(__u64 hi, __u64 lo, __u32 len)
{
	for (__u32 which = 0; which < 2; which++) {
		__u32 b = rg_pfx6_bucket(hi, lo, len, which);
		struct rg_pfx6_bucket *bk = bpf_map_lookup_elem(&RG_MAP_PFX6, &b);

		if (!bk)
			return 0;
#pragma unroll
		for (int i = 0; i < RG_PFX6_BUCKET; i++) {
			struct rg_pfx6_rec *r = &bk->rec[i];
			__u32 meta = RG_READ_ONCE(r->meta);

			if (!(meta & RG_PFX6_VALID) || RG_PFX6_LEN(meta) != len)
				continue;
			if (RG_READ_ONCE(r->hi) == hi && RG_READ_ONCE(r->lo) == lo &&
			    RG_READ_ONCE(r->meta) == meta)
				return RG_PFX6_CLASS(meta);
		}
	}
	return 0;
}

/* Index of the lowest set bit of a non-zero word (BPF has no ctz). */
static __always_inline __u32 lowest_bit(__u64 m)
{
	__u32 n = 0;

	m &= -m;
	if (m & 0xffffffff00000000ull) n += 32;
	if (m & 0xffff0000ffff0000ull) n += 16;
	if (m & 0xff00ff00ff00ff00ull) n += 8;
	if (m & 0xf0f0f0f0f0f0f0f0ull) n += 4;
	if (m & 0xccccccccccccccccull) n += 2;
	if (m & 0xaaaaaaaaaaaaaaaaull) n += 1;
	return n;
}

struct probe6 {
	__u64 hi, lo;
	__u64 w[2];   /* lengths still to probe, as in struct rg_slot6 */
	__u32 cls;
};

/* One bpf_loop step: probes the longest length left; stops on a hit or when
 * none is left. (A plain loop over up to 128 lengths is too much for the
 * verifier.) */
static long probe6_step(__u32 index, void *data)
{
	struct probe6 *p = data;
	__u32 w = p->w[0] ? 0 : 1, bit, len;
	__u64 h = p->hi, l = p->lo;

	(void)index;
	if (!p->w[w])
		return 1;
	bit = lowest_bit(p->w[w]);
	p->w[w] &= p->w[w] - 1;
	len = (w ? 64 : 128) - bit;
	if (len > 64) {
		l &= ~0ull << (128 - len);
	} else {
		h &= ~0ull << (64 - len);
		l = 0;
	}
	p->cls = pfx6_find(h, l, len);
	return p->cls ? 1 : 0;
}

/* As classify4: the slot alone answers when no listed prefix touches the
 * source's /32 (no lengths, or its bits are missing from the filter). */
static __always_inline __u32 classify6(const __u8 *saddr, const struct rg_config *cfg)
{
	struct rg_lcache_set *cs;
	struct probe6 p = {};
	struct rg_slot6 *slot;
	__u32 s, cls;
	__u64 tag;

	__builtin_memcpy(&p.hi, saddr, 8);
	__builtin_memcpy(&p.lo, saddr + 8, 8);
	p.hi = bpf_be64_to_cpu(p.hi);
	p.lo = bpf_be64_to_cpu(p.lo);
	s = rg_slot6_index(p.hi);
	slot = bpf_map_lookup_elem(&RG_MAP_SLOTS6, &s);
	if (!slot)
		return 0;
	p.w[0] = RG_READ_ONCE(slot->w[0]);
	p.w[1] = RG_READ_ONCE(slot->w[1]);
	s = rg_slot6_filter(p.hi);
	if ((!p.w[0] && !p.w[1]) || (RG_READ_ONCE(slot->filter) & s) != s)
		return RG_READ_ONCE(slot->cls0);
	cs = lcache_open(cfg, 6, p.hi, p.lo, &tag);
	if (cs) {
		cls = lcache_find(cs, p.hi, p.lo, tag);
		if (cls)
			return cls;
	}
	bpf_loop(128, probe6_step, &p, 0);
	cls = p.cls ? p.cls : RG_READ_ONCE(slot->cls0);
	if (cls && cs)
		lcache_put(cs, p.hi, p.lo, tag, cls);
	return cls;
}

/* The class of the longest listed prefix containing the source, or NULL. */
static __always_inline struct rg_class *classify(const struct parsed *p, const struct rg_config *cfg)
{
	__u32 cls = p->family == 4 ? classify4(p->saddr, cfg) : classify6(p->saddr, cfg);

	if (!cls)
		return NULL;
	return bpf_map_lookup_elem(&RG_MAP_CLASSES, &cls);
}

/* Counts a blocklist hit for every source of its entry: dropped for the
 * enforcing sources of a dropped packet, would_drop for the rest. Runs only
 * on a blocklist hit; the loop stops at the entry's highest bit. */
static __always_inline void count_sources(__u64 sources, __u64 shadow, int dropped, __u8 syn)
{
	__u32 zero = 0;
	struct rg_source_stats *st = bpf_map_lookup_elem(&RG_MAP_SRCSTATS, &zero);

	if (!st)
		return;
	for (__u32 i = 0; i < RG_MAX_SOURCES; i++) {
		struct rg_source_counter *c;

		if (!(sources >> i))
			break;
		if (!((sources >> i) & 1))
			continue;
		c = &st->src[i];
		if (dropped && !((shadow >> i) & 1)) {
			c->dropped++;
			c->dropped_syn += syn;
		} else {
			c->would_drop++;
			c->would_drop_syn += syn;
		}
	}
}

/* A drop or would-drop verdict: its event (if due), then its count. */
static __always_inline int finish_drop(const struct rg_config *cfg, const struct parsed *p, enum rg_reason reason,
				       __u64 sources, const struct event_where *where, __u64 bytes)
{
	event_drop(cfg, p, reason, sources, where);
	return finish(reason, bytes, p->syn);
}

SEC("xdp")
int relayguard_xdp(struct xdp_md *ctx)
{
	struct cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	__u64 bytes = ctx->data_end - ctx->data;
	struct parsed p = {};
	struct rate_ctx rate = {};
	struct event_where where;
	struct rg_config *cfg;
	struct rg_class *cls;
	struct rg_ban *ban;
	__u32 zero = 0;
	__u64 now;
	int monitor;

	switch (parse_packet(&c, &p)) {
	case PARSE_TCP:
		break;
	case PARSE_NOT_IP:
		return finish(RG_PASS_NOT_IP, bytes, 0);
	case PARSE_NOT_TCP:
		return finish(RG_PASS_NOT_TCP, bytes, 0);
	case PARSE_FRAGMENT:
		return finish(RG_PASS_FRAGMENT, bytes, 0);
	case PARSE_UNPARSED:
		return finish(RG_PASS_UNPARSED, bytes, 0);
	default:
		return finish(RG_PASS_MALFORMED, bytes, 0);
	}
	rg_spoof_source(&p);  /* tests only: see rate.h */

	cfg = bpf_map_lookup_elem(&RG_MAP_CONFIG, &zero);
	if (!cfg || !port_protected(cfg, p.dport))
		return finish(RG_PASS_UNPROTECTED, bytes, 0);

	where.ifindex = ctx->ingress_ifindex;
	where.dport = bpf_ntohs(p.dport);
	cls = classify(&p, cfg);
	if (cls && cls->allow)
		return finish(RG_PASS_ALLOWLIST, bytes, p.syn);
	monitor = cfg->flags & RG_CFG_MONITOR;
	if (cls && cls->block) {
		__u64 sources = cls->block, shadow = cfg->shadow_sources;
		/* An entry listed only by shadow sources does not drop: the
		 * packet goes on to the checks below as if it were unlisted. */
		int enforced = (sources & ~shadow) != 0;

		count_sources(sources, shadow, enforced && !monitor, p.syn);
		if (enforced)
			return finish_drop(cfg, &p, monitor ? RG_WOULD_DROP_BLOCKLIST : RG_DROP_BLOCKLIST, sources,
					   &where, bytes);
	}

	if (p.syn && cfg->rate.interval_ns)
		rate_prepare(&rate, &cfg->rate, &p);  /* its memory load overlaps the ban check */
	now = rg_now();
	ban = ban_find(&p, now);
	if (ban) {
		__sync_fetch_and_add(&ban->hits, 1);
		return finish_drop(cfg, &p, monitor ? RG_WOULD_DROP_BANNED : RG_DROP_BANNED, 0, &where, bytes);
	}
	if (rate_charge(&rate, cfg, now, &where))
		return finish_drop(cfg, &p, monitor ? RG_WOULD_DROP_RATELIMIT : RG_DROP_RATELIMIT, 0, &where, bytes);
	return finish(RG_PASS_CLEAN, bytes, p.syn);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
