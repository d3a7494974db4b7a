// The counters in the Prometheus text exposition format (version 0.0.4):
// what `stats --json` holds, as metric families named relayguard_*. Read
// once into a MetricsSnapshot, rendered by prometheus_text(), so that
// `relayguard stats --prometheus` and a daemon's /metrics give the same text.
// The names are a stable interface, listed in README.md ("Prometheus"); the
// reason label values are the JSON names of rg_reason_info.
#pragma once

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
    };
    std::string version;  // relayguard_build_info
    bool monitor = false;
    // Attached interfaces only: counters of detached ones live on in the
    // JSON total (slot 0) but have no interface to label them with.
    std::vector<Interface> interfaces;
    nlohmann::json sources = nlohmann::json::array();  // as sources_json()
    std::map<std::string, uint64_t> bans;              // unexpired, per ban reason name
    nlohmann::json watch = nlohmann::json::object();   // as watch_stats_json()
    nlohmann::json crowdsec = nlohmann::json::object();  // as crowdsec_status_json()
    std::optional<ListSize> allowlist, blocklist;
};

// Reads everything prometheus_text() shows from the pinned maps and the
// state directory (the watch's counters, the lists' sizes).
MetricsSnapshot read_metrics(Maps &maps, const StateDir &state);

// The exposition text: HELP and TYPE lines for every family, then its
// samples; ends with a newline.
std::string prometheus_text(const MetricsSnapshot &s);

// A label value as written between the double quotes: backslash, double
// quote and newline escaped as \\, \" and \n.
std::string prometheus_label_value(std::string_view v);

// The content type of the text, for an HTTP response.
inline constexpr const char *kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

} // namespace rg
