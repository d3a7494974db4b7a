// The egress program on an interface's clsact egress hook, through libbpf's
// TC API (cls_bpf, direct action). It coexists with other TC filters: it
// returns "no verdict" for what it does not drop, so filters after it run.
//
// Invariant: relayguard removes only its own filter (checked by program id)
// and removes the clsact qdisc only if it created it and no filter is left
// on either of its hooks.
#pragma once

#include <cstdint>

namespace rg {

struct TcAttachment {
    uint32_t prog_id = 0;
    uint32_t handle = 0;
    uint16_t prio = 0;
    bool made_clsact = false;  // relayguard created the clsact qdisc
};

// Attaches the loaded program (prog_fd) to ifindex's clsact egress, creating
// clsact if the interface has none. Throws rg::Error; on error nothing is
// left behind.
TcAttachment tc_attach_egress(uint32_t ifindex, int prog_fd, const char *ifname);

// Whether the filter at a's handle and priority is still the program a names.
bool tc_egress_attached(uint32_t ifindex, const TcAttachment &a);

// Puts prog_fd in place of the filter at a's handle and priority, in one
// netlink change (no moment without a filter there); returns its new id.
uint32_t tc_replace_egress(uint32_t ifindex, const TcAttachment &a, int prog_fd, const char *ifname);

// Removes the filter if it is still ours, then clsact as the invariant says.
// Returns whether the filter was there.
bool tc_detach_egress(uint32_t ifindex, const TcAttachment &a, const char *ifname);

// Filters on the interface's clsact hooks (ingress and egress), by a netlink
// dump; 0 also when there is no clsact qdisc.
int tc_clsact_filters(uint32_t ifindex);

} // namespace rg
