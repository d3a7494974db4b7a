// The alerts' state machine, as Prometheus's Alertmanager treats an alert:
// an alert fires when its condition starts to hold, is reported once, stays
// active without further reports while the condition holds (unless `repeat`
// asks for a reminder), and resolves, reported once more, when it ends.
// Pure logic: the caller gives each tick's checks and the time.
//
// An alert is named by its kind (drop_rate, feed_stale, ...) and at most one
// label telling its instances apart (reason, feed or interface): every
// instance fires and resolves on its own. A new kind needs only a new check
// (alert_checks.hpp); the engine, the log, the metrics and the command take
// it as it is.
#pragma once

#include "duration.hpp"

#include <chrono>
#include <compare>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace rg {

using WallTime = std::chrono::system_clock::time_point;

struct AlertKey {
    std::string name;   // the kind: drop_rate, feed_stale, feed_rejected, ban_storm, detached
    std::string label;  // "reason", "feed", "interface", or empty for a single-instance alert
    std::string value;  // the label's value
    auto operator<=>(const AlertKey &) const = default;
    // "drop_rate (reason dropped_blocklist)", for messages.
    std::string text() const;
};

// One condition as a tick found it.
struct AlertCheck {
    AlertKey key;
    bool firing = false;
    std::string summary{};                // what was measured, in words
    nlohmann::json values = nlohmann::json::object();  // what was measured, as numbers and names
    nlohmann::json threshold{};           // null when the alert has none
};

// What the engine reports: an alert that started firing, fires still (a
// `repeat` reminder) or resolved.
struct AlertEvent {
    enum class State { firing, repeat, resolved };
    AlertCheck check;  // as the tick that caused the event found it
    State state = State::firing;
    WallTime since;    // when it started firing
    WallTime at;       // this event
    // The object the command reads on its standard input (README "Alerts").
    nlohmann::json to_json(const std::string &host) const;
    // One line for the log: "alert NAME firing: ...".
    std::string message() const;
};

class AlertEngine {
public:
    explicit AlertEngine(Duration repeat = Duration(0)) : repeat_(repeat) {}
    void set_repeat(Duration repeat) { repeat_ = repeat; }

    // Takes one tick's checks. Alerts of a kind in `unknown` that have no
    // check this tick keep their state (their readings failed); any other
    // active alert without a check resolves (its condition is no longer
    // configured, or its feed or interface is gone).
    std::vector<AlertEvent> update(const std::vector<AlertCheck> &checks, const std::set<std::string> &unknown,
                                   WallTime now);

    // relayguard_alert_active (every alert checked at the last tick, 1 when
    // firing) and relayguard_alerts_total (per kind, times it started
    // firing), in the Prometheus text format. `kinds`: the kinds to show a
    // total for even when they never fired.
    std::string prometheus_text(const std::set<std::string> &kinds) const;

    size_t active() const { return active_.size(); }

private:
    struct Active {
        AlertCheck check;
        WallTime since, last_sent;
    };
    Duration repeat_;
    std::map<AlertKey, Active> active_;
    std::map<AlertKey, bool> known_;  // the last tick's keys: firing or not
    std::map<std::string, uint64_t> fired_;
};

// A time as RFC 3339 in UTC: "2026-12-03T17:05:09Z".
std::string utc_text(WallTime t);

} // namespace rg
