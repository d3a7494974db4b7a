/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Keys and sizes shared by perpacket.bpf.c and rg-perpacket. */
#ifndef RGB_PERPACKET_ABI_H
#define RGB_PERPACKET_ABI_H

#include <linux/types.h>

/* Room for the largest list (1,000,000 prefixes) in either family. */
#define RGB_LPM_MAX_ENTRIES (1024 * 1024)

struct rgb_lpm4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct rgb_lpm6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

#endif
