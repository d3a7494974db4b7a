// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The floor of the flood benchmark: counts every frame (per CPU) and returns
 * a fixed verdict, XDP_DROP for the "bare XDP_DROP" row. The count map is
 * pinned by the tool so the benchmark can read it after the run. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "flood_common.h"

const volatile __u32 verdict = XDP_DROP;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} RGF_COUNT_MAP SEC(".maps");

SEC("xdp")
int rgf_count_prog(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&RGF_COUNT_MAP, &zero);

	(void)ctx;
	if (n)
		*n += 1;
	return verdict;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
