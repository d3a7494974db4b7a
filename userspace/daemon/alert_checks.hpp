// The alerts' conditions ([alerts] in the config): what the daemon reads
// from the kernel and the feed registry each tick (AlertReadings), and the
// checks that turn readings into firing or clear alerts (AlertChecks). Pure
// logic with injected times and readings; read_alert_readings() is the one
// part that touches the kernel.
//
//   drop_rate      packets per second of a drop reason (or of all drops,
//                  "dropped" / "would_drop"), averaged over rate_window,
//                  above the threshold; one alert per reason;
//   feed_stale     a feed without a successful sync (applied, unchanged,
//                  not modified, same content) for longer than feed_stale,
//                  counted from when it was added if it never had one;
//   feed_rejected  a feed whose last sync its safety checks refused (empty,
//                  unparseable, shrunk past max_shrink); resolves with the
//                  next sync that succeeds;
//   ban_storm      more than N bans created within the last minute (bans of
//                  every kind: rate limiter, escalation, watch, by hand);
//   detached       a configured interface without the filter attached (XDP
//                  taken off behind the daemon's back, the interface gone,
//                  the pinned maps removed); the daemon's repair attaches it
//                  again, and the alert resolves;
//   outbound_surge a window (a minute) of outbound SMTP above its floor and
//                  a multiple of the host's baseline, for new connections or
//                  distinct destination prefixes ([egress] surge_*;
//                  egress_baseline.hpp), naming the top local senders and
//                  destination prefixes; judged when a window ends, so it
//                  fires and resolves at window ends.
// A new kind is one more reading, one more check, one more config key.
#pragma once

#include "alert_engine.hpp"
#include "duration.hpp"
#include "egress_baseline.hpp"
#include "maps.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace rg {

struct DropRateRule {
    std::string reason;   // a drop or would-drop reason of rg_reason_info, "dropped" or "would_drop"
    uint64_t per_second;  // fires above this
    bool operator==(const DropRateRule &) const = default;
};

struct AlertsConfig {
    std::vector<DropRateRule> drop_rate;
    Duration rate_window{std::chrono::minutes(1)};
    std::optional<Duration> feed_stale;  // none: off
    bool feed_rejected = true;
    std::optional<uint64_t> ban_storm;   // new bans per minute; none: off
    bool detached = true;
    std::vector<std::string> command;    // argv; empty: none
    Duration command_timeout{std::chrono::seconds(30)};
    Duration repeat{0};                  // 0: an alert is reported once while it fires
    std::optional<SurgeSettings> outbound_surge;  // none: off (no egress watched)
    bool operator==(const AlertsConfig &) const = default;
    // The kinds these settings check.
    std::set<std::string> kinds() const;
};

// "REASON:N" as the drop_rate key takes it; throws rg::Error naming the
// valid reasons or the bad number.
DropRateRule parse_drop_rate_rule(std::string_view text);
// The command key's words: separated by spaces, grouped by '…' or "…"
// (no other shell syntax: `sh -c '…'` for that); the program an absolute
// path. Throws rg::Error.
std::vector<std::string> parse_alert_command(std::string_view text);

struct FeedReading {
    std::string name;
    uint32_t last_result = 0;  // enum rg_feed_result
    std::string message;
    int64_t added_at = 0, last_success = 0;  // unix seconds; 0: never
};

struct IfaceReading {
    std::string name;
    bool attached = false;
    std::string why;  // when not attached
};

struct BanReading {
    std::string prefix;
    uint64_t created_ns = 0;  // CLOCK_BOOTTIME
};

// Outbound SMTP as the kernel counts it since its maps were made
// (cumulative); a window is the difference of two readings.
struct EgressReading {
    uint64_t connections = 0;                  // new outbound connections to the watched ports
    std::map<std::string, uint64_t> senders{};   // per local address
    std::map<std::string, uint64_t> prefixes{};  // per destination prefix (/24, /48)
    // The kernel's sketch of the last whole minute (CLOCK_BOOTTIME / 60 s):
    // its index and its estimate of distinct destination prefixes.
    std::optional<std::pair<uint64_t, double>> sketch{};
};

// One window's sample: the difference of the readings at its start and
// end; destinations are the prefixes whose count grew (exact while the
// kernel's table holds them all).
EgressSample egress_window(const EgressReading &from, const EgressReading &to);

// What one tick read. A reading that failed is empty, its kind named in
// `unknown`, and its alerts keep their state.
struct AlertReadings {
    std::chrono::steady_clock::time_point mono{};
    WallTime wall{};
    uint64_t boot_ns = 0;  // CLOCK_BOOTTIME, as the bans' created_ns
    std::optional<ReasonCounters> counters{};  // all interfaces together
    std::vector<FeedReading> feeds{};
    std::vector<BanReading> bans{};
    std::vector<IfaceReading> interfaces{};
    std::optional<EgressReading> egress{};
    std::set<std::string> unknown{};
    std::string error{};  // why some reading failed
};

// Reads what the configured kinds need from the maps pinned in pin_dir, for
// the configured interfaces.
AlertReadings read_alert_readings(const AlertsConfig &cfg, const std::string &pin_dir,
                                  const std::vector<std::string> &interfaces);

class AlertChecks {
public:
    explicit AlertChecks(AlertsConfig cfg)
        : cfg_(std::move(cfg)), baseline_(cfg_.outbound_surge.value_or(SurgeSettings{}))
    {
    }
    const AlertsConfig &config() const { return cfg_; }
    // New settings: the rates' windows start anew; the outbound baseline
    // stays (EgressBaseline::configure), as does the last window's verdict.
    void reconfigure(const AlertsConfig &cfg);
    const EgressBaseline &baseline() const { return baseline_; }
    // One tick: a check per configured alert instance. Keeps what the
    // rates need from tick to tick (counter samples, bans seen).
    std::vector<AlertCheck> evaluate(const AlertReadings &r);

private:
    void drop_rates(const AlertReadings &r, std::vector<AlertCheck> &out);
    void feeds(const AlertReadings &r, std::vector<AlertCheck> &out) const;
    void ban_storm(const AlertReadings &r, std::vector<AlertCheck> &out);
    void detached(const AlertReadings &r, std::vector<AlertCheck> &out) const;
    void outbound_surge(const AlertReadings &r, std::vector<AlertCheck> &out);
    AlertCheck judge(const EgressReading &from, const EgressReading &to, uint64_t index);

    AlertsConfig cfg_;
    struct Sample {
        std::chrono::steady_clock::time_point at;
        std::vector<uint64_t> packets;  // per drop_rate rule
    };
    std::deque<Sample> samples_;
    std::set<std::pair<uint64_t, std::string>> recent_bans_;  // created_ns, prefix: the last minute's
    // outbound_surge: the reading the current window started with, its
    // index (boot_ns / window) and whether the daemon started within it;
    // the last window's verdict (reported every tick until the next ends).
    EgressBaseline baseline_;
    std::optional<EgressReading> window_start_;
    uint64_t window_index_ = 0;
    bool window_partial_ = true;
    std::optional<AlertCheck> surge_;
};

} // namespace rg
