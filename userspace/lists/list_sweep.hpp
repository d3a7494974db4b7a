// Replacing one source's list in the merged allow/block set in one linear
// pass, on compact per-family arrays: the fast path of a feed sync.
//
// The general path (rules.cpp) splits the block view into every source's
// list, compiles them again, merges the two views and compares merged sets,
// each a pass that builds a million 48-byte entries. When only source S
// changes, none of that is needed: the block answer at a prefix p becomes
// (its old answer without S) | (S if the new list covers p), the allow
// answer stays, and which prefixes are entries follows from the old merged
// set alone (see sweep_source). Everything here is sorted, compact
// (IPv4 prefixes in 12 bytes) and done in passes without comparator sorts.
//
// Invariants of a CompactSet: per family, entries in prefix order (address,
// then length), unique; cls names the entry's class in rg_classes; the set
// is what merge_lists would give for the two views (list_table.hpp).
#pragma once

#include "cidr.hpp"
#include "cidr_bits.hpp"

#include <cstdint>
#include <vector>

namespace rg {

// A prefix of one family: the address in A (uint32_t for IPv4, 128 bits for
// IPv6), host bits clear.
template <class A> struct Pk {
    A addr;
    uint8_t len;
};
using Pk4 = Pk<uint32_t>;
using Pk6 = Pk<bits::U128>;

template <class A> constexpr unsigned pk_width = sizeof(A) * 8;

template <class A> inline A pk_mask(unsigned len)
{
    return len == 0 ? A(0) : A(~A(0) << (pk_width<A> - len));
}
// Prefix order: address, then length (a prefix before what it covers).
template <class A> inline bool pk_less(const Pk<A> &a, const Pk<A> &b)
{
    return a.addr != b.addr ? a.addr < b.addr : a.len < b.len;
}
template <class A> inline bool pk_eq(const Pk<A> &a, const Pk<A> &b) { return a.addr == b.addr && a.len == b.len; }
template <class A> inline bool pk_contains(const Pk<A> &outer, const Pk<A> &inner)
{
    return outer.len <= inner.len && ((outer.addr ^ inner.addr) & pk_mask<A>(outer.len)) == 0;
}

Pk4 to_pk4(const Cidr &c);
Pk6 to_pk6(const Cidr &c);
Cidr from_pk(const Pk4 &p);
Cidr from_pk(const Pk6 &p);

// One step of normalise_prefixes on sorted prefixes: c (in prefix order
// after everything pushed before) pushed onto the normalised `out`, a stack
// (push_back, pop_back, back, size, []). See prefix_set.cpp for why one pass
// with the output as a stack is enough.
template <class A, class Stack> void normalise_push(Stack &out, const Pk<A> &c)
{
    if (out.size() > 0 && pk_contains(out.back(), c))
        return;
    out.push_back(c);
    // While the last two are the halves of one prefix: that prefix.
    while (out.size() >= 2) {
        Pk<A> &a = out[out.size() - 2];
        const Pk<A> &b = out.back();
        if (!(a.len == b.len && a.len > 0 && (a.addr ^ b.addr) == (A(1) << (pk_width<A> - a.len)) && a.addr < b.addr))
            break;
        a.len--;
        out.pop_back();
    }
}

// One source's list: normalised (normalise_prefixes), per family.
struct CompactList {
    std::vector<Pk4> v4;
    std::vector<Pk6> v6;
    size_t size() const { return v4.size() + v6.size(); }
};

// A list's prefixes before normalising: per family, in prefix order, a
// prefix listed twice present twice.
struct SortedPrefixes {
    std::vector<Pk4> v4;
    std::vector<Pk6> v6;
};
// IPv4 radix-sorted on integer keys.
SortedPrefixes sort_prefixes(const std::vector<Cidr> &prefixes);
// normalise_prefixes of sorted prefixes, in one pass per family (in place
// when moved in).
CompactList normalise_sorted_prefixes(const SortedPrefixes &p);
CompactList normalise_sorted_prefixes(SortedPrefixes &&p);
// normalise_prefixes on compact arrays: the two above.
CompactList normalise_compact(const std::vector<Cidr> &prefixes);
std::vector<Cidr> to_cidrs(const CompactList &l);

template <class A> struct MEntry {
    Pk<A> p;
    uint32_t cls;
};

struct CompactSet {
    std::vector<MEntry<uint32_t>> v4;
    std::vector<MEntry<bits::U128>> v6;
    // The class ids the entries use, and 0 (RG_MAX_CLASSES flags), when
    // known: read_compact and sweep_source fill it, saving the next sweep a
    // pass; empty means not known.
    std::vector<bool> classes_used;
    size_t size() const { return v4.size() + v6.size(); }
};
// classes_used, or the same worked out from the entries.
std::vector<bool> used_classes(const CompactSet &set);

// Sorts entries read from the tables (any order) into prefix order.
void sort_compact(CompactSet &set);

struct ClassValue {
    uint64_t allow = 0, block = 0;
};

// A change of the tables: entries to write (new or with a new class) and
// prefixes to remove, per family, in the order list_table.cpp writes them
// (upserts longest first, deletes shortest first).
struct CompactChange {
    std::vector<MEntry<uint32_t>> up4;
    std::vector<MEntry<bits::U128>> up6;
    std::vector<Pk4> del4;
    std::vector<Pk6> del6;
    // Classes the upserts name that `old` does not use: written first.
    std::vector<std::pair<uint32_t, ClassValue>> new_classes;
    bool empty() const { return up4.empty() && up6.empty() && del4.empty() && del6.empty(); }
};

struct SweepResult {
    CompactSet next;
    CompactChange change;
    // The block view's change (what diff_views would count) and size.
    size_t view_upserts = 0, view_deletes = 0;
    size_t view4 = 0, view6 = 0;
};

// Replaces source `bit`'s block list with `list` in `old`. classes: the
// class table (RG_MAX_CLASSES values). Throws rg::Error when the change
// needs more classes than there are. Does not check the list limits (the
// caller does, with view4/view6, before writing).
SweepResult sweep_source(const CompactSet &old, const ClassValue *classes, unsigned bit, const CompactList &list);

// The allow list's view prefixes (entries whose allow answer differs from
// the entry above them), in prefix order.
std::vector<Cidr> compact_allow_prefixes(const CompactSet &set, const ClassValue *classes);

// OR of the block sources of every class the set uses.
uint64_t compact_block_sources(const CompactSet &set, const ClassValue *classes);

} // namespace rg
