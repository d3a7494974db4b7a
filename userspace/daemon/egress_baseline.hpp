// The host's usual outbound SMTP, learned window by window (a minute by
// default), and the `outbound_surge` decision ([egress] surge_* keys; docs
// "Baseline and the outbound_surge alert"). Pure logic: the caller hands
// one EgressSample per window.
//
// The baseline is an exponentially weighted mean of the windows' new
// connections and of their distinct destination prefixes, with a half-life
// in time (baseline_half_life), so old minutes fade at the same speed
// whatever the window. Its start is bias-corrected: each of the first
// windows weighs at least 1/n, so early on it is the plain mean of the
// windows learned so far rather than a pull towards 0.
//
// A window surges when, for connections or for destinations, it exceeds
// both the floor (never alarming below it, however quiet the host usually
// is) and `multiple` times the baseline. Invariants an operator can rely on:
//  - warm-up: until kWarmupWindows windows are learned the baseline counts
//    as at least the floor, so right after the daemon starts a surge is a
//    window above multiple x floor; warm-up windows are learned even when
//    they surge, so a host busier than multiple x floor costs one alert
//    window at a restart, not an alert that never ends (set the floors to
//    the busiest usual minute to avoid even that);
//  - after warm-up a surge window is not learned: a relay that keeps
//    sending keeps the alert up instead of becoming "normal". A lasting legitimate rise is
//    accepted by raising the floor above it: those windows are no surge,
//    so they are learned, and the baseline follows.
// Why not a median or Holt-Winters: an EWMA needs two numbers of state, is
// explained in one sentence and, with surges kept out, a burst cannot drag
// it up; mail volume's daily cycle is what the floor and multiple absorb.
#pragma once

#include "duration.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace rg {

struct SurgeSettings {
    uint64_t floor_connections = 100;   // new outbound connections per window
    uint64_t floor_destinations = 50;   // distinct destination prefixes per window
    double multiple = 5;                // of the baseline
    Duration half_life{std::chrono::hours(1)};
    Duration window{std::chrono::minutes(1)};
    bool operator==(const SurgeSettings &) const = default;
};

// A name (a local address, a destination prefix) with its new connections.
struct EgressTop {
    std::string name;
    uint64_t connections = 0;
    bool operator==(const EgressTop &) const = default;
};

// One window's outbound SMTP.
struct EgressSample {
    uint64_t connections = 0;   // new outbound connections (SYNs) to the watched ports
    double destinations = 0;    // distinct destination prefixes, as estimated
    std::vector<EgressTop> top_senders{};   // local sources, most first
    std::vector<EgressTop> top_prefixes{};  // destination prefixes, most first
};

// What a window was judged to be.
struct SurgeVerdict {
    bool surge = false;
    bool by_connections = false, by_destinations = false;
    bool warming_up = false;                        // fewer than kWarmupWindows learned before it
    double baseline_connections = 0, baseline_destinations = 0;  // as the window was judged
    double threshold_connections = 0, threshold_destinations = 0;  // exceeded means surge
};

class EgressBaseline {
public:
    static constexpr uint64_t kWarmupWindows = 10;

    explicit EgressBaseline(SurgeSettings s = {}) : s_(s) {}
    const SurgeSettings &settings() const { return s_; }
    // New thresholds keep what was learned (it describes the host, not the
    // settings); a new window length starts anew, as the counts per window
    // change meaning.
    void configure(const SurgeSettings &s);

    // Judges one window against the baseline, then learns it unless it
    // surged.
    SurgeVerdict observe(const EgressSample &sample);

    uint64_t learned() const { return learned_; }
    double connections() const { return conn_; }
    double destinations() const { return dest_; }

private:
    SurgeSettings s_;
    uint64_t learned_ = 0;  // windows learned
    double conn_ = 0, dest_ = 0;
};

} // namespace rg
