// A feed's next download parsed only where it differs from the version in
// force (its memo, feed_memo.hpp), which is compared with it line by line: equal lines are skipped,
// the others are collected as removed and added, and what the two have in
// common is cancelled as a multiset (so lines that only moved count as
// neither). Only the removed and added lines are parsed; the sorted
// prefixes are updated by one merge. The result is what parse_feed gives
// for the whole download (tests/unit/test_feed_delta.cpp checks that on
// random feeds and edits), or nothing when the shortcut does not apply: a
// JSON feed, another format detected, a changed line that is bad or broader
// than the feed's limits (the full path then reports it exactly), or more
// than a tenth of the lines changed.
#pragma once

#include "feed_format.hpp"
#include "feed_memo.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace rg {

struct FeedDelta {
    FeedParseResult parsed;   // as parse_feed would give it, without error messages
    size_t lines_parsed = 0;  // the changed lines (removed and added) that were parsed
    PrefixSet changed;        // their prefixes, sorted: the memo's and these differ only inside them
};

// The most changed lines (removed and added) a delta from this memo parses:
// about a tenth of its lines. With more, a full parse is as cheap.
size_t delta_limit(const FeedMemo &memo);

// The next download from the memo, or nothing (see the top of this file).
// reuse: memory for the result's prefixes (a caller's buffer, lent).
std::optional<FeedDelta> feed_delta(const FeedMemo &memo, std::string_view body, FeedFormat given,
                                    uint8_t min_prefix4, uint8_t min_prefix6, const std::string &feed_name,
                                    PrefixSet reuse = {});

} // namespace rg
