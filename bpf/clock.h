/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The program's clocks.
 *
 *  - rg_now(): CLOCK_BOOTTIME ns, the time of bans, the rate limiter and
 *    events (the controller reads the same clock);
 *  - rg_coarse_now(): ns at tick resolution (1-10 ms), for the events' gate
 *    and cap, which every drop passes: jiffies times rg_tick_ns (the
 *    controller sets it from clock_getres(CLOCK_MONOTONIC_COARSE)); the
 *    verifier turns bpf_jiffies64() into one load, where a clock helper is
 *    a call. Not CLOCK_MONOTONIC: jiffies start 5 minutes before the wrap
 *    of 32 bits, so only differences mean anything. Without rg_tick_ns,
 *    CLOCK_MONOTONIC at tick resolution (a helper call).
 *
 * Test clock: when the controller loads the program with rg_test_clock = 1
 * (tests only), both are rg_test_now instead. In production the branch is
 * constant and the verifier removes it.
 */
#ifndef RELAYGUARD_CLOCK_H
#define RELAYGUARD_CLOCK_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u8 rg_test_clock = 0;
const volatile __u64 rg_tick_ns = 0;
__u64 rg_test_now = 0;

static __always_inline __u64 rg_now(void)
{
	if (rg_test_clock)
		return *(volatile __u64 *)&rg_test_now;
	return bpf_ktime_get_boot_ns();
}

static __always_inline __u64 rg_coarse_now(void)
{
	if (rg_test_clock)
		return *(volatile __u64 *)&rg_test_now;
	if (rg_tick_ns)
		return bpf_jiffies64() * rg_tick_ns;
	return bpf_ktime_get_coarse_ns();
}

#endif /* RELAYGUARD_CLOCK_H */
