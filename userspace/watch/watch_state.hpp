// What `watch` knows beyond the kernel's ban entries: which rule and which
// lines caused each ban, counters per rule, and repeat offenders. Kept in
// STATE_DIR/watch.json (written whole, renamed into place) so `bans list`
// and `stats` can show it and a restarted watch remembers its offenders.
// The kernel's ban tries stay the record of what is enforced: a missing or
// damaged file only loses these explanations.
#pragma once

#include "cidr.hpp"
#include "fd.hpp"
#include "offenders.hpp"
#include "state_dir.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rg {

struct WatchBan {
    std::string rule;
    unsigned matches = 0;
    unsigned offence = 1;
    bool escalation = false;
    int64_t banned_at = 0, expires_at = 0;  // Unix seconds
    std::vector<std::string> lines;
};

struct RuleCounters {
    uint64_t matches = 0;  // lines the rule took
    uint64_t bans = 0;     // bans it caused (in a dry run: would have)
    uint64_t exempt = 0;   // bans not made: the source is allowlisted, ignored or local
};

struct WatchState {
    std::string source;   // what was read: a path, "journal", "stdin"
    uint64_t lines = 0;   // read
    std::map<std::string, RuleCounters> rules;
    std::map<Cidr, WatchBan> bans;
    std::map<Cidr, RepeatOffender> offenders;
};

nlohmann::json to_json(const WatchState &s);
// Throws nlohmann::json::exception or rg::Error on a malformed document.
WatchState watch_state_from_json(const nlohmann::json &j);

inline constexpr const char *kWatchStateFile = "watch.json";
void save_watch_state(const StateDir &dir, const WatchState &s);
// Nothing when the file is missing or damaged (a damaged one is logged).
std::optional<WatchState> load_watch_state(const StateDir &dir);

} // namespace rg

namespace rg {

// The "watch" object of `stats --json`: {"active", "source", "lines",
// "rules": {NAME: {"matches", "bans", "exempt"}}}, from the state file of
// the running (or last) watch; zeros and {} when none ran.
nlohmann::json watch_stats_json(const StateDir &dir);

// Whether a watch holds the lock of this state directory now.
bool watch_running(const StateDir &dir);

// One watch per state directory (the daemon's or a standalone one): an
// exclusive flock on STATE_DIR/watch.lock, held while the returned
// descriptor is open. Throws rg::Error when another holds it.
Fd lock_watch(const StateDir &dir);

} // namespace rg
