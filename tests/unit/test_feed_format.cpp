// rg::parse_feed and friends: every feed format on a sample written for the
// test, malformed lines, comments, ranges, IPv6, duplicates, auto-detection
// and the exact error message format.
#include "feed_format.hpp"
#include "prefix_set.hpp"
#include "error.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace {

using rg::FeedFormat;

rg::FeedParseResult parse(std::string_view text, FeedFormat fmt = FeedFormat::automatic,
                          const std::string &name = "test")
{
    return rg::parse_feed(text, fmt, name);
}

std::vector<std::string> strs(const std::vector<rg::Cidr> &v)
{
    std::vector<std::string> out;
    for (const rg::Cidr &c : v)
        out.push_back(c.str());
    return out;
}

// A parse gives its prefixes sorted (IPv4, then IPv6, each in prefix order).
std::vector<std::string> strs(const rg::PrefixSet &s) { return strs(rg::to_cidrs(s)); }

using Strs = std::vector<std::string>;

// The expected prefixes in the order a parse gives them.
Strs sorted(const Strs &v)
{
    std::vector<rg::Cidr> c;
    for (const std::string &t : v)
        c.push_back(rg::parse_cidr(t).cidr);
    return strs(rg::to_prefix_set(c));
}

// The line counts of a result, compared in one go.
struct Counts {
    size_t good, comment, bad;
    bool operator==(const Counts &) const = default;
};

Counts counts(const rg::FeedParseResult &r) { return {r.good_lines, r.comment_lines, r.bad_lines}; }

void PrintTo(const Counts &c, std::ostream *os)
{
    *os << "{good " << c.good << ", comment " << c.comment << ", bad " << c.bad << "}";
}

rg::Cidr cidr(const std::string &text) { return rg::parse_cidr(text).cidr; }

Strs range(const std::string &a, const std::string &b) { return strs(rg::range_to_cidrs(cidr(a), cidr(b))); }

} // namespace

// ---- names -----------------------------------------------------------------

TEST(FeedFormatNames, RoundTrip)
{
    for (const auto &[fmt, name] : rg::feed_format_names) {
        EXPECT_EQ(rg::feed_format_name(fmt), name);
        EXPECT_EQ(rg::feed_format_from_name(name), fmt);
    }
    EXPECT_EQ(rg::feed_format_from_name("auto"), FeedFormat::automatic);
    EXPECT_EQ(rg::feed_format_name(FeedFormat::ipset), "ipset");
}

TEST(FeedFormatNames, UnknownNameListsTheValidOnes)
{
    try {
        rg::feed_format_from_name("csv");
        FAIL() << "csv accepted";
    } catch (const rg::Error &e) {
        std::string msg = e.what();
        EXPECT_NE(msg.find("\"csv\""), std::string::npos) << msg;
        EXPECT_NE(msg.find("auto, plain, spamhaus, netset, ipset, json, range"), std::string::npos) << msg;
    }
    EXPECT_THROW(rg::feed_format_from_name("automatic"), rg::Error);
    EXPECT_THROW(rg::feed_format_from_name("Plain"), rg::Error);
}

// ---- plain -------------------------------------------------------------------

TEST(PlainFeed, CommentsBlanksCrlfAndWhitespace)
{
    const char *text = "# test blocklist, one entry per line\r\n"
                       "; a comment in the other style\r\n"
                       "\r\n"
                       "192.0.2.1\r\n"
                       "   198.51.100.0/24   # trailing comment\r\n"
                       "\t203.0.113.0/25 ; trailing ; comment\r\n"
                       "   \t  \r\n"
                       "2001:db8::/32\r\n"
                       "2001:DB8:1::1#no space before the comment\r\n"
                       "192.0.2.77/24\r\n"
                       "    # indented comment\r\n";
    rg::FeedParseResult r = parse(text, FeedFormat::plain);
    EXPECT_EQ(r.format, FeedFormat::plain);
    EXPECT_EQ(strs(r.prefixes), sorted(Strs{"192.0.2.1/32", "198.51.100.0/24", "203.0.113.0/25", "2001:db8::/32",
                                      "2001:db8:1::1/128", "192.0.2.0/24"}));
    EXPECT_EQ(counts(r), (Counts{6, 3, 0}));
    EXPECT_EQ(r.host_bits_cleared, 1u);
    EXPECT_TRUE(r.errors.empty());
    EXPECT_EQ(parse(text).format, FeedFormat::plain);
}

TEST(PlainFeed, LastLineWithoutNewlineAndBom)
{
    rg::FeedParseResult r = parse("\xEF\xBB\xBF" "192.0.2.1\n192.0.2.2", FeedFormat::plain);
    EXPECT_EQ(strs(r.prefixes), sorted(Strs{"192.0.2.1/32", "192.0.2.2/32"}));
    EXPECT_EQ(r.bad_lines, 0u);
}

TEST(PlainFeed, EmptyAndCommentOnlyGiveNothing)
{
    for (const char *text : {"", "\n\n", "   \r\n", "# nothing listed today\n; really\n"}) {
        rg::FeedParseResult r = parse(text);
        EXPECT_TRUE(r.prefixes.empty()) << text;
        EXPECT_EQ(counts(r), (Counts{0, r.comment_lines, 0}));
    }
    EXPECT_EQ(parse("# a\n; b\n").comment_lines, 2u);
}

TEST(PlainFeed, MalformedLinesAreCountedAndParsingGoesOn)
{
    const char *text = "192.0.2.1\n"          // 1
                       "192.0.2.0/33\n"       // 2 prefix out of range
                       "999.1.1.1\n"          // 3 bad address
                       "junk\n"               // 4
                       "192.0.2.2 192.0.2.3\n"  // 5 two fields
                       "2001:db8::/129\n"     // 6
                       "2001:db8:::1\n"       // 7
                       "192.0.2.0/024\n"      // 8 leading zero
                       "\n"                   // 9
                       "198.51.100.0/24\n";   // 10
    rg::FeedParseResult r = parse(text, FeedFormat::plain, "mylist");
    EXPECT_EQ(strs(r.prefixes), sorted(Strs{"192.0.2.1/32", "198.51.100.0/24"}));
    EXPECT_EQ(counts(r), (Counts{2, 0, 7}));
    ASSERT_EQ(r.errors.size(), 7u);
    EXPECT_EQ(r.errors[0], "feed mylist: line 2: \"192.0.2.0/33\": prefix length 33 out of range (0-32 for IPv4)");
    EXPECT_EQ(r.errors[1], "feed mylist: line 3: \"999.1.1.1\": not a valid IPv4 address");
    EXPECT_EQ(r.errors[2], "feed mylist: line 4: \"junk\": not a valid IPv4 address");
    EXPECT_EQ(r.errors[3], "feed mylist: line 5: \"192.0.2.2 192.0.2.3\": expected one address, CIDR or range");
    EXPECT_EQ(r.errors[4],
              "feed mylist: line 6: \"2001:db8::/129\": prefix length 129 out of range (0-128 for IPv6)");
    EXPECT_EQ(r.errors[5], "feed mylist: line 7: \"2001:db8:::1\": not a valid IPv6 address");
    EXPECT_EQ(r.errors[6], "feed mylist: line 8: \"192.0.2.0/024\": prefix length \"024\" has a leading zero");
}

TEST(PlainFeed, ErrorsAreCappedButAllCounted)
{
    std::string text;
    for (int i = 0; i < 250; i++)
        text += "bad" + std::to_string(i) + "\n192.0.2." + std::to_string(i) + "\n";
    rg::FeedParseResult r = parse(text, FeedFormat::plain);
    EXPECT_EQ(counts(r), (Counts{250, 0, 250}));
    ASSERT_EQ(r.errors.size(), rg::max_feed_errors);
    EXPECT_EQ(r.errors.back(), "feed test: line 199: \"bad99\": not a valid IPv4 address");
}

// A large download: every prefix, every line counted once, and the first
// errors in line order with their line numbers.
TEST(PlainFeed, LargeDownloadKeepsOrderCountsAndTheFirstErrors)
{
    constexpr size_t lines = 600000, bad_every = 4000;  // 150 bad lines spread over the text
    std::string text;
    std::vector<uint32_t> want;
    std::vector<std::string> want_errors;
    size_t comments = 0;
    for (size_t i = 1; i <= lines; i++) {
        if (i % bad_every == 0) {
            text += "bad" + std::to_string(i) + "\n";
            if (want_errors.size() < rg::max_feed_errors)
                want_errors.push_back("feed test: line " + std::to_string(i) + ": \"bad" + std::to_string(i) +
                                      "\": not a valid IPv4 address");
            continue;
        }
        if (i % 997 == 0) {
            text += "# comment\r\n";
            comments++;
            continue;
        }
        uint32_t a = 0x0a000000u + uint32_t(i) * 7u;
        text += std::to_string(a >> 24) + "." + std::to_string(a >> 16 & 0xff) + "." + std::to_string(a >> 8 & 0xff) +
                "." + std::to_string(a & 0xff) + (i % 3 ? "\n" : " ; with a comment\r\n");
        want.push_back(a);
    }
    rg::FeedParseResult r = rg::parse_feed(text, FeedFormat::plain, "test");
    EXPECT_EQ(counts(r), (Counts{want.size(), comments, lines / bad_every}));
    EXPECT_EQ(r.errors, want_errors);
    ASSERT_EQ(r.prefixes.v4.size(), want.size());
    EXPECT_TRUE(r.prefixes.v6.empty());
    std::sort(want.begin(), want.end());
    size_t wrong = 0;
    for (size_t i = 0; i < want.size(); i++) {
        const rg::Prefix4 &p = r.prefixes.v4[i];
        if ((p.addr != want[i] || p.len != 32) && wrong++ < 5)
            ADD_FAILURE() << "prefix " << i << ": " << rg::to_cidr(p).str();
    }
    EXPECT_EQ(wrong, 0u);
}

TEST(PlainFeed, LongAndBinaryLinesAreShownBoundedAndAscii)
{
    std::string junk(500, 'x');
    std::string text = junk + "\n" + std::string("1.2.3.4\x01\xff\n") + std::string("1.2.3.4\0junk\n", 13);
    rg::FeedParseResult r = parse(text, FeedFormat::plain);
    EXPECT_EQ(counts(r), (Counts{0, 0, 3}));
    ASSERT_EQ(r.errors.size(), 3u);
    EXPECT_EQ(r.errors[0], "feed test: line 1: \"" + std::string(80, 'x') + "...\": not a valid IPv4 address");
    EXPECT_EQ(r.errors[1], "feed test: line 2: \"1.2.3.4??\": not a valid IPv4 address");
    // An embedded NUL must not end the address early.
    EXPECT_EQ(r.errors[2], "feed test: line 3: \"1.2.3.4?junk\": not a valid IPv4 address");
    for (const std::string &e : r.errors)
        for (char c : e)
            EXPECT_TRUE(c >= 0x20 && c <= 0x7e) << e;
}

TEST(PlainFeed, DuplicatesAndOverlapsAreKeptAsListed)
{
    // Normalising is a later step (normalise_prefixes); the parser reports
    // what the feed says.
    rg::FeedParseResult r = parse("192.0.2.0/24\n192.0.2.0/24\n192.0.2.128/25\n192.0.2.9\n2001:db8::/32\n"
                                  "2001:db8::1\n2001:db8::/32\n");
    EXPECT_EQ(strs(r.prefixes), sorted(Strs{"192.0.2.0/24", "192.0.2.0/24", "192.0.2.128/25", "192.0.2.9/32",
                                      "2001:db8::/32", "2001:db8::1/128", "2001:db8::/32"}));
    EXPECT_EQ(r.good_lines, 7u);
}

TEST(PlainFeed, RangesAreAcceptedToo)
{
    // A range deep in a list that was detected as plain must not be refused.
    rg::FeedParseResult r = parse("192.0.2.1\n198.51.100.0-198.51.100.255\n", FeedFormat::plain);
    EXPECT_EQ(strs(r.prefixes), sorted(Strs{"192.0.2.1/32", "198.51.100.0/24"}));
    EXPECT_EQ(r.good_lines, 2u);
}

// ---- netset (FireHOL) ---------------------------------------------------------

TEST(NetsetFeed, FireholStyleHeader)
{
    const char *text = "#\n"
                       "# test_level1\n"
                       "#\n"
                       "# An example netset written for this test: a header of\n"
                       "# comments, then one address or network per line.\n"
                       "#\n"
                       "# Source URL: (none)\n"
                       "#\n"
                       "0.0.0.0/8\n"
                       "192.0.2.0/24\n"
                       "198.51.100.17\n"
                       "203.0.113.0/26\n"
                       "2001:db8:ff00::/40\n";
    rg::FeedParseResult r = parse(text, FeedFormat::netset);
    EXPECT_EQ(r.format, FeedFormat::netset);
    EXPECT_EQ(strs(r.prefixes),
              sorted(Strs{"0.0.0.0/8", "192.0.2.0/24", "198.51.100.17/32", "203.0.113.0/26", "2001:db8:ff00::/40"}));
    EXPECT_EQ(counts(r), (Counts{5, 8, 0}));
    rg::FeedParseResult autod = parse(text);
    EXPECT_EQ(autod.format, FeedFormat::plain);  // netset parses as plain
    EXPECT_EQ(autod.prefixes, r.prefixes);
}

// ---- spamhaus ----------------------------------------------------------------

TEST(SpamhausFeed, DropText)
{
    const char *text = "; Test DROP List 2026/01/01 - written for relayguard's tests\n"
                       "; Last-Modified: Thu, 01 Jan 2026 00:00:00 GMT\n"
                       "; Expires: Thu, 01 Jan 2026 01:00:00 GMT\n"
                       "192.0.2.0/24 ; SBL000001\n"
                       "198.51.100.0/22 ; SBL000002\n"
                       "203.0.113.0/24 ; SBL000003\n";
    rg::FeedParseResult r = parse(text);
    EXPECT_EQ(r.format, FeedFormat::spamhaus);
    EXPECT_EQ(strs(r.prefixes), sorted(Strs{"192.0.2.0/24", "198.51.100.0/22", "203.0.113.0/24"}));
    EXPECT_EQ(r.host_bits_cleared, 0u);
    EXPECT_EQ(counts(r), (Counts{3, 3, 0}));
}

TEST(SpamhausFeed, DropV6Text)
{
    const char *text = "; Test DROPv6 List 2026/01/01\n"
                       "2001:db8:10::/48 ; SBL000010\n"
                       "2001:db8:20::/44;SBL000011\n"
                       "2001:db8:30::/129 ; SBL000012\n";
    rg::FeedParseResult r = parse(text, FeedFormat::automatic, "spamhaus-dropv6");
    EXPECT_EQ(r.format, FeedFormat::spamhaus);
    EXPECT_EQ(strs(r.prefixes), sorted(Strs{"2001:db8:10::/48", "2001:db8:20::/44"}));
    EXPECT_EQ(r.bad_lines, 1u);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0], "feed spamhaus-dropv6: line 4: \"2001:db8:30::/129\": prefix length 129 out of "
                           "range (0-128 for IPv6)");
}

TEST(SpamhausFeed, JsonLinesWithMetadata)
{
    const char *text =
        "{\"cidr\":\"192.0.2.0/24\",\"sblid\":\"SBL000001\",\"rir\":\"arin\"}\n"
        "{\"cidr\":\"198.51.100.0/24\",\"sblid\":\"SBL000002\",\"rir\":\"ripencc\"}\n"
        "{\"cidr\":\"2001:db8:10::/48\",\"sblid\":\"SBL000010\",\"rir\":\"apnic\"}\n"
        "{\"type\":\"metadata\",\"timestamp\":1767225600,\"size\":200,\"records\":3,\"copyright\":\"test\"}\n";
    rg::FeedParseResult r = parse(text);
    EXPECT_EQ(r.format, FeedFormat::spamhaus);
    EXPECT_EQ(strs(r.prefixes), sorted(Strs{"192.0.2.0/24", "198.51.100.0/24", "2001:db8:10::/48"}));
    EXPECT_EQ(counts(r), (Counts{3, 1, 0}));  // the metadata line: neither good nor bad
}

TEST(SpamhausFeed, BadJsonLines)
{
    const char *text = "{\"cidr\":\"192.0.2.0/24\",\"sblid\":\"SBL000001\"}\n"
                       "{\"cidr\":\"192.0.2.0/40\"}\n"
                       "{\"sblid\":\"SBL000002\"}\n"
                       "{\"cidr\":\"198.51.100.0/24\"\n"  // cut short
                       "{\"cidr\":42}\n";
    rg::FeedParseResult r = parse(text, FeedFormat::spamhaus, "drop");
    EXPECT_EQ(strs(r.prefixes), sorted(Strs{"192.0.2.0/24"}));
    EXPECT_EQ(r.bad_lines, 4u);
    ASSERT_EQ(r.errors.size(), 4u);
    EXPECT_EQ(r.errors[0], "feed drop: line 2: \"192.0.2.0/40\": prefix length 40 out of range (0-32 for IPv4)");
    EXPECT_EQ(r.errors[1], "feed drop: line 3: \"{\"sblid\":\"SBL000002\"}\": no \"cidr\" string field");
    EXPECT_EQ(r.errors[2], "feed drop: line 4: \"{\"cidr\":\"198.51.100.0/24\"\": not a JSON object");
    EXPECT_EQ(r.errors[3], "feed drop: line 5: \"{\"cidr\":42}\": no \"cidr\" string field");
}

// ---- ipset save ------------------------------------------------------------------

TEST(IpsetFeed, SaveOutput)
{
    const char *text = "create bl4 hash:net family inet hashsize 1024 maxelem 65536 timeout 0\n"
                       "add bl4 192.0.2.0/24\n"
                       "add bl4 198.51.100.7 timeout 600\n"
                       "add bl4 203.0.113.4-203.0.113.7\n"
                       "add bl4 203.0.113.64/26 comment \"listed by #ops; see ticket 12\"\n"
                       "# a comment line\n"
                       "create bl6 hash:net family inet6 hashsize 1024 maxelem 65536\n"
                       "add bl6 2001:db8::/32\n"
                       "add   bl6\t2001:db8:1::5   \n";
    rg::FeedParseResult r = parse(text);
    EXPECT_EQ(r.format, FeedFormat::ipset);
    EXPECT_EQ(strs(r.prefixes), sorted(Strs{"192.0.2.0/24", "198.51.100.7/32", "203.0.113.4/30", "203.0.113.64/26",
                                      "2001:db8::/32", "2001:db8:1::5/128"}));
    EXPECT_EQ(counts(r), (Counts{6, 3, 0}));  // two create lines and a comment
}

TEST(IpsetFeed, RefusedLines)
{
    const char *text = "create bl hash:net family inet\n"
                       "add bl 192.0.2.0/30 nomatch\n"
                       "del bl 192.0.2.1\n"
                       "add bl\n"
                       "add bl 192.0.2.0/24,tcp:25\n"
                       "192.0.2.9\n"
                       "add bl 198.51.100.9\n";
    rg::FeedParseResult r = parse(text, FeedFormat::ipset, "saved");
    EXPECT_EQ(strs(r.prefixes), sorted(Strs{"198.51.100.9/32"}));
    EXPECT_EQ(r.bad_lines, 5u);
    ASSERT_EQ(r.errors.size(), 5u);
    EXPECT_EQ(r.errors[0],
              "feed saved: line 2: \"add bl 192.0.2.0/30 nomatch\": nomatch entries (exceptions to a set) are not "
              "supported");
    EXPECT_EQ(r.errors[1], "feed saved: line 3: \"del bl 192.0.2.1\": expected an ipset \"create\" or \"add\" line");
    EXPECT_EQ(r.errors[2], "feed saved: line 4: \"add bl\": expected \"add SET ENTRY\"");
    EXPECT_EQ(r.errors[3], "feed saved: line 5: \"192.0.2.0/24,tcp:25\": prefix length \"24,tcp:25\" is not a "
                           "number");
    EXPECT_EQ(r.errors[4], "feed saved: line 6: \"192.0.2.9\": expected an ipset \"create\" or \"add\" line");
}

// ---- json --------------------------------------------------------------------------

TEST(JsonFeed, ArrayOfStrings)
{
    const char *text = "[\n  \"192.0.2.1\",\n  \"198.51.100.0/24\",\n  \"2001:db8::/48\",\n"
                       "  \"203.0.113.0-203.0.113.127\"\n]\n";
    rg::FeedParseResult r = parse(text);
    EXPECT_EQ(r.format, FeedFormat::json);
    EXPECT_EQ(strs(r.prefixes), sorted(Strs{"192.0.2.1/32", "198.51.100.0/24", "2001:db8::/48", "203.0.113.0/25"}));
    EXPECT_EQ(counts(r), (Counts{4, 0, 0}));
}

TEST(JsonFeed, ArrayOfObjectsWithCidrOrIp)
{
    const char *text = R"([{"cidr": "192.0.2.0/24", "note": "x"},
                           {"ip": "198.51.100.9", "first_seen": "2026-01-01"},
                           {"ip": "2001:db8::9"},
                           {"cidr": "203.0.113.0/24", "ip": "203.0.113.1"}])";
    rg::FeedParseResult r = parse(text);
    EXPECT_EQ(r.format, FeedFormat::json);
    EXPECT_EQ(strs(r.prefixes), sorted(Strs{"192.0.2.0/24", "198.51.100.9/32", "2001:db8::9/128", "203.0.113.0/24"}));
    EXPECT_EQ(r.good_lines, 4u);
}

TEST(JsonFeed, DataWrapper)
{
    rg::FeedParseResult r = parse(R"({"meta": {"generated": "today"}, "data": ["192.0.2.1", {"ip": "192.0.2.2"}]})");
    EXPECT_EQ(r.format, FeedFormat::json);
    EXPECT_EQ(strs(r.prefixes), sorted(Strs{"192.0.2.1/32", "192.0.2.2/32"}));
}

TEST(JsonFeed, BadEntriesNamedByIndex)
{
    const char *text = R"(["192.0.2.1", "192.0.2.0/33", 17, {"cidr": 5}, {"addr": "192.0.2.3"}, null, "2001:db8::/32"])";
    rg::FeedParseResult r = parse(text, FeedFormat::json, "j");
    EXPECT_EQ(strs(r.prefixes), sorted(Strs{"192.0.2.1/32", "2001:db8::/32"}));
    EXPECT_EQ(counts(r), (Counts{2, 0, 5}));
    ASSERT_EQ(r.errors.size(), 5u);
    EXPECT_EQ(r.errors[0], "feed j: entry 1: \"192.0.2.0/33\": prefix length 33 out of range (0-32 for IPv4)");
    EXPECT_EQ(r.errors[1], "feed j: entry 2: \"17\": expected a string, or an object with a \"cidr\" or \"ip\" field");
    EXPECT_EQ(r.errors[2], "feed j: entry 3: \"{\"cidr\":5}\": \"cidr\" is not a string");
    EXPECT_EQ(r.errors[3],
              "feed j: entry 4: \"{\"addr\":\"192.0.2.3\"}\": expected a string, or an object with a \"cidr\" or "
              "\"ip\" field");
    EXPECT_EQ(r.errors[4], "feed j: entry 5: \"null\": expected a string, or an object with a \"cidr\" or \"ip\" "
                           "field");
}

TEST(JsonFeed, InvalidDocumentIsOneBadLineAtItsLine)
{
    // A download cut short in the middle of line 3.
    rg::FeedParseResult r = parse("[\n  \"192.0.2.1\",\n  \"192.0.", FeedFormat::json, "cut");
    EXPECT_TRUE(r.prefixes.empty());
    EXPECT_EQ(counts(r), (Counts{0, 0, 1}));
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].rfind("feed cut: line 3: \"\"192.0.\": not valid JSON (error at column ", 0), 0u)
        << r.errors[0];

    rg::FeedParseResult junk = parse("[1, 2,, 3]", FeedFormat::json, "junk");
    ASSERT_EQ(junk.errors.size(), 1u);
    EXPECT_EQ(junk.errors[0], "feed junk: line 1: \"[1, 2,, 3]\": not valid JSON (error at column 7)");
}

// A number beyond a double is JSON that nlohmann cannot hold: it threw
// json::out_of_range (406) out of parse_feed instead of a bad line (found
// by tests/fuzz/fuzz_feed_check.cpp).
TEST(JsonFeed, NumberOutOfRangeIsOneBadLineAtItsLine)
{
    rg::FeedParseResult r = parse("[\n  \"192.0.2.1\",\n  1e999,\n  \"192.0.2.2\"\n]\n", FeedFormat::json, "big");
    EXPECT_TRUE(r.prefixes.empty());
    EXPECT_EQ(counts(r), (Counts{0, 0, 1}));
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0], "feed big: line 3: \"1e999,\": not valid JSON (a number out of range at column 3)");
    rg::FeedParseResult detected = parse("[" + std::string(40, '4') + "e4444444]", FeedFormat::automatic, "auto");
    EXPECT_EQ(detected.format, FeedFormat::json);
    EXPECT_EQ(detected.bad_lines, 1u);
}

TEST(JsonFeed, TopLevelMustBeAnArray)
{
    for (const char *text : {R"({"cidr": "192.0.2.1"})", R"({"data": "192.0.2.1"})", R"("192.0.2.1")"}) {
        rg::FeedParseResult r = parse(text, FeedFormat::json, "j");
        EXPECT_EQ(r.bad_lines, 1u) << text;
        ASSERT_EQ(r.errors.size(), 1u);
        EXPECT_EQ(r.errors[0], "feed j: line 1: \"" + std::string(text) +
                                   "\": expected a JSON array, or an object with a \"data\" array");
    }
    rg::FeedParseResult empty = parse("[]", FeedFormat::json);
    EXPECT_EQ(empty.good_lines + empty.bad_lines, 0u);
}

// ---- range -------------------------------------------------------------------------

TEST(RangeFeed, RangesBecomeMinimalCidrs)
{
    const char *text = "# ranges, as some providers publish them\n"
                       "192.0.2.0 - 192.0.2.255\n"
                       "198.51.100.10-198.51.100.20 # a ragged one\n"
                       "203.0.113.9\n"
                       "203.0.113.128/25\n"
                       "2001:db8::-2001:db8::ff\n"
                       "2001:db8:1::  -  2001:db8:1::1:0\n";
    rg::FeedParseResult r = parse(text);
    EXPECT_EQ(r.format, FeedFormat::range);
    EXPECT_EQ(strs(r.prefixes),
              sorted(Strs{"192.0.2.0/24", "198.51.100.10/31", "198.51.100.12/30", "198.51.100.16/30", "198.51.100.20/32",
                    "203.0.113.9/32", "203.0.113.128/25", "2001:db8::/120", "2001:db8:1::/112",
                    "2001:db8:1::1:0/128"}));
    EXPECT_EQ(counts(r), (Counts{6, 1, 0}));
}

TEST(RangeFeed, BadRanges)
{
    const char *text = "192.0.2.20-192.0.2.10\n"
                       "192.0.2.1-2001:db8::1\n"
                       "192.0.2.0/24-192.0.2.255\n"
                       "192.0.2.1-\n"
                       "192.0.2.1-192.0.2.300\n"
                       "192.0.2.1 - 192.0.2.2 - 192.0.2.3\n";
    rg::FeedParseResult r = parse(text, FeedFormat::range, "r");
    EXPECT_TRUE(r.prefixes.empty());
    EXPECT_EQ(r.bad_lines, 6u);
    ASSERT_EQ(r.errors.size(), 6u);
    EXPECT_EQ(r.errors[0], "feed r: line 1: \"192.0.2.20-192.0.2.10\": range start is after its end");
    EXPECT_EQ(r.errors[1], "feed r: line 2: \"192.0.2.1-2001:db8::1\": range mixes IPv4 and IPv6");
    EXPECT_EQ(r.errors[2],
              "feed r: line 3: \"192.0.2.0/24-192.0.2.255\": range start \"192.0.2.0/24\" is not a bare address");
    EXPECT_EQ(r.errors[3], "feed r: line 4: \"192.0.2.1-\": range end \"\": empty address");
    EXPECT_EQ(r.errors[4],
              "feed r: line 5: \"192.0.2.1-192.0.2.300\": range end \"192.0.2.300\": not a valid IPv4 address");
    EXPECT_EQ(r.errors[5], "feed r: line 6: \"192.0.2.1 - 192.0.2.2 - 192.0.2.3\": range end \"192.0.2.2 - "
                           "192.0.2.3\": not a valid IPv4 address");
}

TEST(RangeFeed, WholeAddressSpace)
{
    rg::FeedParseResult r = parse("0.0.0.0-255.255.255.255\n::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\n");
    EXPECT_EQ(strs(r.prefixes), sorted(Strs{"0.0.0.0/0", "::/0"}));
}

// ---- range_to_cidrs -------------------------------------------------------------------

TEST(RangeToCidrs, Examples)
{
    EXPECT_EQ(range("192.0.2.5", "192.0.2.5"), (Strs{"192.0.2.5/32"}));
    EXPECT_EQ(range("192.0.2.0", "192.0.2.255"), (Strs{"192.0.2.0/24"}));
    EXPECT_EQ(range("192.0.2.255", "192.0.3.0"), (Strs{"192.0.2.255/32", "192.0.3.0/32"}));
    EXPECT_EQ(range("10.0.0.0", "10.255.255.255"), (Strs{"10.0.0.0/8"}));
    EXPECT_EQ(range("0.0.0.0", "255.255.255.255"), (Strs{"0.0.0.0/0"}));
    EXPECT_EQ(range("0.0.0.0", "127.255.255.255"), (Strs{"0.0.0.0/1"}));
    EXPECT_EQ(range("128.0.0.0", "255.255.255.255"), (Strs{"128.0.0.0/1"}));
    EXPECT_EQ(range("255.255.255.255", "255.255.255.255"), (Strs{"255.255.255.255/32"}));
    EXPECT_EQ(range("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), (Strs{"::/0"}));
    EXPECT_EQ(range("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), (Strs{"2001:db8::/32"}));
    EXPECT_EQ(range("::1", "::2"), (Strs{"::1/128", "::2/128"}));
    EXPECT_EQ(range("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
              (Strs{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"}));
    // Lengths of the inputs are ignored: only their addresses count.
    EXPECT_EQ(strs(rg::range_to_cidrs(cidr("192.0.2.0/24"), cidr("192.0.2.3/32"))), (Strs{"192.0.2.0/30"}));
}

TEST(RangeToCidrs, WorstCaseCounts)
{
    // All but the first and the last address: two blocks per bit but one.
    EXPECT_EQ(range("0.0.0.1", "255.255.255.254").size(), 62u);
    EXPECT_EQ(range("::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe").size(), 254u);
}

TEST(RangeToCidrs, Refused)
{
    EXPECT_THROW(rg::range_to_cidrs(cidr("192.0.2.1"), cidr("2001:db8::1")), rg::Error);
    EXPECT_THROW(rg::range_to_cidrs(cidr("192.0.2.2"), cidr("192.0.2.1")), rg::Error);
}

TEST(RangeToCidrs, RandomRangesAreCoveredExactlyAndMinimally)
{
    using rg::U128;
    auto make = [](bool v6, U128 v) {
        rg::Cidr c = rg::to_cidr(rg::Prefix6{v, 128});
        if (!v6) {
            c = rg::to_cidr(rg::Prefix4{uint32_t(v >> 96), 32});
        }
        return c;
    };
    std::mt19937_64 rng(4);
    for (int iter = 0; iter < 2000; iter++) {
        bool v6 = iter % 2;
        unsigned width = v6 ? 128 : 32;
        U128 all = width == 128 ? ~U128(0) : (U128(1) << width) - 1;
        U128 base = ((U128(rng()) << 64) | rng()) & all;
        auto random_addr = [&] {
            // Mostly nearby addresses with ragged ends, sometimes far apart.
            U128 v = iter % 3 ? base + (rng() & 0xfffff) : (U128(rng()) << 64) | rng();
            return v & all;
        };
        U128 a = random_addr(), b = random_addr();
        if (a > b)
            std::swap(a, b);
        unsigned shift = 128 - width;
        rg::Cidr first = make(v6, a << shift), last = make(v6, b << shift);
        std::vector<rg::Cidr> cover = rg::range_to_cidrs(first, last);
        ASSERT_FALSE(cover.empty());
        ASSERT_LE(cover.size(), 2 * width - 2);
        // Consecutive, aligned blocks from a to b.
        U128 next = a;
        for (size_t i = 0; i < cover.size(); i++) {
            const rg::Cidr &c = cover[i];
            U128 start = rg::u128_from_bytes(c.addr) >> shift;
            unsigned k = width - c.len;  // block holds 2^k addresses
            ASSERT_TRUE(start == next) << first.str() << " - " << last.str() << " at " << c.str();
            ASSERT_TRUE((rg::u128_from_bytes(c.addr) & ~rg::prefix_mask<U128>(c.len)) == 0) << c.str();
            U128 end = start + (k == 128 ? ~U128(0) : (U128(1) << k) - 1);
            if (i + 1 == cover.size()) {
                ASSERT_TRUE(end == b);
            }
            next = end + 1;
            // Minimal: no block could have been doubled, i.e. neither its
            // parent fits inside the range starting here.
            if (c.len > 0 && (start & (U128(1) << k)) == 0) {
                U128 parent_end = start + (k + 1 == 128 ? ~U128(0) : (U128(1) << (k + 1)) - 1);
                ASSERT_TRUE(parent_end > b) << "block " << c.str() << " could have been doubled";
            }
        }
    }
}

// ---- detection --------------------------------------------------------------------

TEST(FeedDetection, EachSample)
{
    struct Case {
        const char *text;
        FeedFormat want;
    };
    for (const Case &c : {
             Case{"192.0.2.1\n198.51.100.0/24\n", FeedFormat::plain},
             Case{"# header\n; header\n\n2001:db8::1\n", FeedFormat::plain},
             Case{"", FeedFormat::plain},
             Case{"  [\"192.0.2.1\"]", FeedFormat::json},
             Case{"{\"data\": []}", FeedFormat::json},
             Case{"{\n \"data\": [\"192.0.2.1\"]\n}", FeedFormat::json},
             Case{"{\"cidr\":\"192.0.2.0/24\",\"sblid\":\"SBL1\"}\n{\"type\":\"metadata\"}\n", FeedFormat::spamhaus},
             Case{"; Test DROP\n192.0.2.0/24 ; SBL000001\n", FeedFormat::spamhaus},
             Case{"2001:db8::/32;SBL9\n", FeedFormat::spamhaus},
             Case{"create s hash:net family inet\nadd s 192.0.2.0/24\n", FeedFormat::ipset},
             Case{"# saved\nadd s 192.0.2.0/24\n", FeedFormat::ipset},
             Case{"192.0.2.0-192.0.2.9\n", FeedFormat::range},
             Case{"192.0.2.1\n2001:db8:: - 2001:db8::ff\n", FeedFormat::range},
             Case{"192.0.2.1 # a comment with a - dash\n", FeedFormat::plain},
             Case{"\xEF\xBB\xBF[\"192.0.2.1\"]", FeedFormat::json},
             // One BOM is stripped; a second is text, so this is no JSON.
             Case{"\xEF\xBB\xBF\xEF\xBB\xBF{\"cidr\":\"192.0.2.0/24\"}\n", FeedFormat::plain},
         }) {
        EXPECT_EQ(rg::detect_feed_format(c.text), c.want) << c.text;
        EXPECT_EQ(parse(c.text).format, c.want) << c.text;
    }
}

TEST(FeedDetection, ForcedFormatIsReportedAsGiven)
{
    EXPECT_EQ(parse("192.0.2.1\n", FeedFormat::netset).format, FeedFormat::netset);
    EXPECT_EQ(parse("192.0.2.1\n", FeedFormat::spamhaus).format, FeedFormat::spamhaus);
    // Forcing json on a plain list: one bad line, nothing listed.
    rg::FeedParseResult r = parse("192.0.2.1\n", FeedFormat::json);
    EXPECT_EQ(counts(r), (Counts{0, 0, 1}));
}

// A feed's IPv4-mapped entries are taken as IPv4 (the filter never sees
// IPv4 traffic as IPv6), in every format; ::ffff:0:0/96 stays IPv6.
TEST(FeedMapped, Ipv4MappedEntriesBecomeIpv4)
{
    rg::FeedParseResult r = parse("::ffff:192.0.2.9\n::ffff:198.51.100.0/120\n::ffff:0:0/96\n", FeedFormat::plain);
    EXPECT_EQ(strs(r.prefixes), sorted(Strs{"192.0.2.9/32", "198.51.100.0/24", "::ffff:0.0.0.0/96"}));
    EXPECT_EQ(r.bad_lines, 0u);
    r = parse("::ffff:192.0.2.0-::ffff:192.0.2.127\n", FeedFormat::range);
    EXPECT_EQ(strs(r.prefixes), (Strs{"192.0.2.0/25"}));
    r = parse("[\"::ffff:203.0.113.7\"]", FeedFormat::json);
    EXPECT_EQ(strs(r.prefixes), (Strs{"203.0.113.7/32"}));
}
