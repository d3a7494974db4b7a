// Blocklist feeds: the registry of feeds in the kernel state, and the sync
// pipeline fetch -> parse -> check -> apply.
//
// Invariants:
//  - a feed is defined by its entry in the pinned registry map (rg_feeds),
//    indexed by its source bit; every command and the daemon see the same
//    feeds, and nothing lives outside the pin directory;
//  - the blocklist in the kernel is always the compiled view of all its
//    sources (manual list, config file, feeds: see prefix_set.hpp), so each
//    source's own list can be read back from the kernel (split_view) and a
//    feed is only ever replaced as a whole, by a diff;
//  - a download that is unreadable, empty, unparseable or shrinks the feed
//    by more than max_shrink percent is never applied: the version in force
//    stays, and the registry entry says why (last_result, message);
//  - a sync that dies half-way leaves RG_FEED_SYNCING set and the old
//    ETag/Last-Modified in place, so the next sync fetches the list in full
//    and rewrites the view from the kernel state and the registry.
#pragma once

#include "duration.hpp"
#include "feed_format.hpp"
#include "filter.hpp"
#include "prefix_set.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rg {

// A feed's definition: `relayguard feed add` or a [feed NAME] section.
struct FeedDef {
    std::string name;
    std::string source;            // file path, "-" (stdin), or http(s):// URL
    std::string format = "auto";   // a name of feed_format_names
    Duration interval{std::chrono::hours(1)};
    bool shadow = false;
    unsigned max_shrink = 50;      // percent; 100 accepts any shrink
    uint8_t min_prefix4 = 8;       // broader prefixes are refused
    uint8_t min_prefix6 = 19;
    bool from_config = false;      // owned by the daemon's config file
    bool operator==(const FeedDef &) const = default;
};

// Throws rg::Error naming the field when the definition is invalid or does
// not fit the registry (a name of 1..32 of A-Z a-z 0-9 _ . -, a source of at
// most RG_FEED_SOURCE_LEN - 1 bytes, a known format, limits in range).
void validate_feed_def(const FeedDef &def);

// One registry entry.
struct Feed {
    unsigned bit = 0;  // its source bit in rg_rule.sources
    struct rg_feed raw {};
    std::string name() const;
    FeedDef def() const;
    const char *result_name() const;
};

// The registry entry for a definition: definition fields set, status zero.
struct rg_feed feed_to_kernel(const FeedDef &def);

std::vector<Feed> list_feeds(const Maps &maps);
std::optional<Feed> find_feed(const Maps &maps, std::string_view name);
void put_feed(Maps &maps, const Feed &feed);

// A source bit as people read it: "manual", "config", or the feed's name
// ("source<N>" for a bit no registry entry claims).
std::string source_name(const std::vector<Feed> &feeds, unsigned bit);

} // namespace rg
