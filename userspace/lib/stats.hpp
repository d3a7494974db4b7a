// Counters as JSON. The schema is documented in docs/json-schema.md; every
// per-reason field name comes from rg_reason_info in the ABI header.
#pragma once

#include "filter.hpp"

#include <nlohmann/json.hpp>

namespace rg {

// The "counters" object: aggregates (packets, bytes, protected, syn, passed,
// dropped, would_drop and their _bytes) plus every reason's packets, bytes
// and, for protected-port reasons, SYNs.
nlohmann::json counters_json(const ReasonCounters &counters);

// Human-readable table of the same counters.
std::string counters_text(const ReasonCounters &counters, const std::string &indent = "  ");

} // namespace rg
