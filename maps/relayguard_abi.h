/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * relayguard ABI: the single definition of everything the XDP programs and the
 * controller share: map names, keys, values, flag bits and verdict reasons.
 *
 * Rules for changing this file:
 *  - verdict reasons are append-only; a retired reason keeps its number and
 *    becomes a placeholder (userspace JSON names come from rg_reason_info);
 *  - any change of a struct layout or map shape bumps RG_ABI_VERSION, so a
 *    controller refuses maps pinned by an incompatible build;
 *  - every shared struct has explicit padding and compile-time size checks.
 *
 * Compiles with clang -target bpf (C) and with g++ (C++20).
 */
#ifndef RELAYGUARD_ABI_H
#define RELAYGUARD_ABI_H

#include <linux/types.h>

#define RG_ABI_VERSION 10

/* Map names: the BPF declarations use these identifiers, the controller uses
 * RG_STR(name) for pin paths and lookups. Max 15 characters (BPF_OBJ_NAME_LEN). */
#define RG_MAP_CONFIG rg_config
#define RG_MAP_TBL24  rg_tbl24
#define RG_MAP_PFX4   rg_pfx4
#define RG_MAP_PFX6   rg_pfx6
#define RG_MAP_SLOTS6 rg_slots6
#define RG_MAP_CLASSES rg_classes
#define RG_MAP_STATS  rg_stats
#define RG_MAP_IFACES rg_ifaces
#define RG_MAP_RATE   rg_rate
#define RG_MAP_BANS4  rg_bans4
#define RG_MAP_BANS6  rg_bans6
#define RG_MAP_ESC    rg_esc
#define RG_MAP_FEEDS  rg_feeds
#define RG_MAP_SRCSTATS rg_srcstats
#define RG_MAP_LCACHE rg_lcache
#define RG_MAP_EVENTS rg_events
#define RG_MAP_EVSRC  rg_evsrc
#define RG_MAP_EVSTATS rg_evstats
#define RG_MAP_EGCONFIG rg_egconfig   /* ABI 10: egress (struct rg_egress_config) */
#define RG_MAP_EGSTATE rg_egstate
#define RG_MAP_EGSTATS rg_egstats
#define RG_MAP_EGSRC  rg_egsrc
#define RG_MAP_EGDST  rg_egdst
#define RG_MAP_EGHLL  rg_eghll

#define RG_STR_(x) #x
#define RG_STR(x) RG_STR_(x)

/* Sizes. The list limits are per address family and checked by the
 * controller; the tables below are sized so that they always fit. */
#define RG_ALLOW_MAX_ENTRIES (64 * 1024)
#define RG_BLOCK_MAX_ENTRIES (1024 * 1024)
#define RG_BLOCK6_MAX_ENTRIES (256 * 1024)
/* Rate state is soft: a fixed, set-associative table (struct rg_rate_set) in
 * which a new source replaces the way of its set that loses least by being
 * forgotten, so a flood of spoofed sources displaces only other rate state.
 * Bans are hard state in their own table that nothing evicts; when it is
 * full, new bans are not created. */
#define RG_RATE_WAYS 4                                    /* entries per set */
#define RG_RATE_SETS (16 * 1024)                          /* a power of two */
#define RG_RATE_MAX_ENTRIES (RG_RATE_SETS * RG_RATE_WAYS) /* sources tracked at most */
#define RG_BAN_MAX_ENTRIES (64 * 1024)
#define RG_ESC_MAX_ENTRIES (16 * 1024)
#define RG_MAX_PORTS 16         /* protected ports at once */
#define RG_MAX_IFACES 64        /* interface slots; slot 0 holds detached totals */
#define RG_REASON_STRIDE 32     /* stats slots per interface; >= RG_REASON_MAX */
#define RG_STATS_ENTRIES (RG_MAX_IFACES * RG_REASON_STRIDE)
#define RG_PORT_WORDS (65536 / 64)

/* Verdict reasons. Every packet the XDP program sees is counted under exactly
 * one of them. APPEND ONLY: never renumber, never reuse a retired number. */
enum rg_reason {
	RG_PASS_NOT_IP = 0,      /* not IPv4/IPv6 (ARP, LLDP, ...) */
	RG_PASS_NOT_TCP = 1,     /* IP but not TCP (UDP, ICMP, ESP, ...) */
	RG_PASS_FRAGMENT = 2,    /* non-first IP fragment: no TCP header to see */
	RG_PASS_UNPROTECTED = 3, /* TCP to a port that is not protected */
	RG_PASS_CLEAN = 4,       /* protected port, source on no list */
	RG_PASS_ALLOWLIST = 5,   /* protected port, source allowlisted */
	RG_DROP_BLOCKLIST = 6,   /* protected port, source blocklisted: dropped */
	RG_WOULD_DROP_BLOCKLIST = 7, /* as above, in monitor mode: passed */
	RG_PASS_MALFORMED = 8,   /* truncated or invalid header: passed */
	RG_PASS_UNPARSED = 9,    /* valid but beyond what we parse (3+ VLAN tags,
				    long IPv6 extension chain): passed */
	RG_DROP_RATELIMIT = 10,  /* SYN over its source's rate budget: dropped */
	RG_WOULD_DROP_RATELIMIT = 11, /* as above, in monitor mode: passed */
	RG_DROP_BANNED = 12,     /* source banned (rate-limit ban or manual): dropped */
	RG_WOULD_DROP_BANNED = 13, /* as above, in monitor mode: passed */
	/* ABI 10, counted by the egress (TC) program, not the XDP program: */
	RG_DROP_EGRESS_CAPPED = 14, /* outbound SYN to a watched port over the
				       egress budget, interface in cap mode: dropped */
	RG_WOULD_DROP_EGRESS_CAPPED = 15, /* as above, watch or monitor mode: passed */
	RG_REASON_MAX
};

/* Properties of each reason; the controller derives aggregate counters
 * (protected, passed, would_drop, ...) from these bits. */
#define RG_RF_PROTECTED (1u << 0) /* packet was TCP to a protected port */
#define RG_RF_DROP      (1u << 1) /* XDP_DROP */
#define RG_RF_MONITOR   (1u << 2) /* would have been dropped (monitor mode) */
#define RG_RF_EGRESS    (1u << 3) /* counted by the egress program: an outbound SYN
				     (with RG_RF_PROTECTED: to a watched port) */

/* config.flags */
#define RG_CFG_MONITOR (1u << 0) /* count would-drop verdicts, pass everything */
#define RG_CFG_NO_LCACHE (1u << 1) /* bypass rg_lcache (benchmarks of the full lookup) */

/* SYN rate limiting (a GCRA token bucket per aggregated source) and the
 * automatic bans it issues. All times are CLOCK_BOOTTIME nanoseconds
 * (bpf_ktime_get_boot_ns). interval_ns == 0 turns the limiter off. */
struct rg_rate_config {
	__u64 interval_ns;     /* ns per new connection: 1 / rate */
	__u64 burst_ns;        /* burst * interval_ns: how far a source may run ahead */
	__u64 ban_ttl_ns;      /* ban length; 0: no automatic bans */
	__u64 esc_window_ns;   /* escalation window */
	__u32 burst;           /* connections allowed back to back (display) */
	__u32 ban_after;       /* ban on the over-budget SYN after this many */
	__u32 esc_after;       /* bans inside one escalation prefix that ban it; 0: off */
	__u8 prefix4;          /* source aggregation, IPv4 (1..32) */
	__u8 prefix6;          /* source aggregation, IPv6 (1..128) */
	__u8 esc_prefix4;      /* escalation prefix, IPv4 */
	__u8 esc_prefix6;      /* escalation prefix, IPv6 */
};

/* Drop and ban events (rg_events, a ring buffer), limited in the kernel:
 * at most one drop event per source address per interval_ns (rg_evsrc), and
 * at most per_second events of any kind in each second (global). Bans count
 * against the global cap only. per_second == 0 turns events off. */
struct rg_event_config {
	__u64 interval_ns;     /* per source; >= 1 s (checked by the controller) */
	__u32 per_second;      /* global cap; 0: no events; < 2^24 */
	__u32 pad;
};

/* Shared by all interfaces: one entry (key 0) of an ARRAY map. */
struct rg_config {
	__u32 abi_version;               /* RG_ABI_VERSION of the build that created the maps */
	__u32 flags;                     /* RG_CFG_* */
	struct rg_rate_config rate;
	__u64 shadow_sources;            /* source bits that count would-drops and never drop:
					    an entry drops only if it has a bit outside this set */
	__u64 port_bitmap[RG_PORT_WORDS]; /* bit p set: TCP destination port p is protected */
	__u64 lists_gen;                 /* bumped by every list update; odd while one is
					    writing (the controller only: a leftover odd value
					    means an update died and the derived tables
					    are recomputed in full by the next one) */
	struct rg_event_config events;   /* ABI 9 */
};

/* A source aggregated to a prefix (rate state, escalation state). The address
 * is masked to prefixlen; family is 4 or 6. */
struct rg_src_key {
	__u8 family;
	__u8 prefixlen;
	__u8 pad[2];
	__u8 addr[16];
};

/* The rate table: an ARRAY of RG_RATE_SETS sets of RG_RATE_WAYS ways, one way
 * per aggregated source, plus one last element (index RG_RATE_SETS) that holds
 * struct rg_rate_header instead of a set.
 *
 * A source's 64-bit keyed hash (seed in the header) picks its set and is its
 * tag; tag 0 marks a free way. What the program needs to find a source, charge
 * it and choose a victim (tags and tats) is in the set's first cache line; the
 * counters and the key for the controller are in one line per way.
 *
 * A source not in its set takes the way with the smallest eviction score:
 * free ways first, then the smallest tat, plus burst_ns for a source in an
 * over-budget episode (RG_RATE_TAT_OVER). A source whose tat is in the past
 * has a full bucket, so forgetting it loses nothing but its counters; one-shot
 * spoofed sources therefore replace each other, while a source that is over
 * budget outranks any fresh one.
 *
 * The program claims a way with compare-and-swap on its tag and moves tat only
 * by compare-and-swap, so concurrent SYNs of one source on several CPUs share
 * one budget. The key is written after the tag is claimed and is there for
 * the controller (`top`); the program matches on the tag alone. */
#define RG_RATE_TAT_OVER 1ULL  /* tat bit 0: an over-budget episode is on (tat
				  values are otherwise even) */
struct rg_rate_entry {
	__u64 syns;       /* SYNs seen since the source took this way */
	__u64 limited;    /* SYNs dropped (or would-drop) as over budget */
	__u64 last_seen;  /* ns of the last SYN */
	struct rg_src_key key;  /* 8-byte aligned: written as words */
	__u32 over;       /* over-budget SYNs since the bucket was last full */
	__u8 reserved[16];
};

struct rg_rate_set {
	__u64 tag[RG_RATE_WAYS];  /* keyed hash of the way's key, never 0; 0: free */
	__u64 tat[RG_RATE_WAYS];  /* ns; GCRA theoretical arrival time: the source
				     is within budget while a new SYN would not
				     push it more than burst_ns ahead of now.
				     Bit 0 is RG_RATE_TAT_OVER. */
	struct rg_rate_entry way[RG_RATE_WAYS];
};

/* Element RG_RATE_SETS of the rate table (page-aligned: the controller maps
 * it to change one word at a time).
 *  - seed: the program sets it (random, never 0) on the first SYN it rate
 *    limits; clearing the table clears it.
 *  - bans: nonzero when the ban tries may hold entries. Every writer sets it
 *    after inserting a ban; only the controller clears it, and only after
 *    finding both tries empty (see rate.cpp), so a live ban is never
 *    skipped. While it is 0 the program skips the ban lookup. */
struct rg_rate_header {
	__u64 seed;
	__u64 bans;
	__u8 reserved[sizeof(struct rg_rate_set) - 16];
};

/* Bans: LPM tries keyed by rg_lpm4_key / rg_lpm6_key. Expiry is checked by
 * the program itself (now < expires_ns), so bans end without the controller.
 * prefixlen repeats the key's length so the program can look past an expired
 * entry to a broader live one. */
enum rg_ban_reason {
	RG_BAN_MANUAL = 0,     /* relayguard bans add */
	RG_BAN_RATELIMIT = 1,  /* over budget more than ban_after times */
	RG_BAN_ESCALATION = 2, /* esc_after banned sources inside one prefix */
	RG_BAN_WATCH = 3,      /* relayguard watch: a log rule's maxretry reached */
};
struct rg_ban {
	__u64 expires_ns;  /* CLOCK_BOOTTIME ns */
	__u64 created_ns;
	__u64 hits;        /* packets dropped (or would-drop) by this ban */
	__u32 reason;      /* enum rg_ban_reason */
	__u32 prefixlen;
};

/* Escalation: auto-bans per escalation prefix within a window (LRU table,
 * keyed by rg_src_key at esc_prefix4/6). */
struct rg_esc_state {
	__u64 window_start;  /* ns */
	__u32 bans;
	__u32 pad;
};

/* LPM-trie keys (bans). prefixlen first, address in network byte order. */
struct rg_lpm4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct rg_lpm6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* Source bits of the lists. Bit 0 is the manual list (`relayguard block
 * add`), bit 1 the daemon's config file, other bits are feeds. */
#define RG_SOURCE_MANUAL 0
#define RG_SOURCE_CONFIG 1  /* the daemon's config file ([filter] allow/block) */
#define RG_FIRST_FEED_SOURCE 2  /* feeds own bits 2..RG_MAX_SOURCES-1 */
#define RG_MAX_SOURCES 64

/*
 * The compiled allow and block lists: one lookup answers both.
 *
 * The controller merges both lists into one set of prefixes. Every prefix P
 * gets a class: the sources of the allowlist and of the blocklist that list
 * some prefix containing P (what a longest-prefix match in each list would
 * answer at P). For an address, the class of the longest prefix containing
 * it answers "allowlisted?" (allow != 0, which always wins) and "which block
 * sources list it?" (block). Classes are deduplicated and never change while
 * a table refers to them.
 *
 * Lookup, IPv4: rg_tbl24 has one entry per /24: the class of the longest
 * prefix of length <= 24 containing it, and a bit per length 25..32 for which
 * a longer prefix lies inside that /24. Only those lengths are probed, longest
 * first, in rg_pfx4, a hash table of prefixes. IPv6: rg_slots6, indexed by a
 * hash of the first 32 bits, has a bit per prefix length present among the
 * prefixes touching that /32; those lengths are probed, longest first, in
 * rg_pfx6. Both prefix tables hold every prefix of the merged set (the
 * IPv4 ones of length <= 24 too, never probed there), so they are also the
 * controller's record of what is listed.
 *
 * All five are mmapable arrays the controller writes directly, in an order
 * that never leaves a prefix listed before and after an update unmatched
 * (see userspace/lib/list_table.cpp). A prefix table record is published by
 * one aligned store of the word holding its valid bit.
 */
#define RG_MAX_CLASSES 65536        /* class 0: no prefix */
struct rg_class {
	__u64 allow;  /* allowlist sources listing a prefix containing it */
	__u64 block;  /* blocklist sources listing a prefix containing it */
};

#define RG_TBL24_PER_GROUP 16
#define RG_TBL24_GROUPS ((1u << 24) / RG_TBL24_PER_GROUP)
#define RG_T24_CLASS(e) ((e) & 0xffffu)
#define RG_T24_LONG_SHIFT 24        /* bit 24 + (len - 25): length len is inside */
struct rg_tbl24_group {
	__u32 e[RG_TBL24_PER_GROUP];    /* the entries of 16 consecutive /24s */
};

/* rg_pfx4: two-choice hashing, 8 records per bucket; a prefix lives in one
 * of its two buckets. Record: valid bit, class, length, address (host byte
 * order, masked to the length). */
#define RG_PFX4_BUCKET 8
#define RG_PFX4_BUCKETS (1u << 18)
#define RG_PFX4_VALID (1ull << 63)
#define RG_PFX4_KEY_MASK (RG_PFX4_VALID | 0xffffffffffull)  /* valid, length, address */
#define RG_PFX4_REC(addr, len, cls) (RG_PFX4_VALID | ((__u64)(cls) << 40) | ((__u64)(len) << 32) | (__u64)(addr))
#define RG_PFX4_CLASS(rec) ((__u32)((rec) >> 40) & 0xffffu)
struct rg_pfx4_bucket {
	__u64 rec[RG_PFX4_BUCKET];
};

/* rg_pfx6: as rg_pfx4 with 4 records per bucket. The address is two host
 * order halves masked to the length; meta (valid bit, length, class) is
 * written last when a record is added and cleared first when it is removed,
 * and a reader takes a record only if meta reads the same before and after
 * the address. */
#define RG_PFX6_BUCKET 4
#define RG_PFX6_BUCKETS (1u << 18)
#define RG_PFX6_VALID (1u << 31)
#define RG_PFX6_META(len, cls) (RG_PFX6_VALID | ((__u32)(len) << 16) | (__u32)(cls))
#define RG_PFX6_LEN(meta) (((meta) >> 16) & 0xffu)
#define RG_PFX6_CLASS(meta) ((meta) & 0xffffu)
struct rg_pfx6_rec {
	__u64 hi;
	__u64 lo;
	__u32 meta;
	__u32 pad;
	__u64 pad2;
};
struct rg_pfx6_bucket {
	struct rg_pfx6_rec rec[RG_PFX6_BUCKET];
};

/* rg_slots6: w[0] bit i is length 128 - i, w[1] bit i length 64 - i; cls0
 * is the class of ::/0 if that is listed (the same in every slot). About
 * three listed /32s share a slot when the blocklist holds 200,000 IPv6
 * prefixes, so filter has the rg_slot6_filter() bits of every /32 that a
 * listed prefix of the slot touches (all bits for one shorter than /16): a
 * source whose bits are not all there is in no listed prefix but ::/0, and
 * is answered without a probe. */
#define RG_SLOTS6 (1u << 16)
struct rg_slot6 {
	__u64 w[2];
	__u32 cls0;
	__u32 filter;
};

/* rg_lcache: a per-CPU cache of the classes of recently seen listed
 * sources, written and read by the program only. A flood comes from a set of
 * addresses that repeats; where finding one costs a probe of rg_pfx4 (a /24
 * with longer prefixes) or of rg_pfx6, those probes land on random pages of
 * tables tens of MiB large, and a set of 1,024 sources then costs a TLB miss
 * per packet. The cache keeps the answer for 8,192 sources in 256 KiB per
 * CPU.
 *
 * An entry is valid only for the list generation it was computed in: tag is
 * rg_config.lists_gen (even, not 0) with bit 0 set for IPv6, so any list
 * update invalidates every entry, and nothing is cached while one runs (odd
 * generation). Only non-zero classes are cached, so spoofed clean traffic
 * never writes here. An IPv4 address is stored as hi 0, lo the address.
 * seq is even when the entry is stable: a writer claims it by a
 * compare-and-swap to odd and releases it at +2, and a reader takes the entry
 * only if seq reads the same, even, before and after, so a program preempted
 * on the same CPU (BPF_PROG_RUN) never mixes two entries. */
#define RG_LCACHE_SETS 4096u
#define RG_LCACHE_WAYS 2
struct rg_lcache_entry {
	__u64 hi;
	__u64 lo;
	__u64 tag;
	__u32 cls;
	__u32 seq;
};
struct rg_lcache_set {
	struct rg_lcache_entry way[RG_LCACHE_WAYS];
};

/* Hashes shared by the program and the controller. */
static inline __u32 rg_mix32(__u32 x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return x;
}

/* MurmurHash3's 64-bit finalizer (fmix64): a bijection that spreads every
 * input bit over the whole word. The rate table's keyed hash (bpf/rate.h)
 * and the egress sketch (rg_mix64 of rg_hll_word, unkeyed: it only counts). */
static inline __u64 rg_mix64(__u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static inline __u32 rg_pfx4_bucket(__u32 addr, __u32 len, __u32 which)
{
	return rg_mix32(addr ^ rg_mix32(len + (which << 8))) & (RG_PFX4_BUCKETS - 1);
}

static inline __u32 rg_pfx6_bucket(__u64 hi, __u64 lo, __u32 len, __u32 which)
{
	__u32 h = rg_mix32(len + (which << 8));

	h = rg_mix32(h ^ (__u32)lo);
	h = rg_mix32(h ^ (__u32)(lo >> 32));
	h = rg_mix32(h ^ (__u32)hi);
	h = rg_mix32(h ^ (__u32)(hi >> 32));
	return h & (RG_PFX6_BUCKETS - 1);
}

static inline __u32 rg_lcache_index(__u64 hi, __u64 lo)
{
	return rg_mix32((__u32)lo ^ ((__u32)(lo >> 32) * 0x9e3779b1u) ^ ((__u32)hi * 0x85ebca77u) ^
			((__u32)(hi >> 32) * 0xc2b2ae3du)) & (RG_LCACHE_SETS - 1);
}

static inline __u32 rg_slot6_index(__u64 hi)
{
	return rg_mix32((__u32)(hi >> 32)) & (RG_SLOTS6 - 1);
}

/* Two bits from the top of the same hash, which the index does not use. */
static inline __u32 rg_slot6_filter(__u64 hi)
{
	__u32 h = rg_mix32((__u32)(hi >> 32));

	return (1u << (h >> 27)) | (1u << ((h >> 22) & 31));
}

/* Feed registry: an ARRAY of RG_MAX_SOURCES entries indexed by source bit,
 * written only by the controller (the program never reads it). It holds each
 * feed's definition and the outcome of its last sync, so every command sees
 * the same feeds without a state directory (bpffs holds no regular files).
 * Strings are NUL-terminated and NUL-padded; a value that does not fit is
 * refused when the feed is defined (source, name) or not kept (ETag,
 * Last-Modified: the next fetch is then unconditional). */
#define RG_FEED_NAME_LEN 40      /* names are at most 32 characters */
#define RG_FEED_SOURCE_LEN 512   /* path or URL, at most 511 bytes */
#define RG_FEED_FORMAT_LEN 16    /* "auto", "spamhaus", ... */
#define RG_FEED_ETAG_LEN 128
#define RG_FEED_LASTMOD_LEN 48   /* an HTTP-date is 29 bytes */
#define RG_FEED_MESSAGE_LEN 256  /* why the last sync did what it did */
#define RG_FEED_HASH_LEN 16      /* XXH3-128 */

#define RG_FEED_USED    (1u << 0)
#define RG_FEED_SHADOW  (1u << 1) /* counts would-drops, never drops */
#define RG_FEED_CONFIG  (1u << 2) /* defined by the daemon's config file */
#define RG_FEED_SYNCING (1u << 3) /* a sync was writing the blocklist; if it
				     is still set, that sync died half-way */
#define RG_FEED_CROWDSEC (1u << 4) /* the decisions of a CrowdSec Local API,
				      kept by the daemon's bouncer ([crowdsec]);
				      never fetched by a feed sync */

/* Outcome of the last sync attempt (rg_feed.last_result). Append only. */
enum rg_feed_result {
	RG_FEED_NEVER = 0,        /* defined, never synced */
	RG_FEED_APPLIED = 1,      /* fetched, checked, written */
	RG_FEED_UNCHANGED = 2,    /* fetched: same prefixes as in force */
	RG_FEED_NOT_MODIFIED = 3, /* HTTP 304 to a conditional request */
	RG_FEED_FETCH_FAILED = 4, /* unreadable file, HTTP or network error */
	RG_FEED_EMPTY = 5,        /* no entries at all */
	RG_FEED_UNPARSEABLE = 6,  /* no valid entries, or more bad lines than good */
	RG_FEED_SHRUNK = 7,       /* lost more than max_shrink percent of its prefixes */
	RG_FEED_APPLY_FAILED = 8, /* the kernel refused the update (full map, ...) */
	RG_FEED_SAME_CONTENT = 9, /* fetched: the bytes of the version in force, read
				     with the same settings: not parsed, nothing written */
	RG_FEED_RESULT_MAX
};

struct rg_feed {
	__u32 flags;           /* RG_FEED_* */
	__u32 max_shrink;      /* percent, 0..100; 100 never refuses a shrink */
	__u64 interval_ms;     /* sync period for the daemon */
	__u8 min_prefix4;      /* broader IPv4 prefixes are refused (default 8) */
	__u8 min_prefix6;      /* broader IPv6 prefixes are refused (default 19) */
	__u8 pad[2];
	__u32 last_result;     /* enum rg_feed_result */
	__u32 http_status;     /* of the last fetch; 0 for files */
	__u32 pad2;
	__u64 added_at;        /* CLOCK_REALTIME seconds */
	__u64 last_attempt;    /* CLOCK_REALTIME seconds; 0: never */
	__u64 last_success;    /* last attempt that left the feed current (applied,
				  unchanged, not modified) */
	__u64 last_change;     /* last time its prefixes in the kernel changed */
	__u64 prefixes;        /* prefixes in force (collapsed) */
	__u64 good_lines;      /* of the last download parsed */
	__u64 bad_lines;
	__u64 refused_broad;   /* prefixes refused as broader than min_prefix4/6 */
	__u64 allow_overlaps;  /* prefixes overlapping the allowlist (reported) */
	__u64 bytes;           /* size of the last download */
	__u64 entries;         /* entries (lines, JSON elements) of the version in
				  force: a base of the shrink check */
	__u64 cover4;          /* IPv4 addresses the version in force covers */
	__u64 cover6;          /* IPv6 /64s it covers (a longer prefix counts as one) */
	__u64 pad3;
	__u8 content_hash[RG_FEED_HASH_LEN]; /* XXH3-128 of the settings that shape
				  the compiled list (source, format, min_prefix4/6)
				  and the download of the version in force; zero:
				  none (never applied, or a sync is writing) */
	char name[RG_FEED_NAME_LEN];
	char source[RG_FEED_SOURCE_LEN];
	char format[RG_FEED_FORMAT_LEN];
	char etag[RG_FEED_ETAG_LEN];          /* of the version in force */
	char last_modified[RG_FEED_LASTMOD_LEN];
	char message[RG_FEED_MESSAGE_LEN];
};

/* Drop attribution: per source bit, what the blocklist did with packets to
 * protected ports whose entry lists that source. A packet counts for every
 * source of its entry: `dropped` when it was dropped and the source is not
 * shadow, else `would_drop` (shadow source, or monitor mode, or an entry of
 * shadow sources only, which passes on to the next checks). Only blocklist
 * hits touch these counters. One PERCPU_ARRAY element holds all sources. */
struct rg_source_counter {
	__u64 dropped;
	__u64 dropped_syn;
	__u64 would_drop;
	__u64 would_drop_syn;
};
struct rg_source_stats {
	struct rg_source_counter src[RG_MAX_SOURCES];
};

/* Events: what the ring buffer rg_events carries, one record per event.
 * APPEND ONLY: kinds never renumbered. */
enum rg_event_kind {
	RG_EVENT_DROP = 1,  /* a packet dropped (or would-drop, monitor mode) */
	RG_EVENT_BAN = 2,   /* the kernel's rate limiter banned a prefix */
};
#define RG_EVENTS_BYTES (256 * 1024)  /* ring size: 4,096 records (8 B header + 56) */
struct rg_event {
	__u64 time_ns;     /* CLOCK_BOOTTIME (the program's clock) */
	__u8 addr[16];     /* drop: the source address; ban: the banned prefix
			      (IPv4: first 4 bytes), network byte order */
	__u8 family;       /* 4 or 6 */
	__u8 kind;         /* enum rg_event_kind */
	__u8 prefixlen;    /* drop: 32 or 128; ban: the banned prefix length */
	__u8 pad;
	__u32 reason;      /* drop: enum rg_reason; ban: enum rg_ban_reason */
	__u64 sources;     /* blocklist drop: the source bits (lists, feeds) of
			      the entry that matched; 0 otherwise */
	__u32 ifindex;     /* ingress interface */
	__u16 dport;       /* TCP destination port, host byte order */
	__u16 pad2;
	__u64 expires_ns;  /* ban: when it ends (CLOCK_BOOTTIME); drop: 0 */
};

/* rg_evsrc: when each recent source last had a drop event. An ARRAY of
 * RG_EVSRC_SETS sets of RG_EVSRC_WAYS words, plus one last element (index
 * RG_EVSRC_SETS) holding struct rg_evcap instead of a set. A word is a
 * source's 32-bit hash (never 0) in the high half and the time of its last
 * event in units of 2^RG_EVSRC_TIME_SHIFT ns in the low half; 0 is a free
 * way. A source not in its set takes the way with the oldest event. Words
 * change only by compare-and-swap, so of the CPUs that see a source's
 * interval end, one emits. The program alone writes it. */
#define RG_EVSRC_SETS 512u         /* a power of two: 4,096 sources in 32 KiB (8 pages) */
#define RG_EVSRC_WAYS 8
#define RG_EVSRC_TIME_SHIFT 24     /* 16.8 ms units; 32 bits of them: 2.3 years */
struct rg_evsrc_set {
	__u64 way[RG_EVSRC_WAYS];
};
/* The global cap: window (seconds of the coarse CLOCK_MONOTONIC, the clock
 * of rg_evsrc) in the high 40 bits, events emitted in it in the low 24,
 * changed by compare-and-swap; read first by every drop (no write once the
 * second's budget is spent). */
#define RG_EVCAP_COUNT_BITS 24
struct rg_evcap {
	__u64 window_count;
	__u8 reserved[56];
};

/* Per-CPU event counters (rg_evstats, one element). A drop of a source that
 * had its event within the interval is not an event and is not counted here
 * (the verdict counters have it). */
struct rg_event_stats {
	__u64 emitted;   /* written into the ring */
	__u64 capped;    /* drops in a second whose cap was spent (drops, not sources) */
	__u64 lost;      /* not written: the ring was full (nobody reading) */
	__u64 reserved;
};

/*
 * Egress: outbound connection attempts (SYN without ACK) to the watched
 * destination ports, seen by the TC program on clsact egress
 * (bpf/egress.bpf.h). All of it is written by that program except
 * rg_egconfig, which only the controller writes. Counters are cumulative
 * (they only grow while the maps exist): a reader takes per-minute values
 * as differences of two reads. The distinct-destination sketch is per minute
 * by itself (struct rg_egress_hll).
 */
#define RG_EGRESS_SRC_MAX_ENTRIES 4096    /* local source addresses tracked (LRU) */
#define RG_EGRESS_DST_MAX_ENTRIES 16384   /* destination prefixes tracked (LRU) */
#define RG_EGRESS_PREFIX4 24              /* destination prefix of the sketch and rg_egdst */
#define RG_EGRESS_PREFIX6 48
#define RG_EGRESS_MINUTE_NS (60ull * 1000000000)  /* the sketch's window */

/* rg_egconfig, one ARRAY element. Budget: a GCRA token bucket (bpf/gcra.h,
 * the inbound limiter's code) shared by all interfaces and sources of the
 * host; interval_ns == 0: no budget (nothing is ever over it). */
struct rg_egress_config {
	__u64 interval_ns;   /* ns per new connection: 60e9 / budget per minute */
	__u64 burst_ns;      /* burst * interval_ns */
	__u32 burst;         /* connections allowed back to back (display) */
	__u32 flags;         /* none yet: 0 */
	__u64 port_bitmap[RG_PORT_WORDS]; /* bit p: TCP destination port p is watched */
};

/* rg_egstate, one ARRAY element: the bucket's theoretical arrival time
 * (CLOCK_BOOTTIME ns, changed by compare-and-swap). One cache line. */
struct rg_egress_state {
	__u64 tat;
	__u8 reserved[56];
};

/* rg_egstats, one PERCPU_ARRAY element. The interface's verdicts of capped
 * SYNs are also counted per interface slot in rg_stats (RG_DROP_EGRESS_CAPPED,
 * RG_WOULD_DROP_EGRESS_CAPPED). */
struct rg_egress_stats {
	__u64 syns;       /* new outbound connections to watched ports (capped ones included) */
	__u64 capped;     /* of them dropped: over budget in cap mode */
	__u64 would_cap;  /* of them over budget, passed: watch mode or monitor mode */
	__u64 untracked;  /* not counted per source or destination: LRU insert failed */
};

/* rg_egsrc (key: the local source address, prefixlen 32 or 128) and rg_egdst
 * (key: the destination masked to RG_EGRESS_PREFIX4/6), LRU hashes of
 * struct rg_src_key -> struct rg_egress_count, changed by atomic adds. */
struct rg_egress_count {
	__u64 syns;        /* as rg_egress_stats.syns, for this key */
	__u64 over;        /* capped or would-cap */
	__u64 first_seen;  /* CLOCK_BOOTTIME ns */
	__u64 last_seen;
};

/*
 * rg_eghll: the distinct destination prefixes per minute, a HyperLogLog of
 * 2^RG_HLL_BITS registers (standard error 1.04 / sqrt(4096) = 1.6%). A
 * PERCPU_ARRAY of two elements, one per minute parity (minute m =
 * CLOCK_BOOTTIME / RG_EGRESS_MINUTE_NS uses element m & 1), so the previous
 * minute stays whole while the current one fills. A register holds
 * (m & 0xffffff) << 8 | rank: one written in another minute counts as empty,
 * so nothing is ever reset. The CPUs' sketches merge by maximum (a union).
 * The hash (rg_mix64 of rg_hll_word), index and rank are the functions
 * below, used by both sides.
 */
#define RG_HLL_BITS 12
#define RG_HLL_REGS (1u << RG_HLL_BITS)
#define RG_HLL_TAG_MASK 0xffffffu
#define RG_HLL_REG(minute, rank) ((((__u32)(minute) & RG_HLL_TAG_MASK) << 8) | (__u32)(rank))
#define RG_HLL_REG_RANK(r) ((r) & 0xffu)
#define RG_HLL_REG_TAG(r) ((r) >> 8)
struct rg_egress_hll {
	__u32 reg[RG_HLL_REGS];
};

/* A destination prefix as one word for the sketch: family in the top byte,
 * then the first 3 (IPv4 /24) or 6 (IPv6 /48) address bytes. */
static inline __u64 rg_hll_word(__u8 family, const __u8 *addr)
{
	__u64 w = (__u64)family << 56;
	int n = family == 4 ? 3 : 6;

	for (int i = 0; i < 6; i++)
		if (i < n)
			w |= (__u64)addr[i] << (40 - 8 * i);
	return w;
}

/* The top RG_HLL_BITS bits pick the register. */
static inline __u32 rg_hll_index(__u64 h)
{
	return (__u32)(h >> (64 - RG_HLL_BITS));
}

/* 1 + the leading zeros of the other 64 - RG_HLL_BITS bits (1..53). BPF has
 * no count-leading-zeros instruction: a binary search. */
static inline __u32 rg_hll_rank(__u64 h)
{
	__u64 w = h << RG_HLL_BITS;
	__u32 n = 1;

	if (!w)
		return 64 - RG_HLL_BITS + 1;
	if (!(w >> 32)) { n += 32; w <<= 32; }
	if (!(w >> 48)) { n += 16; w <<= 16; }
	if (!(w >> 56)) { n += 8; w <<= 8; }
	if (!(w >> 60)) { n += 4; w <<= 4; }
	if (!(w >> 62)) { n += 2; w <<= 2; }
	if (!(w >> 63)) { n += 1; }
	return n;
}

/* Per-CPU counters, one per (interface slot, reason). */
struct rg_counter {
	__u64 packets;
	__u64 bytes;
	__u64 syn;   /* packets with SYN set and ACK clear (connection attempts) */
};

/* Attachment registry, written only by the controller (the program never reads
 * it). Slot i (1..RG_MAX_IFACES-1) owns stats keys [i*STRIDE, (i+1)*STRIDE). */
#define RG_IFACE_USED   (1u << 0)
#define RG_IFACE_LEGACY (1u << 1) /* attached without the libxdp dispatcher */
#define RG_IFNAMSIZ 16
struct rg_iface {
	__u32 flags;        /* RG_IFACE_* */
	__u32 ifindex;
	__u32 prog_id;
	__u32 attach_mode;  /* enum xdp_attach_mode of libxdp */
	__u64 attached_at;  /* CLOCK_REALTIME seconds */
	char name[RG_IFNAMSIZ];
	/* ABI 10: the egress program on the interface's clsact egress hook;
	 * egress_prog_id 0: none. */
	__u32 egress_prog_id;
	__u32 egress_mode;     /* enum rg_egress_mode */
	__u32 egress_handle;   /* the TC filter's handle and priority */
	__u16 egress_prio;
	__u8 egress_flags;     /* RG_EGRESS_* */
	__u8 pad;
};

/* rg_iface.egress_mode */
enum rg_egress_mode {
	RG_EGRESS_OFF = 0,
	RG_EGRESS_WATCH = 1,  /* count; over-budget SYNs are would-drop */
	RG_EGRESS_CAP = 2,    /* count; over-budget SYNs are dropped */
};
/* rg_iface.egress_flags */
#define RG_EGRESS_MADE_CLSACT (1u << 0) /* relayguard created the clsact qdisc */

#ifdef __cplusplus
#define RG_ASSERT_LAYOUT(cond, msg) static_assert(cond, msg)
#else
#define RG_ASSERT_LAYOUT(cond, msg) _Static_assert(cond, msg)
#endif
RG_ASSERT_LAYOUT(sizeof(struct rg_rate_config) == 48, "rg_rate_config layout");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_rate_config, prefix4) == 44, "rg_rate_config.prefix4 offset");
RG_ASSERT_LAYOUT(sizeof(struct rg_config) == 88 + 8 * RG_PORT_WORDS, "rg_config layout");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_config, events) == 72 + 8 * RG_PORT_WORDS, "rg_config.events offset");
RG_ASSERT_LAYOUT(sizeof(struct rg_event_config) == 16, "rg_event_config layout");
RG_ASSERT_LAYOUT(sizeof(struct rg_event) == 56, "rg_event layout: 64 B in the ring with its header");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_event, reason) == 28, "rg_event.reason offset");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_event, sources) == 32, "rg_event.sources offset");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_event, ifindex) == 40, "rg_event.ifindex offset");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_event, expires_ns) == 48, "rg_event.expires_ns offset");
RG_ASSERT_LAYOUT(sizeof(struct rg_evsrc_set) == 64, "rg_evsrc_set layout: one cache line");
RG_ASSERT_LAYOUT(sizeof(struct rg_evcap) == sizeof(struct rg_evsrc_set), "rg_evcap layout");
RG_ASSERT_LAYOUT((RG_EVSRC_SETS & (RG_EVSRC_SETS - 1)) == 0, "RG_EVSRC_SETS is a power of two");
RG_ASSERT_LAYOUT(sizeof(struct rg_event_stats) == 32, "rg_event_stats layout");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_config, rate) == 8, "rg_config.rate offset");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_config, shadow_sources) == 56, "rg_config.shadow_sources offset");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_config, port_bitmap) == 64, "rg_config.port_bitmap offset");
RG_ASSERT_LAYOUT(sizeof(struct rg_source_counter) == 32, "rg_source_counter layout");
RG_ASSERT_LAYOUT(sizeof(struct rg_source_stats) == 32 * RG_MAX_SOURCES, "rg_source_stats layout");
RG_ASSERT_LAYOUT(sizeof(struct rg_src_key) == 20, "rg_src_key layout");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_src_key, addr) == 4, "rg_src_key.addr offset");
RG_ASSERT_LAYOUT(sizeof(struct rg_rate_entry) == 64, "rg_rate_entry layout: one cache line");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_rate_entry, key) == 24, "rg_rate_entry.key offset");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_rate_entry, over) == 44, "rg_rate_entry.over offset");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_rate_set, way) == 64, "rg_rate_set: tags and tats fill line 0");
RG_ASSERT_LAYOUT(sizeof(struct rg_rate_set) == 64 * (RG_RATE_WAYS + 1), "rg_rate_set layout");
RG_ASSERT_LAYOUT(sizeof(struct rg_rate_header) == sizeof(struct rg_rate_set), "rg_rate_header layout");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_rate_header, bans) == 8, "rg_rate_header.bans offset");
RG_ASSERT_LAYOUT((RG_RATE_SETS * sizeof(struct rg_rate_set)) % 4096 == 0, "rate header starts a page");
RG_ASSERT_LAYOUT((RG_RATE_SETS & (RG_RATE_SETS - 1)) == 0, "RG_RATE_SETS is a power of two");
RG_ASSERT_LAYOUT(sizeof(struct rg_ban) == 32, "rg_ban layout");
RG_ASSERT_LAYOUT(sizeof(struct rg_esc_state) == 16, "rg_esc_state layout");
RG_ASSERT_LAYOUT(sizeof(struct rg_lpm4_key) == 8, "rg_lpm4_key layout");
RG_ASSERT_LAYOUT(sizeof(struct rg_lpm6_key) == 20, "rg_lpm6_key layout");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_lpm6_key, addr) == 4, "rg_lpm6_key.addr offset");
RG_ASSERT_LAYOUT(sizeof(struct rg_class) == 16, "rg_class layout");
RG_ASSERT_LAYOUT(sizeof(struct rg_tbl24_group) == 64, "rg_tbl24_group layout");
RG_ASSERT_LAYOUT(sizeof(struct rg_pfx4_bucket) == 64, "rg_pfx4_bucket layout");
RG_ASSERT_LAYOUT(sizeof(struct rg_pfx6_rec) == 32, "rg_pfx6_rec layout");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_pfx6_rec, meta) == 16, "rg_pfx6_rec.meta offset");
RG_ASSERT_LAYOUT(sizeof(struct rg_pfx6_bucket) == 128, "rg_pfx6_bucket layout");
RG_ASSERT_LAYOUT(sizeof(struct rg_slot6) == 24, "rg_slot6 layout");
RG_ASSERT_LAYOUT(sizeof(struct rg_lcache_entry) == 32, "rg_lcache_entry layout");
RG_ASSERT_LAYOUT(sizeof(struct rg_lcache_set) == 64, "rg_lcache_set layout");
RG_ASSERT_LAYOUT(sizeof(struct rg_counter) == 24, "rg_counter layout");
RG_ASSERT_LAYOUT(sizeof(struct rg_iface) == 56, "rg_iface layout");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_iface, egress_prog_id) == 40, "rg_iface.egress_prog_id offset");
RG_ASSERT_LAYOUT(sizeof(struct rg_egress_config) == 24 + 8 * RG_PORT_WORDS, "rg_egress_config layout");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_egress_config, port_bitmap) == 24, "rg_egress_config.port_bitmap offset");
RG_ASSERT_LAYOUT(sizeof(struct rg_egress_state) == 64, "rg_egress_state layout: one cache line");
RG_ASSERT_LAYOUT(sizeof(struct rg_egress_stats) == 32, "rg_egress_stats layout");
RG_ASSERT_LAYOUT(sizeof(struct rg_egress_count) == 32, "rg_egress_count layout");
RG_ASSERT_LAYOUT(sizeof(struct rg_egress_hll) == 4 * RG_HLL_REGS, "rg_egress_hll layout");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_iface, name) == 24, "rg_iface.name offset");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_feed, min_prefix4) == 16, "rg_feed.min_prefix4 offset");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_feed, added_at) == 32, "rg_feed.added_at offset");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_feed, entries) == 112, "rg_feed.entries offset");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_feed, content_hash) == 144, "rg_feed.content_hash offset");
RG_ASSERT_LAYOUT(__builtin_offsetof(struct rg_feed, name) == 144 + RG_FEED_HASH_LEN, "rg_feed.name offset");
RG_ASSERT_LAYOUT(sizeof(struct rg_feed) == 144 + RG_FEED_HASH_LEN + RG_FEED_NAME_LEN + RG_FEED_SOURCE_LEN + RG_FEED_FORMAT_LEN +
		 RG_FEED_ETAG_LEN + RG_FEED_LASTMOD_LEN + RG_FEED_MESSAGE_LEN, "rg_feed layout");
RG_ASSERT_LAYOUT(sizeof(struct rg_feed) % 8 == 0, "rg_feed size is a multiple of 8");
RG_ASSERT_LAYOUT(RG_REASON_MAX <= RG_REASON_STRIDE, "too many reasons for the stats stride");

#ifndef __bpf__
/* Userspace only: the JSON name and properties of each reason, indexed by
 * enum rg_reason. The stable JSON schema (docs/json-schema.md) is built from it. */
struct rg_reason_info {
	__u32 reason;       /* equals the row's index; checked by a unit test */
	__u32 flags;        /* RG_RF_* */
	const char *name;   /* JSON field name */
};

static const struct rg_reason_info rg_reason_info[RG_REASON_MAX] = {
	/* one row per enum rg_reason, in enum order */
	{ RG_PASS_NOT_IP, 0, "passed_not_ip" },
	{ RG_PASS_NOT_TCP, 0, "passed_not_tcp" },
	{ RG_PASS_FRAGMENT, 0, "passed_fragment" },
	{ RG_PASS_UNPROTECTED, 0, "passed_unprotected" },
	{ RG_PASS_CLEAN, RG_RF_PROTECTED, "passed_clean" },
	{ RG_PASS_ALLOWLIST, RG_RF_PROTECTED, "passed_allowlist" },
	{ RG_DROP_BLOCKLIST, RG_RF_PROTECTED | RG_RF_DROP, "dropped_blocklist" },
	{ RG_WOULD_DROP_BLOCKLIST, RG_RF_PROTECTED | RG_RF_MONITOR, "would_drop_blocklist" },
	{ RG_PASS_MALFORMED, 0, "malformed" },
	{ RG_PASS_UNPARSED, 0, "passed_unparsed" },
	{ RG_DROP_RATELIMIT, RG_RF_PROTECTED | RG_RF_DROP, "dropped_ratelimit" },
	{ RG_WOULD_DROP_RATELIMIT, RG_RF_PROTECTED | RG_RF_MONITOR, "would_drop_ratelimit" },
	{ RG_DROP_BANNED, RG_RF_PROTECTED | RG_RF_DROP, "dropped_banned" },
	{ RG_WOULD_DROP_BANNED, RG_RF_PROTECTED | RG_RF_MONITOR, "would_drop_banned" },
	{ RG_DROP_EGRESS_CAPPED, RG_RF_EGRESS | RG_RF_PROTECTED | RG_RF_DROP, "egress_capped" },
	{ RG_WOULD_DROP_EGRESS_CAPPED, RG_RF_EGRESS | RG_RF_PROTECTED | RG_RF_MONITOR, "would_drop_egress_capped" },
};

static const char *const rg_ban_reason_name[] = { "manual", "ratelimit", "escalation", "watch" };

/* JSON names of enum rg_feed_result, in enum order. */
static const char *const rg_feed_result_name[RG_FEED_RESULT_MAX] = {
	"never", "applied", "unchanged", "not_modified", "fetch_failed",
	"empty", "unparseable", "shrunk", "apply_failed", "same_content",
};
#endif

#endif /* RELAYGUARD_ABI_H */
