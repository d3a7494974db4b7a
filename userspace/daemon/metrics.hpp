// The counters in the Prometheus text exposition format (version 0.0.4):
// what `stats --json` holds, as metric families named relayguard_*. Read
// once into a MetricsSnapshot, rendered by prometheus_text(), so that
// `relayguard stats --prometheus` and a daemon's /metrics give the same text.
// The names are a stable interface, listed in README.md ("Prometheus"); the
// reason label values are the JSON names of rg_reason_info. What only a
// running daemon measured (durations) is appended by daemon_metrics.hpp.
#pragma once

#include "egress.hpp"
#include "exposition.hpp"
#include "feed_registry.hpp"
#include "feed_stats.hpp"
#include "maps.hpp"
#include "source_lists.hpp"
#include "state_dir.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rg {

struct MetricsSnapshot {
    struct Interface {
        std::string name;
        ReasonCounters counters{};
        bool attached = false;  // the program is in the interface's XDP chain
        uint32_t egress_mode = RG_EGRESS_OFF;  // enum rg_egress_mode
        bool egress_attached = false;          // the egress program is on its clsact egress
    };
    std::string version;  // relayguard_build_info
    bool monitor = false;
    // Registered (attached) interfaces only: counters of detached ones live on in the
    // JSON total (slot 0) but have no interface to label them with.
    std::vector<Interface> interfaces;
    nlohmann::json sources = nlohmann::json::object();  // as sources_json(): by name
    std::map<std::string, uint64_t> bans;              // unexpired, per ban reason name
    nlohmann::json watch = nlohmann::json::object();   // as watch_stats_json()
    nlohmann::json crowdsec = nlohmann::json::object();  // as crowdsec_status_json()
    std::optional<ListSize> allowlist, blocklist;
    struct FeedState {
        Feed feed;        // the registry entry: prefixes, last result and times
        FeedStats stats;  // the state directory's sync counts
    };
    std::vector<FeedState> feeds;
    EgressSnapshot egress;  // with the per-sender table, not the per-destination one
};

// Reads everything prometheus_text() shows from the pinned maps and the
// state directory (the watch's counters, the lists' sizes).
MetricsSnapshot read_metrics(Maps &maps, const StateDir &state);

// The exposition text: HELP and TYPE lines for every family, then its
// samples; ends with a newline.
std::string prometheus_text(const MetricsSnapshot &s);

} // namespace rg
