// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* A second XDP program for the coexistence test: counts every packet it sees
 * and passes it on. Loaded with xdp-loader next to relayguard. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} rgt_count SEC(".maps");

SEC("xdp")
int rgt_xdp_count(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&rgt_count, &zero);

	(void)ctx;
	if (n)
		__sync_fetch_and_add(n, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
