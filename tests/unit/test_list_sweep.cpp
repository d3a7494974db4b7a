// sweep_source (list_sweep.hpp) against the general path: for random nested
// lists of several sources and an allowlist, replacing one source's list in
// one pass must give exactly merge_lists of the recompiled views, a change
// that turns the old set into the new one in the write order, and the block
// view's diff counts. No kernel.
#include "cidr_bits.hpp"
#include "list_sweep.hpp"
#include "list_tables.hpp"
#include "prefix_set.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace {

namespace bits = rg::bits;

// Prefixes in a small space (so they nest and collide), both families.
rg::Cidr random_prefix(std::mt19937 &rng, uint8_t family)
{
    unsigned w = family == 4 ? 32 : 128;
    bits::U128 base = bits::from_bytes(rg::parse_cidr(family == 4 ? "10.0.0.0" : "2001:db8::").cidr.addr);
    unsigned r = rng() % 100;
    if (r == 0)
        return bits::make(family, base, w - 16);
    if (r < 4)
        return bits::make(family, base, w - 9);
    unsigned len = w - 8 + rng() % 9;
    return bits::make(family, base + (bits::U128(rng() % 256) << (128 - w)), len);
}

std::vector<rg::Cidr> random_list(std::mt19937 &rng, unsigned max)
{
    std::vector<rg::Cidr> out;
    unsigned n = rng() % (max + 1);
    for (unsigned i = 0; i < n; i++)
        out.push_back(random_prefix(rng, rng() % 3 ? 4 : 6));
    return out;
}

struct Tables {
    rg::CompactSet set;
    std::vector<rg::ClassValue> classes = std::vector<rg::ClassValue>(RG_MAX_CLASSES);
};

// The merged set as the kernel would hold it, class ids spread out.
Tables to_tables(const rg::ListSet &merged, std::mt19937 &rng)
{
    Tables t;
    std::map<std::pair<uint64_t, uint64_t>, uint32_t> ids;
    uint32_t next = 1;
    for (const rg::ListEntry &e : merged) {
        auto [it, added] = ids.emplace(std::make_pair(e.allow, e.block), next);
        if (added) {
            t.classes[next] = {e.allow, e.block};
            next += 1 + rng() % 3;
        }
        if (e.prefix.family == 4)
            t.set.v4.push_back({rg::to_pk4(e.prefix), it->second});
        else
            t.set.v6.push_back({rg::to_pk6(e.prefix), it->second});
    }
    return t;
}

std::vector<std::string> describe(const rg::CompactSet &s, const std::vector<rg::ClassValue> &classes)
{
    std::vector<std::string> out;
    auto add = [&](const rg::Cidr &c, uint32_t cls) {
        out.push_back(c.str() + " a=" + std::to_string(classes[cls].allow) + " b=" + std::to_string(classes[cls].block));
    };
    for (const auto &e : s.v4)
        add(rg::from_pk(e.p), e.cls);
    for (const auto &e : s.v6)
        add(rg::from_pk(e.p), e.cls);
    return out;
}

std::vector<std::string> describe(const rg::ListSet &s)
{
    std::vector<std::string> out;
    for (const rg::ListEntry &e : s)
        out.push_back(e.prefix.str() + " a=" + std::to_string(e.allow) + " b=" + std::to_string(e.block));
    return out;
}

TEST(ListSweep, RandomReplacementsMatchTheGeneralPath)
{
    std::mt19937 rng(23);
    for (int iter = 0; iter < 400; iter++) {
        SCOPED_TRACE("iteration " + std::to_string(iter));
        std::vector<rg::SourcePrefixes> block;
        for (unsigned s : {0u, 2u, 3u, 5u})
            if (rng() % 4)
                block.push_back({s, random_list(rng, 12)});
        std::vector<rg::Cidr> allow = random_list(rng, 4);
        rg::View allow_view = rg::compile_view({{0, allow}});
        rg::View old_view = rg::compile_view(block);
        Tables t = to_tables(rg::merge_lists(allow_view, old_view), rng);

        // The sources as the kernel gives them back, one replaced.
        std::vector<rg::SourcePrefixes> next_sources = rg::split_view(old_view);
        unsigned bit = std::vector<unsigned>{0, 2, 3, 5, 7}[rng() % 5];
        std::vector<rg::Cidr> list = random_list(rng, 12);
        std::erase_if(next_sources, [&](const rg::SourcePrefixes &s) { return s.source == bit; });
        next_sources.push_back({bit, rg::normalise_prefixes(list)});  // as check_feed gives it
        rg::View new_view = rg::compile_view(next_sources);
        rg::ListSet want = rg::merge_lists(allow_view, new_view);

        rg::SweepResult r = rg::sweep_source(t.set, t.classes.data(), bit, rg::normalise_compact(list));
        std::vector<rg::ClassValue> classes = t.classes;
        std::vector<bool> used(RG_MAX_CLASSES);
        for (const auto &e : t.set.v4)
            used[e.cls] = true;
        for (const auto &e : t.set.v6)
            used[e.cls] = true;
        for (const auto &[id, v] : r.change.new_classes) {
            EXPECT_FALSE(used[id]) << "class " << id << " is in use";
            classes[id] = v;
        }
        ASSERT_EQ(describe(r.next, classes), describe(want));
        // What the next sweep takes as the classes in use.
        EXPECT_EQ(r.next.classes_used, rg::used_classes(rg::CompactSet{r.next.v4, r.next.v6, {}}));

        // The change turns the old set into the new one.
        std::map<std::string, uint32_t> applied;
        for (const auto &e : t.set.v4)
            applied[rg::from_pk(e.p).str()] = e.cls;
        for (const auto &e : t.set.v6)
            applied[rg::from_pk(e.p).str()] = e.cls;
        for (const auto &e : r.change.up4)
            applied[rg::from_pk(e.p).str()] = e.cls;
        for (const auto &e : r.change.up6)
            applied[rg::from_pk(e.p).str()] = e.cls;
        for (const auto &p : r.change.del4)
            EXPECT_EQ(applied.erase(rg::from_pk(p).str()), 1u);
        for (const auto &p : r.change.del6)
            EXPECT_EQ(applied.erase(rg::from_pk(p).str()), 1u);
        std::map<std::string, uint32_t> next;
        for (const auto &e : r.next.v4)
            next[rg::from_pk(e.p).str()] = e.cls;
        for (const auto &e : r.next.v6)
            next[rg::from_pk(e.p).str()] = e.cls;
        EXPECT_EQ(applied, next);
        // In the write order: upserts longest first, deletes shortest first.
        for (size_t i = 1; i < r.change.up4.size(); i++)
            EXPECT_GE(r.change.up4[i - 1].p.len, r.change.up4[i].p.len);
        for (size_t i = 1; i < r.change.del4.size(); i++)
            EXPECT_LE(r.change.del4[i - 1].len, r.change.del4[i].len);
        for (size_t i = 1; i < r.change.up6.size(); i++)
            EXPECT_GE(r.change.up6[i - 1].p.len, r.change.up6[i].p.len);
        for (size_t i = 1; i < r.change.del6.size(); i++)
            EXPECT_LE(r.change.del6[i - 1].len, r.change.del6[i].len);

        rg::ViewDiff d = rg::diff_views(old_view, new_view);
        EXPECT_EQ(r.view_upserts, d.upserts.size());
        EXPECT_EQ(r.view_deletes, d.deletes.size());
        EXPECT_EQ(r.view4 + r.view6, new_view.size());
        EXPECT_EQ(rg::compact_allow_prefixes(t.set, t.classes.data()).size(), allow_view.size());
    }
}

TEST(ListSweep, NormaliseCompactMatchesNormalisePrefixes)
{
    std::mt19937 rng(5);
    for (int iter = 0; iter < 200; iter++) {
        std::vector<rg::Cidr> in = random_list(rng, 40);
        EXPECT_EQ(rg::to_cidrs(rg::normalise_compact(in)), rg::normalise_prefixes(in));
    }
}

TEST(ListSweep, UnchangedListChangesNothing)
{
    std::mt19937 rng(9);
    std::vector<rg::Cidr> list = random_list(rng, 30);
    rg::View view = rg::compile_view({{2, list}});
    Tables t = to_tables(rg::merge_lists({}, view), rng);
    rg::SweepResult r = rg::sweep_source(t.set, t.classes.data(), 2, rg::normalise_compact(list));
    EXPECT_TRUE(r.change.empty());
    EXPECT_TRUE(r.change.new_classes.empty());
    EXPECT_EQ(r.view_upserts + r.view_deletes, 0u);
}

} // namespace
