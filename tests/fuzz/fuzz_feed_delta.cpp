// The incremental parse of a feed's next download (feeds/feed_delta)
// against the full parse (feeds/feed_format). Property: wherever the delta
// gives a result, it is what parse_feed gives for the whole download --
// the same format, counts and sorted prefixes (duplicates included) -- and
// the download has nothing the full path must report (bad lines, prefixes
// broader than the limits). And the collapse made around the changed
// prefixes (core/collapse_delta) from the memo's collapse is the collapse
// of the whole result, with the change between the two collapses.
#include "collapse_delta.hpp"
#include "feed_delta.hpp"
#include "feed_format.hpp"
#include "feed_memo.hpp"
#include "fuzz_check.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>

namespace {

bool has_broad(const rg::PrefixSet &s, uint8_t min4, uint8_t min6)
{
    for (const auto &p : s.v4)
        if (p.len < min4)
            return true;
    for (const auto &p : s.v6)
        if (p.len < min6)
            return true;
    return false;
}

// The prefixes of a that b does not have (both collapsed).
rg::PrefixSet only_in(const rg::PrefixSet &a, const rg::PrefixSet &b)
{
    rg::PrefixSet out;
    std::set_difference(a.v4.begin(), a.v4.end(), b.v4.begin(), b.v4.end(), std::back_inserter(out.v4),
                        rg::prefix_less<uint32_t>);
    std::set_difference(a.v6.begin(), a.v6.end(), b.v6.begin(), b.v6.end(), std::back_inserter(out.v6),
                        rg::prefix_less<rg::U128>);
    return out;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    rg_fuzz::quiet();
    return 0;
}

// Byte 0: the format given; byte 1: the limits (none, or the defaults 8
// and 19); then the version in force and the next download, separated by
// the first NUL byte (none: the next download is the same text).
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    auto given = rg::feed_format_names[data[0] % rg::feed_format_names.size()].first;
    uint8_t min4 = data[1] & 1 ? 8 : 0, min6 = data[1] & 1 ? 19 : 0;
    std::string_view rest = rg_fuzz::text_of(data + 2, size - 2);
    size_t nul = rest.find('\0');
    std::string before(rest.substr(0, nul));
    std::string_view after = nul == std::string_view::npos ? rest : rest.substr(nul + 1);

    // A memo is made as the sync makes one (FeedSync::keep_memo): of a
    // download with no bad line, no broad prefix, not JSON.
    rg::FeedParseResult held = rg::parse_feed(before, given, "fuzz");
    if (held.bad_lines != 0 || held.format == rg::FeedFormat::json || has_broad(held.prefixes, min4, min6))
        return 0;
    rg::FeedMemo memo = rg::make_feed_memo(before, std::move(held));

    std::optional<rg::FeedDelta> d = rg::feed_delta(memo, after, given, min4, min6, "fuzz");
    if (!d)
        return 0;  // declined: the full path runs
    rg::FeedParseResult want = rg::parse_feed(after, given, "fuzz");
    const rg::FeedParseResult &got = d->parsed;
    FUZZ_CHECK(want.bad_lines == 0, "the delta hid " + std::to_string(want.bad_lines) + " bad lines");
    FUZZ_CHECK(!has_broad(want.prefixes, min4, min6), "the delta hid a broad prefix");
    FUZZ_CHECK(got.bad_lines == 0, "bad lines");
    FUZZ_CHECK(got.format == want.format, "format");
    FUZZ_CHECK(got.good_lines == want.good_lines,
               "good lines " + std::to_string(got.good_lines) + " != " + std::to_string(want.good_lines));
    FUZZ_CHECK(got.comment_lines == want.comment_lines,
               "comment lines " + std::to_string(got.comment_lines) + " != " + std::to_string(want.comment_lines));
    FUZZ_CHECK(got.host_bits_cleared == want.host_bits_cleared, "host bits cleared");
    FUZZ_CHECK(got.prefixes == want.prefixes, "the prefixes differ from the full parse");

    rg::PrefixSet before_list = rg::collapse(memo.prefixes), after_list = rg::collapse(want.prefixes);
    rg::CollapseDelta cd;
    rg::collapse_delta(got.prefixes, before_list, d->changed, cd);
    FUZZ_CHECK(cd.list == after_list, "the collapse around the changed prefixes differs from the whole collapse");
    FUZZ_CHECK(cd.removed == only_in(before_list, after_list), "the prefixes the collapse lost");
    FUZZ_CHECK(cd.added == only_in(after_list, before_list), "the prefixes the collapse gained");
    return 0;
}
