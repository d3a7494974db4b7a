// Durations and rates as operators write them (core/duration), in the
// config and on the command line. Properties: a parsed duration is within
// 0..365d and formats to text that parses back to the same value, which
// formats the same again; a parsed rate is within its limits, and the form
// it is shown in parses back (never an exponent or an out-of-range value)
// to within the six significant digits it is shown with.
#include "duration.hpp"
#include "error.hpp"
#include "fuzz_check.hpp"

#include <cstdint>

namespace {

constexpr int64_t kMaxMs = 365LL * 86'400'000;

void check_duration(std::string_view text)
{
    rg::Duration d;
    try {
        d = rg::parse_duration(text);
    } catch (const rg::Error &) {
        return;
    }
    FUZZ_CHECK(d.count() >= 0 && d.count() <= kMaxMs, "out of range: " + std::to_string(d.count()));
    std::string s = rg::format_duration(d);
    rg::Duration back{};
    try {
        back = rg::parse_duration(s);
    } catch (const rg::Error &e) {
        FUZZ_CHECK(false, "\"" + s + "\" does not parse back: " + e.what());
    }
    FUZZ_CHECK(back == d, "\"" + s + "\" parses back as " + std::to_string(back.count()) + " ms");
    FUZZ_CHECK(rg::format_duration(back) == s, "formats differently the second time");
}

void check_rate(std::string_view text)
{
    uint64_t ns;
    try {
        ns = rg::parse_rate(text);
    } catch (const rg::Error &) {
        return;
    }
    // 1000000/s .. 1/d, as documented.
    FUZZ_CHECK(ns >= 1'000 && ns <= 86'400'000'000'000ULL, "interval out of range: " + std::to_string(ns));
    std::string s = rg::format_rate(ns);
    uint64_t back = 0;
    try {
        back = rg::parse_rate(s);
    } catch (const rg::Error &e) {
        FUZZ_CHECK(false, "\"" + s + "\" (" + std::to_string(ns) + " ns) does not parse back: " + e.what());
    }
    // Six significant digits: a relative error below 5e-6, plus the
    // rounding of the interval to whole nanoseconds.
    double diff = back > ns ? double(back - ns) : double(ns - back);
    FUZZ_CHECK(diff <= double(ns) * 5e-6 + 1, "\"" + s + "\" is " + std::to_string(back) + " ns, not " +
                                                   std::to_string(ns));
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    rg_fuzz::quiet();
    return 0;
}

// The same text as a duration and as a rate.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string_view text = rg_fuzz::text_of(data, size);
    check_duration(text);
    check_rate(text);
    return 0;
}
