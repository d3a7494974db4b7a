// rg::parse_duration/format_duration and rg::parse_rate/format_rate: what the
// config file and the CLI accept for times and connection rates, and how
// they print.
#include "duration.hpp"
#include "error.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

using namespace std::chrono_literals;

namespace {

constexpr uint64_t kSec = 1'000'000'000;

bool contains(const std::string &haystack, const std::string &needle)
{
    return haystack.find(needle) != std::string::npos;
}

// The message parse throws for text, or "" if it did not throw.
template <typename Parse>
std::string error_of(Parse parse, const std::string &text)
{
    try {
        parse(text);
    } catch (const rg::Error &e) {
        return e.what();
    }
    return "";
}

std::string duration_error(const std::string &text) { return error_of(rg::parse_duration, text); }
std::string rate_error(const std::string &text) { return error_of(rg::parse_rate, text); }

struct Bad {
    const char *text;
    const char *why;  // a part of the reason the message must give
};

std::ostream &operator<<(std::ostream &os, const Bad &b) { return os << '"' << b.text << '"'; }

} // namespace

// ---- parse_duration --------------------------------------------------------

TEST(DurationParse, EachUnit)
{
    EXPECT_EQ(rg::parse_duration("250ms"), 250ms);
    EXPECT_EQ(rg::parse_duration("30s"), 30s);
    EXPECT_EQ(rg::parse_duration("10m"), 10min);
    EXPECT_EQ(rg::parse_duration("2h"), 2h);
    EXPECT_EQ(rg::parse_duration("1d"), 24h);
}

TEST(DurationParse, Zero)
{
    EXPECT_EQ(rg::parse_duration("0s"), 0ms);
    EXPECT_EQ(rg::parse_duration("0ms"), 0ms);
    EXPECT_EQ(rg::parse_duration("0d"), 0ms);
}

TEST(DurationParse, TermsAddUp)
{
    EXPECT_EQ(rg::parse_duration("1h30m"), 90min);
    EXPECT_EQ(rg::parse_duration("1d2h3m4s5ms"), 24h + 2h + 3min + 4s + 5ms);
    EXPECT_EQ(rg::parse_duration("1m500ms"), 60500ms);
    // A term may exceed the next unit up; only the order is enforced.
    EXPECT_EQ(rg::parse_duration("90m"), 90min);
    EXPECT_EQ(rg::parse_duration("1h90m"), 150min);
}

TEST(DurationParse, LeadingZeros)
{
    EXPECT_EQ(rg::parse_duration("05m"), 5min);
    EXPECT_EQ(rg::parse_duration("000s"), 0ms);
}

TEST(DurationParse, UpTo365Days)
{
    EXPECT_EQ(rg::parse_duration("365d"), 365 * 24h);
    EXPECT_EQ(rg::parse_duration("8760h"), 365 * 24h);
    EXPECT_EQ(rg::parse_duration("364d23h59m59s999ms"), 365 * 24h - 1ms);
}

TEST(DurationParse, MessageQuotesTextAndExplains)
{
    EXPECT_EQ(duration_error("10"), "duration \"10\": missing unit (use ms, s, m, h or d, e.g. 30s)");
}

class DurationErrors : public ::testing::TestWithParam<Bad> {};

TEST_P(DurationErrors, RefusedWithReason)
{
    const Bad &b = GetParam();
    std::string msg = duration_error(b.text);
    ASSERT_FALSE(msg.empty()) << "accepted";
    EXPECT_TRUE(contains(msg, "duration \"" + std::string(b.text) + "\": ")) << msg;
    EXPECT_TRUE(contains(msg, b.why)) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Duration, DurationErrors,
    ::testing::Values(Bad{"", "empty"}, Bad{"10", "missing unit"}, Bad{"0", "missing unit"},
                      Bad{"1h30", "missing unit"}, Bad{"-5s", "negative"}, Bad{"-0s", "negative"},
                      Bad{"10x", "unknown unit \"x\""}, Bad{"10S", "unknown unit \"S\""},
                      Bad{"10sec", "unknown unit \"sec\""}, Bad{"10us", "unknown unit \"us\""},
                      Bad{"10 s", "space"}, Bad{" 10s", "space"}, Bad{"10s ", "space"},
                      Bad{"1h 30m", "space"}, Bad{"1h\t30m", "space"}, Bad{"1.5h", "whole number"},
                      Bad{"1,5h", "whole number"}, Bad{"366d", "longer than 365d"},
                      Bad{"365d1ms", "longer than 365d"}, Bad{"8761h", "longer than 365d"},
                      Bad{"31536000001ms", "longer than 365d"},
                      Bad{"99999999999999999999999s", "longer than 365d"},
                      Bad{"18446744073709551615ms", "longer than 365d"}, Bad{"30m1h", "largest to smallest"},
                      Bad{"1m1m", "largest to smallest"}, Bad{"1s1m", "largest to smallest"},
                      Bad{"s", "expected a number"}, Bad{"+5s", "expected a number"},
                      Bad{"1h-30m", "expected a number at \"-30m\""}, Bad{"5s!", "expected a number"}));

// ---- format_duration -------------------------------------------------------

TEST(DurationFormat, Canonical)
{
    EXPECT_EQ(rg::format_duration(0ms), "0s");
    EXPECT_EQ(rg::format_duration(500ms), "500ms");
    EXPECT_EQ(rg::format_duration(30s), "30s");
    EXPECT_EQ(rg::format_duration(90min), "1h30m");
    EXPECT_EQ(rg::format_duration(1500ms), "1s500ms");
    EXPECT_EQ(rg::format_duration(24h), "1d");
    EXPECT_EQ(rg::format_duration(25h), "1d1h");
    EXPECT_EQ(rg::format_duration(24h + 1h + 1min + 1s + 1ms), "1d1h1m1s1ms");
    EXPECT_EQ(rg::format_duration(365 * 24h), "365d");
}

TEST(DurationFormat, NegativeGetsASign) { EXPECT_EQ(rg::format_duration(-1500ms), "-1s500ms"); }

TEST(DurationFormat, ReadsBack)
{
    for (int64_t ms : {int64_t(0), int64_t(1), int64_t(999), int64_t(1000), int64_t(59'999), int64_t(60'000),
                       int64_t(3'599'999), int64_t(86'400'000), int64_t(90'061'001), int64_t(1'234'567'890),
                       int64_t(31'535'999'999), int64_t(31'536'000'000)}) {
        rg::Duration d(ms);
        EXPECT_EQ(rg::parse_duration(rg::format_duration(d)), d) << ms << " -> " << rg::format_duration(d);
    }
}

// ---- parse_rate ------------------------------------------------------------

TEST(DurationRateParse, PerSecondIsTheDefaultUnit)
{
    EXPECT_EQ(rg::parse_rate("2"), kSec / 2);
    EXPECT_EQ(rg::parse_rate("2/s"), kSec / 2);
    EXPECT_EQ(rg::parse_rate("1"), kSec);
}

TEST(DurationRateParse, PerMinuteAndHour)
{
    EXPECT_EQ(rg::parse_rate("30/m"), 2 * kSec);
    EXPECT_EQ(rg::parse_rate("1/m"), 60 * kSec);
    EXPECT_EQ(rg::parse_rate("100/h"), 36 * kSec);
    EXPECT_EQ(rg::parse_rate("1/h"), 3600 * kSec);
}

TEST(DurationRateParse, FractionsAreExact)
{
    EXPECT_EQ(rg::parse_rate("0.5"), 2 * kSec);
    EXPECT_EQ(rg::parse_rate("0.5/s"), 2 * kSec);
    EXPECT_EQ(rg::parse_rate("0.1/s"), 10 * kSec);  // not 9999999999 as in binary floating point
    EXPECT_EQ(rg::parse_rate("2.5/s"), 400'000'000u);
    EXPECT_EQ(rg::parse_rate("2.50/s"), 400'000'000u);
    EXPECT_EQ(rg::parse_rate("002/s"), kSec / 2);
    EXPECT_EQ(rg::parse_rate("0.25/m"), 240 * kSec);
}

TEST(DurationRateParse, RoundsToNearestNanosecond)
{
    EXPECT_EQ(rg::parse_rate("2.25"), 444'444'444u);  // 444444444.4
    EXPECT_EQ(rg::parse_rate("1.5"), 666'666'667u);   // 666666666.7
    EXPECT_EQ(rg::parse_rate("3/s"), 333'333'333u);
    EXPECT_EQ(rg::parse_rate("7/m"), 8'571'428'571u);  // 8571428571.4
    EXPECT_EQ(rg::parse_rate("16/s"), 62'500'000u);
    EXPECT_EQ(rg::parse_rate("400000/s"), 2'500u);
    EXPECT_EQ(rg::parse_rate("600000/s"), 1'667u);  // 1666.67
}

TEST(DurationRateParse, Limits)
{
    EXPECT_EQ(rg::parse_rate("1000000/s"), 1000u);
    EXPECT_EQ(rg::parse_rate("1000000"), 1000u);
    EXPECT_EQ(rg::parse_rate("60000000/m"), 1000u);
    EXPECT_EQ(rg::parse_rate("3600000000/h"), 1000u);
    // One per day is 1/24 per hour, which no decimal hits exactly.
    EXPECT_NO_THROW(rg::parse_rate("0.041666666667/h"));
    EXPECT_TRUE(contains(rate_error("0.041666666666/h"), "slower than 1 per day"));
    EXPECT_NO_THROW(rg::parse_rate("0.0000115741/s"));
    EXPECT_TRUE(contains(rate_error("0.0000115740/s"), "slower than 1 per day"));
    EXPECT_TRUE(contains(rate_error("1000000.000001/s"), "faster than 1000000/s"));
    EXPECT_TRUE(contains(rate_error("3600000001/h"), "faster than 1000000/s"));
}

class DurationRateErrors : public ::testing::TestWithParam<Bad> {};

TEST_P(DurationRateErrors, RefusedWithReason)
{
    const Bad &b = GetParam();
    std::string msg = rate_error(b.text);
    ASSERT_FALSE(msg.empty()) << "accepted";
    EXPECT_TRUE(contains(msg, "rate \"" + std::string(b.text) + "\": ")) << msg;
    EXPECT_TRUE(contains(msg, b.why)) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    DurationRate, DurationRateErrors,
    ::testing::Values(Bad{"", "empty"}, Bad{"0", "above zero"}, Bad{"0/s", "above zero"},
                      Bad{"0.000/m", "above zero"}, Bad{"-1/s", "negative"}, Bad{"-0.5", "negative"},
                      Bad{"abc", "not a number"}, Bad{"1e3", "not a number"}, Bad{".5", "not a number"},
                      Bad{"5.", "not a number"}, Bad{"1,5", "not a number"}, Bad{"+2", "not a number"},
                      Bad{"0x10", "not a number"}, Bad{" 2/s", "not a number"}, Bad{"2 /s", "not a number"},
                      Bad{"/s", "not a number"}, Bad{"1.2.3", "not a number"},
                      Bad{"2/ s", "unknown unit \"/ s\""}, Bad{"1/d", "unknown unit \"/d\""},
                      Bad{"1/x", "unknown unit"}, Bad{"1/", "unknown unit"}, Bad{"1/s/s", "unknown unit"},
                      Bad{"2/sec", "unknown unit"}, Bad{"1000001", "faster than 1000000/s"},
                      Bad{"1000001/s", "faster than 1000000/s"},
                      Bad{"99999999999999999999999/h", "faster than 1000000/s"},
                      Bad{"0.04/h", "slower than 1 per day"}, Bad{"0.00001/s", "slower than 1 per day"},
                      Bad{"1.0000000000001", "more than 12 decimal places"}));

// ---- format_rate -----------------------------------------------------------

TEST(DurationRateFormat, PerSecondAtOrAboveOne)
{
    EXPECT_EQ(rg::format_rate(kSec), "1/s");
    EXPECT_EQ(rg::format_rate(kSec / 2), "2/s");
    EXPECT_EQ(rg::format_rate(1000), "1000000/s");
    EXPECT_EQ(rg::format_rate(400'000'000), "2.5/s");
    EXPECT_EQ(rg::format_rate(444'444'444), "2.25/s");
    EXPECT_EQ(rg::format_rate(300'000'000), "3.33333/s");  // six significant digits
    EXPECT_EQ(rg::format_rate(1), "1000000000/s");         // no exponent
}

TEST(DurationRateFormat, PerMinuteOrHourWhenWhole)
{
    EXPECT_EQ(rg::format_rate(2 * kSec), "30/m");  // 0.5/s
    EXPECT_EQ(rg::format_rate(60 * kSec), "1/m");
    EXPECT_EQ(rg::format_rate(1'500'000'000), "40/m");
    EXPECT_EQ(rg::format_rate(8'571'428'571), "7/m");  // what "7/m" parses to
    EXPECT_EQ(rg::format_rate(36 * kSec), "100/h");
    EXPECT_EQ(rg::format_rate(3600 * kSec), "1/h");
    EXPECT_EQ(rg::format_rate(24 * 3600 * kSec), "0.0000115741/s");
}

TEST(DurationRateFormat, OtherSlowRatesPerSecond)
{
    EXPECT_EQ(rg::format_rate(1'234'567'890), "0.81/s");
    EXPECT_EQ(rg::format_rate(2 * kSec + 1), "0.5/s");  // a hair slower than 30/m
    // 0.81/s is exactly 2916/h: whole per hour wins over a fraction per second.
    EXPECT_EQ(rg::format_rate(rg::parse_rate("0.81/s")), "2916/h");
}

TEST(DurationRateFormat, ZeroIsOff) { EXPECT_EQ(rg::format_rate(0), "off"); }

TEST(DurationRateFormat, WrittenFormsReadBackUnchanged)
{
    for (const char *text :
         {"1/s", "2/s", "2.25/s", "1000000/s", "30/m", "7/m", "59/m", "100/h", "13/h", "1/h", "0.123/s"})
        EXPECT_EQ(rg::format_rate(rg::parse_rate(text)), text);
}

// Whatever format_rate prints, parse_rate reads (no exponent, not too many
// decimals) as nearly the same interval.
TEST(DurationRateFormat, OutputParsesBackClosely)
{
    for (double interval = 1000; interval <= 86400.0 * kSec; interval *= 1.37) {
        uint64_t ns = uint64_t(interval);
        std::string text = rg::format_rate(ns);
        uint64_t back = 0;
        ASSERT_NO_THROW(back = rg::parse_rate(text)) << ns << " -> " << text;
        EXPECT_LT(std::fabs(double(back) - double(ns)) / double(ns), 1e-5) << ns << " -> " << text;
    }
}
