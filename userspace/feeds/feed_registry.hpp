// The feed registry: every feed's definition and the outcome of its last
// sync, in the pinned map rg_feeds indexed by the feed's source bit, so
// every command and the daemon see the same feeds. Changed only under the
// pin-directory lock.
#pragma once

#include "duration.hpp"
#include "lists.hpp"
#include "maps.hpp"

#include <cstdint>
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
// not fit the registry (a name of 1..32 of A-Z a-z 0-9 _ . -, not reserved, a
// source of at most RG_FEED_SOURCE_LEN - 1 bytes, a known format, limits in
// range).
void validate_feed_def(const FeedDef &def);

// "manual" and "config", in any case: the names of the built-in sources
// (bits 0 and 1) in `block list` and `stats`; no feed may take them.
bool reserved_feed_name(std::string_view name);

// One registry entry.
struct Feed {
    unsigned bit = 0;  // its source bit in rg_class.block
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

// Registers a feed (validated; the name must be new) on the lowest free
// source bit, with nothing listed yet; the first sync fills it. Returns it.
// extra_flags go into its entry too (RG_FEED_CROWDSEC).
Feed add_feed(Maps &maps, const FeedDef &def, uint32_t extra_flags = 0);
// Changes a registered feed's definition (same name), keeping its status
// and prefixes. A new source or format makes the next fetch unconditional.
Feed update_feed(Maps &maps, const FeedDef &def);
// Removes the feed's prefixes from the blocklist (what another source still
// lists stays, with that source's bit), then its registry entry and its
// state. Returns false when there is no such feed.
bool del_feed(Maps &maps, Lists &lists, std::string_view name);
// The source bits that may have entries: manual, config and registered
// feeds. Entries of other bits (left by a removal that did not finish) are
// removed by the next feed sync.
uint64_t registered_sources(const std::vector<Feed> &feeds);

// A source bit as people read it: "manual", "config", or the feed's name
// ("source<N>" for a bit no registry entry claims).
std::string source_name(const std::vector<Feed> &feeds, unsigned bit);

// A registry string field (NUL-padded) as a string, and back (cut to fit).
std::string feed_field(const char *s, size_t size);
template <size_t N> void set_feed_field(char (&dst)[N], const std::string &value)
{
    std::memset(dst, 0, N);
    std::memcpy(dst, value.data(), std::min(value.size(), N - 1));
}

} // namespace rg
