#include "offenders.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace rg {

size_t Offenders::KeyHash::operator()(const Key &k) const
{
    uint64_t a, b;
    std::memcpy(&a, k.source.addr.data(), 8);
    std::memcpy(&b, k.source.addr.data() + 8, 8);
    return std::hash<uint64_t>()(a * 0x9e3779b97f4a7c15ull ^ b ^ (uint64_t(k.rule) << 56 | k.source.family));
}

Offenders::Offenders(const std::vector<LogRule> &rules, BanPolicy policy) : rules_(rules), policy_(policy) {}

Duration Offenders::bantime_of(const LogRule &r, unsigned offence) const
{
    double scaled = double(r.bantime.count()) * std::pow(policy_.bantime_factor, double(offence - 1));
    double cap = double(std::max(policy_.bantime_max, r.bantime).count());
    return Duration(int64_t(std::min(scaled, cap)));
}

std::optional<BanDecision> Offenders::record(const RuleMatch &m, std::string_view line, int64_t t)
{
    const LogRule &r = rules_[m.rule];
    Hits &h = hits_[Key{m.rule, m.source}];
    int64_t window = whole_seconds(r.findtime);
    std::erase_if(h.times, [&](int64_t at) { return at <= t - window; });
    h.times.push_back(t);
    // Cut before a UTF-8 character that does not fit, not inside it.
    size_t keep = std::min(line.size(), kEvidenceChars);
    while (keep < line.size() && keep > 0 && (uint8_t(line[keep]) & 0xc0) == 0x80)
        keep--;
    h.lines.emplace_back(line.substr(0, keep));
    if (size_t keep = std::min<size_t>(r.maxretry, kEvidenceLines); h.lines.size() > keep)
        h.lines.erase(h.lines.begin(), h.lines.end() - keep);
    if (h.times.size() < r.maxretry)
        return std::nullopt;

    BanDecision d;
    d.target = m.source;
    d.rule = m.rule;
    d.matches = unsigned(h.times.size());
    d.lines.assign(h.lines.begin(), h.lines.end());
    d.time = t;
    auto o = offenders_.find(m.source);
    if (o != offenders_.end() && o->second.last_ban > t - whole_seconds(policy_.bantime_max))
        d.offence = o->second.bans + 1;
    d.bantime = bantime_of(r, d.offence);
    hits_.erase(Key{m.rule, m.source});
    return d;
}

std::optional<BanDecision> Offenders::banned(const BanDecision &d)
{
    if (d.escalation)
        return std::nullopt;
    offenders_[d.target] = RepeatOffender{d.offence, d.time};
    if (policy_.escalate_after == 0)
        return std::nullopt;
    Cidr prefix = d.target.widened(d.target.family == 4 ? policy_.escalate_prefix4 : policy_.escalate_prefix6);
    std::deque<int64_t> &times = prefix_bans_[prefix];
    while (!times.empty() && times.front() <= d.time - whole_seconds(policy_.escalate_window))
        times.pop_front();
    times.push_back(d.time);
    if (times.size() < policy_.escalate_after)
        return std::nullopt;
    prefix_bans_.erase(prefix);
    BanDecision e = d;
    e.target = prefix;
    e.escalation = true;
    return e;
}

void Offenders::expire(int64_t t)
{
    for (auto it = hits_.begin(); it != hits_.end();) {
        int64_t window = whole_seconds(rules_[it->first.rule].findtime);
        bool stale = it->second.times.empty() || it->second.times.back() <= t - window;
        it = stale ? hits_.erase(it) : std::next(it);
    }
    std::erase_if(offenders_, [&](const auto &o) { return o.second.last_ban <= t - whole_seconds(policy_.bantime_max); });
    std::erase_if(prefix_bans_, [&](const auto &p) {
        return p.second.back() <= t - whole_seconds(policy_.escalate_window);
    });
}

} // namespace rg
