// The daemon's alerts ([alerts]; README "Alerts"): every tick (each second)
// it reads the kernel's counters, the feed registry, the bans and the
// attachments (alert_checks.hpp), lets the engine decide what started or
// ended (alert_engine.hpp), and reports each event three ways: a log line
// (a warning when an alert fires, a notice when it resolves), an
// {"event":"alert",...} line on the stats output, and the configured
// command with the alert as JSON on stdin (alert_command.hpp). The metrics
// thread reads relayguard_alert_active and relayguard_alerts_total through
// prometheus_text(), the one member safe to call from another thread.
#pragma once

#include "alert_checks.hpp"
#include "alert_command.hpp"
#include "alert_engine.hpp"

#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace rg {

class Alerts {
public:
    // Where the {"event":"alert",...} lines go.
    using Sink = std::function<void(const nlohmann::json &)>;
    Alerts(const AlertsConfig &cfg, Sink sink);

    // A reload's settings. Active alerts stay active while their check
    // remains; those whose check is gone resolve at the next tick. Changed
    // drop_rate settings start their windows anew.
    void configure(const AlertsConfig &cfg);

    // One tick for the daemon's interfaces, on the maps pinned in pin_dir.
    void tick(const std::string &pin_dir, const std::vector<std::string> &interfaces);
    // The same on readings already taken (tests).
    void tick(const AlertReadings &readings);

    // The alert metric families (text format 0.0.4), as of the last tick.
    std::string prometheus_text() const;

private:
    AlertChecks checks_;
    AlertEngine engine_;
    AlertCommand command_;
    Sink sink_;
    std::string host_;
    std::string read_error_;  // the last one logged, not repeated
    mutable std::mutex mu_;
    std::string text_;  // prometheus_text(), under mu_
};

} // namespace rg
