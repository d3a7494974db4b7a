// Attaching the filter to interfaces through libxdp's multi-program
// dispatcher, so other XDP programs on the same interface keep running.
#pragma once

#include "maps.hpp"

#include <optional>
#include <string>
#include <vector>

struct bpf_object;

namespace rg {

enum class XdpMode { native, skb };
const char *xdp_mode_name(uint32_t libxdp_mode);

struct AttachOptions {
    std::string ifname;
    XdpMode mode = XdpMode::native;
    std::optional<std::vector<uint16_t>> ports;  // replace the shared port set
    std::optional<bool> monitor;                 // set the shared mode
    uint32_t egress = RG_EGRESS_OFF;             // enum rg_egress_mode: the egress program too
};

struct AttachResult {
    uint32_t ifindex = 0;
    uint32_t slot = 0;
    uint32_t prog_id = 0;
    bool legacy = false;        // attached without the dispatcher
    bool maps_created = false;  // first interface: the pin directory was made
    uint32_t egress_prog_id = 0;  // the egress program, when asked for
};

// Attaches to an interface of the caller's network namespace. Errors leave
// the state as it was: no attachment, no new pins, no changed config.
AttachResult attach(const std::string &pin_dir, const AttachOptions &opts);

struct ReplaceResult {
    uint32_t ifindex = 0;
    uint32_t slot = 0;
    uint32_t old_prog_id = 0;
    uint32_t new_prog_id = 0;
    bool legacy = false;  // swapped in one step (no dispatcher)
    uint32_t old_egress_prog_id = 0;  // 0: no egress program on the interface
    uint32_t new_egress_prog_id = 0;
};

// Replaces relayguard's program on an attached interface by this build's
// (an upgrade), with no moment where neither runs, on the pinned maps as
// they are: rules, bans and counters stay, and the new program counts into
// the interface's slot. The maps must fit this build: an ABI stamp or a map
// layout that differs is refused with an error naming it, before anything
// changes. Without the dispatcher the kernel swaps the two in one step
// (XDP_FLAGS_REPLACE, expecting the old program); with it, libxdp's
// dispatcher is replaced twice, first by one running both, then by one
// running the new program only. An egress program on the interface is
// replaced too, after the XDP one, in one netlink change of its TC filter
// (same mode, watch or cap). `obj` (tests): another program to put in
// place, `prog_name` of that opened, not loaded, object.
ReplaceResult replace(const std::string &pin_dir, const std::string &ifname, struct bpf_object *obj = nullptr,
                      const char *prog_name = nullptr);

struct DetachResult {
    bool was_live = false;      // a program was attached and is now removed
    bool egress_was_live = false;  // the egress program likewise
    bool pins_removed = false;  // it was the last interface
};

DetachResult detach(const std::string &pin_dir, const std::string &ifname, bool keep_maps);

// Removes the program with this id from the interface's XDP chain, without
// a registry entry: one left running on maps whose pins were removed.
// Returns whether it was attached there.
bool detach_program(const std::string &ifname, uint32_t prog_id);

// What the kernel says about a registered attachment right now.
struct LiveState {
    bool present = false;    // interface exists with the registered index and name
    bool attached = false;   // our program id is in its XDP chain
    bool legacy = false;     // no dispatcher: relayguard is the only XDP program
    int programs = 0;        // programs in the interface's XDP chain
    bool egress_attached = false;  // the registered egress program is on its clsact egress
};
LiveState query_live(const IfaceEntry &entry);

// What an attachment without libxdp's dispatcher (AttachResult::legacy)
// means for the operator, and the likely cause: a kernel that refuses
// freplace programs.
std::string legacy_attach_note(const std::string &ifname);

// Routes libxdp's and libbpf's messages to stderr at the given verbosity
// (0: none, 1: warnings and info, 2: debug).
void set_library_verbosity(int level);

} // namespace rg
