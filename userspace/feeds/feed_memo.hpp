// A feed's version in force, kept in the state directory so that the next
// sync -- by the daemon or by a `feed sync` of its own -- parses only the
// lines that differ (feed_delta.hpp): feed-NAME.body is the download as
// fetched (the spool of the sync that applied it, renamed), feed-NAME.memo
// its entries parsed and sorted, the counts of its lines, and the body's
// XXH3-128 hash. A memo is used only if it checks out and its body has that
// hash; any other memo is ignored (the sync then parses in full). It
// decides nothing about what is enforced: the sync compares its result
// with the kernel's list of the feed, not with the memo.
#pragma once

#include "feed_fetch.hpp"
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
    std::string_view body;  // the download (mapped)
    PrefixSpan prefixes;    // every prefix of it, sorted, duplicates kept (mapped)

    struct Files;
    std::shared_ptr<Files> files;  // what keeps body and prefixes mapped
};

std::optional<FeedMemo> load_feed_memo(const StateDir &state, const std::string &feed);
// Keeps `download` as the feed's body and writes the memo for it.
void save_feed_memo(const StateDir &state, const std::string &feed, Download &download,
                    const FeedParseResult &parsed);
void remove_feed_memo(const StateDir &state, const std::string &feed);

} // namespace rg
