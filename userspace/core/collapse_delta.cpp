#include "collapse_delta.hpp"

#include "seek.hpp"

#include <algorithm>
#include <tuple>

namespace rg {

namespace {

template <class A> using Span = std::span<const Prefix<A>>;

// The run of a sorted set inside w, as positions [lo, hi); hint: a
// position near it.
template <class A> std::pair<size_t, size_t> inside(Span<A> v, const Prefix<A> &w, size_t hint)
{
    size_t lo = seek(v, hint, [&](const Prefix<A> &p) { return prefix_less(p, w); });
    A last = last_address(w);
    return {lo, seek(v, lo, [&](const Prefix<A> &p) { return p.addr <= last; })};
}

template <class A> struct FamilyDelta {
    // A window, and the run of next inside it.
    struct Window {
        Prefix<A> w;
        size_t lo, hi;
    };
    Span<A> next, before, changed;
    std::vector<Prefix<A>> &list, &removed, &added;
    size_t &collapsed;
    std::vector<Prefix<A>> fresh{};  // scratch: the new collapse of one window
    size_t at_next = 0;              // a position in next near the last window

    // Whether the prefixes of next inside w (its run in next: [lo, hi))
    // cover all of it.
    bool covered_whole(const Prefix<A> &w, size_t &lo, size_t &hi)
    {
        std::tie(lo, hi) = inside(next, w, at_next);
        at_next = lo;
        if (lo == hi)
            return false;
        collapse_family(next.subspan(lo, hi - lo), fresh);
        return fresh.size() == 1 && fresh[0] == w;
    }

    // The window around changed prefix d (see the top of the header): the
    // block of before that holds d, or d, then its parent while next
    // covers it whole. No block of before holds a parent (blocks are
    // disjoint); a prefix of next holding one but not in before would be a
    // changed prefix before d, whose window then holds d: the caller skips
    // d.
    Window window(const Prefix<A> &d, size_t &at_before)
    {
        at_before = seek(before, at_before, [&](const Prefix<A> &p) { return prefix_less(p, d); });
        Window v{at_before > 0 && contains(before[at_before - 1], d) ? before[at_before - 1] : d, 0, next.size()};
        while (v.w.len > 0 && covered_whole(v.w, v.lo, v.hi)) {
            v.w.len--;
            v.w.addr &= prefix_mask<A>(v.w.len);
            v.lo = 0, v.hi = next.size();  // all of next is inside /0
        }
        return v;
    }

    void run()
    {
        std::vector<Window> windows;  // disjoint, sorted
        size_t at_before = 0;
        for (const Prefix<A> &d : changed) {
            if (!windows.empty() && contains(windows.back().w, d))
                continue;
            Window v = window(d, at_before);
            while (!windows.empty() && contains(v.w, windows.back().w))
                windows.pop_back();
            windows.push_back(v);
        }
        list.clear();
        list.reserve(before.size() + changed.size());
        size_t i = 0;  // before[i, ...) not copied yet
        for (const auto &[w, lo, hi] : windows) {
            auto [old_lo, old_hi] = inside(before, w, i);
            list.insert(list.end(), before.begin() + long(i), before.begin() + long(old_lo));
            collapsed += hi - lo;
            collapse_family(next.subspan(lo, hi - lo), fresh);
            Span<A> old = before.subspan(old_lo, old_hi - old_lo);
            std::set_difference(old.begin(), old.end(), fresh.begin(), fresh.end(), std::back_inserter(removed),
                                prefix_less<A>);
            std::set_difference(fresh.begin(), fresh.end(), old.begin(), old.end(), std::back_inserter(added),
                                prefix_less<A>);
            list.insert(list.end(), fresh.begin(), fresh.end());
            i = old_hi;
        }
        list.insert(list.end(), before.begin() + long(i), before.end());
    }
};

} // namespace

void collapse_delta(PrefixSpan next, PrefixSpan before, PrefixSpan changed, CollapseDelta &out)
{
    out.removed.clear();
    out.added.clear();
    out.collapsed = 0;
    FamilyDelta<uint32_t>{next.v4, before.v4, changed.v4, out.list.v4, out.removed.v4, out.added.v4, out.collapsed}
        .run();
    FamilyDelta<U128>{next.v6, before.v6, changed.v6, out.list.v6, out.removed.v6, out.added.v6, out.collapsed}.run();
}

} // namespace rg
