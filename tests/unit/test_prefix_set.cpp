// rg::PrefixSet (core/prefix_set.hpp): prefix order, sorting, collapsing
// and coverage; rg::collapse_delta (core/collapse_delta.hpp), the collapse
// of an edited set from the collapse before. The property tests compare
// against brute force, or a full collapse and diff, on small random inputs
// with fixed seeds.
#include "collapse_delta.hpp"
#include "prefix_set.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace {

using Strs = std::vector<std::string>;

rg::Cidr cidr(const std::string &text) { return rg::parse_cidr(text).cidr; }

rg::PrefixSet set(const Strs &texts)
{
    std::vector<rg::Cidr> c;
    for (const std::string &t : texts)
        c.push_back(cidr(t));
    return rg::to_prefix_set(c);
}

Strs strs(rg::PrefixSpan s)
{
    Strs out;
    for (const rg::Cidr &c : rg::to_cidrs(s))
        out.push_back(c.str());
    return out;
}

Strs collapsed(const Strs &texts) { return strs(rg::collapse(set(texts))); }

// Whether a prefix of the set contains the address (brute force).
template <class A> bool covered(const std::vector<rg::Prefix<A>> &v, A x)
{
    return std::any_of(v.begin(), v.end(), [&](const rg::Prefix<A> &p) { return rg::contains(p, {x, uint8_t(p.width)}); });
}

// Prefixes inside the first 512 addresses of 10.0.0.0, mostly in the first
// 256, now and then a broad one reaching beyond.
rg::Prefix4 random_prefix(std::mt19937 &rng)
{
    const uint32_t base = 0x0a000000;
    unsigned r = rng() % 100;
    if (r == 0)
        return {0, 0};
    if (r == 1)
        return {base, 16};
    if (r < 4)
        return {base, 23};
    unsigned len = 24 + rng() % 9;
    return {uint32_t(base + rng() % 256) & rg::prefix_mask<uint32_t>(len), uint8_t(len)};
}

} // namespace

TEST(PrefixOrder, CoveringFirstThenCoveredThenTheRest)
{
    EXPECT_EQ(strs(set({"192.0.3.0/24", "2001:db8::/32", "192.0.2.128/25", "192.0.2.0/24", "192.0.2.0/25",
                        "0.0.0.0/0", "::/0"})),
              (Strs{"0.0.0.0/0", "192.0.2.0/24", "192.0.2.0/25", "192.0.2.128/25", "192.0.3.0/24", "::/0",
                    "2001:db8::/32"}));
    EXPECT_FALSE(rg::prefix_less(rg::Prefix4{0xc0000200, 24}, rg::Prefix4{0xc0000200, 24}));
}

TEST(PrefixSetSort, RadixSortMatchesAComparisonSort)
{
    std::mt19937 rng(3);
    for (int iter = 0; iter < 50; iter++) {
        rg::PrefixSet s;
        for (int i = 0, n = int(rng() % 2000); i < n; i++) {
            unsigned len = rng() % 33;
            s.v4.push_back({uint32_t(rng()) & rg::prefix_mask<uint32_t>(len), uint8_t(len)});
        }
        std::vector<rg::Prefix4> want = s.v4;
        std::stable_sort(want.begin(), want.end(), rg::prefix_less<uint32_t>);
        rg::sort_prefixes(s);
        ASSERT_TRUE(s.v4 == want);
    }
}

TEST(Collapse, DuplicatesAndCoveredPrefixesGo)
{
    EXPECT_EQ(collapsed({"192.0.2.7", "192.0.2.0/24", "192.0.2.7/32", "192.0.2.128/26", "192.0.2.0/24",
                         "198.51.100.1", "198.51.100.1"}),
              (Strs{"192.0.2.0/24", "198.51.100.1/32"}));
    EXPECT_EQ(collapsed({"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3"}), (Strs{"10.0.0.0/8"}));
    EXPECT_EQ(collapsed({"10.1.2.3", "10.1.2.0/24", "10.1.0.0/16", "10.0.0.0/8"}), (Strs{"10.0.0.0/8"}));
    EXPECT_EQ(collapsed({}), Strs{});
}

TEST(Collapse, SiblingsMergeRepeatedly)
{
    EXPECT_EQ(collapsed({"192.0.2.0/25", "192.0.2.128/25"}), (Strs{"192.0.2.0/24"}));
    // Four quarters and then the other /24 of the /23: one /23.
    EXPECT_EQ(collapsed({"192.0.2.192/26", "192.0.2.0/26", "192.0.3.0/24", "192.0.2.128/26", "192.0.2.64/26"}),
              (Strs{"192.0.2.0/23"}));
    // 256 host addresses make their /24.
    Strs hosts;
    for (int i = 255; i >= 0; i--)
        hosts.push_back("198.51.100." + std::to_string(i));
    EXPECT_EQ(collapsed(hosts), (Strs{"198.51.100.0/24"}));
    EXPECT_EQ(collapsed({"0.0.0.0/1", "128.0.0.0/1"}), (Strs{"0.0.0.0/0"}));
    EXPECT_EQ(collapsed({"::/1", "8000::/1"}), (Strs{"::/0"}));
    EXPECT_EQ(collapsed({"2001:db8::/33", "2001:db8:8000::/33", "2001:db8::1"}), (Strs{"2001:db8::/32"}));
}

TEST(Collapse, NeighboursThatAreNotSiblingsStay)
{
    // Adjacent but not halves of one prefix: 192.0.2.128/25 + 192.0.3.0/25
    // would be a /24 starting at .2.128, which is not aligned.
    EXPECT_EQ(collapsed({"192.0.3.0/25", "192.0.2.128/25"}), (Strs{"192.0.2.128/25", "192.0.3.0/25"}));
    EXPECT_EQ(collapsed({"192.0.2.0/25", "192.0.2.128/26"}), (Strs{"192.0.2.0/25", "192.0.2.128/26"}));
    // Same bytes, different families.
    EXPECT_EQ(collapsed({"::/1", "128.0.0.0/1"}), (Strs{"128.0.0.0/1", "::/1"}));
}

TEST(Collapse, InPlaceGivesTheSame)
{
    rg::PrefixSet s = set({"192.0.2.0/25", "192.0.2.128/25", "198.51.100.7", "2001:db8::/33", "2001:db8:8000::/33"});
    rg::PrefixSet want = rg::collapse(s);
    rg::collapse_in_place(s);
    EXPECT_EQ(s, want);
    EXPECT_TRUE(rg::is_collapsed(s));
    EXPECT_FALSE(rg::is_collapsed(set({"192.0.2.0/25", "192.0.2.128/25"}))) << "siblings";
    EXPECT_FALSE(rg::is_collapsed(set({"192.0.2.0/24", "192.0.2.7"}))) << "covered";
}

TEST(Collapse, RandomSetsKeepTheirAddressesWithFewestPrefixes)
{
    std::mt19937 rng(7);
    for (int iter = 0; iter < 300; iter++) {
        rg::PrefixSet in;
        for (unsigned i = 0, n = rng() % 40; i < n; i++)
            in.v4.push_back(random_prefix(rng));
        rg::sort_prefixes(in);
        rg::PrefixSet out = rg::collapse(in);
        for (uint32_t x = 0x0a000000; x < 0x0a000200; x++)
            ASSERT_EQ(covered(in.v4, x), covered(out.v4, x)) << rg::to_cidr(rg::Prefix4{x, 32}).str();
        ASSERT_TRUE(rg::is_collapsed(out)) << testing::PrintToString(strs(out));
        ASSERT_EQ(rg::collapse(out), out);
    }
}

TEST(Coverage, CountsIpv4AddressesAndIpv6Slash64s)
{
    rg::Coverage c = rg::coverage(
        rg::collapse(set({"192.0.2.0/24", "198.51.100.7", "2001:db8::/48", "2001:db8:1::/64", "2001:db8:2::1"})));
    EXPECT_TRUE(c.v4 == 257);
    EXPECT_TRUE(c.v6 == 65536 + 1 + 1) << "a /48 is 65,536 /64s, a /128 counts as one";
    EXPECT_TRUE(c.total() == 257 + 65538);
    EXPECT_TRUE(rg::coverage(set({"0.0.0.0/0"})).v4 == rg::U128(1) << 32);
    EXPECT_TRUE(rg::coverage(set({"::/0"})).v6 == rg::U128(1) << 64);
}

namespace {

// before: the old set's prefixes; gone and come: the edit.
rg::CollapseDelta delta(const Strs &before, const Strs &gone, const Strs &come)
{
    rg::PrefixSet old = set(before), edit = set(gone), added = set(come);
    rg::PrefixSet next;
    for (const rg::Prefix4 &p : old.v4)
        if (std::find(edit.v4.begin(), edit.v4.end(), p) == edit.v4.end())
            next.v4.push_back(p);
    next.v4.insert(next.v4.end(), added.v4.begin(), added.v4.end());
    edit.v4.insert(edit.v4.end(), added.v4.begin(), added.v4.end());
    rg::sort_prefixes(next);
    rg::sort_prefixes(edit);
    rg::CollapseDelta out;
    rg::collapse_delta(next, rg::collapse(old), edit, out);
    EXPECT_EQ(out.list, rg::collapse(next));
    return out;
}

TEST(CollapseDelta, ARemovalSplitsTheBlockThatHeldIt)
{
    rg::CollapseDelta d = delta({"192.0.2.0/25", "192.0.2.128/25", "198.51.100.7"}, {"192.0.2.128/25"},
                                {"192.0.2.128/26"});
    EXPECT_EQ(strs(d.list), (Strs{"192.0.2.0/25", "192.0.2.128/26", "198.51.100.7/32"}));
    EXPECT_EQ(strs(d.removed), (Strs{"192.0.2.0/24"}));
    EXPECT_EQ(strs(d.added), (Strs{"192.0.2.0/25", "192.0.2.128/26"}));
}

TEST(CollapseDelta, AnAdditionMergesUpThroughItsNeighbours)
{
    rg::CollapseDelta d = delta({"192.0.2.0/25", "192.0.2.128/26", "192.0.2.192/27", "192.0.2.224/28",
                                 "192.0.2.240/29", "192.0.2.248/30", "192.0.2.252/31", "192.0.2.254"},
                                {}, {"192.0.2.255"});
    EXPECT_EQ(strs(d.list), (Strs{"192.0.2.0/24"}));
    EXPECT_EQ(d.removed.size(), 8u);
    EXPECT_EQ(strs(d.added), (Strs{"192.0.2.0/24"}));
}

TEST(CollapseDelta, ChangesInsideACoveringPrefixChangeNothing)
{
    rg::CollapseDelta d = delta({"192.0.2.0/24", "192.0.2.7", "198.51.100.0/24"}, {"192.0.2.7"},
                                {"192.0.2.9", "192.0.2.128/25"});
    EXPECT_EQ(strs(d.list), (Strs{"192.0.2.0/24", "198.51.100.0/24"}));
    EXPECT_TRUE(d.removed.empty() && d.added.empty());
}

TEST(CollapseDelta, ABroadPrefixComingOrGoingTakesWhatItCovers)
{
    rg::CollapseDelta d = delta({"192.0.2.7", "192.0.2.9", "198.51.100.1"}, {}, {"192.0.0.0/16"});
    EXPECT_EQ(strs(d.list), (Strs{"192.0.0.0/16", "198.51.100.1/32"}));
    EXPECT_EQ(strs(d.removed), (Strs{"192.0.2.7/32", "192.0.2.9/32"}));
    EXPECT_EQ(strs(d.added), (Strs{"192.0.0.0/16"}));
    d = delta({"192.0.0.0/16", "192.0.2.7", "192.0.2.9"}, {"192.0.0.0/16"}, {});
    EXPECT_EQ(strs(d.list), (Strs{"192.0.2.7/32", "192.0.2.9/32"}));
    EXPECT_EQ(strs(d.removed), (Strs{"192.0.0.0/16"}));
}

// Prefixes within 512 addresses of a base (IPv4 or IPv6), mostly long ones,
// now and then one covering them all or the whole space.
template <class A> rg::Prefix<A> random_near(std::mt19937 &rng, A base)
{
    constexpr unsigned w = rg::Prefix<A>::width;
    unsigned r = rng() % 100;
    if (r == 0)
        return {0, 0};
    if (r == 1)
        return {base, uint8_t(w - 16)};
    if (r < 4)
        return {base, uint8_t(w - 9)};
    unsigned len = w - 8 + rng() % 9;
    return {A(base + rng() % 512) & rg::prefix_mask<A>(len), uint8_t(len)};
}

template <class A> void random_edit(std::mt19937 &rng, A base, std::vector<rg::Prefix<A>> &before,
                                    std::vector<rg::Prefix<A>> &next, std::vector<rg::Prefix<A>> &changed)
{
    for (unsigned i = 0, n = rng() % 80; i < n; i++)
        before.push_back(random_near(rng, base));
    next = before;
    for (unsigned i = 0, n = rng() % 6; i < n && !next.empty(); i++) {
        size_t k = rng() % next.size();
        changed.push_back(next[k]);
        next.erase(next.begin() + long(k));
    }
    for (unsigned i = 0, n = rng() % 6; i < n; i++) {
        next.push_back(random_near(rng, base));
        changed.push_back(next.back());
    }
}

TEST(CollapseDelta, RandomEditsGiveTheFullCollapseAndItsDiff)
{
    std::mt19937 rng(11);
    rg::CollapseDelta out;  // reused, as a daemon does
    for (int iter = 0; iter < 3000; iter++) {
        rg::PrefixSet before, next, changed;
        random_edit<uint32_t>(rng, 0xc6336400, before.v4, next.v4, changed.v4);             // 198.51.100.0
        random_edit<rg::U128>(rng, rg::U128(0x20010db8) << 96, before.v6, next.v6, changed.v6);  // 2001:db8::
        rg::sort_prefixes(before);
        rg::sort_prefixes(next);
        rg::sort_prefixes(changed);
        rg::PrefixSet old = rg::collapse(before), want = rg::collapse(next);
        rg::collapse_delta(next, old, changed, out);
        ASSERT_EQ(out.list, want) << "iteration " << iter << ": " << testing::PrintToString(strs(before)) << " -> "
                                  << testing::PrintToString(strs(next));
        rg::PrefixSet removed, added;
        auto diff = [](const auto &a, const auto &b, auto &to) {
            std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(to),
                                [](const auto &x, const auto &y) { return rg::prefix_less(x, y); });
        };
        diff(old.v4, want.v4, removed.v4);
        diff(old.v6, want.v6, removed.v6);
        diff(want.v4, old.v4, added.v4);
        diff(want.v6, old.v6, added.v6);
        ASSERT_EQ(out.removed, removed) << "iteration " << iter;
        ASSERT_EQ(out.added, added) << "iteration " << iter;
    }
}

} // namespace
