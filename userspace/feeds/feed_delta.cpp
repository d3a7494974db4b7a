#include "feed_delta.hpp"

#include "feed_check.hpp"
#include "prefix.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <vector>
#include <xxhash.h>

namespace rg {

namespace {

// How far ahead a mismatch looks for its line on the other side before it
// counts as a replacement; longer runs of inserted or deleted lines cost
// more changed lines, not a wrong result (the multiset cancel fixes them).
constexpr int lookahead = 8;

// The distance (1..lookahead) of the first line after the current one of
// `lines` equal to `want`, or 0.
int find_ahead(FeedLines lines, std::string_view want)
{
    std::string_view line;
    for (int d = 1; d <= lookahead && lines.next(line); d++)
        if (line == want)
            return d;
    return 0;
}

// The length of the common start of a and b.
size_t common_start(std::string_view a, std::string_view b)
{
    size_t n = std::min(a.size(), b.size()), i = 0;
    constexpr size_t block = 256;
    while (i + block <= n && std::memcmp(a.data() + i, b.data() + i, block) == 0)
        i += block;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        std::memcpy(&x, a.data() + i, 8);
        std::memcpy(&y, b.data() + i, 8);
        if (x != y)
            return i + size_t(__builtin_ctzll(x ^ y)) / 8;  // little-endian: the first byte is the lowest
    }
    while (i < n && a[i] == b[i])
        i++;
    return i;
}
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "common_start reads words little-endian");

// Drops from a and b (both at the start of a line) the whole lines they
// begin with in common: one comparison of bytes, not of line after line.
void skip_common_lines(std::string_view &a, std::string_view &b)
{
    size_t m = common_start(a, b);
    if (m == a.size() && m == b.size()) {
        a = b = {};
        return;
    }
    if (m == 0)
        return;  // and a.data() may be null, which memrchr must not get
    const void *nl = memrchr(a.data(), '\n', m);
    if (!nl)
        return;
    size_t cut = size_t(static_cast<const char *>(nl) - a.data()) + 1;
    a.remove_prefix(cut);
    b.remove_prefix(cut);
}

// The first line of `rest` (FeedLines' rule), taken off it.
bool take_line(std::string_view &rest, std::string_view &line)
{
    FeedLines l(rest);
    if (!l.next(line))
        return false;
    rest.remove_prefix(std::min(rest.size(), line.size() + 1));
    return true;
}

// `rest` with the line just taken off it (a view into the same text) put
// back in front.
std::string_view put_back(std::string_view rest, std::string_view line)
{
    return std::string_view(line.data(), size_t(rest.data() + rest.size() - line.data()));
}

// Removes from `a` and `b` what both hold (as multisets). Both are put in
// the order of their lines' hashes (XXH3, then the text: equal lines are
// next to each other) and cancelled in one walk: integer sorts, no
// allocation per line.
void cancel_common(std::vector<std::string_view> &a, std::vector<std::string_view> &b)
{
    using Keyed = std::pair<uint64_t, std::string_view>;
    auto keyed = [](const std::vector<std::string_view> &v) {
        std::vector<Keyed> out;
        out.reserve(v.size());
        for (std::string_view l : v)
            out.emplace_back(XXH3_64bits(l.data(), l.size()), l);
        std::sort(out.begin(), out.end());
        return out;
    };
    std::vector<Keyed> ka = keyed(a), kb = keyed(b);
    a.clear();
    b.clear();
    size_t i = 0, j = 0;
    while (i < ka.size() && j < kb.size()) {
        if (ka[i] == kb[j]) {
            i++, j++;
        } else if (ka[i] < kb[j]) {
            a.push_back(ka[i++].second);
        } else {
            b.push_back(kb[j++].second);
        }
    }
    for (; i < ka.size(); i++)
        a.push_back(ka[i].second);
    for (; j < kb.size(); j++)
        b.push_back(kb[j].second);
}

FeedParseResult parse_some(const std::vector<std::string_view> &lines, FeedFormat fmt, const std::string &name)
{
    std::string text;
    size_t size = 0;
    for (std::string_view l : lines)
        size += l.size() + 1;
    text.reserve(size);
    for (std::string_view l : lines) {
        text += l;
        text += '\n';
    }
    return parse_feed(text, fmt, name);
}

// `old` without one of each of `removed`, with `added` merged in; all three
// sorted. False if a removed prefix is not in `old` (the memo does not match).
template <class A>
bool update_sorted(std::span<const Prefix<A>> old, const std::vector<Prefix<A>> &removed,
                   const std::vector<Prefix<A>> &added, std::vector<Prefix<A>> &out)
{
    out.clear();
    out.reserve(old.size() - std::min(old.size(), removed.size()) + added.size());
    size_t r = 0, a = 0;
    for (const Prefix<A> &p : old) {
        while (a < added.size() && prefix_less(added[a], p))
            out.push_back(added[a++]);
        if (r < removed.size() && removed[r] == p) {
            r++;
            continue;
        }
        if (r < removed.size() && prefix_less(removed[r], p))
            return false;
        out.push_back(p);
    }
    out.insert(out.end(), added.begin() + long(a), added.end());
    return r == removed.size();
}

// a and b (each sorted) in one sorted vector.
template <class A>
void merge_into(const std::vector<Prefix<A>> &a, const std::vector<Prefix<A>> &b, std::vector<Prefix<A>> &out)
{
    out.reserve(a.size() + b.size());
    std::merge(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out), prefix_less<A>);
}

bool line_based(FeedFormat f) { return f != FeedFormat::json && f != FeedFormat::automatic; }

} // namespace

size_t delta_limit(const FeedMemo &memo)
{
    return (memo.good_lines + memo.comment_lines) / 10 + 64;  // blank lines are not counted
}

std::optional<FeedDelta> feed_delta(const FeedMemo &memo, std::string_view body, FeedFormat given,
                                    uint8_t min_prefix4, uint8_t min_prefix6, const std::string &feed_name,
                                    PrefixSet reuse)
{
    // A byte order mark is taken off the whole download only: not worth a
    // special case here.
    if (starts_with_bom(body) || starts_with_bom(memo.body))
        return std::nullopt;
    FeedFormat fmt = given == FeedFormat::automatic ? detect_feed_format(body) : given;
    if (!line_based(fmt) || fmt != memo.format)
        return std::nullopt;

    size_t limit = delta_limit(memo);
    std::vector<std::string_view> removed, added;
    std::string_view ra = memo.body, rb = body;  // from the current lines on
    std::string_view la, lb;
    for (;;) {
        skip_common_lines(ra, rb);
        bool ha = take_line(ra, la), hb = take_line(rb, lb);
        if (!ha || !hb) {
            if (ha)
                removed.push_back(la);
            if (hb)
                added.push_back(lb);
            for (FeedLines rest(ra); rest.next(la) && removed.size() <= limit;)
                removed.push_back(la);
            for (FeedLines rest(rb); rest.next(lb) && added.size() <= limit;)
                added.push_back(lb);
            break;
        }
        if (la == lb)
            continue;
        int del = find_ahead(FeedLines(ra), lb), ins = find_ahead(FeedLines(rb), la);
        if (del && (!ins || del <= ins)) {
            removed.push_back(la);  // old lines up to lb's match are gone
            rb = put_back(rb, lb);
        } else if (ins) {
            added.push_back(lb);  // new lines before la's match are new
            ra = put_back(ra, la);
        } else {
            removed.push_back(la);
            added.push_back(lb);
        }
        if (removed.size() + added.size() > limit)
            break;
    }
    if (removed.size() + added.size() > limit)
        return std::nullopt;
    cancel_common(removed, added);
    if (std::any_of(removed.begin(), removed.end(), starts_with_bom) ||
        std::any_of(added.begin(), added.end(), starts_with_bom))
        return std::nullopt;  // parse_some would take it off a first line

    FeedParseResult gone = parse_some(removed, fmt, feed_name), come = parse_some(added, fmt, feed_name);
    if (gone.bad_lines || come.bad_lines || any_broader(come.prefixes, min_prefix4, min_prefix6))
        return std::nullopt;
    FeedDelta d;
    d.parsed.prefixes = std::move(reuse);
    if (!update_sorted(memo.prefixes.v4, gone.prefixes.v4, come.prefixes.v4, d.parsed.prefixes.v4) ||
        !update_sorted(memo.prefixes.v6, gone.prefixes.v6, come.prefixes.v6, d.parsed.prefixes.v6))
        return std::nullopt;
    d.parsed.format = fmt;
    d.parsed.good_lines = memo.good_lines - gone.good_lines + come.good_lines;
    d.parsed.comment_lines = memo.comment_lines - gone.comment_lines + come.comment_lines;
    d.parsed.host_bits_cleared = memo.host_bits_cleared - gone.host_bits_cleared + come.host_bits_cleared;
    d.lines_parsed = removed.size() + added.size();
    merge_into(gone.prefixes.v4, come.prefixes.v4, d.changed.v4);
    merge_into(gone.prefixes.v6, come.prefixes.v6, d.changed.v6);
    return d;
}

} // namespace rg
