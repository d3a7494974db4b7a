// `relayguard watch`: log lines in, bans out. Each line is split
// (log_line.hpp), tried against the rules (log_rules.hpp), counted
// (offenders.hpp), and a completed ban is checked against the exemptions
// and handed to a BanTarget, which carries it out in the kernel (or, in a
// dry run, does not). Every decision is reported as one JSON object:
//   {"event":"ban"|"exempt", "source", "prefix", "rule", "matches",
//    "findtime_s", "bantime_s", "offence", "escalation", "dry_run",
//    "why" (exempt only), "lines"}
#pragma once

#include "cidr.hpp"
#include "log_rules.hpp"
#include "offenders.hpp"
#include "watch_state.hpp"

#include <nlohmann/json.hpp>

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace rg {

// A decision as one line for people: "ban 192.0.2.7/32 for 1h: relay-denied, 3 matches within 10m".
std::string describe_decision(const nlohmann::json &event);

// The [watch] section of the config, and `relayguard watch`'s options.
struct WatchConfig {
    std::string log;       // a file to follow ...
    bool journal = false;  // ... or the journal; neither: no watch
    std::vector<LogRule> rules = builtin_log_rules();
    std::vector<Cidr> ignore;  // never banned, as fail2ban's ignoreip
    BanPolicy policy;
    bool dry_run = false;
    bool enabled() const { return journal || !log.empty(); }
    bool operator==(const WatchConfig &) const = default;
};

// Where decisions go.
class BanTarget {
public:
    virtual ~BanTarget() = default;
    // Why the prefix must not be banned (it holds an allowlisted, loopback
    // or local address), or empty.
    virtual std::string exempt(const Cidr &prefix) = 0;
    // Bans it in the kernel. Throws rg::Error.
    virtual void ban(const Cidr &prefix, Duration bantime) = 0;
};

class Watcher {
public:
    static constexpr size_t kBansKept = 10000;  // bans whose rule and lines the state file keeps
    using Report = std::function<void(const nlohmann::json &)>;
    // Throws rg::Error for a rule that does not compile.
    Watcher(const WatchConfig &cfg, BanTarget &target, Report report, std::string source_name);

    // One log line; `now` (Unix seconds) stands for the time of a line
    // without a timestamp.
    void line(std::string_view text, int64_t now);

    // Counters (of this run, as Prometheus counters restart with their
    // process), bans still in force at `now` and offenders, for the state
    // file; restore() takes back an earlier run's bans and offenders.
    WatchState state(int64_t now) const;
    void restore(const WatchState &saved);
    // Whether state() changed since the last call of this.
    bool take_dirty() { return std::exchange(dirty_, false); }

private:
    void decide(const BanDecision &d);
    void keep_bans_bounded();

    WatchConfig cfg_;
    RuleSet rules_;
    Offenders offenders_;
    BanTarget &target_;
    Report report_;
    WatchState state_;
    std::vector<RuleCounters> counters_;  // per rule, in rule order
    // Each ban made, oldest first, as (its serial number, prefix); the
    // latest serial of each prefix in state_.bans.
    std::deque<std::pair<uint64_t, Cidr>> ban_order_;
    std::map<Cidr, uint64_t> ban_serial_;
    uint64_t bans_made_ = 0;
    int64_t last_expire_ = 0;
    int64_t now_ = 0;  // of the line being read: bans count from it, as the kernel's do
    bool dirty_ = false;
};

} // namespace rg
