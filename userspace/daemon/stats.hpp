// The counters document: what `relayguard stats --json` prints and the
// daemon writes to stats_output, schema 2 (docs/json-schema.md, checked by
// docs/stats.schema.json). Read once into a StatsReport (kernel maps, lists,
// feed registry, watch state), rendered by stats_json() without touching the
// kernel, so the rendering is tested without privileges. Every reason name
// comes from rg_reason_info in the ABI header.
#pragma once

#include "egress.hpp"
#include "feed_registry.hpp"
#include "maps.hpp"
#include "source_lists.hpp"
#include "state_dir.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <map>
#include <string>
#include <vector>

namespace rg {

// The value of the document's "schema" key. A consumer tells layouts apart
// by it; within one value fields are only ever added.
inline constexpr int kStatsSchema = 2;

struct StatsReport {
    struct Interface {
        std::string name;
        uint32_t ifindex = 0;
        ReasonCounters counters{};
    };
    uint64_t time = 0;  // Unix seconds
    bool monitor = false;
    std::string scope = "all";  // or the one interface narrow() kept
    ReasonCounters counters{};  // of the scope: all slots (detached ones too), or the interface's
    std::vector<Interface> interfaces;  // attached ones
    std::array<struct rg_source_counter, RG_MAX_SOURCES> source_hits{};
    std::vector<Feed> feeds;
    uint64_t shadow_sources = 0;
    ListSize allowlist, blocklist;  // prefixes listed by any source
    std::array<ListSize, RG_MAX_SOURCES> allow_by_source{}, block_by_source{};
    std::map<std::string, uint64_t> bans;  // unexpired, per ban reason name (every known one, 0 included)
    nlohmann::json watch = nlohmann::json::object();  // as watch_stats_json()
    struct rg_event_stats events {};  // the kernel's event counters
    EgressSnapshot egress;            // totals and sketch only (read_egress_totals)

    // Keeps only the named interface and makes its counters the scope's;
    // false (nothing changed) when it is not attached.
    bool narrow(const std::string &iface);
};

// Reads everything the document shows.
StatsReport read_stats(Maps &maps, const StateDir &state);

// The schema 2 document.
nlohmann::json stats_json(const StatsReport &r);

// The "egress" object: the egress program's totals (all interfaces) and the
// distinct destination prefixes of this minute so far and the one before.
nlohmann::json egress_totals_json(const EgressSnapshot &e);

// {"packets", "bytes", "syns"}: the shape of every verdict counter.
nlohmann::json counter_json(const struct rg_counter &c);

// {"all", "protected", "passed", "dropped", "would_drop"}, each a counter:
// sums over the reasons, derived from the reason flags.
nlohmann::json totals_json(const ReasonCounters &counters);

// {REASON: counter} for every reason of rg_reason_info.
nlohmann::json reasons_json(const ReasonCounters &counters);

// The "sources" object: manual, config and every registered feed (plus any
// other bit with counts), by name: kind, bit, shadow, and the blocklist
// hits attributed to it, "dropped" and "would_drop", each {"packets", "syns"}
// (the kernel counts no bytes per source). stats_json() adds "listed".
nlohmann::json sources_json(const std::array<struct rg_source_counter, RG_MAX_SOURCES> &counters,
                            const std::vector<Feed> &feeds, uint64_t shadow_sources);

// One source's attribution counters in the flat form of `feed show --json`
// "counters": dropped, dropped_syn, would_drop, would_drop_syn.
nlohmann::json source_counters_json(const struct rg_source_counter &c);

// Unexpired bans per ban reason name, every known reason present (0 when
// none), and their total.
std::map<std::string, uint64_t> live_bans_by_reason(const Maps &maps);
size_t live_bans(const Maps &maps);

// Human-readable table of the verdict counters.
std::string counters_text(const ReasonCounters &counters, const std::string &indent = "  ");

} // namespace rg
