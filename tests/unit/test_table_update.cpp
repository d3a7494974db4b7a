// The lists stage without a kernel (lists/source_lists, table_update,
// class_table): random sequences of list replacements, each checked against
// a brute-force model of what the tables must hold, of what each source
// lists, of the change written, and of every step of the write order (no
// address listed before and after ever loses a source in between).
#include "class_table.hpp"
#include "error.hpp"
#include "source_lists.hpp"
#include "table_update.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

using rg::ClassValue;
using rg::ListKind;

// A small space to draw from and check exhaustively: 512 addresses from
// 10.0.0.0 (IPv4) and from 2001:db8:: (IPv6).
constexpr uint32_t kBase4 = 0x0a000000;
const rg::U128 kBase6 = rg::U128(0x20010db800000000ull) << 64;

template <class A> rg::Prefix<A> random_prefix(std::mt19937 &rng, A base)
{
    constexpr unsigned w = rg::Prefix<A>::width;
    unsigned r = rng() % 100;
    if (r == 0)
        return {A(0), 0};
    if (r < 3)
        return {base, uint8_t(w - 16)};
    if (r < 6)
        return {base, uint8_t(w - 9)};
    unsigned len = w - 8 + rng() % 9;
    return {A(base + A(rng() % 256)) & rg::prefix_mask<A>(len), uint8_t(len)};
}

rg::PrefixSet random_list(std::mt19937 &rng, unsigned max)
{
    rg::PrefixSet s;
    for (unsigned i = 0, n = rng() % (max + 1); i < n; i++) {
        if (rng() % 4)
            s.v4.push_back(random_prefix<uint32_t>(rng, kBase4));
        else
            s.v6.push_back(random_prefix<rg::U128>(rng, kBase6));
    }
    rg::sort_prefixes(s);
    return rg::collapse(s);
}

// Every source's list, as the model has it.
struct Model {
    std::map<std::pair<int, unsigned>, rg::PrefixSet> lists;  // (kind, bit)

    // The sources of `kind` with a prefix containing p.
    template <class A> uint64_t answer(ListKind kind, const rg::Prefix<A> &p) const
    {
        uint64_t s = 0;
        for (const auto &[key, set] : lists) {
            const rg::PrefixSet &l = set;  // clang 14's lambdas cannot capture a structured binding
            if (key.first != int(kind))
                continue;
            const auto &v = [&]() -> const std::vector<rg::Prefix<A>> & {
                if constexpr (sizeof(A) == 4)
                    return l.v4;
                else
                    return l.v6;
            }();
            for (const rg::Prefix<A> &q : v)
                if (rg::contains(q, p))
                    s |= uint64_t(1) << key.second;
        }
        return s;
    }

    // What the tables must hold: every listed prefix, with both answers.
    template <class A> std::vector<std::pair<rg::Prefix<A>, ClassValue>> expected() const
    {
        std::vector<rg::Prefix<A>> all;
        for (const auto &[key, l] : lists) {
            if constexpr (sizeof(A) == 4)
                all.insert(all.end(), l.v4.begin(), l.v4.end());
            else
                all.insert(all.end(), l.v6.begin(), l.v6.end());
        }
        std::sort(all.begin(), all.end(), rg::prefix_less<A>);
        all.erase(std::unique(all.begin(), all.end()), all.end());
        std::vector<std::pair<rg::Prefix<A>, ClassValue>> out;
        for (const auto &p : all)
            out.push_back({p, {answer(ListKind::allow, p), answer(ListKind::block, p)}});
        return out;
    }
};

template <class A>
std::vector<std::pair<rg::Prefix<A>, ClassValue>> held(const std::vector<rg::TableEntry<A>> &v, const rg::ClassTable &cls)
{
    std::vector<std::pair<rg::Prefix<A>, ClassValue>> out;
    for (const auto &e : v)
        out.push_back({e.p, cls[e.cls]});
    return out;
}

std::string str(const rg::Prefix4 &p) { return rg::to_cidr(p).str(); }
std::string str(const rg::Prefix6 &p) { return rg::to_cidr(p).str(); }

template <class A>
void expect_same(const std::vector<std::pair<rg::Prefix<A>, ClassValue>> &got,
                 const std::vector<std::pair<rg::Prefix<A>, ClassValue>> &want)
{
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); i++) {
        ASSERT_TRUE(got[i].first == want[i].first) << str(got[i].first) << " instead of " << str(want[i].first);
        ASSERT_EQ(got[i].second.allow, want[i].second.allow) << str(got[i].first);
        ASSERT_EQ(got[i].second.block, want[i].second.block) << str(got[i].first);
    }
}

// The class of the longest entry containing x in a model of the tables
// (prefix -> class value), or none.
template <class A> ClassValue lookup(const std::map<std::pair<A, uint8_t>, ClassValue> &t, A x)
{
    for (int len = rg::Prefix<A>::width; len >= 0; len--) {
        auto it = t.find({A(x & rg::prefix_mask<A>(unsigned(len))), uint8_t(len)});
        if (it != t.end())
            return it->second;
    }
    return {};
}

// Runs the write order of ListTables::write (upserts longest first, then
// deletes shortest first) on a model of the prefix tables, and returns the
// first step at which an address loses a source that lists it both before
// and after ("" if none).
template <class A>
std::string first_gap(const std::vector<rg::TableEntry<A>> &cur, const std::vector<rg::TableEntry<A>> &next,
                      const std::vector<rg::TableEntry<A>> &up, const std::vector<rg::Prefix<A>> &del,
                      const ClassValue *cls, A base)
{
    std::map<std::pair<A, uint8_t>, ClassValue> t, before, after;
    for (const auto &e : cur)
        t[{e.p.addr, e.p.len}] = before[{e.p.addr, e.p.len}] = cls[e.cls];
    for (const auto &e : next)
        after[{e.p.addr, e.p.len}] = cls[e.cls];
    auto check = [&](const std::string &step) -> std::string {
        for (A i = 0; i < 512; i++) {
            A x = base + i;
            ClassValue o = lookup(before, x), n = lookup(after, x), now = lookup(t, x);
            uint64_t a = o.allow & n.allow, b = o.block & n.block;
            if ((now.allow & a) != a || (now.block & b) != b)
                return "after " + step + ": " + str(rg::Prefix<A>{x, rg::Prefix<A>::width}) + " loses a source";
        }
        return "";
    };
    std::vector<rg::TableEntry<A>> ups = up;
    std::stable_sort(ups.begin(), ups.end(), [](const auto &a, const auto &b) { return a.p.len > b.p.len; });
    for (const auto &e : ups) {
        t[{e.p.addr, e.p.len}] = cls[e.cls];
        if (std::string g = check("upsert " + str(e.p)); !g.empty())
            return g;
    }
    std::vector<rg::Prefix<A>> dels = del;
    std::stable_sort(dels.begin(), dels.end(), [](const auto &a, const auto &b) { return a.len < b.len; });
    for (const auto &p : dels) {
        t.erase({p.addr, p.len});
        if (std::string g = check("delete " + str(p)); !g.empty())
            return g;
    }
    return t == after ? "" : "the tables do not end as `next`";
}

// A class table of the kernel: all ids free.
std::vector<ClassValue> kernel_classes() { return std::vector<ClassValue>(RG_MAX_CLASSES); }

} // namespace

TEST(TableUpdate, RandomReplacementsGiveWhatTheModelGives)
{
    std::mt19937 rng(20261203);
    std::vector<ClassValue> kernel = kernel_classes();
    rg::TableSet cur;
    Model model;
    const std::pair<ListKind, unsigned> sources[] = {
        {ListKind::allow, RG_SOURCE_MANUAL}, {ListKind::allow, RG_SOURCE_CONFIG}, {ListKind::block, RG_SOURCE_MANUAL},
        {ListKind::block, RG_SOURCE_CONFIG}, {ListKind::block, 2},                {ListKind::block, 5},
        {ListKind::block, 63}};
    for (int iter = 0; iter < 400; iter++) {
        SCOPED_TRACE("iteration " + std::to_string(iter));
        auto [kind, bit] = sources[rng() % std::size(sources)];
        rg::PrefixSet list = rng() % 8 ? random_list(rng, 12) : rg::PrefixSet{};
        rg::ClassTable classes(kernel.data(), cur);

        // What the tables say the source lists, and what changes.
        rg::PrefixSet had = model.lists[{int(kind), bit}];
        ASSERT_EQ(rg::source_list(cur, classes, kind, bit), had);
        // Every source's list size in one pass: the model's, 0 for the rest.
        for (ListKind k : {ListKind::allow, ListKind::block}) {
            std::array<rg::ListSize, RG_MAX_SOURCES> sizes = rg::listed_count_by_source(cur, classes, k);
            for (unsigned b = 0; b < RG_MAX_SOURCES; b++) {
                auto it = model.lists.find({int(k), b});
                size_t v4 = it == model.lists.end() ? 0 : it->second.v4.size();
                size_t v6 = it == model.lists.end() ? 0 : it->second.v6.size();
                ASSERT_EQ(sizes[b].v4, v4) << "bit " << b;
                ASSERT_EQ(sizes[b].v6, v6) << "bit " << b;
            }
        }
        rg::ListChange lc = rg::list_change(cur, classes, kind, bit, list);
        rg::PrefixSet gone, come;
        std::set_difference(had.v4.begin(), had.v4.end(), list.v4.begin(), list.v4.end(), std::back_inserter(gone.v4),
                            rg::prefix_less<uint32_t>);
        std::set_difference(had.v6.begin(), had.v6.end(), list.v6.begin(), list.v6.end(), std::back_inserter(gone.v6),
                            rg::prefix_less<rg::U128>);
        std::set_difference(list.v4.begin(), list.v4.end(), had.v4.begin(), had.v4.end(), std::back_inserter(come.v4),
                            rg::prefix_less<uint32_t>);
        std::set_difference(list.v6.begin(), list.v6.end(), had.v6.begin(), had.v6.end(), std::back_inserter(come.v6),
                            rg::prefix_less<rg::U128>);
        ASSERT_EQ(lc.removed, gone);
        ASSERT_EQ(lc.added, come);

        rg::TableSet next;
        rg::TableChange ch = rg::update_tables(cur, classes, kind, bit, lc, next);
        model.lists[{int(kind), bit}] = list;
        expect_same(held(next.v4, classes), model.expected<uint32_t>());
        expect_same(held(next.v6, classes), model.expected<rg::U128>());

        // The change is what moves cur to next, and nothing more.
        rg::TableChange diff = rg::diff_tables(cur, next, classes);
        ASSERT_EQ(ch.up4.size(), diff.up4.size());
        ASSERT_EQ(ch.del4.size(), diff.del4.size());
        ASSERT_EQ(ch.up6.size(), diff.up6.size());
        ASSERT_EQ(ch.del6.size(), diff.del6.size());
        // New classes get ids no entry of cur uses; used ones keep values.
        std::vector<bool> used(RG_MAX_CLASSES);
        for (const auto &e : cur.v4)
            used[e.cls] = true;
        for (const auto &e : cur.v6)
            used[e.cls] = true;
        for (const auto &[id, v] : ch.new_classes) {
            ASSERT_FALSE(used[id]) << "class " << id << " rewritten while the tables use it";
            kernel[id] = v;
        }
        for (uint32_t id = 0; id < RG_MAX_CLASSES; id++) {
            if (used[id]) {
                ASSERT_TRUE(classes[id] == kernel[id]);
            }
        }

        ASSERT_EQ(first_gap(cur.v4, next.v4, ch.up4, ch.del4, kernel.data(), kBase4), "");
        ASSERT_EQ(first_gap(cur.v6, next.v6, ch.up6, ch.del6, kernel.data(), kBase6), "");
        cur = std::move(next);
    }
}

// Source 1 moves from 10.0.0.0/8 to 10.0.1.0/24 while source 2 starts
// listing 10.0.0.0/16, in one write. 10.0.1.5 is listed by source 1 before
// and after; writing the /16 before the /24 would, for a moment, answer
// source 2 alone for it. The write order (longest first) does not.
TEST(TableUpdate, ShortestUpsertFirstWouldDropASourceForAWhile)
{
    std::vector<ClassValue> kernel = kernel_classes();
    rg::TableSet cur, next, tmp;
    rg::ClassTable c1(kernel.data(), cur);
    rg::update_tables(cur, c1, ListKind::block, 1, {{}, {{{kBase4, 8}}, {}}}, cur);
    for (const auto &[id, v] : c1.added())
        kernel[id] = v;
    rg::ClassTable classes(kernel.data(), cur);
    rg::update_tables(cur, classes, ListKind::block, 1, {{{{kBase4, 8}}, {}}, {{{kBase4 + 0x100, 24}}, {}}}, tmp);
    rg::update_tables(tmp, classes, ListKind::block, 2, {{}, {{{kBase4, 16}}, {}}}, next);
    rg::TableChange ch = rg::diff_tables(cur, next, classes);
    for (const auto &[id, v] : ch.new_classes)
        kernel[id] = v;
    ASSERT_EQ(ch.up4.size(), 2u);
    EXPECT_EQ(first_gap(cur.v4, next.v4, ch.up4, ch.del4, kernel.data(), kBase4), "");
    // The other order, step by step at 10.0.1.5.
    std::map<std::pair<uint32_t, uint8_t>, ClassValue> t;
    for (const auto &e : cur.v4)
        t[{e.p.addr, e.p.len}] = kernel[e.cls];
    std::vector<rg::TableEntry4> wrong = ch.up4;
    std::stable_sort(wrong.begin(), wrong.end(), [](const auto &a, const auto &b) { return a.p.len < b.p.len; });
    bool lost = false;
    for (const auto &e : wrong) {
        t[{e.p.addr, e.p.len}] = kernel[e.cls];
        lost |= !(lookup(t, kBase4 + 0x105).block & (uint64_t(1) << 1));
    }
    EXPECT_TRUE(lost) << "shortest first should lose source 1 at 10.0.1.5 for a step";
}

// A table left half-way (part of a change written) still reads as a list
// per source, disjoint; rebuilding from those lists gives a consistent
// table that the model agrees with.
TEST(TableUpdate, HalfWayTablesSplitIntoListsThatRebuild)
{
    std::mt19937 rng(11);
    for (int iter = 0; iter < 100; iter++) {
        std::vector<ClassValue> kernel = kernel_classes();
        rg::TableSet cur, next, tmp;
        rg::ClassTable classes(kernel.data(), cur);  // all ids free: rebuilding from nothing
        Model model;
        for (unsigned bit : {0u, 2u, 3u}) {
            rg::PrefixSet l = random_list(rng, 10);
            model.lists[{int(ListKind::block), bit}] = l;
            rg::update_tables(cur, classes, ListKind::block, bit, {{}, l}, tmp);
            cur = tmp;
        }
        rg::PrefixSet l = random_list(rng, 10);
        rg::ListChange lc = rg::list_change(cur, classes, ListKind::block, 2, l);
        rg::TableChange ch = rg::update_tables(cur, classes, ListKind::block, 2, lc, next);
        // Half of the change written: the upserts, no deletes.
        std::map<std::pair<uint32_t, uint8_t>, uint32_t> half;
        for (const auto &e : cur.v4)
            half[{e.p.addr, e.p.len}] = e.cls;
        for (const auto &e : ch.up4)
            half[{e.p.addr, e.p.len}] = e.cls;
        rg::TableSet mid;
        for (const auto &[k, c] : half)
            mid.v4.push_back({{k.first, k.second}, c});
        mid.v6 = cur.v6;
        // Sources the change did not touch read back exactly.
        for (unsigned bit : {0u, 3u}) {
            rg::PrefixSet got = rg::source_list(mid, classes, ListKind::block, bit);
            ASSERT_EQ(got, (model.lists[{int(ListKind::block), bit}])) << "iteration " << iter;
        }
        rg::PrefixSet mixed = rg::source_list(mid, classes, ListKind::block, 2);
        rg::PrefixSet m = mixed;
        rg::collapse_in_place(m);
        ASSERT_TRUE(rg::is_collapsed(m));
    }
}

TEST(ClassTable, IdsInUseKeepTheirValuesAndNewOnesAreFree)
{
    std::vector<ClassValue> kernel = kernel_classes();
    kernel[1] = {1, 0};
    kernel[2] = {0, 4};
    kernel[3] = {0, 8};  // stale: no entry uses it
    rg::TableSet in_use;
    in_use.v4 = {{{kBase4, 24}, 1}, {{kBase4 + 256, 24}, 2}};
    rg::ClassTable t(kernel.data(), in_use);
    EXPECT_EQ(t.id({0, 0}), 0u);
    EXPECT_EQ(t.id({1, 0}), 1u);
    EXPECT_EQ(t.id({0, 4}), 2u);
    uint32_t fresh = t.id({0, 8});
    EXPECT_EQ(fresh, 3u) << "a stale id nobody uses is free";
    EXPECT_EQ(t.id({0, 8}), fresh);
    ASSERT_EQ(t.added().size(), 1u);
    EXPECT_TRUE(t[fresh] == (ClassValue{0, 8}));
    for (uint64_t v = 16; t.added().size() < RG_MAX_CLASSES - 3; v++)
        t.id({0, v});
    EXPECT_THROW(t.id({7, 7}), rg::Error);
}
