// CIDR and address parsing (core/cidr), as the CLI, the config, the feeds,
// the LAPI and the log rules all use it. Properties: try_parse_cidr and
// parse_cidr agree; a parsed prefix has no host bits, prints as text that
// parses back to itself unchanged, and survives the integer form
// (prefix.hpp); a range between two parsed addresses gives CIDRs that
// cover exactly that range, in order.
#include "cidr.hpp"
#include "error.hpp"
#include "feed_format.hpp"
#include "fuzz_check.hpp"
#include "prefix.hpp"

#include <cstdint>

namespace {

rg::U128 addr_of(const rg::Cidr &c)
{
    rg::U128 a = rg::u128_from_bytes(c.addr);
    return c.family == 4 ? a >> 96 : a;
}

// Every property of one parsed prefix; returns it.
rg::Cidr check_one(std::string_view text)
{
    rg::ParsedCidr p;
    std::string why;
    bool ok = rg::try_parse_cidr(text, p, why);
    try {
        rg::ParsedCidr q = rg::parse_cidr(text);
        FUZZ_CHECK(ok, "parse_cidr took what try_parse_cidr refused: " + why);
        FUZZ_CHECK(q.cidr == p.cidr, "the two parsers differ");
    } catch (const rg::Error &) {
        FUZZ_CHECK(!ok, "parse_cidr refused what try_parse_cidr took");
    }
    if (!ok) {
        FUZZ_CHECK(!why.empty(), "a refusal without a reason");
        return {};
    }
    const rg::Cidr &c = p.cidr;
    FUZZ_CHECK(c.family == 4 || c.family == 6, "family");
    FUZZ_CHECK(c.len <= c.max_len(), "length");
    FUZZ_CHECK(c.widened(c.len) == c, "host bits left set");
    if (c.family == 4)
        for (size_t i = 4; i < 16; i++)
            FUZZ_CHECK(c.addr[i] == 0, "an IPv4 prefix with bytes beyond the fourth");

    // parse -> format -> parse gives the same value, with nothing to report.
    std::string s = c.str();
    rg::ParsedCidr back;
    FUZZ_CHECK(rg::try_parse_cidr(s, back, why), "\"" + s + "\" does not parse back: " + why);
    FUZZ_CHECK(back.cidr == c, "\"" + s + "\" parses back as " + back.cidr.str());
    FUZZ_CHECK(!back.host_bits_cleared && !back.ipv4_mapped, "\"" + s + "\" is not canonical");

    // The integer form and back.
    rg::Cidr round = c.family == 4 ? rg::to_cidr(rg::to_prefix4(c)) : rg::to_cidr(rg::to_prefix6(c));
    FUZZ_CHECK(round == c, "the integer form of " + s + " is " + round.str());
    FUZZ_CHECK(c.contains(c) && c.widened(0).contains(c), "containment of " + s);
    return c;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    rg_fuzz::quiet();
    return 0;
}

// The input is one address or prefix, or two separated by a '-' (a range,
// as the feeds write it); each part is checked, and a range of two parsed
// addresses is expanded.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string_view text = rg_fuzz::text_of(data, size);
    size_t dash = text.find('-');
    if (dash == std::string_view::npos) {
        check_one(text);
        return 0;
    }
    rg::Cidr a = check_one(text.substr(0, dash)), b = check_one(text.substr(dash + 1));
    if (a.len != a.max_len() || b.len != b.max_len())
        return 0;  // only parsed addresses (a default Cidr is 0.0.0.0/0)
    std::vector<rg::Cidr> cidrs;
    try {
        cidrs = rg::range_to_cidrs(a, b);
    } catch (const rg::Error &) {
        FUZZ_CHECK(a.family != b.family || addr_of(a) > addr_of(b), "a valid range refused");
        return 0;
    }
    FUZZ_CHECK(a.family == b.family && addr_of(a) <= addr_of(b), "an invalid range taken");
    // Adjacent, in order, from a to b: together exactly the range.
    rg::U128 next = addr_of(a);
    unsigned width = a.family == 4 ? 32 : 128;
    for (size_t i = 0; i < cidrs.size(); i++) {
        const rg::Cidr &c = cidrs[i];
        FUZZ_CHECK(c.family == a.family && c.widened(c.len) == c, "range part " + c.str());
        FUZZ_CHECK(addr_of(c) == next, "a gap or overlap before " + c.str());
        rg::U128 span_minus_1 = c.len == 0 ? ~rg::U128(0) >> (128 - width) : (rg::U128(1) << (width - c.len)) - 1;
        rg::U128 last = addr_of(c) + span_minus_1;
        if (i + 1 == cidrs.size())
            FUZZ_CHECK(last == addr_of(b), "the range ends at the wrong address");
        else
            next = last + 1;
        // Fewest CIDRs: no two neighbours of one length merge into one.
        if (i > 0 && cidrs[i - 1].len == c.len && c.len > 0)
            FUZZ_CHECK(cidrs[i - 1].widened(uint8_t(c.len - 1)) != c.widened(uint8_t(c.len - 1)),
                       "two halves not merged: " + cidrs[i - 1].str() + ", " + c.str());
    }
    FUZZ_CHECK(!cidrs.empty(), "an empty expansion");
    return 0;
}
