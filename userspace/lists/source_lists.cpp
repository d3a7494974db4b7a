#include "source_lists.hpp"

#include <vector>

namespace rg {

namespace {

// Walks the entries of one family in order with the chain of entries
// containing the current one, and calls fn(prefix, listed bits) for every
// entry, where listed bits are the sources of `kind` that list the entry
// itself (in its class, not in its closest ancestor's).
template <class A, class Fn>
void for_each_listing(std::span<const TableEntry<A>> entries, const ClassTable &classes, ListKind kind, Fn fn)
{
    struct Link {
        Prefix<A> p;
        uint64_t sources;
    };
    std::vector<Link> chain;
    for (const TableEntry<A> &e : entries) {
        while (!chain.empty() && !contains(chain.back().p, e.p))
            chain.pop_back();
        uint64_t mine = classes[e.cls].of(kind), above = chain.empty() ? 0 : chain.back().sources;
        fn(e.p, mine & ~above);
        chain.push_back({e.p, mine});
    }
}

// Calls fn(prefix) for every prefix the sources `bits` of `kind` cover,
// outermost first: an entry whose class has one of them and that lies in
// no such prefix seen before. No chain is needed: those prefixes are
// disjoint, so the last one seen is the only one that can contain the
// current entry (what lies between it and the entry lies inside it).
template <class A, class Fn>
void for_each_outermost(std::span<const TableEntry<A>> entries, const ClassTable &classes, ListKind kind,
                        uint64_t bits, Fn fn)
{
    const Prefix<A> *last = nullptr;
    for (const TableEntry<A> &e : entries) {
        if (!(classes[e.cls].of(kind) & bits) || (last && contains(*last, e.p)))
            continue;
        fn(e.p);
        last = &e.p;
    }
}

PrefixSet outermost(TableSpan tables, const ClassTable &classes, ListKind kind, uint64_t bits)
{
    PrefixSet out;
    for_each_outermost(tables.v4, classes, kind, bits, [&](const Prefix4 &p) { out.v4.push_back(p); });
    for_each_outermost(tables.v6, classes, kind, bits, [&](const Prefix6 &p) { out.v6.push_back(p); });
    return out;
}

// The merge of what the tables list for `bit` with `next`.
template <class A>
void changed(std::span<const TableEntry<A>> entries, const ClassTable &classes, ListKind kind, uint64_t bit,
             std::span<const Prefix<A>> next, std::vector<Prefix<A>> &removed, std::vector<Prefix<A>> &added)
{
    size_t j = 0;
    for_each_outermost(entries, classes, kind, bit, [&](const Prefix<A> &p) {
        for (; j < next.size() && prefix_less(next[j], p); j++)
            added.push_back(next[j]);
        if (j < next.size() && next[j] == p)
            j++;
        else
            removed.push_back(p);
    });
    added.insert(added.end(), next.begin() + long(j), next.end());
}

} // namespace

PrefixSet source_list(TableSpan tables, const ClassTable &classes, ListKind kind, unsigned bit)
{
    return outermost(tables, classes, kind, uint64_t(1) << bit);
}

PrefixSet covered_by(TableSpan tables, const ClassTable &classes, ListKind kind)
{
    PrefixSet out = outermost(tables, classes, kind, ~uint64_t(0));
    collapse_in_place(out);
    return out;
}

ListSize listed_count(TableSpan tables, const ClassTable &classes, ListKind kind)
{
    ListSize n;
    for_each_listing(tables.v4, classes, kind, [&](const Prefix4 &, uint64_t listed) { n.v4 += listed != 0; });
    for_each_listing(tables.v6, classes, kind, [&](const Prefix6 &, uint64_t listed) { n.v6 += listed != 0; });
    return n;
}

std::array<ListSize, RG_MAX_SOURCES> listed_count_by_source(TableSpan tables, const ClassTable &classes, ListKind kind)
{
    std::array<ListSize, RG_MAX_SOURCES> n{};
    auto count = [&](uint64_t listed, size_t ListSize::*family) {
        for (; listed; listed &= listed - 1)
            n[unsigned(__builtin_ctzll(listed))].*family += 1;
    };
    for_each_listing(tables.v4, classes, kind, [&](const Prefix4 &, uint64_t listed) { count(listed, &ListSize::v4); });
    for_each_listing(tables.v6, classes, kind, [&](const Prefix6 &, uint64_t listed) { count(listed, &ListSize::v6); });
    return n;
}

SourcesListed sources_listed(TableSpan tables, const ClassTable &classes)
{
    SourcesListed s;
    auto add = [&](auto entries) {
        for (const auto &e : entries) {
            s.allow |= classes[e.cls].allow;
            s.block |= classes[e.cls].block;
        }
    };
    add(tables.v4);
    add(tables.v6);
    return s;
}

ListChange list_change(TableSpan tables, const ClassTable &classes, ListKind kind, unsigned bit, PrefixSpan next)
{
    ListChange c;
    uint64_t b = uint64_t(1) << bit;
    changed(tables.v4, classes, kind, b, next.v4, c.removed.v4, c.added.v4);
    changed(tables.v6, classes, kind, b, next.v6, c.removed.v6, c.added.v6);
    return c;
}

} // namespace rg
