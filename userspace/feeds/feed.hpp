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
//    and rewrites the view from the kernel state and the registry;
//  - rg_feed.content_hash names the download in force and the settings it
//    was compiled with (feed_content_hash); it is cleared before the
//    blocklist is written and set when the write is done. A download with
//    that hash is not parsed again while the kernel holds that write: no
//    update of the lists is half-way (rg_config.lists_gen even) and no sync
//    of this feed was interrupted. Every finished list update keeps the
//    lists of the sources it does not replace, so other feeds and `block`
//    edits in between do not invalidate it.
#pragma once

#include "duration.hpp"
#include "feed_delta.hpp"
#include "feed_format.hpp"
#include "maps.hpp"
#include "list_sweep.hpp"
#include "prefix_set.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <istream>
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

// ---- the registry, changed under the pin-directory lock -------------------

// Registers a feed (validated; the name must be new) on the lowest free
// source bit, with nothing listed yet; the first sync fills it. Returns it.
Feed add_feed(Maps &maps, const FeedDef &def);
// Changes a registered feed's definition (same name), keeping its status
// and prefixes. A new source or format makes the next fetch unconditional.
Feed update_feed(Maps &maps, const FeedDef &def);
// Removes the feed's prefixes from the blocklist (what another source still
// lists stays, with that source's bit), then its registry entry. Returns
// false when there is no such feed.
bool del_feed(Maps &maps, std::string_view name, const Progress &progress = {});
// The source bits that may have entries: manual, config and registered
// feeds. Entries of other bits (left by a removal killed half-way) are
// removed by the next sync that writes the blocklist.
uint64_t registered_sources(const std::vector<Feed> &feeds);

// ---- fetching --------------------------------------------------------------

struct FetchLimits {
    long connect_timeout_s = 15;
    long timeout_s = 120;              // the whole transfer
    size_t max_bytes = 128u << 20;     // larger downloads fail
};

struct FetchResult {
    bool ok = false;            // body holds the list, or not_modified
    bool not_modified = false;  // HTTP 304 to a conditional request: no body
    long http_status = 0;       // 0 for files and stdin
    std::string body;
    std::string etag, last_modified;  // validators of this response (HTTP)
    std::string error;                // why not ok
};

// Reads a local file, stdin ("-", from `in`), or an http(s) URL with
// libcurl: redirects followed (http/https only), TLS peers verified, the
// limits above, and a conditional request when etag or last_modified is
// given. Never throws for a failed fetch: the result says why.
FetchResult fetch_source(const std::string &source, const std::string &etag, const std::string &last_modified,
                         const FetchLimits &limits, std::istream *in);

// ---- checking (pure) -------------------------------------------------------

// SHA-256 of what decides the compiled list: the settings that shape it
// (source, format, min_prefix4, min_prefix6) and the downloaded bytes. Equal
// hashes: the download compiles to the list the same settings made before.
// (shadow and max_shrink do not change a download's list: `feed add` applies
// shadow at once, and max_shrink only refuses a different download.)
using FeedHash = std::array<uint8_t, RG_FEED_HASH_LEN>;
FeedHash feed_content_hash(const FeedDef &def, std::string_view body);

// What a parsed download would become, and whether it may replace the
// version in force. Refused (applicable() false), with the reason:
//   RG_FEED_EMPTY        no entries, or none left after the broad-prefix rule;
//   RG_FEED_UNPARSEABLE  no valid entry, or more bad lines than good ones
//                        (an HTML error page, the wrong format);
//   RG_FEED_SHRUNK       fewer than (100 - max_shrink)% of the prefixes in
//                        force (counted after merging), e.g. a truncated file.
// Prefixes broader than min_prefix4/min_prefix6 are refused one by one (the
// rest applies) and reported in broad_examples.
struct FeedCheck {
    uint32_t result = RG_FEED_APPLIED;
    std::string message;
    CompactList list;                // normalised, broad ones removed
    SortedPrefixes sorted;           // before normalising (broad ones removed), if asked for
    size_t refused_broad = 0;
    std::vector<std::string> broad_examples;  // the first few
    bool applicable() const { return result == RG_FEED_APPLIED; }
};
// keep_sorted: fill FeedCheck::sorted too (for a FeedMemo).
FeedCheck check_feed(const FeedParseResult &parsed, const FeedDef &def, uint64_t prefixes_in_force,
                     bool keep_sorted = false);
// The same checks for a download parsed by feed_delta (its counts and list).
FeedCheck check_feed_delta(FeedDelta delta, const FeedDef &def, uint64_t prefixes_in_force);

// Feed prefixes (a normalised list) that overlap an allowlist prefix
// (either containing the other). The allowlist wins in the data path, so
// these are reported, not refused. example: the first overlap found.
size_t count_allow_overlaps(const CompactList &feed, const std::vector<Cidr> &allow, std::string *example);

// ---- syncing ---------------------------------------------------------------

struct SyncOptions {
    FetchLimits limits;
    std::istream *in = nullptr;  // for source "-"; nullptr: std::cin
    Progress progress;           // called while the blocklist is written
    bool unconditional = false;  // ignore the stored ETag/Last-Modified and
                                 // content hash: fetch, parse and write in full
    // Maps the caller keeps from one sync to the next (the daemon), used
    // while the pins name the same maps and replaced when they do not. Its
    // mapping of the list tables (already warm) and its copy of the merged
    // set (valid while rg_config.lists_gen says nobody else wrote) then
    // outlive the sync. nullptr: the sync opens its own.
    std::optional<Maps> *keep_maps = nullptr;
    // The caller's memo of the feed's version in force (the daemon keeps one
    // per feed): when it still is in force, the download is parsed only
    // where it differs (feed_delta.hpp); the sync replaces it after an
    // apply. nullptr: every download is parsed in full.
    std::optional<FeedMemo> *memo = nullptr;
};

struct SyncReport {
    std::string feed;
    uint32_t result = RG_FEED_NEVER;
    std::string message;              // as stored in the registry
    std::vector<std::string> errors;  // bad lines and refused prefixes (the first few)
    size_t upserts = 0, deletes = 0;  // blocklist entries written
    uint64_t prefixes = 0;            // in force afterwards
    double seconds = 0;               // wall time of the whole sync
    size_t lines_parsed = 0;          // every non-blank line, or the changed ones (SyncOptions::memo)
    bool ok() const
    {
        return result == RG_FEED_APPLIED || result == RG_FEED_UNCHANGED || result == RG_FEED_NOT_MODIFIED ||
               result == RG_FEED_SAME_CONTENT;
    }
};

// Fetches without holding the lock, then takes the pin-directory lock
// (the caller must not hold it) to check and apply, and records the outcome
// in the registry. A download with the content hash in force (see the
// invariants) stops before parsing, as RG_FEED_SAME_CONTENT, having written
// nothing but the registry. Throws rg::Error only when the feed does not exist or
// the maps cannot be used; a refused or failed sync is a report.
SyncReport sync_feed(const std::string &pin_dir, const std::string &name, const SyncOptions &opts = {});

// A source bit as people read it: "manual", "config", or the feed's name
// ("source<N>" for a bit no registry entry claims).
std::string source_name(const std::vector<Feed> &feeds, unsigned bit);

} // namespace rg
