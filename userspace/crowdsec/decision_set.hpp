// The CrowdSec decisions in force, by id, each with its end; what they
// block is the union of their targets. So a target stays blocked while any
// decision on it is in force (two bans of one address: the one ending first
// takes nothing with it), and a decision on an address never lifts a range
// that covers it (they are different targets).
//
// Removal follows the Local API's stream: the LAPI reports a deletion only
// once nothing is left on the target (checked with crowdsec 1.4.6: deleting
// one of two decisions on an address sends nothing; deleting the other
// sends that one, whichever the bouncer saw). So a deletion clears its
// target: every decision held for it goes, also one the LAPI deleted
// earlier without a word, or one whose end the bouncer took from a longer
// decision. Each decision's own end is still kept here: of two decisions
// on a target, the one ending first takes nothing with it.
//
// The LAPI sends a deletion again in the answers of the next seconds (it
// looks back a little from the bouncer's last pull): a deletion is acted on
// once, so a repeat cannot take a decision made on the target since. The
// ids of deletions are kept for kDeletedKept.
#pragma once

#include "decision.hpp"
#include "prefix_set.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

namespace rg {

class DecisionSet {
public:
    using Clock = std::chrono::steady_clock;

    // A decision that ends at now + its duration; one already over is not
    // added. A known id gets the new end. Returns whether the set changed.
    bool add(const Decision &d, Clock::time_point now);
    // See above. Returns whether the set changed.
    bool remove(const Decision &d, Clock::time_point now);
    static constexpr std::chrono::minutes kDeletedKept{5};
    // Everything replaced by these decisions (a startup answer).
    void replace(const std::vector<Decision> &all, Clock::time_point now);
    // Drops the decisions whose end is not after now; how many.
    size_t expire(Clock::time_point now);

    // The targets as one sorted, collapsed set: what the blocklist gets.
    PrefixSet prefixes() const;
    size_t decisions() const { return by_id_.size(); }
    size_t targets() const { return by_target_.size(); }
    // The earliest end, if any.
    std::optional<Clock::time_point> next_end() const;

private:
    struct Held {
        Cidr target;
        Clock::time_point end;
    };
    void erase(uint64_t id);

    std::unordered_map<uint64_t, Held> by_id_;
    std::map<Cidr, std::set<uint64_t>> by_target_;
    std::multimap<Clock::time_point, uint64_t> ends_;
    std::unordered_map<uint64_t, Clock::time_point> deleted_;  // id -> when its deletion came
};

} // namespace rg
