// Sets of prefixes: the one in-memory form of a list, whoever wrote it (a
// feed, `block add`, the config file), and of what a list adds or removes.
//
// A PrefixSet holds each family in prefix order (prefix.hpp). It may hold a
// prefix twice, or prefixes covering others, as a download lists them;
// collapse() makes it the fewest prefixes that cover the same addresses,
// which is what the kernel is given. A PrefixSpan is a read-only view of
// one, also of one mapped from a state file.
#pragma once

#include "prefix.hpp"

#include <algorithm>
#include <span>
#include <utility>
#include <vector>

namespace rg {

struct PrefixSet {
    std::vector<Prefix4> v4;
    std::vector<Prefix6> v6;
    size_t size() const { return v4.size() + v6.size(); }
    bool empty() const { return v4.empty() && v6.empty(); }
    void clear() { v4.clear(), v6.clear(); }
    bool operator==(const PrefixSet &o) const { return v4 == o.v4 && v6 == o.v6; }
};

struct PrefixSpan {
    std::span<const Prefix4> v4;
    std::span<const Prefix6> v6;
    PrefixSpan() = default;
    PrefixSpan(std::span<const Prefix4> a, std::span<const Prefix6> b) : v4(a), v6(b) {}
    PrefixSpan(const PrefixSet &s) : v4(s.v4), v6(s.v6) {}
    size_t size() const { return v4.size() + v6.size(); }
    bool empty() const { return v4.empty() && v6.empty(); }
};

// Sorts items into the prefix order of key(item), a Prefix4, stably: an LSD
// radix sort by length, then the address's low and high 16 bits (a pass
// whose digit is the same for all is skipped).
template <class T, class Key> void radix_sort4(std::vector<T> &v, Key key)
{
    if (v.size() < 2)
        return;
    std::vector<T> tmp(v.size());
    std::vector<uint32_t> count(1u << 16);
    auto pass = [&](auto digit, uint32_t buckets) {
        std::fill_n(count.begin(), buckets, 0);
        for (const T &e : v)
            count[digit(key(e))]++;
        if (count[digit(key(v[0]))] == v.size())
            return;
        uint32_t sum = 0;
        for (uint32_t b = 0; b < buckets; b++)
            sum += std::exchange(count[b], sum);
        for (const T &e : v)
            tmp[count[digit(key(e))]++] = e;
        v.swap(tmp);
    };
    pass([](const Prefix4 &p) { return uint32_t(p.len); }, 256);
    pass([](const Prefix4 &p) { return p.addr & 0xffff; }, 1u << 16);
    pass([](const Prefix4 &p) { return p.addr >> 16; }, 1u << 16);
}

// Sorts both families into prefix order.
void sort_prefixes(PrefixSet &set);
// The prefixes of `cidrs`, sorted; duplicates kept.
PrefixSet to_prefix_set(const std::vector<Cidr> &cidrs);
std::vector<Cidr> to_cidrs(PrefixSpan set);

// The fewest prefixes covering exactly the addresses of a sorted set:
// duplicates and covered prefixes dropped, sibling halves merged (repeatedly)
// into their parent. The result is disjoint and sorted. One pass.
PrefixSet collapse(PrefixSpan sorted);
// The same into `out` (emptied first; its memory is reused).
void collapse_into(PrefixSpan sorted, PrefixSet &out);
void collapse_in_place(PrefixSet &sorted);
// One family of collapse_into.
template <class A> void collapse_family(std::span<const Prefix<A>> sorted, std::vector<Prefix<A>> &out);
bool is_collapsed(PrefixSpan set);

// What a collapsed set covers: IPv4 addresses, and IPv6 /64 networks (the
// usual unit of one IPv6 host or site; a longer prefix counts as one).
struct Coverage {
    U128 v4 = 0, v6 = 0;
    U128 total() const { return v4 + v6; }
    bool operator==(const Coverage &) const = default;
};
Coverage coverage(PrefixSpan collapsed);

} // namespace rg
