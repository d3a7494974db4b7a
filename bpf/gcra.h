/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The token bucket of both limiters (inbound SYNs per source, rate.h;
 * outbound SYNs of the host, egress.h): GCRA, the "virtual scheduling" form
 * of a token bucket. One timestamp per bucket, tat: an arrival at time now
 * conforms when max(tat, now) + interval - now <= burst_ns, and then moves
 * tat to max(tat, now) + interval. tat moves by compare-and-swap, so
 * arrivals on several CPUs at once draw from a single budget. An arrival
 * that loses RG_CAS_TRIES races in a row is charged by one atomic add
 * instead (and the add undone when it finds the budget spent), so even a
 * contended arrival never passes uncharged.
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

#define RG_CAS_TRIES 8  /* compare-and-swap attempts before charging by atomic add */

enum gcra_verdict {
	GCRA_CONFORM = 0,
	GCRA_OVER = 1,  /* over budget: tat unchanged (but see the end of gcra_charge) */
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
	/* Every race lost, so other CPUs have charged and tat is at or ahead
	 * of now: add one interval (even, so the flag bit stays) and judge the
	 * arrival by the tat the add replaced. */
	__u64 step = (interval + 1) & ~RG_RATE_TAT_OVER;
	__u64 tat = __sync_fetch_and_add(tatp, step) & ~RG_RATE_TAT_OVER;
	__u64 base = tat > now ? tat : now;

	*episode_ended = 0;
	if (base + interval - now <= burst_ns)
		return GCRA_CONFORM;
	/* Over budget: take the add back, but not below step (the way was reset
	 * to 0 meanwhile) and not forever: while other CPUs keep winning the
	 * races, the source keeps the interval as debt. */
	for (int i = 0; i < RG_CAS_TRIES; i++) {
		__u64 raw = *(volatile __u64 *)tatp;

		if ((raw & ~RG_RATE_TAT_OVER) < step || __sync_val_compare_and_swap(tatp, raw, raw - step) == raw)
			break;
	}
	return GCRA_OVER;
}

#endif /* RELAYGUARD_GCRA_H */
