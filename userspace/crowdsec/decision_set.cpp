#include "decision_set.hpp"

namespace rg {

void DecisionSet::erase(uint64_t id)
{
    auto it = by_id_.find(id);
    if (it == by_id_.end())
        return;
    const Held &h = it->second;
    auto [lo, hi] = ends_.equal_range(h.end);
    for (auto e = lo; e != hi; ++e)
        if (e->second == id) {
            ends_.erase(e);
            break;
        }
    auto t = by_target_.find(h.target);
    t->second.erase(id);
    if (t->second.empty())
        by_target_.erase(t);
    by_id_.erase(it);
}

bool DecisionSet::add(const Decision &d, Clock::time_point now)
{
    if (deleted_.contains(d.id))
        return false;  // deleted already: a late copy
    bool had = by_id_.contains(d.id);
    erase(d.id);
    if (d.duration.count() <= 0)
        return had;
    // Go's durations reach 292 years: one the clock cannot count from now
    // ends at the end of time rather than overflow (and end at once).
    auto left = std::chrono::duration_cast<Clock::duration>(d.duration);
    Clock::time_point end = left >= Clock::time_point::max() - now ? Clock::time_point::max() : now + left;
    by_id_[d.id] = {d.target, end};
    by_target_[d.target].insert(d.id);
    ends_.emplace(end, d.id);
    return true;
}

bool DecisionSet::remove(const Decision &d, Clock::time_point now)
{
    if (!deleted_.emplace(d.id, now).second)
        return false;  // a repeat
    bool changed = by_id_.contains(d.id);
    erase(d.id);
    if (auto t = by_target_.find(d.target); t != by_target_.end()) {
        for (uint64_t id : std::set<uint64_t>(t->second))  // a copy: erase() changes it
            erase(id);
        changed = true;
    }
    return changed;
}

void DecisionSet::replace(const std::vector<Decision> &all, Clock::time_point now)
{
    by_id_.clear();
    by_target_.clear();
    ends_.clear();
    by_id_.reserve(all.size());
    for (const Decision &d : all)
        add(d, now);
}

size_t DecisionSet::expire(Clock::time_point now)
{
    std::erase_if(deleted_, [&](const auto &e) { return now - e.second > kDeletedKept; });
    size_t n = 0;
    while (!ends_.empty() && ends_.begin()->first <= now) {
        erase(ends_.begin()->second);
        n++;
    }
    return n;
}

PrefixSet DecisionSet::prefixes() const
{
    PrefixSet s;
    for (const auto &[target, ids] : by_target_) {
        if (target.family == 4)
            s.v4.push_back(to_prefix4(target));
        else
            s.v6.push_back(to_prefix6(target));
    }
    sort_prefixes(s);
    collapse_in_place(s);
    return s;
}

std::optional<DecisionSet::Clock::time_point> DecisionSet::next_end() const
{
    if (ends_.empty())
        return std::nullopt;
    return ends_.begin()->first;
}

} // namespace rg
