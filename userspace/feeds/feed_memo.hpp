// A version of a feed that was in force (its memo: the last one, or for a
// saved memo possibly an earlier one), so that the next sync -- by the
// daemon or by a `feed sync` of its own -- parses only the lines that differ
// (feed_delta.hpp): the download, its entries parsed and sorted, the counts
// of its lines. A memo is made by the sync that applied the download; the
// daemon keeps it in memory, `feed sync` saves it in the state directory:
// feed-NAME.body is the download, feed-NAME.memo its entries and counts and
// the body's XXH3-128 hash; it is saved again only when a download has
// moved too far from it (FeedSync::keep_memo). A saved memo is used only
// if it checks out and its body has that hash; any other is ignored (the
// sync then parses in full). A memo decides nothing about what is
// enforced: the sync compares its result with the kernel's list of the
// feed, not with the memo, so any memo of the feed -- even an older one --
// gives the right result.
#pragma once

#include "feed_format.hpp"
#include "prefix_set.hpp"
#include "state_dir.hpp"

#include <memory>
#include <optional>
#include <string>

namespace rg {

struct FeedMemo {
    FeedFormat format = FeedFormat::plain;  // as parsed (line-based)
    size_t good_lines = 0, comment_lines = 0, host_bits_cleared = 0;
    std::string_view body;  // the download
    PrefixSpan prefixes;    // every prefix of it, sorted, duplicates kept
    // A daemon's memo: their collapse as the sync wrote it, and the lists
    // generation right after that write (0: not known, as in a saved memo).
    PrefixSpan list;
    uint64_t list_gen = 0;

    struct Owner;                  // what holds body and prefixes (feed_memo.cpp)
    std::shared_ptr<Owner> owner;  // empty: the caller holds them
};

// The memo of a download just applied, holding it, its parse and (from a
// daemon) the collapsed list written with the generation after the write.
FeedMemo make_feed_memo(std::string download, FeedParseResult parsed, PrefixSet list = {}, uint64_t list_gen = 0);
// Moves the memory of a memo made above, if nothing else holds it now, to
// `prefixes`, `body` and `list` (for the next download, its parse and list).
void give_back_memory(FeedMemo &&memo, PrefixSet &prefixes, std::string &body, PrefixSet &list);

std::optional<FeedMemo> load_feed_memo(const StateDir &state, const std::string &feed);
// Writes a memo made above as the feed's files (a memo loaded from the
// state directory is there already). Throws rg::Error.
void save_feed_memo(const StateDir &state, const std::string &feed, const FeedMemo &memo);
void remove_feed_memo(const StateDir &state, const std::string &feed);

} // namespace rg
