// Finding a place in a sorted array near a place already known: steps that
// double from the hint, towards the answer, then a binary search within the
// last step. Keys that come in order are usually near the last answer, in
// memory already read, where a search of the whole array would miss the
// cache at every step.
#pragma once

#include <algorithm>
#include <span>

namespace rg {

// The first position of v whose entry is not before(entry), where `before`
// holds for a prefix of v; hint: a guess, any position.
template <class T, class Before> size_t seek(std::span<const T> v, size_t hint, Before before)
{
    auto at = [&](size_t i) { return v.begin() + long(i); };
    size_t n = v.size();
    hint = std::min(hint, n);
    if (hint < n && before(v[hint])) {
        size_t lo = hint, hi = n;  // before(v[lo]); hi: the end, or an entry not before
        for (size_t step = 1; lo + step < n; step *= 2) {
            if (!before(v[lo + step])) {
                hi = lo + step;
                break;
            }
            lo += step;
        }
        return size_t(std::partition_point(at(lo + 1), at(hi), before) - v.begin());
    }
    size_t hi = hint;  // the end, or an entry not before
    for (size_t step = 1; hi > 0; step *= 2) {
        size_t lo = hi > step ? hi - step : 0;
        if (before(v[lo]))
            return size_t(std::partition_point(at(lo + 1), at(hi), before) - v.begin());
        hi = lo;
    }
    return 0;
}

} // namespace rg
