// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* An XDP program as a relayguard build with another map layout would have:
 * its rg_config value has grown by a field (what a new config knob does).
 * Put on the maps of the current layout it would read past their values:
 * the upgrade test checks that relayguard refuses it, naming the map. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "relayguard_abi.h"

struct rg_config_grown {
	struct rg_config cfg;
	__u64 added;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rg_config_grown);
} RG_MAP_CONFIG SEC(".maps");

SEC("xdp")
int rgt_abi_changed(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct rg_config_grown *c = bpf_map_lookup_elem(&RG_MAP_CONFIG, &zero);

	(void)ctx;
	return c && c->added ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
