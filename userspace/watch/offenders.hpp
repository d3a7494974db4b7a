// Counting matches into ban decisions, as fail2ban does: a source that
// matches a rule maxretry times within findtime is banned for bantime; a
// source banned before is banned longer (bantime × factor^(earlier bans),
// up to bantime_max, remembered for bantime_max after its last ban); and
// once escalate_after sources of one /24 (/48) were banned within the
// escalation window, the whole prefix is (the [rate] escalation settings).
// Times are Unix seconds of the log lines, so a log read late counts as
// it was written.
#pragma once

#include "cidr.hpp"
#include "duration.hpp"
#include "log_rules.hpp"

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rg {

struct BanPolicy {
    double bantime_factor = 2;  // 1: repeat offenders get the same bantime
    Duration bantime_max{std::chrono::hours(24 * 7)};
    unsigned escalate_after = 0;  // 0: no escalation
    Duration escalate_window{0};
    uint8_t escalate_prefix4 = 24, escalate_prefix6 = 48;
    bool operator==(const BanPolicy &) const = default;
};

struct RepeatOffender {
    unsigned bans = 0;
    int64_t last_ban = 0;  // Unix seconds
};

struct BanDecision {
    Cidr target;                     // the source, or for an escalation its prefix
    size_t rule;                     // index of the rule in the RuleSet
    Duration bantime{0};
    unsigned matches = 0;            // of the rule within findtime
    unsigned offence = 1;            // 2: the source's second ban ...
    std::vector<std::string> lines;  // what caused it: the latest matching lines (at most kEvidenceLines)
    bool escalation = false;
    int64_t time = 0;                // of the last line
};

class Offenders {
public:
    static constexpr size_t kEvidenceLines = 5;
    static constexpr size_t kEvidenceChars = 512;  // a line is cut there

    Offenders(const std::vector<LogRule> &rules, BanPolicy policy);

    // One line that matched a rule, at time t: the ban it completes, if any.
    std::optional<BanDecision> record(const RuleMatch &m, std::string_view line, int64_t t);
    // The decision was carried out: remembered for repeat offences and
    // counted for escalation; returns the prefix ban this completes, if any.
    std::optional<BanDecision> banned(const BanDecision &d);
    // Forgets matches and offences too old to count at t.
    void expire(int64_t t);

    // Repeat offenders, for the state file.
    const std::map<Cidr, RepeatOffender> &offenders() const { return offenders_; }
    void restore(const std::map<Cidr, RepeatOffender> &o) { offenders_ = o; }
    size_t tracked() const { return hits_.size(); }

private:
    struct Key {
        size_t rule;
        Cidr source;
        bool operator==(const Key &) const = default;
    };
    struct KeyHash {
        size_t operator()(const Key &k) const;
    };
    struct Hits {
        // Vectors, not deques: most sources match once or twice, and an
        // empty deque already allocates. Both stay short (maxretry, kEvidenceLines).
        std::vector<int64_t> times;
        std::vector<std::string> lines;
    };
    Duration bantime_of(const LogRule &r, unsigned offence) const;

    const std::vector<LogRule> &rules_;
    BanPolicy policy_;
    std::unordered_map<Key, Hits, KeyHash> hits_;
    std::map<Cidr, RepeatOffender> offenders_;
    std::map<Cidr, std::deque<int64_t>> prefix_bans_;  // escalation prefix -> times its sources were banned
};

} // namespace rg
