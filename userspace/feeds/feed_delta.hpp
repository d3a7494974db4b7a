// A feed's next download parsed only where it differs from the last one.
//
// A long-running process (the daemon) keeps, per feed, the download in force
// and the feed's prefixes as parsed, sorted with repeats (FeedMemo). The
// next download is compared with it line by line: equal lines are skipped,
// the others are collected as removed and added, and what the two have in
// common is cancelled as a multiset (so lines that only moved count as
// neither). Only the removed and added lines are parsed; the sorted
// prefixes are updated by one merge and normalised again in one linear
// pass. The result is what parse_feed and check_feed's normalisation give
// for the whole download (tests/unit/test_feed_delta.cpp checks that on
// random feeds and edits), or nothing when the shortcut does not apply: a
// JSON feed, another format detected, a changed line that is bad or broader
// than the feed's limits (the full path then reports it exactly), or more
// than a tenth of the lines changed.
#pragma once

#include "feed_format.hpp"
#include "list_sweep.hpp"

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rg {

struct FeedMemo {
    std::array<uint8_t, 32> hash{};  // rg_feed.content_hash of this version
    std::string body;                // the download, as fetched
    FeedFormat format = FeedFormat::plain;  // as parsed (never automatic or json)
    size_t good_lines = 0, comment_lines = 0, host_bits_cleared = 0;
    SortedPrefixes prefixes;         // every prefix of it (none bad, none broad)
};

struct FeedDelta {
    FeedParseResult parsed;  // counts as parse_feed would give them; no prefixes, no errors
    SortedPrefixes prefixes;
    CompactList list;        // normalised
    size_t lines_parsed = 0;  // the changed lines (removed and added) that were parsed
};

// The next download from the memo, or nothing (see the top of this file).
std::optional<FeedDelta> feed_delta(const FeedMemo &memo, std::string_view body, FeedFormat given,
                                    uint8_t min_prefix4, uint8_t min_prefix6, const std::string &feed_name);

} // namespace rg
