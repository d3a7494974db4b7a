// Whether a parsed download may replace a feed's version in force, and what
// it becomes. Refused (applicable() false), with the reason:
//   RG_FEED_EMPTY        no entries, or none left after the broad-prefix rule;
//   RG_FEED_UNPARSEABLE  no valid entry, or more bad lines than good ones
//                        (an HTML error page, the wrong format);
//   RG_FEED_SHRUNK       the shrink guard: it lists fewer than
//                        (100 - max_shrink)% of the entries in force, or
//                        covers fewer than that share of the addresses in
//                        force (IPv4 addresses and IPv6 /64s, prefix_set.hpp),
//                        so a truncated download is refused whether its
//                        entries are single addresses or merge into few
//                        prefixes.
// Prefixes broader than min_prefix4/min_prefix6 are refused one by one (the
// rest applies) and reported in broad_examples.
#pragma once

#include "feed_format.hpp"
#include "feed_registry.hpp"
#include "prefix_set.hpp"

#include <string>
#include <vector>

namespace rg {

// The version in force, as the shrink guard measures it.
struct InForce {
    uint64_t entries = 0;
    Coverage cover;
};
InForce in_force_of(const struct rg_feed &raw);
void set_in_force(struct rg_feed &raw, const InForce &v);

struct FeedCheck {
    uint32_t result = RG_FEED_APPLIED;
    std::string message;
    PrefixSet list;  // collapsed, broad ones removed
    InForce measure; // of this download
    size_t refused_broad = 0;
    std::vector<std::string> broad_examples;  // the first few
    bool applicable() const { return result == RG_FEED_APPLIED; }
};

// Removes the broad prefixes from parsed.prefixes. reuse: memory for the
// result's list (a caller's buffer, lent).
FeedCheck check_feed(FeedParseResult &parsed, const FeedDef &def, const InForce &in_force, PrefixSet reuse = {});
// The same for a list the caller collapsed from parsed.prefixes, which hold
// no prefix broader than the limits (collapse_delta.hpp).
FeedCheck check_collapsed(const FeedParseResult &parsed, const FeedDef &def, const InForce &in_force, PrefixSet list);
// Whether a prefix is broader than the limits.
bool any_broader(PrefixSpan s, uint8_t min_prefix4, uint8_t min_prefix6);

// Prefixes of a collapsed feed list that overlap a prefix of `allow` (also
// collapsed; either containing the other). The allowlist wins in the data
// path, so these are reported, not refused. example: the first one found.
size_t count_allow_overlaps(PrefixSpan feed, PrefixSpan allow, std::string *example);

} // namespace rg
