// SYN rate limiting, bans and per-source state: the controller's side of bpf/rate.h. Settings live in the shared
// config map; bans in their own LPM tries; per-source buckets in a set-associative table (struct rg_rate_entry in
// maps/relayguard_abi.h).
#pragma once

#include "duration.hpp"
#include "maps.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace rg {

// Rate limiting and automatic bans; set by `relayguard rate set` and [rate].
struct RateSettings {
    bool enabled = false;
    uint64_t interval_ns = 0;        // ns per new connection (1 / rate)
    uint32_t burst = 0;              // connections allowed back to back
    uint8_t prefix4 = 32;            // sources aggregated to this IPv4 prefix
    uint8_t prefix6 = 64;            // ... and this IPv6 prefix
    uint32_t ban_after = 0;          // ban when over budget more than this many times
    Duration ban_ttl{0};             // 0: no automatic bans
    uint32_t escalate_after = 0;     // K banned sources in one prefix ban it; 0: off
    Duration escalate_window{0};
    uint8_t escalate_prefix4 = 24;
    uint8_t escalate_prefix6 = 48;
    bool operator==(const RateSettings &) const = default;
};

// Throws rg::Error naming the first out-of-range or inconsistent setting (e.g. escalation without bans); off is valid.
void validate_rate(const RateSettings &s);

RateSettings rate_settings(const Maps &maps);
// Validates, then replaces the settings in one config write. Turning the limiter off leaves existing bans to expire.
void apply_rate(Maps &maps, const RateSettings &s);

// Now on the clock the program uses (CLOCK_BOOTTIME), in ns.
uint64_t boottime_ns();

struct Ban {
    Cidr cidr;
    struct rg_ban raw {};
    bool expired(uint64_t now) const { return now >= raw.expires_ns; }
};
const char *ban_reason_name(uint32_t reason);

// Every ban entry, expired ones included, sorted by prefix.
std::vector<Ban> list_bans(const Maps &maps);
// Bans the prefix for ttl (> 0), replacing any ban of exactly that prefix.
void add_ban(Maps &maps, const Cidr &cidr, Duration ttl, uint32_t reason = RG_BAN_MANUAL);
// Returns false when there was no ban of exactly that prefix.
bool del_ban(Maps &maps, const Cidr &cidr);
// Removes every ban; returns how many.
size_t flush_bans(Maps &maps);
// Removes bans that expired at `now`; returns how many.
size_t expire_bans(Maps &maps, uint64_t now);
// Whether the program looks bans up (rg_rate_header.bans): from the first ban until a removal empties both tries.
bool bans_flagged(const Maps &maps);

// One aggregated source of the rate table.
struct SourceState {
    Cidr source;
    uint64_t tat = 0;        // ns, without the episode flag
    bool over_episode = false;
    uint64_t syns = 0;       // since the source took its way
    uint64_t limited = 0;
    uint64_t last_seen = 0;  // ns
    uint32_t over = 0;
};
// A snapshot of the sources in the rate table, one per source (read in batches while the program keeps charging and
// replacing entries). Should a race between CPUs have left one source in two ways of its set, they are merged: counts
// added, the latest last_seen and tat kept.
std::vector<SourceState> rate_sources(const Maps &maps);

} // namespace rg
