/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The token bucket of both limiters (inbound SYNs per source, rate.h;
 * outbound SYNs of the host, egress.h): GCRA, the "virtual scheduling" form
 * of a token bucket. One timestamp per bucket, tat: an arrival at time now
 * conforms when max(tat, now) + interval - now <= burst_ns, and then moves
 * tat to max(tat, now) + interval. tat only moves by compare-and-swap, so
 * arrivals on several CPUs at once draw from a single budget.
 *
 * Bit 0 of tat is a flag the caller owns (RG_RATE_TAT_OVER: an over-budget
 * episode is on); tat values are otherwise even. The flag is kept by a
 * charge, except that a conforming arrival into a full bucket (tat <= now)
 * clears it and reports that the episode ended.
 */
#ifndef RELAYGUARD_GCRA_H
#define RELAYGUARD_GCRA_H

#include <linux/types.h>
#include "relayguard_abi.h"

#define RG_CAS_TRIES 8  /* compare-and-swap attempts before letting an arrival pass */

enum gcra_verdict {
	GCRA_CONFORM = 0,
	GCRA_OVER = 1,       /* over budget: tat unchanged */
	GCRA_CONTENDED = 2,  /* lost every race: treated as conforming, uncharged */
};

/* Charges one arrival at now. *episode_ended is set when the flag was on and
 * this arrival found the bucket full again. */
static __always_inline int gcra_charge(__u64 *tatp, __u64 now, __u64 interval, __u64 burst_ns, int *episode_ended)
{
	for (int i = 0; i < RG_CAS_TRIES; i++) {
		__u64 raw = *(volatile __u64 *)tatp;
		__u64 tat = raw & ~RG_RATE_TAT_OVER, flag = raw & RG_RATE_TAT_OVER;
		__u64 base = tat > now ? tat : now;
		int ended = 0;

		if (base + interval - now > burst_ns)
			return GCRA_OVER;
		if (flag && tat <= now) {
			flag = 0;  /* the bucket was full: a new episode starts */
			ended = 1;
		}
		/* Rounded up to even (bit 0 is the flag): at most 1 ns stricter. */
		if (__sync_val_compare_and_swap(tatp, raw, ((base + interval + 1) & ~RG_RATE_TAT_OVER) | flag) == raw) {
			*episode_ended = ended;
			return GCRA_CONFORM;
		}
	}
	return GCRA_CONTENDED;  /* pass rather than drop on contention */
}

#endif /* RELAYGUARD_GCRA_H */
