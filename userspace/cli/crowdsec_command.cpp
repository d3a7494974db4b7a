// `relayguard crowdsec status [--json]`: how the daemon's CrowdSec bouncer
// ([crowdsec]) is doing, from its status file (STATE_DIR/crowdsec.json) and
// its source's registry entry: the last poll, the last success, the last
// error, the decisions and prefixes in force, and its drop counters.
#include "bouncer.hpp"
#include "common.hpp"
#include "crowdsec_source.hpp"
#include "duration.hpp"
#include "stats.hpp"
#include "text.hpp"

#include <ctime>
#include <iostream>

using nlohmann::json;

namespace rg::cli {

namespace {

std::string when(uint64_t t)
{
    if (t == 0)
        return "never";
    uint64_t now = uint64_t(time(nullptr));
    return std::to_string(now > t ? now - t : 0) + " s ago";
}

int cmd_crowdsec_status(Options &o)
{
    json j = crowdsec_status_json(state_dir(o));
    try {
        Maps maps = Maps::open(o.pin_dir);
        if (std::optional<Feed> f = find_feed(maps, kCrowdsecSource); f && is_crowdsec_source(*f))
            j["counters"] = source_counters_json(maps.source_stats()[f->bit]);
    } catch (const NotAttached &) {
        // status only
    }
    if (o.json) {
        print_json(j);
        return 0;
    }
    if (!j.contains("lapi_url")) {
        std::cout << "no CrowdSec bouncer has run on this pin directory (the daemon's [crowdsec] section)\n";
        return 0;
    }
    auto u = [&](const char *k) { return j.value(k, uint64_t(0)); };
    std::cout << "bouncer:        " << (j["active"].get<bool>() ? "running" : "not running") << " (pid "
              << u("pid") << ")\n"
              << "local API:      " << printable(j.value("lapi_url", "")) << ", "
              << (j.value("connected", false) ? "connected" : "NOT connected") << "\n"
              << "last poll:      " << when(u("last_poll")) << "; last success " << when(u("last_success")) << "\n";
    if (u("consecutive_failures"))
        std::cout << "last error:     " << printable(j.value("last_error", "")) << " (" << u("consecutive_failures")
                  << " failed polls in a row; enforcement kept)\n";
    std::cout << "in force:       " << u("decisions") << " decisions on " << u("targets") << " targets, "
              << u("prefixes") << " prefixes\n"
              << "since start:    " << u("polls") << " polls (" << u("poll_errors") << " failed, " << u("resyncs")
              << " resyncs), decisions " << u("decisions_added") << " added, " << u("decisions_deleted")
              << " deleted, " << u("decisions_expired") << " expired, " << u("decisions_refused") << " refused\n";
    if (j.contains("counters"))
        std::cout << "dropped:        " << j["counters"].value("dropped", uint64_t(0)) << " packets ("
                  << j["counters"].value("dropped_syn", uint64_t(0)) << " SYNs)\n";
    return 0;
}

} // namespace

void add_crowdsec_commands(CLI::App &app, Options &o)
{
    CLI::App *cs = app.add_subcommand("crowdsec", "the daemon's CrowdSec bouncer ([crowdsec])")->require_subcommand(1);
    CLI::App *status = add_command(*cs, o, "status", "the last poll of the Local API, errors, decisions in force",
                                   cmd_crowdsec_status);
    status->add_flag("--json", o.json, "as JSON (docs/json-schema.md)");
}

} // namespace rg::cli
