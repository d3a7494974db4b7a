// One round of the packet fuzz: the lists, bans and settings the frames of
// the round run against, drawn at random (random_round) from a seed.
//
// Lists: 1 to max_prefixes prefixes (log-uniform, so small and large lists
// both come up, and max_prefixes itself in about one fresh round of 7), of every length in both families, over allow sources 0-1
// and block sources 0-7, nested in and next to each other across sources
// and lists (allowlist and blocklist overlap), with duplicates. Half of the
// rounds change the previous round's lists by about a tenth instead, so the
// incremental write path runs too. Bans: chains of nested bans, some
// expired, some live. Settings: protected ports, shadow feeds, and the mode
// of the round's first half (the second half runs in the other mode).
#pragma once

#include "ban_table.hpp"
#include "prefix_lists.hpp"
#include "rng.hpp"
#include "verdict_model.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace rg::fuzz {

inline constexpr unsigned kAllowSources = 2, kBlockSources = 8;

struct RoundBan {
    model::ModelPrefix prefix;
    unsigned ttl_s;  // added with this ttl
};

struct RoundSpec {
    std::vector<model::ListedPrefix> prefixes;
    std::vector<RoundBan> bans;
    unsigned now_s = 0;  // the frames run now_s + 0.5 s after the bans were added
    std::vector<uint16_t> ports;
    bool monitor = false;  // in the first half of the round's frames
    uint64_t shadow = 0;  // among the block sources

    uint64_t now_ns() const { return uint64_t(now_s) * 1000000000 + 500000000; }
    // The model's view of the round.
    model::Policy policy() const;
    model::PrefixLists lists() const;
    model::BanTable ban_table() const;
};

RoundSpec random_round(Rng &rng, size_t max_prefixes, const RoundSpec *previous);

} // namespace rg::fuzz
