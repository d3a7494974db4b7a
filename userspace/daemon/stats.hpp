// Counters as JSON. The schema is documented in docs/json-schema.md; every
// per-reason field name comes from rg_reason_info in the ABI header.
#pragma once

#include "feed_registry.hpp"
#include "maps.hpp"

#include <nlohmann/json.hpp>

namespace rg {

// The "counters" object: aggregates (packets, bytes, protected, syn, passed,
// dropped, would_drop and their _bytes) plus every reason's packets, bytes
// and, for protected-port reasons, SYNs.
nlohmann::json counters_json(const ReasonCounters &counters);

// One source's attribution counters: dropped, dropped_syn, would_drop,
// would_drop_syn.
nlohmann::json source_counters_json(const struct rg_source_counter &c);

// The "sources" array of `stats --json`: manual, config and every registered
// feed (plus any other bit with counts), each with its name, bit, kind,
// shadow flag and counters.
nlohmann::json sources_json(const std::array<struct rg_source_counter, RG_MAX_SOURCES> &counters,
                            const std::vector<Feed> &feeds, uint64_t shadow_sources);

// How many bans have not expired yet (the "bans" of status and the daemon's
// stats lines).
size_t live_bans(const Maps &maps);

// Human-readable table of the same counters.
std::string counters_text(const ReasonCounters &counters, const std::string &indent = "  ");

} // namespace rg
