// rg::parse_cidr and rg::Cidr: what `block add` / `allow add` accept, how
// prefixes print, and the prefix arithmetic the rule listing relies on.
#include "cidr.hpp"
#include "error.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using Bytes = std::array<uint8_t, 16>;

Bytes v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return Bytes{a, b, c, d}; }

// The message rg::parse_cidr throws for text, or "" if it did not throw.
std::string parse_error(const std::string &text)
{
    try {
        rg::parse_cidr(text);
    } catch (const rg::Error &e) {
        return e.what();
    }
    return "";
}

rg::Cidr cidr(const std::string &text) { return rg::parse_cidr(text).cidr; }

bool contains(const std::string &haystack, const std::string &needle)
{
    return haystack.find(needle) != std::string::npos;
}

} // namespace

// ---- valid input ---------------------------------------------------------

TEST(CidrParse, Ipv4Prefix)
{
    rg::ParsedCidr p = rg::parse_cidr("192.0.2.0/24");
    EXPECT_EQ(p.cidr.family, 4);
    EXPECT_EQ(p.cidr.len, 24);
    EXPECT_EQ(p.cidr.max_len(), 32);
    EXPECT_EQ(p.cidr.addr, v4(192, 0, 2, 0));
    EXPECT_FALSE(p.host_bits_cleared);
}

TEST(CidrParse, BareIpv4IsSlash32)
{
    rg::ParsedCidr p = rg::parse_cidr("198.51.100.7");
    EXPECT_EQ(p.cidr.family, 4);
    EXPECT_EQ(p.cidr.len, 32);
    EXPECT_EQ(p.cidr.addr, v4(198, 51, 100, 7));
    EXPECT_FALSE(p.host_bits_cleared);
}

TEST(CidrParse, Ipv4Extremes)
{
    EXPECT_EQ(cidr("255.255.255.255/32").addr, v4(255, 255, 255, 255));
    rg::ParsedCidr all = rg::parse_cidr("0.0.0.0/0");
    EXPECT_EQ(all.cidr.len, 0);
    EXPECT_EQ(all.cidr.addr, Bytes{});
    EXPECT_FALSE(all.host_bits_cleared);
}

TEST(CidrParse, Ipv6Prefix)
{
    rg::ParsedCidr p = rg::parse_cidr("2001:db8::/32");
    EXPECT_EQ(p.cidr.family, 6);
    EXPECT_EQ(p.cidr.len, 32);
    EXPECT_EQ(p.cidr.max_len(), 128);
    EXPECT_EQ(p.cidr.addr, (Bytes{0x20, 0x01, 0x0d, 0xb8}));
    EXPECT_FALSE(p.host_bits_cleared);
}

TEST(CidrParse, BareIpv6IsSlash128)
{
    rg::ParsedCidr p = rg::parse_cidr("2001:db8::1");
    EXPECT_EQ(p.cidr.family, 6);
    EXPECT_EQ(p.cidr.len, 128);
    Bytes want{0x20, 0x01, 0x0d, 0xb8};
    want[15] = 1;
    EXPECT_EQ(p.cidr.addr, want);

    rg::Cidr loop = cidr("::1");
    EXPECT_EQ(loop.len, 128);
    EXPECT_EQ(loop.addr[15], 1);
}

TEST(CidrParse, Ipv6AllAndUppercase)
{
    rg::ParsedCidr all = rg::parse_cidr("::/0");
    EXPECT_EQ(all.cidr.family, 6);
    EXPECT_EQ(all.cidr.len, 0);
    EXPECT_EQ(all.cidr.addr, Bytes{});
    EXPECT_EQ(cidr("2001:DB8::/32"), cidr("2001:db8::/32"));
}

TEST(CidrParse, Ipv4MappedRangeItselfIsIpv6)
{
    // The range of all IPv4-mapped addresses stays IPv6; the addresses in it
    // are taken as IPv4 (CidrMapped below).
    rg::Cidr c = cidr("::ffff:0:0/96");
    EXPECT_EQ(c.family, 6);
    EXPECT_EQ(c.len, 96);
    Bytes want{};
    want[10] = want[11] = 0xff;
    EXPECT_EQ(c.addr, want);
}

// ---- host bits -------------------------------------------------------------

TEST(CidrHostBits, ClearedAndReported)
{
    rg::ParsedCidr p = rg::parse_cidr("192.0.2.77/24");
    EXPECT_TRUE(p.host_bits_cleared);
    EXPECT_EQ(p.cidr.addr, v4(192, 0, 2, 0));
    EXPECT_EQ(p.cidr.len, 24);
}

TEST(CidrHostBits, SlashZeroClearsEverything)
{
    rg::ParsedCidr p = rg::parse_cidr("1.2.3.4/0");
    EXPECT_TRUE(p.host_bits_cleared);
    EXPECT_EQ(p.cidr.addr, Bytes{});

    rg::ParsedCidr p6 = rg::parse_cidr("2001:db8::1/0");
    EXPECT_TRUE(p6.host_bits_cleared);
    EXPECT_EQ(p6.cidr.addr, Bytes{});
}

TEST(CidrHostBits, InsideAByte)
{
    // /25: the top bit of the last octet is network, the other 7 are host.
    rg::ParsedCidr net = rg::parse_cidr("192.0.2.128/25");
    EXPECT_FALSE(net.host_bits_cleared);
    EXPECT_EQ(net.cidr.addr, v4(192, 0, 2, 128));

    rg::ParsedCidr host = rg::parse_cidr("192.0.2.129/25");
    EXPECT_TRUE(host.host_bits_cleared);
    EXPECT_EQ(host.cidr.addr, v4(192, 0, 2, 128));

    rg::ParsedCidr nine = rg::parse_cidr("10.255.255.255/9");
    EXPECT_TRUE(nine.host_bits_cleared);
    EXPECT_EQ(nine.cidr.addr, v4(10, 128, 0, 0));

    rg::ParsedCidr v6 = rg::parse_cidr("2001:db8:ffff::/33");
    EXPECT_TRUE(v6.host_bits_cleared);
    EXPECT_EQ(v6.cidr.addr, (Bytes{0x20, 0x01, 0x0d, 0xb8, 0x80}));
}

TEST(CidrHostBits, Ipv6LastBit)
{
    rg::ParsedCidr p = rg::parse_cidr("2001:db8::1/127");
    EXPECT_TRUE(p.host_bits_cleared);
    EXPECT_EQ(p.cidr.addr[15], 0);
    EXPECT_FALSE(rg::parse_cidr("2001:db8::2/127").host_bits_cleared);
}

// ---- errors ---------------------------------------------------------------

struct BadCidr {
    const char *text;
    const char *why;  // a word the reason must contain
};

class CidrErrors : public ::testing::TestWithParam<BadCidr> {};

TEST_P(CidrErrors, RefusedNamingTextAndReason)
{
    const BadCidr &c = GetParam();
    std::string msg = parse_error(c.text);
    ASSERT_FALSE(msg.empty()) << "\"" << c.text << "\" was accepted as " << cidr(c.text).str();
    EXPECT_TRUE(contains(msg, "\"" + std::string(c.text) + "\"")) << "message does not quote the input: " << msg;
    EXPECT_TRUE(contains(msg, c.why)) << "message does not say \"" << c.why << "\": " << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Inputs, CidrErrors,
    ::testing::Values(BadCidr{"", "empty"},
                      BadCidr{"1.2.3.4/33", "out of range"},
                      BadCidr{"1.2.3.4/256", "out of range"},  // must not wrap to /0 in a uint8_t
                      BadCidr{"::/129", "out of range"},
                      BadCidr{"2001:db8::/256", "out of range"},
                      BadCidr{"1.2.3/24", "IPv4"},
                      BadCidr{"1.2.3", "IPv4"},
                      BadCidr{"10.1", "IPv4"},
                      BadCidr{"1.2.3.4.5", "IPv4"},
                      BadCidr{"300.1.1.1", "IPv4"},
                      BadCidr{"01.2.3.4", "IPv4"},   // octal-looking: 01 is not 1
                      BadCidr{"1.2.3.010", "IPv4"},  // octal-looking last octet
                      BadCidr{"0x7f.0.0.1", "IPv4"},
                      BadCidr{" 1.2.3.4", "IPv4"},
                      BadCidr{"1.2.3.4 ", "IPv4"},
                      BadCidr{"/24", "IPv4"},
                      BadCidr{"1.2.3.4/", "not a number"},
                      BadCidr{"1.2.3.4/ 24", "not a number"},
                      BadCidr{"1.2.3.4/24 ", "not a number"},
                      BadCidr{"1.2.3.4/024", "leading zero"},
                      BadCidr{"1.2.3.4/-1", "not a number"},
                      BadCidr{"1.2.3.4/+8", "not a number"},
                      BadCidr{"1.2.3.4/8/8", "not a number"},
                      BadCidr{"1.2.3.4/99999999999", "not a number"},
                      BadCidr{"2001:db8::/x", "not a number"},
                      BadCidr{"2001:db8:::1", "IPv6"},
                      BadCidr{"2001:db8::g", "IPv6"},
                      BadCidr{"1:2:3:4:5:6:7:8:9", "IPv6"},
                      BadCidr{"garbage", "IPv4"},
                      BadCidr{"example.com/24", "IPv4"}));

TEST(CidrErrorsDetail, RangeMessageStatesTheLimit)
{
    EXPECT_TRUE(contains(parse_error("1.2.3.4/33"), "32"));
    EXPECT_TRUE(contains(parse_error("::/129"), "128"));
}

TEST(CidrErrorsDetail, ThrowsRgError)
{
    EXPECT_THROW(rg::parse_cidr("1.2.3.4/33"), rg::Error);
    EXPECT_NO_THROW(rg::parse_cidr("1.2.3.4/32"));
    EXPECT_NO_THROW(rg::parse_cidr("::/128"));
}

// ---- printing ---------------------------------------------------------------

TEST(CidrStr, CanonicalFormsRoundTrip)
{
    for (const char *text : {"0.0.0.0/0", "10.0.0.0/8", "192.0.2.0/24", "198.51.100.7/32", "255.255.255.255/32",
                             "::/0", "::1/128", "2001:db8::/32", "2001:db8::1/128", "fe80::/10",
                             "2001:db8:0:1:1:1:1:1/128", "::ffff:0.0.0.0/96"})
        EXPECT_EQ(cidr(text).str(), text);
}

TEST(CidrStr, BareAndClearedInputsPrintTheRule)
{
    EXPECT_EQ(cidr("198.51.100.7").str(), "198.51.100.7/32");
    EXPECT_EQ(cidr("192.0.2.77/24").str(), "192.0.2.0/24");
    EXPECT_EQ(cidr("2001:db8::1").str(), "2001:db8::1/128");
}

TEST(CidrStr, Ipv6IsCanonical)
{
    // RFC 5952: lower case, no leading zeros, longest zero run compressed
    // (the first on a tie), a single zero field not compressed.
    EXPECT_EQ(cidr("2001:0DB8:0000:0000:0000:0000:0000:0001").str(), "2001:db8::1/128");
    EXPECT_EQ(cidr("2001:db8:0:0:1:0:0:1").str(), "2001:db8::1:0:0:1/128");
    EXPECT_EQ(cidr("2001:db8:0:0:0:1:0:0/128").str(), "2001:db8::1:0:0/128");
    EXPECT_EQ(cidr("2001:db8:0:1:1:1:1:1").str(), "2001:db8:0:1:1:1:1:1/128");
    EXPECT_EQ(cidr("2001:DB8:ABCD::/48").str(), "2001:db8:abcd::/48");
}

TEST(CidrStr, ParseOfStrIsIdentity)
{
    for (const char *text : {"1.2.3.4/0", "10.255.255.255/9", "172.16.5.4/12", "2001:db8:ffff::/33",
                             "2001:DB8::1/64", "::ffff:1.2.3.4/100", "1:2:3:4:5:6:7:8"}) {
        rg::Cidr c = cidr(text);
        rg::ParsedCidr again = rg::parse_cidr(c.str());
        EXPECT_EQ(again.cidr, c) << text << " -> " << c.str();
        EXPECT_FALSE(again.host_bits_cleared) << c.str();
    }
}

// ---- contains ---------------------------------------------------------------

TEST(CidrContains, Ipv4)
{
    rg::Cidr ten = cidr("10.0.0.0/8");
    EXPECT_TRUE(ten.contains(ten));
    EXPECT_TRUE(ten.contains(cidr("10.1.2.0/24")));
    EXPECT_TRUE(ten.contains(cidr("10.255.255.255")));
    EXPECT_FALSE(ten.contains(cidr("11.0.0.0/24")));
    EXPECT_FALSE(ten.contains(cidr("9.255.255.255")));
    EXPECT_FALSE(ten.contains(cidr("0.0.0.0/0")));  // wider, not inside
    EXPECT_FALSE(cidr("10.1.2.0/24").contains(ten));
}

TEST(CidrContains, PrefixInsideAByte)
{
    rg::Cidr c = cidr("10.128.0.0/9");
    EXPECT_TRUE(c.contains(cidr("10.200.0.0/16")));
    EXPECT_TRUE(c.contains(cidr("10.128.0.0/9")));
    EXPECT_FALSE(c.contains(cidr("10.127.0.0/16")));
    EXPECT_FALSE(c.contains(cidr("10.0.0.0/8")));
}

TEST(CidrContains, DefaultRoutes)
{
    rg::Cidr any4 = cidr("0.0.0.0/0");
    rg::Cidr any6 = cidr("::/0");
    EXPECT_TRUE(any4.contains(cidr("203.0.113.9")));
    EXPECT_TRUE(any4.contains(any4));
    EXPECT_TRUE(any6.contains(cidr("2001:db8::1")));
    EXPECT_TRUE(any6.contains(cidr("::ffff:0:0/96")));
    EXPECT_FALSE(any6.contains(cidr("::ffff:1.2.3.4")));  // taken as IPv4
}

TEST(CidrContains, Ipv6)
{
    rg::Cidr doc = cidr("2001:db8::/32");
    EXPECT_TRUE(doc.contains(cidr("2001:db8:1::/48")));
    EXPECT_TRUE(doc.contains(cidr("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
    EXPECT_FALSE(doc.contains(cidr("2001:db9::/48")));
    EXPECT_FALSE(doc.contains(cidr("2001::/16")));
    EXPECT_TRUE(cidr("::1").contains(cidr("::1")));
    EXPECT_FALSE(cidr("::1").contains(cidr("::2")));
}

TEST(CidrContains, FamiliesNeverMix)
{
    // ::/0 and 0.0.0.0/0 have the same (all-zero) bytes and length.
    EXPECT_FALSE(cidr("0.0.0.0/0").contains(cidr("::/0")));
    EXPECT_FALSE(cidr("::/0").contains(cidr("0.0.0.0/0")));
    EXPECT_FALSE(cidr("::/0").contains(cidr("1.2.3.4")));
    EXPECT_FALSE(cidr("0.0.0.0/0").contains(cidr("::1")));
}

// ---- ordering and equality ---------------------------------------------------

TEST(CidrOrder, EqualityIsByRuleNotByText)
{
    EXPECT_EQ(cidr("10.0.0.0/8"), cidr("10.1.2.3/8"));
    EXPECT_EQ(cidr("2001:db8::/32"), cidr("2001:0db8:0::/32"));
    EXPECT_EQ(cidr("1.2.3.4"), cidr("1.2.3.4/32"));
    EXPECT_NE(cidr("10.0.0.0/8"), cidr("10.0.0.0/9"));
    EXPECT_NE(cidr("10.0.0.0/8"), cidr("11.0.0.0/8"));
    EXPECT_NE(cidr("0.0.0.0/0"), cidr("::/0"));
}

TEST(CidrOrder, ConsistentTotalOrder)
{
    std::vector<rg::Cidr> v;
    for (const char *t : {"10.0.0.0/8", "2001:db8::/32", "1.0.0.0/24", "1.0.1.0/24", "::/0", "0.0.0.0/0",
                          "10.1.2.3/8", "192.0.2.1", "2001:db8::/48", "::1"})
        v.push_back(cidr(t));
    for (const rg::Cidr &a : v)
        for (const rg::Cidr &b : v) {
            int lt = a < b, gt = a > b, eq = a == b;
            EXPECT_EQ(lt + gt + eq, 1) << a.str() << " vs " << b.str();
            EXPECT_EQ(a < b, b > a);
        }
    // Sorting and removing duplicates leaves one entry per distinct rule:
    // 10.0.0.0/8 was given twice (once with host bits).
    std::sort(v.begin(), v.end());
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    v.erase(std::unique(v.begin(), v.end()), v.end());
    EXPECT_EQ(v.size(), 9u);
}

TEST(CidrOrder, WithinFamilyAndLengthByAddress)
{
    EXPECT_LT(cidr("1.0.0.0/24"), cidr("1.0.1.0/24"));
    EXPECT_LT(cidr("9.0.0.0/8"), cidr("10.0.0.0/8"));
    EXPECT_LT(cidr("2001:db8::/32"), cidr("2001:db9::/32"));
    // Every IPv4 rule sorts before every IPv6 rule.
    EXPECT_LT(cidr("255.255.255.255"), cidr("::/0"));
}

// ---- try_parse_cidr ------------------------------------------------------------

TEST(CidrTryParse, AgreesWithParseCidr)
{
    for (const char *text : {"192.0.2.77/24", "2001:db8::1", "1.2.3.4/33", "01.2.3.4", "2001:db8:::1", "1.2.3.4/",
                             "1.2.3.4/024", "", "garbage"}) {
        rg::ParsedCidr out;
        std::string why;
        bool ok = rg::try_parse_cidr(text, out, why);
        std::string thrown = parse_error(text);
        EXPECT_EQ(ok, thrown.empty()) << text;
        if (ok) {
            EXPECT_EQ(out.cidr, cidr(text));
            EXPECT_EQ(out.host_bits_cleared, rg::parse_cidr(text).host_bits_cleared);
        } else {
            EXPECT_EQ(thrown, '"' + std::string(text) + "\": " + why);
        }
    }
}

// IPv4 addresses are parsed by relayguard's own code, not inet_pton: on
// random strings near the dotted-quad form and on the edge cases, both must
// accept the same ones and give the same address.
TEST(CidrTryParse, Ipv4AgreesWithInetPton)
{
    std::vector<std::string> cases = {"0.0.0.0", "255.255.255.255", "256.0.0.0", "1.2.3", "1.2.3.4.5", "01.2.3.4",
                                      "1.2.3.04", "1.2.3.0", "1.2.3.00", "1..2.3", ".1.2.3", "1.2.3.", "1.2.3.4 ",
                                      " 1.2.3.4", "1.2.3.1234", "0x1.2.3.4", "1.2.3.-4", "+1.2.3.4", "",
                                      "199.200.201.255", "1.2.3.4\n", "9.99.999.9"};
    std::mt19937 rng(20261123);
    // Three to five parts of one to four digits, then maybe one character
    // changed to another from the alphabet.
    const char alphabet[] = "0123456789.x -";
    for (int i = 0; i < 200000; i++) {
        std::string s;
        size_t parts = rng() % 2 ? 4 : 3 + rng() % 3;
        for (size_t k = 0; k < parts; k++) {
            if (k)
                s += '.';
            size_t digits = 1 + rng() % (rng() % 3 ? 3 : 4);
            for (size_t d = 0; d < digits; d++)
                s += char('0' + (d == 0 && rng() % 4 ? 1 + rng() % 2 : rng() % 10));
        }
        if (rng() % 4 == 0)
            s[rng() % s.size()] = alphabet[rng() % (sizeof(alphabet) - 1)];
        cases.push_back(s);
    }
    size_t accepted = 0, wrong = 0;
    for (const std::string &s : cases) {
        if (s.find(':') != std::string::npos || s.find('/') != std::string::npos)
            continue;
        unsigned char want[4];
        bool want_ok = inet_pton(AF_INET, s.c_str(), want) == 1;
        rg::ParsedCidr got;
        std::string why;
        bool got_ok = rg::try_parse_cidr(s, got, why);
        accepted += want_ok;
        if ((got_ok != want_ok || (got_ok && std::memcmp(got.cidr.addr.data(), want, 4) != 0)) && wrong++ < 10)
            ADD_FAILURE() << "\"" << s << "\": inet_pton " << want_ok << ", relayguard " << got_ok;
    }
    EXPECT_EQ(wrong, 0u);
    EXPECT_GT(accepted, 20000u) << "the random strings hardly test acceptance";
}

TEST(CidrTryParse, EmbeddedNulIsNotTheEndOfTheAddress)
{
    rg::ParsedCidr out;
    std::string why;
    EXPECT_FALSE(rg::try_parse_cidr(std::string_view("1.2.3.4\0junk", 12), out, why));
    EXPECT_EQ(why, "not a valid IPv4 address");
    EXPECT_THROW(rg::parse_cidr(std::string_view("2001:db8::1\0", 12)), rg::Error);
    // Longer than any address: refused, not cut.
    EXPECT_FALSE(rg::try_parse_cidr("2001:0db8:0000:0000:0000:0000:0000:0001:0000:0000", out, why));
}

// ---- IPv4-mapped IPv6 (::ffff:a.b.c.d) -------------------------------------------
// The XDP program sees IPv4 packets as IPv4, so an IPv4-mapped IPv6 prefix
// would never match: it is taken as the IPv4 prefix it maps, with a note.

namespace {

// parse_cidr(text) and what it wrote to stderr.
std::pair<rg::ParsedCidr, std::string> parse_noted(const std::string &text)
{
    ::testing::internal::CaptureStderr();
    rg::ParsedCidr p;
    try {
        p = rg::parse_cidr(text);
    } catch (...) {
        ::testing::internal::GetCapturedStderr();
        throw;
    }
    return {p, ::testing::internal::GetCapturedStderr()};
}

} // namespace

TEST(CidrMapped, AddressBecomesIpv4WithANote)
{
    auto [p, note] = parse_noted("::ffff:192.0.2.9");
    EXPECT_EQ(p.cidr.family, 4);
    EXPECT_EQ(p.cidr.str(), "192.0.2.9/32");
    EXPECT_FALSE(p.host_bits_cleared);
    EXPECT_TRUE(contains(note, "\"::ffff:192.0.2.9\"")) << note;
    EXPECT_TRUE(contains(note, "IPv4-mapped")) << note;
    EXPECT_TRUE(contains(note, "192.0.2.9/32")) << note;
    EXPECT_EQ(note.find("error"), std::string::npos) << "a note, not an error: " << note;
}

TEST(CidrMapped, PrefixLengthLosesTheMappedPart)
{
    EXPECT_EQ(cidr("::ffff:198.51.100.0/120").str(), "198.51.100.0/24");
    EXPECT_EQ(cidr("::FFFF:c000:0209/128").str(), "192.0.2.9/32");  // the same address in hex
    EXPECT_EQ(cidr("::ffff:192.0.2.0/97").str(), "128.0.0.0/1");
    rg::ParsedCidr p = parse_noted("::ffff:192.0.2.77/120").first;
    EXPECT_EQ(p.cidr.str(), "192.0.2.0/24");
    EXPECT_TRUE(p.host_bits_cleared);  // host bits counted on the IPv4 prefix
}

TEST(CidrMapped, PrefixesCoveringTheWholeMappedRangeStayIpv6)
{
    // ::ffff:0:0/96 would be 0.0.0.0/0: left as the IPv6 prefix it is.
    for (const char *text : {"::ffff:0:0/96", "::ffff:0.0.0.0/96", "::/80", "::/0"}) {
        auto [p, note] = parse_noted(text);
        EXPECT_EQ(p.cidr.family, 6) << text;
        EXPECT_EQ(note, "") << text;
    }
    EXPECT_EQ(cidr("::ffff:192.0.2.0/96").str(), "::ffff:0.0.0.0/96");
    // Other embeddings of IPv4 are not IPv4-mapped.
    EXPECT_EQ(cidr("64:ff9b::192.0.2.9").family, 6);
    EXPECT_EQ(cidr("::192.0.2.9").family, 6);
    EXPECT_EQ(cidr("::fffe:192.0.2.9").family, 6);
    EXPECT_TRUE(contains(parse_error("::ffff:192.0.2.9/129"), "out of range")) << parse_error("::ffff:192.0.2.9/129");
}

TEST(CidrMapped, BulkParseMapsSilently)
{
    // try_parse_cidr (feeds) maps too, without a note per line.
    ::testing::internal::CaptureStderr();
    rg::ParsedCidr p;
    std::string why;
    bool ok = rg::try_parse_cidr("::ffff:203.0.113.0/120", p, why);
    std::string err = ::testing::internal::GetCapturedStderr();
    ASSERT_TRUE(ok) << why;
    EXPECT_EQ(p.cidr.str(), "203.0.113.0/24");
    EXPECT_EQ(err, "");
}

TEST(CidrRelations, WidenedAndOverlaps)
{
    rg::Cidr a = rg::parse_cidr("198.51.100.77").cidr;
    EXPECT_EQ(a.widened(24).str(), "198.51.100.0/24");
    EXPECT_EQ(rg::parse_cidr("2001:db8:1:2::9").cidr.widened(48).str(), "2001:db8:1::/48");
    EXPECT_TRUE(a.overlaps(rg::parse_cidr("198.51.0.0/16").cidr));
    EXPECT_TRUE(rg::parse_cidr("198.51.0.0/16").cidr.overlaps(a));
    EXPECT_FALSE(a.overlaps(rg::parse_cidr("198.51.101.0/24").cidr));
    EXPECT_FALSE(a.overlaps(rg::parse_cidr("::/0").cidr));  // another family
}
