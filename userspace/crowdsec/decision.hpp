// A CrowdSec decision as the Local API's /v1/decisions/stream sends it,
// and the parse of one stream answer:
//   {"new": [DECISION...] | null, "deleted": [DECISION...] | null}
//   DECISION = {"id": 12, "scope": "Ip"|"Range"|..., "value": "192.0.2.7",
//               "type": "ban", "duration": "3h59m58.6s", "origin": "cscli",
//               "scenario": "..."}
// Durations are Go's time.Duration text ("1h59m58.572948279s",
// "-126.631409ms": a deleted decision's is negative). Scopes other than Ip
// and Range (Country, AS, ...) and values that are no address or prefix are
// skipped with a reason; an answer that is not such JSON is an error.
#pragma once

#include "cidr.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rg {

struct Decision {
    uint64_t id = 0;
    std::string scope, value, type, origin, scenario;
    Cidr target;                        // value as a prefix (an Ip is a /32 or /128)
    std::chrono::nanoseconds duration;  // left when sent; negative once over
};

// Parses Go's time.Duration text: an optional sign, then one or more
// <number>[.<fraction>]<unit> terms, units h m s ms us µs ns ("0s" too).
// Throws rg::Error naming the text.
std::chrono::nanoseconds parse_go_duration(std::string_view text);

// What a bouncer enforces: scopes (ip, range) and decision types (ban).
struct DecisionFilter {
    bool ip = true, range = true;
    std::vector<std::string> types{"ban"};  // lower case
    uint8_t min_prefix4 = 8, min_prefix6 = 19;  // broader ranges are refused
    bool operator==(const DecisionFilter &) const = default;
};

struct StreamAnswer {
    std::vector<Decision> added, deleted;  // those the filter keeps
    size_t ignored = 0;                    // other scopes or types
    std::vector<std::string> refused;      // malformed or too broad, with why (the first few)
    size_t refused_count = 0;
};

// Parses one answer of /v1/decisions/stream. Throws rg::Error ("the LAPI's
// answer is not ...: reason") when the body is not the JSON object above;
// a malformed decision is refused alone ("new[3]: \"duration\": ...").
StreamAnswer parse_stream_answer(std::string_view body, const DecisionFilter &filter);

} // namespace rg
