// Prefix sets: per-feed normalisation, the compiled kernel view across all
// block sources, and the diff that moves the kernel from one view to the next.
// Pure computation, no kernel: the map code applies what this produces.
//
// Invariants of a View (what compile_view returns):
//   - entries are in prefix order (prefix_less), unique, with sources != 0;
//   - longest-prefix match over the entries gives, for every address, the set
//     of sources that list some prefix containing that address (0, i.e. no
//     match, when none does) -- which is what a BPF LPM trie holding the
//     entries answers;
//   - no entry is redundant: each one's sources differ from those of the
//     closest entry covering it.
#pragma once

#include "cidr.hpp"

#include <cstdint>
#include <vector>

namespace rg {

// Prefix order: family, then address, then length. A prefix sorts before
// every prefix it covers, and what it covers follows it without a gap.
bool prefix_less(const Cidr &a, const Cidr &b);

// Sorts (prefix order), drops duplicates and prefixes covered by a broader
// one, and merges sibling pairs (1.2.3.0/25 + 1.2.3.128/25 -> 1.2.3.0/24)
// until none is left. The result covers exactly the addresses of the input
// with the fewest prefixes, disjoint, in prefix order.
std::vector<Cidr> normalise_prefixes(std::vector<Cidr> prefixes);

// Source bits: bit 0 is the manual block list, feeds take the others.
constexpr unsigned max_sources = 64;
constexpr unsigned manual_source = 0;

struct SourcePrefixes {
    unsigned source = 0;  // bit number, < max_sources
    std::vector<Cidr> prefixes;  // need not be normalised
};

struct ViewEntry {
    Cidr prefix;
    uint64_t sources = 0;  // bit per source listing a prefix that covers this entry
    bool operator==(const ViewEntry &) const = default;
};

using View = std::vector<ViewEntry>;

// The kernel view of all sources (see the invariants above). A source given
// twice counts as one. Throws rg::Error for a source bit >= max_sources.
View compile_view(const std::vector<SourcePrefixes> &sources);

// The inverse of compile_view: each source's own list, read back from a
// table of entries (what the kernel holds). A source lists the entry's
// prefix when the entry has its bit and no broader entry containing it does.
// For a view made by compile_view from lists without covered prefixes or
// duplicates this gives those lists back exactly (in prefix order), so the
// kernel table is the only copy the controller needs. On a table left
// half-way through a diff (a killed sync) it gives, for every source the
// diff did not change, its exact list, and for the changed one a mix of its
// old and new lists. Sources listing nothing are left out. Any order in.
std::vector<SourcePrefixes> split_view(View table);

// Removing a source is compile_view without it: what no other source lists
// disappears, and entries it shared lose only its bit.

// Moves the kernel from one view to another: write every upsert, in the
// given order, then remove every delete, in the given order.
//   upserts: entries of new_view that old_view lacks or holds with other
//            sources, longest prefixes first;
//   deletes: prefixes of old_view absent from new_view, shortest first.
// Done so, at every step and for every address, the matched sources include
// all sources that list the address both before and after the sync: nothing
// blocked before and after is unblocked in between, and no feed's drop
// attribution lapses. prefix_set.cpp gives the argument. Both views must be
// in prefix order (throws rg::Error otherwise).
struct ViewDiff {
    std::vector<ViewEntry> upserts;
    std::vector<Cidr> deletes;
    bool empty() const { return upserts.empty() && deletes.empty(); }
};

ViewDiff diff_views(const View &old_view, const View &new_view);

} // namespace rg
