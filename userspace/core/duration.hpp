// Durations and rates as operators write them: "30s", "10m", "1h30m",
// "500ms"; "0.5/s", "30/m", "100/h". Used by the CLI and the config file.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace rg {

using Duration = std::chrono::milliseconds;

// Parses one or more <number><unit> terms (units ms, s, m, h, d; no spaces),
// e.g. "30s", "10m", "1h30m", "1d", "250ms", "0s". A bare number has no unit
// and is refused (is 60 seconds or minutes?); so are fractions ("1.5h"), and
// units out of order or repeated ("30m1h", "1m1m": likely typos). Throws
// rg::Error naming the text and the reason; results above 365d are refused.
Duration parse_duration(std::string_view text);

// The shortest canonical form parse_duration() reads back: "1h30m", "500ms", "0s".
std::string format_duration(Duration d);
// Whole seconds of a duration (rounded down).
inline int64_t whole_seconds(Duration d) { return std::chrono::duration_cast<std::chrono::seconds>(d).count(); }

// A connection rate as nanoseconds per connection: "2" or "2/s" (per second),
// "30/m", "100/h"; fractional values are allowed ("0.5", "0.5/s", up to 12
// decimal places) and computed exactly, rounded to the nearest ns. Throws
// rg::Error for zero, negative, malformed, or rates outside 1/d .. 1000000/s.
uint64_t parse_rate(std::string_view text);

// Rate for display, e.g. "2/s", "30/m", "0.123/s": per minute when below 1/s
// and a whole number per minute (so 0.5/s shows as "30/m"), per hour
// likewise, else per second with up to 6 significant digits. A whole number
// per minute or hour is one that parse_rate() reads back as exactly
// interval_ns. 0 (no limit) gives "off".
std::string format_rate(uint64_t interval_ns);

} // namespace rg
