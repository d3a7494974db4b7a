// The safety checks between a parsed download and the kernel
// (feeds/feed_check). Properties: a download that passes has a collapsed,
// non-empty list covering every prefix of the download within the limits
// (the limits are on the entries); it has more good lines than
// bad; and it keeps at least (100 - max_shrink)% of the entries and of the
// addresses in force. A refused one says why.
#include "feed_check.hpp"
#include "feed_format.hpp"
#include "fuzz_check.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace {

// Whether a prefix of the collapsed, sorted v contains p.
template <class A> bool covered(const std::vector<rg::Prefix<A>> &v, const rg::Prefix<A> &p)
{
    auto it = std::upper_bound(v.begin(), v.end(), p, rg::prefix_less<A>);
    return it != v.begin() && rg::contains(*std::prev(it), p);
}

template <class A>
void check_list(const std::vector<rg::Prefix<A>> &parsed, const std::vector<rg::Prefix<A>> &list, uint8_t min)
{
    // The list itself may hold a prefix broader than min: collapsing merges
    // two halves within the limit (2001::/19 and 2001:2000::/19 give
    // 2001::/18), the same addresses. The limit is on the feed's entries.
    for (const auto &p : parsed)
        if (p.len >= min)
            FUZZ_CHECK(covered(list, p), "a prefix of the download is missing: " + rg::to_cidr(p).str());
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    rg_fuzz::quiet();
    return 0;
}

// Bytes 0-7: the format, the limits (min_prefix4 0..32, min_prefix6
// 0..128, max_shrink 0..100) and the version in force (entries and
// coverage); then the download.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    rg::FeedDef def;
    def.name = "fuzz";
    auto fmt = rg::feed_format_names[data[0] % rg::feed_format_names.size()].first;
    def.min_prefix4 = uint8_t(data[1] % 33);
    def.min_prefix6 = uint8_t(data[2] % 129);
    def.max_shrink = data[3] % 101;
    rg::InForce in_force;
    in_force.entries = uint64_t(data[4]) << (data[5] % 24);
    in_force.cover.v4 = rg::U128(data[6]) << (data[7] % 33);
    in_force.cover.v6 = rg::U128(data[7]) << (data[6] % 65);
    std::string_view text = rg_fuzz::text_of(data + 8, size - 8);

    rg::FeedParseResult parsed = rg::parse_feed(text, fmt, "fuzz");
    rg::PrefixSet original = parsed.prefixes;
    rg::FeedCheck c = rg::check_feed(parsed, def, in_force);
    if (!c.applicable()) {
        FUZZ_CHECK(!c.message.empty(), "refused without a reason");
        return 0;
    }
    FUZZ_CHECK(parsed.good_lines > 0 && parsed.bad_lines <= parsed.good_lines, "an unparseable download passed");
    FUZZ_CHECK(!c.list.empty(), "an empty list passed");
    FUZZ_CHECK(rg::is_collapsed(c.list), "the list is not collapsed");
    FUZZ_CHECK(c.measure.cover == rg::coverage(c.list), "the coverage measured is not the list's");
    check_list(original.v4, c.list.v4, def.min_prefix4);
    check_list(original.v6, c.list.v6, def.min_prefix6);
    if (def.max_shrink < 100) {
        unsigned keep = 100 - def.max_shrink;
        FUZZ_CHECK((long double)c.measure.entries * 100 >= (long double)in_force.entries * keep,
                   "the entries shrank beyond max_shrink");
        FUZZ_CHECK((long double)c.measure.cover.total() * 100 >= (long double)in_force.cover.total() * keep,
                   "the coverage shrank beyond max_shrink");
    }
    return 0;
}
