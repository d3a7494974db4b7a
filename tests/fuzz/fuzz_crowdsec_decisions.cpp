// CrowdSec LAPI answers (crowdsec/decision, decision_set): the JSON of
// /v1/decisions/stream, untrusted. Properties: the answer parses or throws
// rg::Error; every decision kept is of a scope and type the filter asks
// for, with a parsed target no broader than the limits (for additions);
// and the decisions applied to a DecisionSet block exactly the targets of
// a plain model (the last addition of each id with time left, minus every
// target deleted), collapsed.
#include "decision.hpp"
#include "decision_set.hpp"
#include "error.hpp"
#include "fuzz_check.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    rg_fuzz::quiet();
    return 0;
}

// Byte 0: the filter (scopes, types, limits); the rest: the answer.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    rg::DecisionFilter filter;
    filter.ip = !(data[0] & 1);
    filter.range = !(data[0] & 2);
    if (data[0] & 4)
        filter.types.push_back("captcha");
    if (data[0] & 8)
        filter.min_prefix4 = filter.min_prefix6 = 0;
    std::string_view body = rg_fuzz::text_of(data + 1, size - 1);
    rg::StreamAnswer a;
    try {
        a = rg::parse_stream_answer(body, filter);
    } catch (const rg::Error &) {
        return 0;
    }
    FUZZ_CHECK(a.refused.size() == std::min<size_t>(a.refused_count, 10), "refusals kept");
    for (const auto *list : {&a.added, &a.deleted})
        for (const rg::Decision &d : *list) {
            std::string scope = d.scope, type = d.type;
            std::ranges::transform(scope, scope.begin(), ::tolower);
            std::ranges::transform(type, type.begin(), ::tolower);
            FUZZ_CHECK((scope == "ip" && filter.ip) || (scope == "range" && filter.range), "scope " + scope);
            FUZZ_CHECK(std::ranges::find(filter.types, type) != filter.types.end(), "type " + type);
            FUZZ_CHECK(d.target.widened(d.target.len) == d.target, "host bits in " + d.target.str());
            if (scope == "ip")
                FUZZ_CHECK(d.target.len == d.target.max_len(), "an Ip that is a range");
            if (list == &a.added)
                FUZZ_CHECK(d.target.len >= (d.target.family == 4 ? filter.min_prefix4 : filter.min_prefix6),
                           "a broad range added");
        }

    // The answer into a set, on a machine up for a year (steady_clock
    // counts from boot), and the model.
    using Clock = rg::DecisionSet::Clock;
    const Clock::time_point now{std::chrono::hours(24 * 365)};
    rg::DecisionSet set;
    std::map<uint64_t, rg::Cidr> model;
    for (const rg::Decision &d : a.added) {
        set.add(d, now);
        model.erase(d.id);
        if (d.duration.count() > 0)
            model[d.id] = d.target;
    }
    std::set<uint64_t> deleted;
    for (const rg::Decision &d : a.deleted) {
        set.remove(d, now);
        if (!deleted.insert(d.id).second)
            continue;
        model.erase(d.id);
        std::erase_if(model, [&](const auto &e) { return e.second == d.target; });
    }
    std::vector<rg::Cidr> targets;
    for (const auto &[id, target] : model)
        targets.push_back(target);
    rg::PrefixSet want = rg::to_prefix_set(targets);
    rg::collapse_in_place(want);
    FUZZ_CHECK(set.prefixes() == want, "the decisions in force block other targets than the model");
    FUZZ_CHECK(set.decisions() == model.size(), "decisions held");
    if (auto end = set.next_end())
        FUZZ_CHECK(*end > now, "a decision in force that has ended");
    set.expire(Clock::time_point::max());
    FUZZ_CHECK(set.decisions() == 0, "a decision outlives the end of time");
    return 0;
}
