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
 *  - every exit goes through finish(), which counts exactly one reason.
 */
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

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, RG_ALLOW_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct rg_lpm4_key);
	__type(value, struct rg_rule);
} RG_MAP_ALLOW4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, RG_ALLOW_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct rg_lpm6_key);
	__type(value, struct rg_rule);
} RG_MAP_ALLOW6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, RG_BLOCK_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct rg_lpm4_key);
	__type(value, struct rg_rule);
} RG_MAP_BLOCK4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, RG_BLOCK_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct rg_lpm6_key);
	__type(value, struct rg_rule);
} RG_MAP_BLOCK6 SEC(".maps");

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

static __always_inline struct rg_rule *lookup_rule(void *map4, void *map6, const struct parsed *p)
{
	if (p->family == 4) {
		struct rg_lpm4_key k4 = { .prefixlen = 32 };

		__builtin_memcpy(k4.addr, p->saddr, 4);
		return bpf_map_lookup_elem(map4, &k4);
	} else {
		struct rg_lpm6_key k6 = { .prefixlen = 128 };

		__builtin_memcpy(k6.addr, p->saddr, 16);
		return bpf_map_lookup_elem(map6, &k6);
	}
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
	struct rg_config *cfg;
	struct rg_rule *rule;
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

	if (lookup_rule(&RG_MAP_ALLOW4, &RG_MAP_ALLOW6, &p))
		return finish(RG_PASS_ALLOWLIST, bytes, p.syn);
	monitor = cfg->flags & RG_CFG_MONITOR;
	rule = lookup_rule(&RG_MAP_BLOCK4, &RG_MAP_BLOCK6, &p);
	if (rule) {
		__u64 sources = rule->sources, shadow = cfg->shadow_sources;
		/* An entry listed only by shadow sources does not drop: the
		 * packet goes on to the checks below as if it were unlisted. */
		int enforced = (sources & ~shadow) != 0;

		count_sources(sources, shadow, enforced && !monitor, p.syn);
		if (enforced)
			return finish(monitor ? RG_WOULD_DROP_BLOCKLIST : RG_DROP_BLOCKLIST, bytes, p.syn);
	}

	if (p.syn && cfg->rate.interval_ns)
		rate_prepare(&rate, &cfg->rate, &p);  /* its memory load overlaps the ban check */
	now = rg_now();
	ban = ban_find(&p, now);
	if (ban) {
		__sync_fetch_and_add(&ban->hits, 1);
		return finish(monitor ? RG_WOULD_DROP_BANNED : RG_DROP_BANNED, bytes, p.syn);
	}
	if (rate_charge(&rate, &cfg->rate, now))
		return finish(monitor ? RG_WOULD_DROP_RATELIMIT : RG_DROP_RATELIMIT, bytes, p.syn);
	return finish(RG_PASS_CLEAN, bytes, p.syn);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
