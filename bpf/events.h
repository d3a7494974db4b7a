/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Drop and ban events: records in the ring buffer rg_events for the
 * controller (relayguard events, the daemon's log).
 *
 * Invariants:
 *  - a flood cannot flood the ring: a source has at most one drop event per
 *    rg_event_config.interval_ns (rg_evsrc), and all events together at most
 *    per_second in each second of the coarse monotonic clock (struct rg_evcap);
 *  - the cap is looked at first, by a plain read: a drop in a second whose
 *    budget is spent reads the coarse clock and the cap's line (which nobody
 *    writes until the next second), counts itself as capped in a per-CPU
 *    counter, and touches nothing else: the cost of a flood of new sources;
 *  - under the cap, a drop of a source that had its event within the
 *    interval reads one cache line of rg_evsrc and writes nothing: the cost
 *    of a flood from sources that repeat;
 *  - an event that is not written is counted (rg_evstats): capped (a drop
 *    that came while the second's budget was spent, or lost the race for its
 *    last event), or lost (the ring full);
 *  - events never change a verdict.
 */
#ifndef RELAYGUARD_EVENTS_H
#define RELAYGUARD_EVENTS_H

#include "clock.h"
#include "parse.h"
#include "relayguard_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RG_EVENTS_BYTES);
} RG_MAP_EVENTS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RG_EVSRC_SETS + 1);  /* + the cap (struct rg_evcap) */
	__type(key, __u32);
	__type(value, struct rg_evsrc_set);
} RG_MAP_EVSRC SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rg_event_stats);
} RG_MAP_EVSTATS SEC(".maps");

/* Where the packet came in, for the record. */
struct event_where {
	__u32 ifindex;
	__u16 dport;  /* host byte order */
};

static __always_inline struct rg_event_stats *event_stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&RG_MAP_EVSTATS, &zero);
}

static __always_inline struct rg_evcap *event_cap(void)
{
	__u32 idx = RG_EVSRC_SETS;

	return bpf_map_lookup_elem(&RG_MAP_EVSRC, &idx);
}

/* Whether this second's budget is spent: a plain read of the cap's word,
 * which nobody writes once it is spent, so under a flood its line stays
 * shared between CPUs and in their caches. A drop that finds it spent is
 * counted as capped and goes no further. now: rg_coarse_now(). */
static __always_inline int event_cap_spent(const struct rg_event_config *ec, __u64 now)
{
	struct rg_evcap *cap = event_cap();
	struct rg_event_stats *st;
	__u64 v, start;

	if (!cap)
		return 1;
	v = *(volatile __u64 *)&cap->window_count;
	if ((v & ((1ULL << RG_EVCAP_COUNT_BITS) - 1)) < ec->per_second)
		return 0;
	start = (v >> RG_EVCAP_COUNT_BITS) * 1000000000ULL;  /* no division on every drop */
	if (now < start || now - start >= 1000000000ULL)
		return 0;  /* another second: event_cap_take starts it */
	st = event_stats();
	if (st)
		st->capped++;
	return 1;
}

/* Takes one event from this second's budget; 0 when it is spent (counted).
 * now: rg_coarse_now(), the cap's clock. */
static __always_inline int event_cap_take(const struct rg_event_config *ec, __u64 now)
{
	struct rg_evcap *cap = event_cap();
	__u64 window = now / 1000000000ULL;
	struct rg_event_stats *st;

	if (!cap)
		return 0;
	for (int i = 0; i < 4; i++) {
		__u64 v = *(volatile __u64 *)&cap->window_count, next;

		if (v >> RG_EVCAP_COUNT_BITS != window)
			next = window << RG_EVCAP_COUNT_BITS | 1;
		else if ((v & ((1ULL << RG_EVCAP_COUNT_BITS) - 1)) >= ec->per_second)
			break;
		else
			next = v + 1;
		if (__sync_val_compare_and_swap(&cap->window_count, v, next) == v)
			return 1;
	}
	st = event_stats();
	if (st)
		st->capped++;
	return 0;
}

/* Copies a record into the ring and counts it: emitted, or lost when the
 * ring is full. Copied (bpf_ringbuf_output) rather than reserved in place:
 * a reserved record is a reference the verifier tracks, and 6.1's loses
 * track of it when clang merges the null checks of the reservation and of
 * the counting (docs/kernels.md); the copy of 56 bytes is made only for an
 * event the cap let through. */
static __always_inline void event_output(const struct rg_event *e)
{
	struct rg_event_stats *st;
	long err;

	err = bpf_ringbuf_output(&RG_MAP_EVENTS, (void *)e, sizeof(*e), 0);
	st = event_stats();
	if (st) {
		if (err)
			st->lost++;
		else
			st->emitted++;
	}
}

/* The 64-bit hash of a source address: its set (top bits) and its tag (low
 * 32 bits, never 0). Unkeyed: a sender that makes its sources share a set
 * only gets more of its own events, which the global cap bounds. */
static __always_inline __u64 event_hash(const struct parsed *p)
{
	__u64 a, b;

	__builtin_memcpy(&a, p->saddr, 8);
	__builtin_memcpy(&b, p->saddr + 8, 8);
	if (p->family == 4)
		a = (__u32)a, b = 0;
	a = (a ^ (b * 0xc2b2ae3d27d4eb4fULL) ^ p->family) * 0x9e3779b97f4a7c15ULL;
	return a ^ (a >> 29);
}

/* Whether this drop is its source's first within the interval; if so, the
 * source's way now says so. One compare-and-swap decides between CPUs.
 * now: rg_coarse_now(), the gate's own clock. */
static __always_inline int event_source_due(const struct rg_event_config *ec, const struct parsed *p, __u64 now)
{
	__u64 h = event_hash(p), tag = (h | 1) << 32, best = 0, old = 0;
	__u32 idx = (__u32)(h >> 52) & (RG_EVSRC_SETS - 1), t = (__u32)(now >> RG_EVSRC_TIME_SHIFT);
	__u32 interval = (__u32)(ec->interval_ns >> RG_EVSRC_TIME_SHIFT);
	struct rg_evsrc_set *set = bpf_map_lookup_elem(&RG_MAP_EVSRC, &idx);
	int victim = 0;

	if (!set)
		return 0;
#pragma unroll
	for (int w = 0; w < RG_EVSRC_WAYS; w++) {
		__u64 v = *(volatile __u64 *)&set->way[w];

		if ((v & 0xffffffff00000000ULL) != tag)
			continue;
		if ((__u32)(t - (__u32)v) < interval)
			return 0;  /* had its event: the usual case under a flood */
		return __sync_val_compare_and_swap(&set->way[w], v, tag | t) == v;
	}
	/* Not in its set: it takes a free way, else the way of the oldest event. */
#pragma unroll
	for (int w = 0; w < RG_EVSRC_WAYS; w++) {
		__u64 v = *(volatile __u64 *)&set->way[w];
		__u64 age = v ? (__u32)(t - (__u32)v) : 1ULL << 32;

		if (w == 0 || age > best) {  /* way 0 when all are as old */
			best = age;
			victim = w;
			old = v;
		}
	}
	if (victim < 0 || victim >= RG_EVSRC_WAYS)
		return 0;
	return __sync_val_compare_and_swap(&set->way[victim], old, tag | t) == old;
}

/* A drop (or would-drop) of reason `reason`: its event, if the source is
 * due and the cap allows. sources: the matched entry's source bits
 * (blocklist drops), else 0. */
static __always_inline void event_drop(const struct rg_config *cfg, const struct parsed *p, __u32 reason,
				       __u64 sources, const struct event_where *where)
{
	const struct rg_event_config *ec = &cfg->events;
	struct rg_event e;
	__u64 coarse;

	if (!ec->per_second)
		return;
	coarse = rg_coarse_now();
	if (event_cap_spent(ec, coarse) || !event_source_due(ec, p, coarse) || !event_cap_take(ec, coarse))
		return;
	__builtin_memset(&e, 0, sizeof(e));  /* the pads, and expires_ns: 0 for a drop */
	e.time_ns = rg_now();
	__builtin_memcpy(e.addr, p->saddr, 16);  /* IPv4: the rest is zero (parse.h) */
	e.family = p->family;
	e.kind = RG_EVENT_DROP;
	e.prefixlen = p->family == 4 ? 32 : 128;
	e.reason = reason;
	e.sources = sources;
	e.ifindex = where->ifindex;
	e.dport = where->dport;
	event_output(&e);
}

/* A ban the program made (src: the banned prefix as struct rg_src_key).
 * Counts against the global cap only. */
static __always_inline void event_ban(const struct rg_event_config *ec, const struct rg_src_key *src, __u32 reason,
				      __u64 now, __u64 expires, const struct event_where *where)
{
	struct rg_event e;

	if (!ec->per_second || !event_cap_take(ec, rg_coarse_now()))
		return;
	__builtin_memset(&e, 0, sizeof(e));
	e.time_ns = now;
	__builtin_memcpy(e.addr, src->addr, 16);
	e.family = src->family;
	e.kind = RG_EVENT_BAN;
	e.prefixlen = src->prefixlen;
	e.reason = reason;
	e.ifindex = where->ifindex;
	e.dport = where->dport;
	e.expires_ns = expires;
	event_output(&e);
}

#endif /* RELAYGUARD_EVENTS_H */
