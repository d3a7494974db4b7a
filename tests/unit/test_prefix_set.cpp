// rg::normalise_prefixes, rg::compile_view and rg::diff_views: prefix set
// arithmetic, the attribution of every address to the sources that list it,
// and syncs that never open an enforcement gap. The property tests compare
// against brute force on small random inputs with fixed seeds.
#include "prefix_set.hpp"
#include "cidr_bits.hpp"
#include "error.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using Strs = std::vector<std::string>;

rg::Cidr cidr(const std::string &text) { return rg::parse_cidr(text).cidr; }

std::vector<rg::Cidr> cidrs(const Strs &texts)
{
    std::vector<rg::Cidr> out;
    for (const std::string &t : texts)
        out.push_back(cidr(t));
    return out;
}

Strs strs(const std::vector<rg::Cidr> &v)
{
    Strs out;
    for (const rg::Cidr &c : v)
        out.push_back(c.str());
    return out;
}

Strs normalised(const Strs &texts) { return strs(rg::normalise_prefixes(cidrs(texts))); }

// "prefix=sources" per entry, sources in hex, for compact expectations.
Strs entries(const rg::View &v)
{
    Strs out;
    for (const rg::ViewEntry &e : v) {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "=%llx", static_cast<unsigned long long>(e.sources));
        out.push_back(e.prefix.str() + buf);
    }
    return out;
}

constexpr uint64_t A = 1u << 1, B = 1u << 2;

// ---- brute force ---------------------------------------------------------------

rg::Cidr host(uint8_t family, rg::bits::U128 value) { return rg::bits::make(family, value, family == 4 ? 32 : 128); }

// The sources listing some prefix that contains x: the answer the view must give.
uint64_t listed_sources(const std::vector<rg::SourcePrefixes> &sources, const rg::Cidr &x)
{
    uint64_t s = 0;
    for (const rg::SourcePrefixes &src : sources)
        for (const rg::Cidr &c : src.prefixes)
            if (rg::bits::contains(c, x))
                s |= uint64_t(1) << src.source;
    return s;
}

// What an LPM trie holding the view answers for x: the longest entry containing it.
uint64_t lpm(const rg::View &view, const rg::Cidr &x)
{
    const rg::ViewEntry *best = nullptr;
    for (const rg::ViewEntry &e : view)
        if (rg::bits::contains(e.prefix, x) && (!best || e.prefix.len > best->prefix.len))
            best = &e;
    return best ? best->sources : 0;
}

bool covered(const std::vector<rg::Cidr> &set, const rg::Cidr &x)
{
    return std::any_of(set.begin(), set.end(), [&](const rg::Cidr &c) { return rg::bits::contains(c, x); });
}

// A small address space to draw from and check exhaustively: 512 addresses
// at the start of base (10.0.0.0 or 2001:db8::), prefixes mostly inside the
// first 256, now and then a broad one reaching beyond.
struct Universe {
    uint8_t family;
    rg::bits::U128 base;
    unsigned width() const { return family == 4 ? 32 : 128; }
    rg::Cidr addr(unsigned i) const { return host(family, base + (rg::bits::U128(i) << (128 - width()))); }

    rg::Cidr random_prefix(std::mt19937 &rng) const
    {
        unsigned w = width();
        unsigned r = rng() % 100;
        if (r == 0)
            return rg::bits::make(family, base, 0);
        if (r == 1)
            return rg::bits::make(family, base, w - 16);
        if (r < 4)
            return rg::bits::make(family, base, w - 9);
        unsigned len = w - 8 + rng() % 9;
        return rg::bits::make(family, base + (rg::bits::U128(rng() % 256) << (128 - w)), len);
    }
};

const Universe v4_universe{4, rg::bits::from_bytes(cidr("10.0.0.0").addr)};
const Universe v6_universe{6, rg::bits::from_bytes(cidr("2001:db8::").addr)};

std::vector<rg::SourcePrefixes> random_sources(std::mt19937 &rng, const Universe &u, unsigned max_sources = 5,
                                               unsigned max_prefixes = 12)
{
    std::vector<rg::SourcePrefixes> sources;
    unsigned n = 1 + rng() % max_sources;
    for (unsigned s = 0; s < n; s++) {
        rg::SourcePrefixes src;
        src.source = rng() % 8;  // repeats allowed: a source given twice counts once
        unsigned k = rng() % (max_prefixes + 1);
        for (unsigned i = 0; i < k; i++)
            src.prefixes.push_back(u.random_prefix(rng));
        sources.push_back(std::move(src));
    }
    return sources;
}

// A BPF LPM trie, simulated for IPv4: one hash table per prefix length.
class LpmTable {
public:
    explicit LpmTable(const rg::View &v)
    {
        for (const rg::ViewEntry &e : v)
            set(e.prefix, e.sources);
    }
    void set(const rg::Cidr &c, uint64_t sources) { by_len_[c.len][key(c)] = sources; }
    void erase(const rg::Cidr &c) { by_len_[c.len].erase(key(c)); }
    uint64_t lookup(const rg::Cidr &x) const
    {
        uint32_t a = key(x);
        for (int len = 32; len >= 0; len--) {
            const auto &t = by_len_[size_t(len)];
            if (t.empty())
                continue;
            auto it = t.find(len == 0 ? 0 : a & (~uint32_t(0) << (32 - len)));
            if (it != t.end())
                return it->second;
        }
        return 0;
    }
    size_t size() const
    {
        size_t n = 0;
        for (const auto &t : by_len_)
            n += t.size();
        return n;
    }

private:
    static uint32_t key(const rg::Cidr &c)
    {
        return uint32_t(c.addr[0]) << 24 | uint32_t(c.addr[1]) << 16 | uint32_t(c.addr[2]) << 8 | c.addr[3];
    }
    std::array<std::unordered_map<uint32_t, uint64_t>, 33> by_len_;
};

} // namespace

// ---- order ------------------------------------------------------------------------

TEST(PrefixOrder, CoveringFirstThenCoveredThenTheRest)
{
    std::vector<rg::Cidr> v = cidrs({"192.0.3.0/24", "2001:db8::/32", "192.0.2.128/25", "192.0.2.0/24",
                                     "192.0.2.0/25", "0.0.0.0/0", "::/0"});
    std::sort(v.begin(), v.end(), rg::prefix_less);
    EXPECT_EQ(strs(v), (Strs{"0.0.0.0/0", "192.0.2.0/24", "192.0.2.0/25", "192.0.2.128/25", "192.0.3.0/24",
                             "::/0", "2001:db8::/32"}));
    EXPECT_FALSE(rg::prefix_less(cidr("192.0.2.0/24"), cidr("192.0.2.0/24")));
}

// ---- normalise ----------------------------------------------------------------------

TEST(Normalise, DuplicatesAndCoveredPrefixesGo)
{
    EXPECT_EQ(normalised({"192.0.2.7", "192.0.2.0/24", "192.0.2.7/32", "192.0.2.128/26", "192.0.2.0/24",
                          "198.51.100.1", "198.51.100.1"}),
              (Strs{"192.0.2.0/24", "198.51.100.1/32"}));
    EXPECT_EQ(normalised({"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3"}), (Strs{"10.0.0.0/8"}));
    EXPECT_EQ(normalised({"10.1.2.3", "10.1.2.0/24", "10.1.0.0/16", "10.0.0.0/8"}), (Strs{"10.0.0.0/8"}));
    EXPECT_EQ(normalised({}), Strs{});
}

TEST(Normalise, SiblingsMergeRepeatedly)
{
    EXPECT_EQ(normalised({"192.0.2.0/25", "192.0.2.128/25"}), (Strs{"192.0.2.0/24"}));
    // Four quarters and then the other /24 of the /23: one /23.
    EXPECT_EQ(normalised({"192.0.2.192/26", "192.0.2.0/26", "192.0.3.0/24", "192.0.2.128/26", "192.0.2.64/26"}),
              (Strs{"192.0.2.0/23"}));
    // 256 host addresses make their /24.
    Strs hosts;
    for (int i = 255; i >= 0; i--)
        hosts.push_back("198.51.100." + std::to_string(i));
    EXPECT_EQ(normalised(hosts), (Strs{"198.51.100.0/24"}));
    EXPECT_EQ(normalised({"0.0.0.0/1", "128.0.0.0/1"}), (Strs{"0.0.0.0/0"}));
    EXPECT_EQ(normalised({"::/1", "8000::/1"}), (Strs{"::/0"}));
    EXPECT_EQ(normalised({"2001:db8::/33", "2001:db8:8000::/33", "2001:db8::1"}), (Strs{"2001:db8::/32"}));
}

TEST(Normalise, NeighboursThatAreNotSiblingsStay)
{
    // Adjacent but not halves of one prefix: 192.0.2.128/25 + 192.0.3.0/25
    // would be a /24 starting at .2.128, which is not aligned.
    EXPECT_EQ(normalised({"192.0.3.0/25", "192.0.2.128/25"}), (Strs{"192.0.2.128/25", "192.0.3.0/25"}));
    EXPECT_EQ(normalised({"192.0.2.0/25", "192.0.2.128/26"}), (Strs{"192.0.2.0/25", "192.0.2.128/26"}));
    // Same bytes, different families.
    EXPECT_EQ(normalised({"::/1", "128.0.0.0/1"}), (Strs{"128.0.0.0/1", "::/1"}));
}

TEST(Normalise, MixedFamiliesSorted)
{
    EXPECT_EQ(normalised({"2001:db8::1", "198.51.100.0/24", "2001:db8::/48", "192.0.2.1"}),
              (Strs{"192.0.2.1/32", "198.51.100.0/24", "2001:db8::/48"}));
}

TEST(Normalise, RandomSetsKeepTheirAddressesWithFewestPrefixes)
{
    std::mt19937 rng(7);
    for (int iter = 0; iter < 300; iter++) {
        const Universe &u = iter % 2 ? v6_universe : v4_universe;
        std::vector<rg::Cidr> in;
        for (unsigned i = 0, n = rng() % 40; i < n; i++)
            in.push_back(u.random_prefix(rng));
        std::vector<rg::Cidr> out = rg::normalise_prefixes(in);
        for (unsigned i = 0; i < 512; i++)
            ASSERT_EQ(covered(in, u.addr(i)), covered(out, u.addr(i))) << u.addr(i).str();
        for (size_t i = 0; i + 1 < out.size(); i++) {
            ASSERT_TRUE(rg::prefix_less(out[i], out[i + 1]));
            ASSERT_FALSE(rg::bits::contains(out[i], out[i + 1])) << out[i].str() << " covers " << out[i + 1].str();
            bool siblings = out[i].len == out[i + 1].len && out[i].len > 0 &&
                            rg::bits::make(u.family, rg::bits::from_bytes(out[i].addr), out[i].len - 1u) ==
                                rg::bits::make(u.family, rg::bits::from_bytes(out[i + 1].addr), out[i].len - 1u);
            ASSERT_FALSE(siblings) << out[i].str() << " and " << out[i + 1].str() << " were not merged";
        }
        ASSERT_EQ(rg::normalise_prefixes(out), out);
    }
}

// ---- compile_view ----------------------------------------------------------------------

TEST(CompileView, NestedFeedsCarryBothBits)
{
    rg::View v = rg::compile_view({{1, cidrs({"192.0.2.0/24"})}, {2, cidrs({"192.0.2.128/25"})}});
    EXPECT_EQ(entries(v), (Strs{"192.0.2.0/24=2", "192.0.2.128/25=6"}));
    // Listed in the other order, same view.
    EXPECT_EQ(rg::compile_view({{2, cidrs({"192.0.2.128/25"})}, {1, cidrs({"192.0.2.0/24"})}}), v);
}

TEST(CompileView, RedundantEntriesAreDropped)
{
    // A /25 inside a /24 of the same source adds nothing.
    EXPECT_EQ(entries(rg::compile_view({{1, cidrs({"192.0.2.0/24", "192.0.2.128/25"})}})),
              (Strs{"192.0.2.0/24=2"}));
    // Source 1's /26 lies inside source 2's /25, which already carries 1|2.
    EXPECT_EQ(entries(rg::compile_view(
                  {{1, cidrs({"192.0.2.0/24", "192.0.2.192/26"})}, {2, cidrs({"192.0.2.128/25", "192.0.2.129"})}})),
              (Strs{"192.0.2.0/24=2", "192.0.2.128/25=6"}));
    // But a host that a third source lists inside both stays, with all three.
    EXPECT_EQ(entries(rg::compile_view({{1, cidrs({"192.0.2.0/24"})},
                                        {2, cidrs({"192.0.2.128/25"})},
                                        {3, cidrs({"192.0.2.129"})}})),
              (Strs{"192.0.2.0/24=2", "192.0.2.128/25=6", "192.0.2.129/32=e"}));
}

TEST(CompileView, SamePrefixFromSeveralSourcesIsOneEntry)
{
    rg::View v = rg::compile_view({{0, cidrs({"2001:db8::/32"})},
                                   {5, cidrs({"2001:db8::/32", "198.51.100.0/24"})},
                                   {63, cidrs({"2001:db8::/32"})}});
    EXPECT_EQ(entries(v), (Strs{"198.51.100.0/24=20", "2001:db8::/32=8000000000000021"}));
}

TEST(CompileView, SourceGivenTwiceCountsOnceAndBitsAreChecked)
{
    EXPECT_EQ(entries(rg::compile_view({{4, cidrs({"192.0.2.0/24"})}, {4, cidrs({"192.0.2.0/25"})}})),
              (Strs{"192.0.2.0/24=10"}));
    EXPECT_THROW(rg::compile_view({{64, cidrs({"192.0.2.0/24"})}}), rg::Error);
    EXPECT_TRUE(rg::compile_view({}).empty());
    EXPECT_TRUE(rg::compile_view({{3, {}}}).empty());
}

TEST(CompileView, LongestMatchGivesEveryListingSource)
{
    std::mt19937 rng(11);
    for (int iter = 0; iter < 400; iter++) {
        const Universe &u = iter % 2 ? v6_universe : v4_universe;
        std::vector<rg::SourcePrefixes> sources = random_sources(rng, u);
        rg::View v = rg::compile_view(sources);
        for (unsigned i = 0; i < 512; i++)
            ASSERT_EQ(lpm(v, u.addr(i)), listed_sources(sources, u.addr(i))) << "iteration " << iter << ", "
                                                                             << u.addr(i).str();
        for (size_t i = 0; i < v.size(); i++) {
            ASSERT_NE(v[i].sources, 0u);
            if (i > 0) {
                ASSERT_TRUE(rg::prefix_less(v[i - 1].prefix, v[i].prefix));
            }
            // Not redundant: the closest covering entry answers differently.
            const rg::ViewEntry *parent = nullptr;
            for (size_t j = 0; j < i; j++)
                if (rg::bits::contains(v[j].prefix, v[i].prefix))
                    parent = &v[j];
            if (parent) {
                ASSERT_NE(parent->sources, v[i].sources) << v[i].prefix.str() << " is redundant";
            }
        }
    }
}

// ---- removing a source ---------------------------------------------------------------------

TEST(RemoveSource, TwoFeedsOverlappingOneRemoved)
{
    const unsigned feed_a = 1, feed_b = 2;
    rg::SourcePrefixes manual{rg::manual_source, cidrs({"203.0.113.7"})};
    rg::SourcePrefixes a{feed_a, cidrs({"192.0.2.0/24", "198.51.100.0/24"})};
    rg::SourcePrefixes b{feed_b, cidrs({"192.0.2.128/25", "198.51.100.0/24", "203.0.113.0/24"})};
    rg::View before = rg::compile_view({manual, a, b});
    EXPECT_EQ(entries(before), (Strs{"192.0.2.0/24=2", "192.0.2.128/25=6", "198.51.100.0/24=6",
                                     "203.0.113.0/24=4", "203.0.113.7/32=5"}));
    rg::View after = rg::compile_view({manual, a});
    EXPECT_EQ(entries(after), (Strs{"192.0.2.0/24=2", "198.51.100.0/24=2", "203.0.113.7/32=1"}));

    // Only what no other source lists disappears: 203.0.113.0/24 but .7.
    for (const char *net : {"192.0.2.", "198.51.100.", "203.0.113."})
        for (int i = 0; i < 256; i++) {
            rg::Cidr x = cidr(net + std::to_string(i));
            uint64_t was = lpm(before, x), is = lpm(after, x);
            EXPECT_EQ(is, was & ~(uint64_t(1) << feed_b)) << x.str();
            EXPECT_EQ(is != 0, std::string(net) != "203.0.113." || i == 7) << x.str();
        }

    rg::ViewDiff d = rg::diff_views(before, after);
    EXPECT_EQ(entries(d.upserts), (Strs{"203.0.113.7/32=1", "198.51.100.0/24=2"}));
    EXPECT_EQ(strs(d.deletes), (Strs{"203.0.113.0/24", "192.0.2.128/25"}));
}

// ---- diff_views ------------------------------------------------------------------------------

TEST(DiffViews, NothingChangedNothingToDo)
{
    rg::View v = rg::compile_view({{1, cidrs({"192.0.2.0/24", "2001:db8::/32"})}});
    EXPECT_TRUE(rg::diff_views(v, v).empty());
    EXPECT_TRUE(rg::diff_views({}, {}).empty());
}

TEST(DiffViews, FromAndToEmpty)
{
    rg::View v = rg::compile_view(
        {{1, cidrs({"10.0.0.0/8"})}, {2, cidrs({"10.1.0.0/16"})}, {3, cidrs({"10.1.2.3", "10.200.0.0/16"})}});
    rg::ViewDiff load = rg::diff_views({}, v);
    EXPECT_EQ(entries(load.upserts), (Strs{"10.1.2.3/32=e", "10.1.0.0/16=6", "10.200.0.0/16=a", "10.0.0.0/8=2"}));
    EXPECT_TRUE(load.deletes.empty());
    rg::ViewDiff clear = rg::diff_views(v, {});
    EXPECT_TRUE(clear.upserts.empty());
    EXPECT_EQ(strs(clear.deletes), (Strs{"10.0.0.0/8", "10.1.0.0/16", "10.200.0.0/16", "10.1.2.3/32"}));
}

TEST(DiffViews, ChangedSourcesAreUpserts)
{
    rg::View old_view = rg::compile_view({{1, cidrs({"192.0.2.0/24", "198.51.100.0/24"})}});
    rg::View new_view = rg::compile_view({{1, cidrs({"192.0.2.0/24"})}, {2, cidrs({"198.51.100.0/24"})}});
    rg::ViewDiff d = rg::diff_views(old_view, new_view);
    EXPECT_EQ(entries(d.upserts), (Strs{"198.51.100.0/24=4"}));
    EXPECT_TRUE(d.deletes.empty());
}

TEST(DiffViews, ViewsMustBeInPrefixOrder)
{
    rg::View unsorted{{cidr("198.51.100.0/24"), A}, {cidr("192.0.2.0/24"), A}};
    rg::View doubled{{cidr("192.0.2.0/24"), A}, {cidr("192.0.2.0/24"), B}};
    EXPECT_THROW(rg::diff_views(unsorted, {}), rg::Error);
    EXPECT_THROW(rg::diff_views({}, doubled), rg::Error);
}

// Applies a diff to a simulated LPM table and checks every address of the
// universe at every step: what is listed both before and after stays
// blocked, with at least the sources that list it in both. Returns the first
// violation, or "" if none; then checks that the table ends as the new view.
std::string first_gap(const rg::View &old_view, const rg::View &new_view, const std::vector<rg::ViewEntry> &upserts,
                      const std::vector<rg::Cidr> &deletes, const Universe &u)
{
    LpmTable table(old_view);
    std::vector<uint64_t> both(512);
    std::vector<bool> blocked_both(512);
    for (unsigned i = 0; i < 512; i++) {
        uint64_t o = lpm(old_view, u.addr(i)), n = lpm(new_view, u.addr(i));
        both[i] = o & n;
        blocked_both[i] = o && n;
    }
    auto check = [&](const std::string &step) -> std::string {
        for (unsigned i = 0; i < 512; i++) {
            uint64_t now = table.lookup(u.addr(i));
            if ((blocked_both[i] && now == 0) || (now & both[i]) != both[i])
                return "after " + step + ": " + u.addr(i).str() + " answers " + std::to_string(now) + ", needs " +
                       std::to_string(both[i]) + (blocked_both[i] ? " (blocked before and after)" : "");
        }
        return "";
    };
    std::string gap = check("nothing");
    for (size_t i = 0; gap.empty() && i < upserts.size(); i++) {
        table.set(upserts[i].prefix, upserts[i].sources);
        gap = check("upsert " + upserts[i].prefix.str());
    }
    for (size_t i = 0; gap.empty() && i < deletes.size(); i++) {
        table.erase(deletes[i]);
        gap = check("delete " + deletes[i].str());
    }
    if (!gap.empty())
        return gap;
    EXPECT_EQ(table.size(), new_view.size());
    for (unsigned i = 0; i < 512; i++)
        EXPECT_EQ(table.lookup(u.addr(i)), lpm(new_view, u.addr(i))) << "end state, " << u.addr(i).str();
    return "";
}

TEST(DiffViews, ShortestUpsertFirstWouldDropASourceForAWhile)
{
    // Feed 1 moves from 10.0.0.0/8 to 10.1.2.0/24, while feed 2 (say a
    // shadow feed) starts listing 10.1.0.0/16. 10.1.2.5 is listed by feed 1
    // before and after; writing the /16 before the /24 would, for a moment,
    // answer feed 2 alone for it.
    rg::View old_view = rg::compile_view({{1, cidrs({"10.0.0.0/8"})}});
    rg::View new_view = rg::compile_view({{1, cidrs({"10.1.2.0/24"})}, {2, cidrs({"10.1.0.0/16"})}});
    rg::ViewDiff d = rg::diff_views(old_view, new_view);
    EXPECT_EQ(entries(d.upserts), (Strs{"10.1.2.0/24=6", "10.1.0.0/16=4"}));
    EXPECT_EQ(strs(d.deletes), (Strs{"10.0.0.0/8"}));

    const Universe u{4, rg::bits::from_bytes(cidr("10.1.2.0").addr)};
    EXPECT_EQ(first_gap(old_view, new_view, d.upserts, d.deletes, u), "");

    std::vector<rg::ViewEntry> wrong(d.upserts.rbegin(), d.upserts.rend());
    EXPECT_EQ(first_gap(old_view, new_view, wrong, d.deletes, u),
              "after upsert 10.1.0.0/16: 10.1.2.0/32 answers 4, needs 2 (blocked before and after)");
}

TEST(DiffViews, NoGapAtAnyStepOnRandomSyncs)
{
    std::mt19937 rng(19);
    for (int iter = 0; iter < 300; iter++) {
        std::vector<rg::SourcePrefixes> before = random_sources(rng, v4_universe, 5, 10);
        // The next state: sources gain, lose or keep prefixes, some go, some come.
        std::vector<rg::SourcePrefixes> after;
        for (const rg::SourcePrefixes &s : before) {
            if (rng() % 5 == 0)
                continue;
            rg::SourcePrefixes t{s.source, {}};
            for (const rg::Cidr &c : s.prefixes)
                if (rng() % 3)
                    t.prefixes.push_back(c);
            for (unsigned i = 0, n = rng() % 5; i < n; i++)
                t.prefixes.push_back(v4_universe.random_prefix(rng));
            after.push_back(std::move(t));
        }
        for (const rg::SourcePrefixes &s : random_sources(rng, v4_universe, 2, 6))
            if (rng() % 2)
                after.push_back(s);
        rg::View old_view = rg::compile_view(before), new_view = rg::compile_view(after);
        rg::ViewDiff d = rg::diff_views(old_view, new_view);
        SCOPED_TRACE("iteration " + std::to_string(iter));
        ASSERT_EQ(first_gap(old_view, new_view, d.upserts, d.deletes, v4_universe), "");
    }
}

// ---- speed (run by hand: unit_tests --gtest_also_run_disabled_tests
//      --gtest_filter='*MillionPrefix*') ---------------------------------------------------------

TEST(PrefixSetSpeed, DISABLED_MillionPrefixes)
{
    using clock = std::chrono::steady_clock;
    auto ms = [](clock::time_point a, clock::time_point b) {
        return std::chrono::duration<double, std::milli>(b - a).count();
    };
    std::mt19937_64 rng(3);
    auto random_list = [&](size_t n) {
        std::vector<rg::Cidr> v;
        v.reserve(n);
        for (size_t i = 0; i < n; i++) {
            uint64_t r = rng();
            if (i % 5 == 4)
                v.push_back(rg::bits::make(6, rg::bits::U128(0x20010db8ull << 32 | (r & 0xffffffff)) << 64,
                                           48 + r % 17));
            else
                v.push_back(rg::bits::make(4, rg::bits::U128(r & 0xffffffff) << 96, 16 + (r >> 32) % 17));
        }
        return v;
    };
    std::vector<rg::Cidr> list = random_list(1000000);
    auto t0 = clock::now();
    std::vector<rg::Cidr> norm = rg::normalise_prefixes(list);
    auto t1 = clock::now();
    std::printf("normalise_prefixes: 1,000,000 prefixes (80%% IPv4 /16-/32, 20%% IPv6 /48-/64) -> %zu: %.1f ms\n",
                norm.size(), ms(t0, t1));

    std::vector<rg::Cidr> half1(list.begin(), list.begin() + 500000), half2(list.begin() + 500000, list.end());
    std::vector<rg::SourcePrefixes> sources{{1, rg::normalise_prefixes(half1)}, {2, rg::normalise_prefixes(half2)}};
    t0 = clock::now();
    rg::View view = rg::compile_view(sources);
    t1 = clock::now();
    std::printf("compile_view: two sources of 500,000 prefixes -> %zu entries: %.1f ms\n", view.size(), ms(t0, t1));

    // 1% of source 1 replaced.
    std::vector<rg::Cidr> changed = random_list(5000);
    std::copy(changed.begin(), changed.end(), half1.begin());
    sources[0].prefixes = rg::normalise_prefixes(half1);
    rg::View view2 = rg::compile_view(sources);
    t0 = clock::now();
    rg::ViewDiff d = rg::diff_views(view, view2);
    t1 = clock::now();
    std::printf("diff_views: 1%% of one source changed -> %zu upserts, %zu deletes: %.1f ms\n", d.upserts.size(),
                d.deletes.size(), ms(t0, t1));
}

// ---- split_view ---------------------------------------------------------------------

TEST(SplitView, GivesEachSourceItsListBack)
{
    std::vector<rg::SourcePrefixes> sources{{0, cidrs({"192.0.2.0/25", "192.0.2.128/25", "10.0.0.0/8"})},
                                            {1, cidrs({"10.1.0.0/16", "2001:db8::/32"})},
                                            {5, cidrs({"10.1.2.0/24", "2001:db8:1::/48"})}};
    rg::View v = rg::compile_view(sources);
    auto split = rg::split_view(v);
    ASSERT_EQ(split.size(), 3u);
    EXPECT_EQ(split[0].source, 0u);
    // Siblings stay apart (the view keeps the manual list as given).
    EXPECT_EQ(strs(split[0].prefixes), (Strs{"10.0.0.0/8", "192.0.2.0/25", "192.0.2.128/25"}));
    EXPECT_EQ(split[1].source, 1u);
    EXPECT_EQ(strs(split[1].prefixes), (Strs{"10.1.0.0/16", "2001:db8::/32"}));
    EXPECT_EQ(split[2].source, 5u);
    EXPECT_EQ(strs(split[2].prefixes), (Strs{"10.1.2.0/24", "2001:db8:1::/48"}));
    EXPECT_TRUE(rg::split_view({}).empty());
}

TEST(SplitView, RoundTripsRandomMinimalLists)
{
    std::mt19937 rng(23);
    for (int iter = 0; iter < 300; iter++) {
        auto sources = random_sources(rng, rng() % 2 ? v4_universe : v6_universe);
        // Minimal lists, one per source: what the controller keeps.
        std::map<unsigned, std::vector<rg::Cidr>> want;
        for (const auto &s : sources)
            want[s.source].insert(want[s.source].end(), s.prefixes.begin(), s.prefixes.end());
        std::vector<rg::SourcePrefixes> minimal;
        for (auto &[bit, list] : want) {
            std::vector<rg::Cidr> m;
            std::sort(list.begin(), list.end(), rg::prefix_less);
            for (const rg::Cidr &c : list)
                if (m.empty() || !rg::bits::contains(m.back(), c))
                    m.push_back(c);
            if (!m.empty())
                minimal.push_back({bit, m});
        }
        rg::View v = rg::compile_view(minimal);
        std::shuffle(v.begin(), v.end(), rng);  // the kernel returns any order
        auto split = rg::split_view(v);
        SCOPED_TRACE("iteration " + std::to_string(iter));
        ASSERT_EQ(split.size(), minimal.size());
        for (size_t i = 0; i < split.size(); i++) {
            EXPECT_EQ(split[i].source, minimal[i].source);
            EXPECT_EQ(strs(split[i].prefixes), strs(minimal[i].prefixes));
        }
    }
}

// A sync killed at any step: every source the diff does not change is read
// back exactly; the changed one lies between its old and new lists.
TEST(SplitView, HalfAppliedDiffKeepsUntouchedSources)
{
    std::mt19937 rng(29);
    for (int iter = 0; iter < 100; iter++) {
        auto base = random_sources(rng, v4_universe, 4, 10);
        for (auto &s : base)
            s.source = 1 + s.source % 4;  // bits 1..4, each once below
        std::map<unsigned, std::vector<rg::Cidr>> lists;
        for (const auto &s : base)
            lists[s.source] = rg::normalise_prefixes(s.prefixes);
        std::vector<rg::SourcePrefixes> before, after;
        for (auto &[bit, l] : lists)
            before.push_back({bit, l});
        after = before;
        std::vector<rg::Cidr> fresh;
        for (int i = 0; i < 8; i++)
            fresh.push_back(v4_universe.random_prefix(rng));
        rg::SourcePrefixes feed{7, rg::normalise_prefixes(fresh)};
        std::vector<rg::Cidr> fresh2;
        for (int i = 0; i < 8; i++)
            fresh2.push_back(v4_universe.random_prefix(rng));
        before.push_back(feed);
        after.push_back({7, rg::normalise_prefixes(fresh2)});
        rg::View old_view = rg::compile_view(before), new_view = rg::compile_view(after);
        rg::ViewDiff d = rg::diff_views(old_view, new_view);
        size_t steps = d.upserts.size() + d.deletes.size();
        for (size_t stop = 0; stop <= steps; stop++) {
            std::map<rg::Cidr, uint64_t> table;
            for (const auto &e : old_view)
                table[e.prefix] = e.sources;
            for (size_t i = 0; i < stop; i++) {
                if (i < d.upserts.size())
                    table[d.upserts[i].prefix] = d.upserts[i].sources;
                else
                    table.erase(d.deletes[i - d.upserts.size()]);
            }
            rg::View t;
            for (auto &[c, s] : table)
                t.push_back({c, s});
            auto split = rg::split_view(t);
            SCOPED_TRACE("iteration " + std::to_string(iter) + " stop " + std::to_string(stop));
            for (const auto &s : before) {
                if (s.source == 7 || s.prefixes.empty())
                    continue;
                auto it = std::find_if(split.begin(), split.end(), [&](auto &x) { return x.source == s.source; });
                ASSERT_NE(it, split.end());
                EXPECT_EQ(strs(it->prefixes), strs(s.prefixes));
            }
        }
    }
}
