// The verdict the XDP program should give a frame, and the reason it should
// count it under: the reference for the differential packet fuzz
// (tools/fuzz/packet-diff), written from the invariants in
// bpf/relayguard.bpf.c and docs/maps.md:
//   1. anything not parsed down to TCP passes, under its parse reason;
//   2. TCP to a port that is not protected passes as unprotected;
//   3. an allowlisted source (any allow source) passes as allowlisted;
//   4. a blocklisted source drops (would-drop in monitor mode) if one of
//      the sources listing it is not a shadow source; an entry of shadow
//      sources only goes on to the next checks as if unlisted;
//   5. a live ban drops (would-drop in monitor mode);
//   6. else clean.
// The SYN rate limiter is left out: the fuzz runs with it off (interval 0),
// since its verdict depends on the timing of every earlier SYN of the
// source's aggregate and on the rate table's eviction (tests/kernel/
// test_rate.cpp covers it). So no rate-limit reason is ever expected.
#pragma once

#include "ban_table.hpp"
#include "frame_parse.hpp"
#include "prefix_lists.hpp"
#include "relayguard_abi.h"

#include <bitset>
#include <cstdint>
#include <span>

namespace rg::model {

struct Policy {
    std::bitset<65536> ports;  // protected TCP destination ports
    bool monitor = false;
    uint64_t shadow = 0;       // shadow source bits
    uint64_t now_ns = 0;       // the program's clock, for bans
};

struct Verdict {
    ParsedFrame parsed;
    enum rg_reason reason = RG_PASS_MALFORMED;
    bool drop = false;          // XDP_DROP, else XDP_PASS
    bool syn = false;           // counted in the reason's syn counter
    // Drop attribution (struct rg_source_stats): on a blocklist hit, the
    // block sources, counted as dropped where sources_dropped has their bit,
    // else as would_drop.
    uint64_t block_sources = 0;
    uint64_t sources_dropped = 0;
};

Verdict verdict(std::span<const uint8_t> frame, const PrefixLists &lists, const BanTable &bans, const Policy &policy);

} // namespace rg::model
