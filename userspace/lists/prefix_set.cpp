#include "prefix_set.hpp"

#include "cidr_bits.hpp"
#include "error.hpp"

#include <algorithm>
#include <utility>

namespace rg {

namespace {

// prefix_less, inlined into the sorts (a million prefixes: the comparison is
// the hot spot, and a libc memcmp per call cost twice as much).
inline bool less_inline(const Cidr &a, const Cidr &b)
{
    if (a.family != b.family)
        return a.family < b.family;
    bits::U128 x = bits::from_bytes(a.addr), y = bits::from_bytes(b.addr);
    if (x != y)
        return x < y;
    return a.len < b.len;
}

// a and b are the two halves of one prefix, a the lower.
bool lower_sibling(const Cidr &a, const Cidr &b)
{
    return a.family == b.family && a.len == b.len && a.len > 0 &&
           (bits::from_bytes(a.addr) ^ bits::from_bytes(b.addr)) == bits::unit(a.len) &&
           a.addr < b.addr;
}

} // namespace

bool prefix_less(const Cidr &a, const Cidr &b) { return less_inline(a, b); }

std::vector<Cidr> normalise_prefixes(std::vector<Cidr> prefixes)
{
    auto by_prefix = [](const Cidr &a, const Cidr &b) { return less_inline(a, b); };
    if (!std::is_sorted(prefixes.begin(), prefixes.end(), by_prefix))
        std::sort(prefixes.begin(), prefixes.end(), by_prefix);
    // One pass, the output used as a stack. In prefix order a covering prefix
    // comes first and what it covers follows without a gap, so checking the
    // top alone drops duplicates and covered prefixes; the output stays
    // disjoint and sorted, so a sibling pair can only be the top two.
    size_t n = 0;
    for (const Cidr &c : prefixes) {
        if (n > 0 && bits::contains(prefixes[n - 1], c))
            continue;
        prefixes[n++] = c;
        while (n >= 2 && lower_sibling(prefixes[n - 2], prefixes[n - 1])) {
            Cidr &parent = prefixes[n - 2];
            parent.len--;  // the lower half's address is already the parent's
            n--;
        }
    }
    prefixes.resize(n);
    return prefixes;
}

View compile_view(const std::vector<SourcePrefixes> &sources)
{
    auto by_prefix = [](const ViewEntry &a, const ViewEntry &b) { return less_inline(a.prefix, b.prefix); };
    // Every source as one run in prefix order (normalised lists already
    // are), then the runs merged pairwise: O(n log sources), not a full sort.
    std::vector<ViewEntry> all;
    size_t total = 0;
    for (const SourcePrefixes &s : sources)
        total += s.prefixes.size();
    all.reserve(total);
    std::vector<size_t> runs{0};  // run i is all[runs[i], runs[i + 1])
    for (const SourcePrefixes &s : sources) {
        if (s.source >= max_sources)
            throw Error("source bit " + std::to_string(s.source) + " out of range (0-" +
                        std::to_string(max_sources - 1) + ")");
        for (const Cidr &c : s.prefixes)
            all.push_back({c, uint64_t(1) << s.source});
        auto run = all.begin() + long(runs.back());
        if (!std::is_sorted(run, all.end(), by_prefix))
            std::sort(run, all.end(), by_prefix);
        runs.push_back(all.size());
    }
    while (runs.size() > 2) {
        std::vector<size_t> merged{0};
        for (size_t i = 0; i + 1 < runs.size(); i += 2) {
            if (i + 2 < runs.size()) {
                std::inplace_merge(all.begin() + long(runs[i]), all.begin() + long(runs[i + 1]),
                                   all.begin() + long(runs[i + 2]), by_prefix);
                merged.push_back(runs[i + 2]);
            } else {
                merged.push_back(runs[i + 1]);
            }
        }
        runs = std::move(merged);
    }

    // Sweep in prefix order with a stack of the kept entries that cover the
    // current one (its chain of ancestors in the output). An entry takes its
    // closest kept ancestor's sources, which already include every source
    // further up; if that adds nothing of its own, the ancestor answers the
    // same for all its addresses, so it is dropped.
    View out;
    out.reserve(all.size());
    std::vector<size_t> chain;  // indexes into out
    for (size_t i = 0; i < all.size();) {
        ViewEntry e = all[i];
        for (i++; i < all.size() && all[i].prefix == e.prefix; i++)
            e.sources |= all[i].sources;
        while (!chain.empty() && !bits::contains(out[chain.back()].prefix, e.prefix))
            chain.pop_back();
        if (!chain.empty()) {
            uint64_t inherited = out[chain.back()].sources;
            if ((e.sources | inherited) == inherited)
                continue;
            e.sources |= inherited;
        }
        chain.push_back(out.size());
        out.push_back(e);
    }
    return out;
}

std::vector<SourcePrefixes> split_view(View table)
{
    auto by_prefix = [](const ViewEntry &a, const ViewEntry &b) { return less_inline(a.prefix, b.prefix); };
    if (!std::is_sorted(table.begin(), table.end(), by_prefix))
        std::sort(table.begin(), table.end(), by_prefix);
    std::vector<SourcePrefixes> per(max_sources);
    for (unsigned b = 0; b < max_sources; b++)
        per[b].source = b;
    // The chain of entries containing the current one, each with the union
    // of the bits along it: a bit already there was listed by a broader entry.
    struct Link {
        Cidr prefix;
        uint64_t bits;
    };
    std::vector<Link> chain;
    for (const ViewEntry &e : table) {
        while (!chain.empty() && !bits::contains(chain.back().prefix, e.prefix))
            chain.pop_back();
        uint64_t above = chain.empty() ? 0 : chain.back().bits;
        for (uint64_t own = e.sources & ~above; own; own &= own - 1)
            per[unsigned(__builtin_ctzll(own))].prefixes.push_back(e.prefix);
        chain.push_back({e.prefix, above | e.sources});
    }
    std::erase_if(per, [](const SourcePrefixes &s) { return s.prefixes.empty(); });
    return per;
}

// Why this order leaves no gap.
//
// Write O(x) and N(x) for the sources an address x gets from the old and the
// new view, and T(x) for what the table answers at some moment of the sync
// (the sources of the longest entry there containing x, 0 if none). Claim:
// T(x) includes O(x) & N(x) at every step. Two facts about any view V: for
// entries E inside F, V's sources of E include those of F; and the sources
// of any entry containing x are a subset of V(x).
//
// Upserts, longest first. Say the last upsert had length L: every changed
// entry of new longer than L is written, nothing written is shorter than L.
// Let M be the table's longest entry containing x, O and N the longest
// entries containing x in old and new.
//   - M holds its old sources (not yet written, or unchanged): if O is still
//     unwritten M is O, since nothing old and longer contains x; T(x) = O(x).
//     If O was written, M is new-valued (below), as it is at least as long.
//   - M holds its new sources: if M is N, T(x) = N(x). If N is longer than
//     M, N is changed and unwritten, so |N| <= L, and M is shorter, so M was
//     not written (that would make |M| >= L): M is unchanged, an entry of old
//     too. O is either in the table unwritten, making M = O (nothing old is
//     longer), or written, making |O| >= L >= |N| > |M|, a longer match than
//     M, which cannot be. So T(x) = O(x).
// Deletes, shortest first. Every entry of new is in the table with its new
// sources; what else is there is old-only and not yet deleted. If M belongs
// to new it is N (N is there and nothing longer of new contains x). If M is
// old-only and not O, then O (longer, containing x) is not in the table: not
// in new (it would be there), so old-only and already deleted, before the
// shorter M -- against the order. So M is O and T(x) = O(x).
//
// Any order of upserts-then-deletes keeps a match for x when both views have
// one (nothing covering x is removed before its replacement is in); the
// order above also keeps every source that stays, which counts once feeds
// can be shadow-only or are attributed per drop. A batched map update must
// keep the order within a batch (BPF_MAP_UPDATE_BATCH does, element by
// element).
ViewDiff diff_views(const View &old_view, const View &new_view)
{
    auto by_prefix = [](const ViewEntry &a, const ViewEntry &b) { return less_inline(a.prefix, b.prefix); };
    auto strictly_sorted = [&](const View &v) {
        return std::adjacent_find(v.begin(), v.end(), [&](const ViewEntry &a, const ViewEntry &b) {
                   return !by_prefix(a, b);
               }) == v.end();
    };
    if (!strictly_sorted(old_view) || !strictly_sorted(new_view))
        throw Error("diff_views: views must be in prefix order without duplicates");

    ViewDiff d;
    auto o = old_view.begin(), n = new_view.begin();
    while (o != old_view.end() || n != new_view.end()) {
        if (n == new_view.end() || (o != old_view.end() && by_prefix(*o, *n))) {
            d.deletes.push_back((o++)->prefix);
        } else if (o == old_view.end() || by_prefix(*n, *o)) {
            d.upserts.push_back(*n++);
        } else {
            if (o->sources != n->sources)
                d.upserts.push_back(*n);
            ++o, ++n;
        }
    }
    std::stable_sort(d.upserts.begin(), d.upserts.end(),
                     [](const ViewEntry &a, const ViewEntry &b) { return a.prefix.len > b.prefix.len; });
    std::stable_sort(d.deletes.begin(), d.deletes.end(),
                     [](const Cidr &a, const Cidr &b) { return a.len < b.len; });
    return d;
}

} // namespace rg
