#include "duration.hpp"

#include "error.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace rg {

namespace {

struct Unit {
    std::string_view name;
    int64_t ms;
};

// Largest first: the order terms must be written in, and the order
// format_duration() writes them.
constexpr Unit kUnits[] = {{"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}};
constexpr size_t kNoUnit = std::size(kUnits);
constexpr int64_t kMaxDurationMs = 365 * 86'400'000LL;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

[[noreturn]] void bad_duration(std::string_view text, const std::string &why)
{
    throw Error("duration \"" + std::string(text) + "\": " + why);
}

[[noreturn]] void bad_rate(std::string_view text, const std::string &why)
{
    throw Error("rate \"" + std::string(text) + "\": " + why);
}

size_t find_unit(std::string_view name)
{
    for (size_t i = 0; i < kNoUnit; i++)
        if (kUnits[i].name == name)
            return i;
    return kNoUnit;
}

bool all_digits(std::string_view s) { return std::all_of(s.begin(), s.end(), is_digit); }

constexpr uint64_t kNsPerSec = 1'000'000'000;
constexpr uint64_t kNsPerMin = 60 * kNsPerSec;
constexpr uint64_t kNsPerHour = 3600 * kNsPerSec;
constexpr uint64_t kNsPerDay = 86400 * kNsPerSec;
constexpr uint64_t kMaxPerSec = 1'000'000;
// Enough for any rate within the limits (one per day is 0.0000115741/s,
// 0.041666666667/h); a 13th decimal would move the interval by under 1 ms.
constexpr size_t kMaxDecimals = 12;

// interval_ns rounded to the nearest whole count per unit_ns, if that count
// reads back (through parse_rate's rounding) as exactly interval_ns.
uint64_t whole_count_per(uint64_t unit_ns, uint64_t interval_ns)
{
    uint64_t n = (2 * unit_ns + interval_ns) / (2 * interval_ns);
    if (n == 0 || (2 * unit_ns + n) / (2 * n) != interval_ns)
        return 0;
    return n;
}

} // namespace

Duration parse_duration(std::string_view text)
{
    if (text.empty())
        bad_duration(text, "empty (use e.g. 30s, 10m or 1h30m)");
    for (char c : text)
        if (is_space(c))
            bad_duration(text, "contains a space (write the terms together, e.g. 1h30m)");
    if (text[0] == '-')
        bad_duration(text, "negative durations are not allowed");

    int64_t total = 0;
    size_t prev = kNoUnit;  // index of the previous term's unit
    size_t i = 0;
    while (i < text.size()) {
        size_t start = i;
        while (i < text.size() && is_digit(text[i]))
            i++;
        std::string_view num = text.substr(start, i - start);
        if (num.empty())
            bad_duration(text, "expected a number at \"" + std::string(text.substr(start)) + "\"");
        if (i < text.size() && (text[i] == '.' || text[i] == ','))
            bad_duration(text, "not a whole number (write 1h30m, not 1.5h)");
        size_t ustart = i;
        while (i < text.size() && is_letter(text[i]))
            i++;
        std::string_view name = text.substr(ustart, i - ustart);
        if (name.empty())
            bad_duration(text, "missing unit (use ms, s, m, h or d, e.g. 30s)");
        size_t unit = find_unit(name);
        if (unit == kNoUnit)
            bad_duration(text, "unknown unit \"" + std::string(name) + "\" (use ms, s, m, h or d)");
        // "1m1m" or "30m1h" is more likely a typo than intent.
        if (prev != kNoUnit && unit <= prev)
            bad_duration(text, "units must go from largest to smallest, each once (e.g. 1h30m)");
        prev = unit;

        uint64_t n = 0;
        auto ec = std::from_chars(num.data(), num.data() + num.size(), n).ec;
        if (ec != std::errc() || n > uint64_t(kMaxDurationMs / kUnits[unit].ms))
            bad_duration(text, "longer than 365d");
        total += int64_t(n) * kUnits[unit].ms;
        if (total > kMaxDurationMs)
            bad_duration(text, "longer than 365d");
    }
    return Duration(total);
}

std::string format_duration(Duration d)
{
    if (d.count() == 0)
        return "0s";
    std::string out;
    uint64_t ms = uint64_t(d.count());
    if (d.count() < 0) {
        out = "-";
        ms = 0 - ms;
    }
    for (const Unit &u : kUnits) {
        if (ms >= uint64_t(u.ms)) {
            out += std::to_string(ms / uint64_t(u.ms));
            out += u.name;
            ms %= uint64_t(u.ms);
        }
    }
    return out;
}

uint64_t parse_rate(std::string_view text)
{
    if (text.empty())
        bad_rate(text, "empty (use e.g. 10/s, 30/m or 100/h)");
    std::string_view num = text;
    uint64_t unit_ns = kNsPerSec;
    if (size_t slash = text.find('/'); slash != std::string_view::npos) {
        num = text.substr(0, slash);
        std::string_view per = text.substr(slash + 1);
        if (per == "s")
            unit_ns = kNsPerSec;
        else if (per == "m")
            unit_ns = kNsPerMin;
        else if (per == "h")
            unit_ns = kNsPerHour;
        else
            bad_rate(text, "unknown unit \"/" + std::string(per) + "\" (use /s, /m or /h)");
    }
    if (!num.empty() && num[0] == '-')
        bad_rate(text, "negative rates are not allowed");

    // The rate is exactly digits / 10^decimals per unit; no floating point,
    // so "0.1/s" is exactly 10 s.
    size_t dot = num.find('.');
    std::string_view whole = num.substr(0, dot);
    std::string_view frac = dot == std::string_view::npos ? std::string_view() : num.substr(dot + 1);
    if (whole.empty() || (dot != std::string_view::npos && frac.empty()) || !all_digits(whole) ||
        !all_digits(frac))
        bad_rate(text, "not a number (use e.g. 10/s, 0.5/s, 30/m or 100/h)");
    while (whole.size() > 1 && whole[0] == '0')
        whole.remove_prefix(1);
    while (!frac.empty() && frac.back() == '0')
        frac.remove_suffix(1);
    // 10^10 per hour is already far above the limit; stop before overflow.
    if (whole.size() > 10)
        bad_rate(text, "faster than " + std::to_string(kMaxPerSec) + "/s");
    if (frac.size() > kMaxDecimals)
        bad_rate(text, "more than " + std::to_string(kMaxDecimals) + " decimal places");

    using u128 = unsigned __int128;
    u128 count = 0, scale = 1;
    for (char c : whole)
        count = count * 10 + u128(c - '0');
    for (char c : frac) {
        count = count * 10 + u128(c - '0');
        scale *= 10;
    }
    if (count == 0)
        bad_rate(text, "must be above zero");
    // interval = unit_ns / rate = unit_ns * scale / count.
    u128 span = u128(unit_ns) * scale;
    if (count * kNsPerSec > u128(kMaxPerSec) * span)
        bad_rate(text, "faster than " + std::to_string(kMaxPerSec) + "/s");
    if (count * kNsPerDay < span)
        bad_rate(text, "slower than 1 per day");
    return uint64_t((2 * span + count) / (2 * count));
}

std::string format_rate(uint64_t interval_ns)
{
    if (interval_ns == 0)
        return "off";
    if (interval_ns > kNsPerSec) {
        if (uint64_t n = whole_count_per(kNsPerMin, interval_ns))
            return std::to_string(n) + "/m";
        if (uint64_t n = whole_count_per(kNsPerHour, interval_ns))
            return std::to_string(n) + "/h";
    }
    // Six significant digits in fixed notation (no exponent, which
    // parse_rate does not read), trailing zeros dropped.
    double per_sec = double(kNsPerSec) / double(interval_ns);
    int int_digits = int(std::floor(std::log10(per_sec))) + 1;
    int decimals = std::max(0, 6 - int_digits);
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.*f", decimals, per_sec);
    std::string out(buf);
    if (out.find('.') != std::string::npos) {
        while (out.back() == '0')
            out.pop_back();
        if (out.back() == '.')
            out.pop_back();
    }
    return out + "/s";
}

} // namespace rg
