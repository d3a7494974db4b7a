#include "feed_check.hpp"

#include <algorithm>

namespace rg {

namespace {

// The counts: false (and c's result set) when the download is empty or
// unparseable.
bool check_counts(const FeedParseResult &parsed, FeedCheck &c)
{
    if (parsed.good_lines == 0 && parsed.bad_lines == 0) {
        c.result = RG_FEED_EMPTY;
        c.message = "empty download (no entries): not applied";
        return false;
    }
    if (parsed.good_lines == 0 || parsed.bad_lines > parsed.good_lines) {
        c.result = RG_FEED_UNPARSEABLE;
        c.message = std::to_string(parsed.bad_lines) + " bad lines and " + std::to_string(parsed.good_lines) +
                    " good ones as " + std::string(feed_format_name(parsed.format)) + ": not applied";
        return false;
    }
    return true;
}

template <class A>
void drop_broad(std::vector<Prefix<A>> &v, uint8_t min_len, FeedCheck &c)
{
    std::erase_if(v, [&](const Prefix<A> &p) {
        if (p.len >= min_len)
            return false;
        if (c.refused_broad++ < 5)
            c.broad_examples.push_back(to_cidr(p).str());
        return true;
    });
}

std::string text(U128 v)
{
    if (v == 0)
        return "0";
    std::string s;
    for (; v; v /= 10)
        s.insert(s.begin(), char('0' + int(v % 10)));
    return s;
}

// Whether `now` is below (100 - max_shrink)% of `before`; why in `what`.
bool shrunk(U128 now, U128 before, unsigned max_shrink, const std::string &unit, std::string &why)
{
    if (before == 0 || (long double)now * 100 >= (long double)before * (100 - max_shrink))
        return false;
    long double lost = ((long double)before - (long double)now) * 100 / (long double)before;
    why = text(now) + " " + unit + " instead of " + text(before) + " in force (" + std::to_string(int(lost)) +
          "% fewer, max-shrink is " + std::to_string(max_shrink) + "%)";
    return true;
}

template <class A>
void count_overlaps(std::span<const Prefix<A>> feed, std::span<const Prefix<A>> allow, size_t &n, std::string *example)
{
    for (const Prefix<A> &a : allow) {
        auto note = [&](const Prefix<A> &f) {
            if (example && example->empty())
                *example = to_cidr(f).str() + " overlaps allowlisted " + to_cidr(a).str();
            n++;
        };
        // At most one feed prefix contains a (the last one starting before
        // it); the ones inside it follow that.
        auto it = std::lower_bound(feed.begin(), feed.end(), a, prefix_less<A>);
        if (it != feed.begin() && contains(*std::prev(it), a))
            note(*std::prev(it));
        for (; it != feed.end() && contains(a, *it); ++it)
            note(*it);
    }
}

// The rest of a check, on c.list (collapsed) and c.refused_broad.
void judge(const FeedParseResult &parsed, const FeedDef &def, const InForce &in_force, FeedCheck &c)
{
    c.measure = {parsed.good_lines, coverage(c.list)};
    std::string broad;
    if (c.refused_broad)
        broad = "; refused " + std::to_string(c.refused_broad) + " prefixes broader than /" +
                std::to_string(def.min_prefix4) + " (IPv4) or /" + std::to_string(def.min_prefix6) + " (IPv6), e.g. " +
                c.broad_examples.front();
    if (c.list.empty()) {
        c.result = RG_FEED_EMPTY;
        c.message = "no prefix left to apply" + broad + ": not applied";
        return;
    }
    std::string why;
    if (def.max_shrink < 100 &&
        (shrunk(c.measure.entries, in_force.entries, def.max_shrink, "entries", why) ||
         shrunk(c.measure.cover.total(), in_force.cover.total(), def.max_shrink,
                "addresses covered (IPv4 addresses and IPv6 /64s)", why))) {
        c.result = RG_FEED_SHRUNK;
        c.message = why + broad + ": not applied";
        return;
    }
    c.message = broad.empty() ? std::string() : broad.substr(2);
}

} // namespace

InForce in_force_of(const struct rg_feed &raw)
{
    return {raw.entries, {U128(raw.cover4), U128(raw.cover6)}};
}

void set_in_force(struct rg_feed &raw, const InForce &v)
{
    raw.entries = v.entries;
    raw.cover4 = uint64_t(v.cover.v4);
    raw.cover6 = uint64_t(std::min<U128>(v.cover.v6, ~uint64_t(0)));
}

FeedCheck check_feed(FeedParseResult &parsed, const FeedDef &def, const InForce &in_force, PrefixSet reuse)
{
    FeedCheck c;
    c.list = std::move(reuse);
    c.list.clear();
    if (!check_counts(parsed, c))
        return c;
    drop_broad(parsed.prefixes.v4, def.min_prefix4, c);
    drop_broad(parsed.prefixes.v6, def.min_prefix6, c);
    collapse_into(parsed.prefixes, c.list);
    judge(parsed, def, in_force, c);
    return c;
}

FeedCheck check_collapsed(const FeedParseResult &parsed, const FeedDef &def, const InForce &in_force, PrefixSet list)
{
    FeedCheck c;
    c.list = std::move(list);
    if (!check_counts(parsed, c))
        c.list.clear();
    else
        judge(parsed, def, in_force, c);
    return c;
}

bool any_broader(PrefixSpan s, uint8_t min_prefix4, uint8_t min_prefix6)
{
    return std::any_of(s.v4.begin(), s.v4.end(), [&](const Prefix4 &p) { return p.len < min_prefix4; }) ||
           std::any_of(s.v6.begin(), s.v6.end(), [&](const Prefix6 &p) { return p.len < min_prefix6; });
}

size_t count_allow_overlaps(PrefixSpan feed, PrefixSpan allow, std::string *example)
{
    size_t n = 0;
    count_overlaps(feed.v4, allow.v4, n, example);
    count_overlaps(feed.v6, allow.v6, n, example);
    return n;
}

} // namespace rg
