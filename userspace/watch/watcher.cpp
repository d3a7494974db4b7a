#include "watcher.hpp"

#include "duration.hpp"
#include "error.hpp"
#include "log.hpp"

#include <algorithm>

namespace rg {

Watcher::Watcher(const WatchConfig &cfg, BanTarget &target, Report report, std::string source_name)
    : cfg_(cfg), rules_(cfg.rules), offenders_(rules_.rules(), cfg.policy), target_(target),
      report_(std::move(report)), counters_(cfg.rules.size())
{
    state_.source = std::move(source_name);
}

void Watcher::line(std::string_view text, int64_t now)
{
    state_.lines++;
    now_ = now;
    dirty_ = true;
    LogLine l;
    if (!split_log_line(text, l))
        return;
    std::optional<RuleMatch> m = rules_.match(l);
    if (!m)
        return;
    int64_t t = l.time ? l.time : now;
    counters_[m->rule].matches++;
    if (t >= last_expire_ + 60) {  // bounded memory: forget what no window reaches
        offenders_.expire(t);
        last_expire_ = t;
    }
    if (std::optional<BanDecision> d = offenders_.record(*m, text, t))
        decide(*d);
}

void Watcher::decide(const BanDecision &d)
{
    const LogRule &r = rules_.rules()[d.rule];
    std::string why;
    for (const Cidr &c : cfg_.ignore)
        if (c.overlaps(d.target))
            why = "ignored (" + c.str() + ")";
    if (why.empty())
        why = target_.exempt(d.target);
    nlohmann::json event = {{"event", why.empty() ? "ban" : "exempt"},
                            {"prefix", d.target.str()},
                            {"rule", r.name},
                            {"matches", d.matches},
                            {"findtime_s", whole_seconds(r.findtime)},
                            {"bantime_s", whole_seconds(d.bantime)},
                            {"offence", d.offence},
                            {"escalation", d.escalation},
                            {"dry_run", cfg_.dry_run},
                            {"lines", d.lines}};
    if (!why.empty()) {
        event["why"] = why;
        counters_[d.rule].exempt++;
        report_(event);
        return;
    }
    if (!cfg_.dry_run)
        target_.ban(d.target, d.bantime);
    counters_[d.rule].bans++;
    state_.bans[d.target] =
        WatchBan{r.name, d.matches, d.offence, d.escalation, now_, now_ + whole_seconds(d.bantime), d.lines};
    ban_serial_[d.target] = ++bans_made_;
    ban_order_.emplace_back(bans_made_, d.target);
    keep_bans_bounded();
    report_(event);
    if (std::optional<BanDecision> prefix = offenders_.banned(d))
        decide(*prefix);
}

// The oldest explanations go (the bans stay in the kernel); ban_order_ holds
// an entry per ban made, so a source banned again has a stale one, skipped
// here, and the queue is rebuilt when stale ones are half of it.
void Watcher::keep_bans_bounded()
{
    auto live = [this](const std::pair<uint64_t, Cidr> &e) {
        auto it = ban_serial_.find(e.second);
        return it != ban_serial_.end() && it->second == e.first;
    };
    while (state_.bans.size() > kBansKept) {
        if (live(ban_order_.front())) {
            state_.bans.erase(ban_order_.front().second);
            ban_serial_.erase(ban_order_.front().second);
        }
        ban_order_.pop_front();
    }
    if (ban_order_.size() > 2 * state_.bans.size() + 64)
        std::erase_if(ban_order_, [&](const auto &e) { return !live(e); });
}

WatchState Watcher::state(int64_t now) const
{
    WatchState s = state_;
    std::erase_if(s.bans, [now](const auto &b) { return b.second.expires_at <= now; });
    for (size_t i = 0; i < counters_.size(); i++)
        s.rules[rules_.rules()[i].name] = counters_[i];
    s.offenders = offenders_.offenders();
    return s;
}

void Watcher::restore(const WatchState &saved)
{
    state_.bans.insert(saved.bans.begin(), saved.bans.end());
    std::vector<std::pair<int64_t, Cidr>> by_time;
    for (const auto &[prefix, ban] : saved.bans)
        by_time.emplace_back(ban.banned_at, prefix);
    std::ranges::sort(by_time);
    for (const auto &[t, prefix] : by_time) {
        ban_serial_[prefix] = ++bans_made_;
        ban_order_.emplace_back(bans_made_, prefix);
    }
    keep_bans_bounded();
    offenders_.restore(saved.offenders);
}

std::string describe_decision(const nlohmann::json &e)
{
    std::string s = e["event"] == "ban" ? (e["dry_run"].get<bool>() ? "would ban " : "ban ") : "not banned ";
    s += e["prefix"].get<std::string>();
    if (e["event"] == "ban")
        s += " for " + format_duration(std::chrono::seconds(e["bantime_s"].get<int64_t>()));
    s += ": " + e["rule"].get<std::string>() + ", " + std::to_string(e["matches"].get<unsigned>()) +
         " matches within " + format_duration(std::chrono::seconds(e["findtime_s"].get<int64_t>()));
    if (e["offence"].get<unsigned>() > 1)
        s += ", offence " + std::to_string(e["offence"].get<unsigned>());
    if (e["escalation"].get<bool>())
        s += ", escalated to the prefix";
    if (e.contains("why"))
        s += " (" + e["why"].get<std::string>() + ")";
    return s;
}

} // namespace rg
