// Outbound connection attempts: the controller's side of bpf/egress.h.
//
// Settings (watched ports, the host's budget) live in rg_egconfig and are
// shared by every interface; the mode (watch or cap) is per interface, fixed
// when the egress program is attached (attach.hpp).
//
// Reading, the contract for the daemon and the CLI:
//  - counters (syns, capped, would_cap, per source, per destination prefix)
//    are cumulative: they only grow while the maps exist (an LRU entry can
//    be evicted and come back from 0; a reader treats a smaller value as a
//    new entry). A per-minute value is the difference of two reads a minute
//    apart; nothing is reset by reading;
//  - the distinct destination prefixes (/24, /48) are estimated per minute
//    by the kernel itself: minute m is CLOCK_BOOTTIME / 60 s (EgressSnapshot
//    .minute); `distinct_current` is minute m so far, `distinct_previous`
//    minute m - 1, complete and unchanging during minute m. A daemon that
//    reads once a minute takes distinct_previous (or distinct_current just
//    before the minute ends). Relative standard error: kHllStandardError
//    (1.6%).
#pragma once

#include "cidr.hpp"
#include "maps.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rg {

// [egress] ports/budget/burst and `relayguard egress set`.
struct EgressSettings {
    std::vector<uint16_t> ports{25};  // watched destination ports (1..RG_MAX_PORTS of them)
    uint64_t interval_ns = 0;         // budget: ns per new connection; 0: no budget
    uint32_t burst = 0;               // connections allowed back to back (>= 1 with a budget)
    bool operator==(const EgressSettings &) const = default;
};

// Throws rg::Error naming the first bad setting.
void validate_egress(const EgressSettings &s);
EgressSettings egress_settings(const Maps &maps);
// Validates, then replaces the settings in one write. A new budget starts
// with a full bucket.
void apply_egress(Maps &maps, const EgressSettings &s);

const char *egress_mode_name(uint32_t mode);  // "off", "watch", "cap"
// Parses "watch" or "cap" (and "off" when allow_off); throws rg::Error naming the text.
uint32_t parse_egress_mode(const std::string &text, bool allow_off);

// One local source address (prefix /32, /128) or destination prefix (/24, /48).
struct EgressCount {
    Cidr key;
    uint64_t syns = 0;        // new outbound connections to watched ports
    uint64_t over = 0;        // of them over budget (capped or would-cap)
    uint64_t first_seen = 0;  // CLOCK_BOOTTIME ns
    uint64_t last_seen = 0;
};

struct EgressSnapshot {
    uint64_t now_ns = 0;      // CLOCK_BOOTTIME of the read
    uint64_t syns = 0;        // every CPU; capped ones included
    uint64_t capped = 0;      // dropped over budget (cap mode)
    uint64_t would_cap = 0;   // over budget, passed (watch or monitor mode)
    uint64_t untracked = 0;   // SYNs a full table could not count per source or destination
    std::vector<EgressCount> sources;       // by syns, most first
    std::vector<EgressCount> destinations;  // by syns, most first
    uint64_t minute = 0;             // now_ns / 60 s
    double distinct_current = 0;     // destination prefixes in minute `minute` so far
    double distinct_previous = 0;    // ... in minute `minute` - 1 (complete)
};

// Reads everything at once. now_ns: the time on the program's clock (tests
// with a test clock pass theirs); unset: CLOCK_BOOTTIME now.
EgressSnapshot read_egress(const Maps &maps, std::optional<uint64_t> now_ns = std::nullopt);
// As read_egress() without the per-source and per-destination tables
// (`sources` and `destinations` stay empty): totals and the sketch only, a
// few fixed-size reads (stats, metrics).
EgressSnapshot read_egress_totals(const Maps &maps, std::optional<uint64_t> now_ns = std::nullopt);
// The tables alone, by syns, most first.
std::vector<EgressCount> egress_sources(const Maps &maps);
std::vector<EgressCount> egress_destinations(const Maps &maps);

// The merged ranks (every CPU) of the sketch of one minute: the input of
// hll_estimate() (core/hll.hpp).
std::vector<uint8_t> egress_sketch_ranks(const Maps &maps, uint64_t minute);

} // namespace rg
