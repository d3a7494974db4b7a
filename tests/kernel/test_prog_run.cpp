// BPF_PROG_RUN tests of the real XDP object: a table of {packet, state,
// expected verdict, expected reason} cases, plus tests of state changing
// while the program runs.
//
// State is set only through the controller (rg::Maps, rg::Program), as the
// CLI sets it. The cases with the same setup share a fresh bpffs, map set
// and program; each checks the whole counter table before and after its
// packet: exactly one packet, its length
// in bytes and (for a connection attempt) one syn under the expected reason,
// nothing anywhere else, and the interface slot agreeing with the totals.
#include "maps.hpp"
#include "packet_builder.hpp"
#include "privileged.hpp"
#include "prog_fixture.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using rg::test::Hdr;
using rg::test::PacketBuilder;
namespace tf = rg::test::tcp_flags;
using Bytes = std::vector<uint8_t>;

namespace {

using rg::test::Filter;
using rg::test::Setup;
using rg::test::kSlot;

// Addresses (documentation ranges). The blocklist holds BLOCK4/BLOCK6; the
// allowlist punches ALLOWED4/ALLOWED6 out of them.
constexpr const char *kBlock4 = "192.0.2.0/24";
constexpr const char *kBlocked4 = "192.0.2.66";
constexpr const char *kAllowed4 = "192.0.2.7";
constexpr const char *kClean4 = "198.51.100.9";
constexpr const char *kDst4 = "203.0.113.25";
constexpr const char *kBlock6 = "2001:db8:bad::/48";
constexpr const char *kBlocked6 = "2001:db8:bad:1::66";
constexpr const char *kAllowed6 = "2001:db8:bad::7";
constexpr const char *kClean6 = "2001:db8:600d::1";
constexpr const char *kDst6 = "2001:db8:25::25";

const Setup kNoRules{};
const Setup kBlocklist{.block = {kBlock4, kBlock6}};
const Setup kBlockAndAllow{.block = {kBlock4, kBlock6}, .allow = {std::string(kAllowed4) + "/32", kAllowed6}};

const char *verdict_name(int v)
{
    return v == XDP_PASS ? "XDP_PASS" : v == XDP_DROP ? "XDP_DROP" : "other XDP action";
}

rg::ReasonCounters minus(const rg::ReasonCounters &a, const rg::ReasonCounters &b)
{
    rg::ReasonCounters d{};
    for (size_t r = 0; r < RG_REASON_MAX; r++) {
        d[r].packets = a[r].packets - b[r].packets;
        d[r].bytes = a[r].bytes - b[r].bytes;
        d[r].syn = a[r].syn - b[r].syn;
    }
    return d;
}

// The reasons that moved, e.g. "dropped_blocklist +1 pkt +54 B +1 syn", so a
// failure shows which reason a packet landed under instead.
std::string describe(const rg::ReasonCounters &d)
{
    std::ostringstream s;
    for (size_t r = 0; r < RG_REASON_MAX; r++) {
        if (!d[r].packets && !d[r].bytes && !d[r].syn)
            continue;
        s << rg_reason_info[r].name << " +" << d[r].packets << " pkt +" << d[r].bytes << " B +"
          << d[r].syn << " syn; ";
    }
    return s.str().empty() ? "(nothing counted)" : s.str();
}

rg::ReasonCounters one(enum rg_reason reason, size_t bytes, bool syn)
{
    rg::ReasonCounters d{};
    d[reason] = {1, bytes, syn ? 1u : 0u};
    return d;
}

// ---- packets -----------------------------------------------------------

PacketBuilder v4(const char *src = kBlocked4, uint16_t dport = 25)
{
    return std::move(PacketBuilder().eth().ipv4(src, kDst4).tcp(40000, dport));
}

PacketBuilder v6(const char *src = kBlocked6, uint16_t dport = 25)
{
    return std::move(PacketBuilder().eth().ipv6(src, kDst6).tcp(40000, dport));
}

// An IPv6 SYN behind n extension headers, cycling through the kinds.
Bytes v6_chain(size_t n, const char *src = kBlocked6)
{
    PacketBuilder b;
    b.eth().ipv6(src, kDst6);
    for (size_t i = 0; i < n; i++) {
        switch (i % 4) {
        case 0: b.dest_opts(8); break;
        case 1: b.routing(24); break;
        case 2: b.ah(12); break;
        case 3: b.dest_opts(16); break;
        }
    }
    return b.tcp(40000, 25).payload(4).build();
}

// ---- the table ------------------------------------------------------------

struct Case {
    std::string description;
    Bytes packet{};
    Setup setup{};
    int verdict = XDP_PASS;
    enum rg_reason reason = RG_PASS_CLEAN;
    bool syn = false;  // the reason's syn counter moves by one
};

// How gtest shows a failing case: its expectations and the frame in hex.
void PrintTo(const Case &c, std::ostream *os)
{
    *os << "\"" << c.description << "\": expect " << verdict_name(c.verdict) << ", "
        << rg_reason_info[c.reason].name << (c.syn ? " +syn" : "") << "; " << c.packet.size()
        << "-byte frame";
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < c.packet.size(); i++)
        *os << (i % 16 ? " " : "\n    ") << hex[c.packet[i] >> 4] << hex[c.packet[i] & 15];
}

std::vector<Case> cases()
{
    const int PASS = XDP_PASS, DROP = XDP_DROP;
    PacketBuilder tagged_v6_hbh;
    tagged_v6_hbh.eth().vlan(42).ipv6(kBlocked6, kDst6).hop_by_hop(16).tcp(40000, 25);
    PacketBuilder qinq_v4;
    qinq_v4.eth().qinq(100, 200).ipv4(kBlocked4, kDst4).tcp(40000, 25);
    PacketBuilder v4_long_opts;
    v4_long_opts.eth().ipv4(kBlocked4, kDst4).ip_options(40).tcp(40000, 25);
    PacketBuilder v6_every_ext;
    v6_every_ext.eth().ipv6(kBlocked6, kDst6).hop_by_hop(8).routing(24).dest_opts(16)
        .fragment(0, true).ah(12).tcp(40000, 25);

    return {
        // Parse paths that reach TCP: a blocklisted SYN is dropped.
        {"IPv4 SYN from a blocklisted source is dropped", v4().payload(10).build(), kBlocklist, DROP, RG_DROP_BLOCKLIST, true},
        {"IPv4 with 4 bytes of options, IHL 6", v4().ip_options(4).build(), kBlocklist, DROP, RG_DROP_BLOCKLIST, true},
        {"IPv4 with 20 bytes of options, IHL 10", v4().ip_options(20).build(), kBlocklist, DROP, RG_DROP_BLOCKLIST, true},
        {"IPv4 with 40 bytes of options, IHL 15", v4_long_opts.build(), kBlocklist, DROP, RG_DROP_BLOCKLIST, true},
        {"IPv4 first fragment, offset 0 and MF, carries TCP", v4().ipv4_fragment(0, true).build(), kBlocklist, DROP, RG_DROP_BLOCKLIST, true},
        {"IPv4 with DF set is judged normally", v4().dont_fragment().build(), kBlocklist, DROP, RG_DROP_BLOCKLIST, true},
        {"IPv6 SYN from a blocklisted source is dropped", v6().payload(10).build(), kBlocklist, DROP, RG_DROP_BLOCKLIST, true},
        {"IPv6 behind hop-by-hop options", v6().build(), kBlocklist, DROP, RG_DROP_BLOCKLIST, true},
        {"IPv6 behind a routing header", PacketBuilder().eth().ipv6(kBlocked6, kDst6).routing(40, 4, 2).tcp(40000, 25).build(), kBlocklist, DROP, RG_DROP_BLOCKLIST, true},
        {"IPv6 behind destination options", PacketBuilder().eth().ipv6(kBlocked6, kDst6).dest_opts(64).tcp(40000, 25).build(), kBlocklist, DROP, RG_DROP_BLOCKLIST, true},
        {"IPv6 first fragment, offset 0 and M, carries TCP", PacketBuilder().eth().ipv6(kBlocked6, kDst6).fragment(0, true).tcp(40000, 25).build(), kBlocklist, DROP, RG_DROP_BLOCKLIST, true},
        {"IPv6 behind an authentication header", PacketBuilder().eth().ipv6(kBlocked6, kDst6).ah(20).tcp(40000, 25).build(), kBlocklist, DROP, RG_DROP_BLOCKLIST, true},
        {"IPv6 behind hop-by-hop, routing, dest-opts, fragment and AH", v6_every_ext.build(), kBlocklist, DROP, RG_DROP_BLOCKLIST, true},
        {"IPv6 behind 7 extension headers", v6_chain(7), kBlocklist, DROP, RG_DROP_BLOCKLIST, true},
        {"IPv6 behind 8 extension headers, the most parsed", v6_chain(8), kBlocklist, DROP, RG_DROP_BLOCKLIST, true},
        {"IPv6 behind 9 extension headers is unparsed", v6_chain(9), kBlocklist, PASS, RG_PASS_UNPARSED, false},
        {"802.1Q tagged IPv4", PacketBuilder().eth().vlan(100).ipv4(kBlocked4, kDst4).tcp(40000, 25).build(), kBlocklist, DROP, RG_DROP_BLOCKLIST, true},
        {"802.1Q tagged IPv6 with hop-by-hop", tagged_v6_hbh.build(), kBlocklist, DROP, RG_DROP_BLOCKLIST, true},
        {"802.1ad outer and 802.1Q inner tag, IPv4", qinq_v4.build(), kBlocklist, DROP, RG_DROP_BLOCKLIST, true},
        {"Two 802.1Q tags, IPv6", PacketBuilder().eth().vlan(1).vlan(2).ipv6(kBlocked6, kDst6).tcp(40000, 25).build(), kBlocklist, DROP, RG_DROP_BLOCKLIST, true},
        {"Three VLAN tags are unparsed", PacketBuilder().eth().qinq(1, 2).vlan(3).ipv4(kBlocked4, kDst4).tcp(40000, 25).build(), kBlocklist, PASS, RG_PASS_UNPARSED, false},

        // Fragments with no TCP header.
        {"IPv4 non-first fragment", v4().ipv4_fragment(1480, false).build(), kBlocklist, PASS, RG_PASS_FRAGMENT, false},
        {"IPv4 middle fragment with MF", v4().ipv4_fragment(8, true).build(), kBlocklist, PASS, RG_PASS_FRAGMENT, false},
        {"IPv4 non-first fragment of UDP", PacketBuilder().eth().ipv4(kBlocked4, kDst4).ipv4_fragment(64, false).udp(1, 25).build(), kBlocklist, PASS, RG_PASS_FRAGMENT, false},
        {"IPv6 non-first fragment", PacketBuilder().eth().ipv6(kBlocked6, kDst6).fragment(1232, false).tcp(40000, 25).build(), kBlocklist, PASS, RG_PASS_FRAGMENT, false},
        {"IPv6 non-first fragment behind hop-by-hop", PacketBuilder().eth().ipv6(kBlocked6, kDst6).hop_by_hop().fragment(8, true).tcp(40000, 25).build(), kBlocklist, PASS, RG_PASS_FRAGMENT, false},

        // Truncated or invalid headers pass as malformed.
        {"Truncated in the 802.1Q tag", PacketBuilder().eth().vlan(100).ipv4(kBlocked4, kDst4).tcp(40000, 25).build_truncated_at(Hdr::vlan, 2), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"Truncated in the inner tag of 802.1ad", qinq_v4.build_truncated_at(Hdr::vlan, 3, 1), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"Truncated before the IPv4 header", v4().build_truncated_at(Hdr::ipv4, 0), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"Truncated in the IPv4 header", v4().build_truncated_at(Hdr::ipv4, 19), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"Truncated in the IPv4 options", v4_long_opts.build_truncated_at(Hdr::ipv4_options, 39), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"Truncated before the TCP header over IPv4", v4().build_truncated_at(Hdr::tcp, 0), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"Truncated in the TCP header over IPv4", v4().build_truncated_at(Hdr::tcp, 19), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"Truncated in the TCP header behind 802.1ad", qinq_v4.build_truncated_at(Hdr::tcp, 14), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"Truncated in the IPv6 header", v6().build_truncated_at(Hdr::ipv6, 39), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"Truncated at the hop-by-hop length byte", v6_every_ext.build_truncated_at(Hdr::hop_by_hop, 1), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"Truncated in the hop-by-hop body", v6_every_ext.build_truncated_at(Hdr::hop_by_hop, 7), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"Truncated in the routing header", v6_every_ext.build_truncated_at(Hdr::routing, 16), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"Truncated in destination options", v6_every_ext.build_truncated_at(Hdr::dest_opts, 15), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"Truncated in the fragment header", v6_every_ext.build_truncated_at(Hdr::fragment, 4), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"Truncated in the authentication header", v6_every_ext.build_truncated_at(Hdr::ah, 12), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"Truncated in the TCP header over IPv6 extensions", v6_every_ext.build_truncated_at(Hdr::tcp, 12), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"Truncated in the TCP header over tagged IPv6", tagged_v6_hbh.build_truncated_at(Hdr::tcp, 19), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"IPv4 header with version 6", v4().ipv4_version(6).build(), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"IPv4 header with IHL 4", v4().ipv4_ihl(4).build(), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"IPv4 header with IHL 0", v4().ipv4_ihl(0).build(), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"IPv4 IHL 15 pointing past the end of the packet", v4().ip_options(4).ipv4_ihl(15).build(), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"IPv6 header with version 4", v6().ipv6_version(4).build(), kBlocklist, PASS, RG_PASS_MALFORMED, false},
        {"TCP data offset 4", v4().tcp_doff(4).build(), kBlocklist, PASS, RG_PASS_MALFORMED, false},

        // Not IP, not TCP.
        {"ARP", PacketBuilder().eth("ff:ff:ff:ff:ff:ff").arp(kBlocked4, kDst4).build(), kBlocklist, PASS, RG_PASS_NOT_IP, false},
        {"ARP inside an 802.1Q tag", PacketBuilder().eth().vlan(5).arp(kBlocked4, kDst4).build(), kBlocklist, PASS, RG_PASS_NOT_IP, false},
        {"LLDP ethertype", PacketBuilder().eth().ethertype(0x88cc).payload(30).build(), kBlocklist, PASS, RG_PASS_NOT_IP, false},
        {"ethertype 0 (an 802.3 length field, not a truncation)", PacketBuilder().eth().ethertype(0x0000).payload(30).build(), kBlocklist, PASS, RG_PASS_NOT_IP, false},
        {"UDP to port 25 over IPv4", PacketBuilder().eth().ipv4(kBlocked4, kDst4).udp(40000, 25).payload(8).build(), kBlocklist, PASS, RG_PASS_NOT_TCP, false},
        {"ICMP echo over IPv4", PacketBuilder().eth().ipv4(kBlocked4, kDst4).icmp().payload(8).build(), kBlocklist, PASS, RG_PASS_NOT_TCP, false},
        {"ICMPv6 behind hop-by-hop", PacketBuilder().eth().ipv6(kBlocked6, kDst6).hop_by_hop().icmp(143).payload(8).build(), kBlocklist, PASS, RG_PASS_NOT_TCP, false},
        {"ESP over IPv6", PacketBuilder().eth().ipv6(kBlocked6, kDst6).raw(50, 32).build(), kBlocklist, PASS, RG_PASS_NOT_TCP, false},
        {"IPv6 with no next header", PacketBuilder().eth().ipv6(kBlocked6, kDst6).dest_opts().build(), kBlocklist, PASS, RG_PASS_NOT_TCP, false},
        {"UDP over IPv6", PacketBuilder().eth().ipv6(kBlocked6, kDst6).udp(40000, 25).build(), kBlocklist, PASS, RG_PASS_NOT_TCP, false},

        // Ports.
        {"Port 80 from a blocklisted source is unprotected", v4(kBlocked4, 80).build(), kBlocklist, PASS, RG_PASS_UNPROTECTED, false},
        {"Port 465 is unprotected when only 25 is", v4(kBlocked4, 465).build(), kBlocklist, PASS, RG_PASS_UNPROTECTED, false},
        {"Port 465 is dropped when 25 and 465 are protected", v4(kBlocked4, 465).build(), Setup{.block = {kBlock4}, .ports = std::vector<uint16_t>{25, 465}}, DROP, RG_DROP_BLOCKLIST, true},
        {"Port 25 is unprotected when only 587 is", v6(kBlocked6, 25).build(), Setup{.block = {kBlock6}, .ports = std::vector<uint16_t>{587}}, PASS, RG_PASS_UNPROTECTED, false},
        {"Port 587 is dropped when only 587 is protected", v6(kBlocked6, 587).build(), Setup{.block = {kBlock6}, .ports = std::vector<uint16_t>{587}}, DROP, RG_DROP_BLOCKLIST, true},
        {"Port 65535 can be protected", v4(kBlocked4, 65535).build(), Setup{.block = {kBlock4}, .ports = std::vector<uint16_t>{0, 65535}}, DROP, RG_DROP_BLOCKLIST, true},
        {"No protected ports", v4().build(), Setup{.block = {kBlock4}, .ports = std::vector<uint16_t>{}}, PASS, RG_PASS_UNPROTECTED, false},

        // Lists.
        {"Clean IPv4 source passes", v4(kClean4).build(), kBlocklist, PASS, RG_PASS_CLEAN, true},
        {"Clean IPv6 source passes", v6(kClean6).build(), kBlocklist, PASS, RG_PASS_CLEAN, true},
        {"No rules at all", v4().build(), kNoRules, PASS, RG_PASS_CLEAN, true},
        {"Blocklisted ACK of an established session is dropped, no syn", v4().flags(tf::ACK | tf::PSH).payload(20).build(), kBlocklist, DROP, RG_DROP_BLOCKLIST, false},
        {"Blocklisted SYN-ACK is dropped, no syn", v6().flags(tf::SYN | tf::ACK).build(), kBlocklist, DROP, RG_DROP_BLOCKLIST, false},
        {"Blocklisted RST is dropped, no syn", v4().flags(tf::RST).build(), kBlocklist, DROP, RG_DROP_BLOCKLIST, false},
        {"Clean ACK counts no syn", v4(kClean4).flags(tf::ACK).build(), kBlocklist, PASS, RG_PASS_CLEAN, false},
        {"Allowlisted IPv4 inside a blocklisted /24", v4(kAllowed4).build(), kBlockAndAllow, PASS, RG_PASS_ALLOWLIST, true},
        {"Allowlisted IPv4 ACK inside a blocklisted /24", v4(kAllowed4).flags(tf::ACK).build(), kBlockAndAllow, PASS, RG_PASS_ALLOWLIST, false},
        {"Blocklisted IPv4 next to an allowlisted one", v4(kBlocked4).build(), kBlockAndAllow, DROP, RG_DROP_BLOCKLIST, true},
        {"Allowlisted IPv6 inside a blocklisted /48", v6(kAllowed6).build(), kBlockAndAllow, PASS, RG_PASS_ALLOWLIST, true},
        {"Blocklisted IPv6 next to an allowlisted one", v6(kBlocked6).build(), kBlockAndAllow, DROP, RG_DROP_BLOCKLIST, true},
        {"Allowlist alone counts as allowlisted", v4(kClean4).build(), Setup{.allow = {kClean4}}, PASS, RG_PASS_ALLOWLIST, true},
        {"Allowlisted /0 beats a blocklisted /32", v4(kBlocked4).build(), Setup{.block = {kBlocked4}, .allow = {"0.0.0.0/0"}}, PASS, RG_PASS_ALLOWLIST, true},
        {"Blocklisted /0 drops every IPv4 source", v4(kClean4).build(), Setup{.block = {"0.0.0.0/0"}}, DROP, RG_DROP_BLOCKLIST, true},
        {"Blocklisted IPv4 /0 leaves IPv6 alone", v6(kClean6).build(), Setup{.block = {"0.0.0.0/0"}}, PASS, RG_PASS_CLEAN, true},
        {"Blocklisted /8 covers its last address", v4("10.255.255.255").build(), Setup{.block = {"10.0.0.0/8"}}, DROP, RG_DROP_BLOCKLIST, true},
        {"Blocklisted /8 misses the next /8", v4("11.0.0.0").build(), Setup{.block = {"10.0.0.0/8"}}, PASS, RG_PASS_CLEAN, true},
        {"Blocklisted /24 misses the next /24", v4("192.0.3.0").build(), kBlocklist, PASS, RG_PASS_CLEAN, true},
        {"Blocklisted /32 matches itself", v4("198.51.100.77").build(), Setup{.block = {"198.51.100.77/32"}}, DROP, RG_DROP_BLOCKLIST, true},
        {"Blocklisted /32 misses its neighbour", v4("198.51.100.78").build(), Setup{.block = {"198.51.100.77/32"}}, PASS, RG_PASS_CLEAN, true},
        {"Blocklisted IPv6 /48 covers its last address", v6("2001:db8:bad:ffff:ffff:ffff:ffff:ffff").build(), kBlocklist, DROP, RG_DROP_BLOCKLIST, true},
        {"Blocklisted IPv6 /48 misses the next /48", v6("2001:db8:bae::").build(), kBlocklist, PASS, RG_PASS_CLEAN, true},
        {"Blocklisted IPv6 /128 matches itself", v6("2001:db8::dead").build(), Setup{.block = {"2001:db8::dead"}}, DROP, RG_DROP_BLOCKLIST, true},
        {"Blocklisted IPv6 /128 misses its neighbour", v6("2001:db8::deae").build(), Setup{.block = {"2001:db8::dead/128"}}, PASS, RG_PASS_CLEAN, true},
        {"Blocklisted IPv6 /0 drops every IPv6 source", v6(kClean6).build(), Setup{.block = {"::/0"}}, DROP, RG_DROP_BLOCKLIST, true},
        {"IPv4 rules do not match the IPv4-mapped IPv6 address", v6("::ffff:192.0.2.66").build(), kBlocklist, PASS, RG_PASS_CLEAN, true},

        // Monitor mode.
        {"Monitor mode passes a blocklisted SYN as would-drop", v4().build(), Setup{.block = {kBlock4}, .monitor = true}, PASS, RG_WOULD_DROP_BLOCKLIST, true},
        {"Monitor mode passes a blocklisted IPv6 ACK as would-drop", v6().flags(tf::ACK).build(), Setup{.block = {kBlock6}, .monitor = true}, PASS, RG_WOULD_DROP_BLOCKLIST, false},
        {"Monitor mode still counts the allowlist", v4(kAllowed4).build(), Setup{.block = {kBlock4}, .allow = {kAllowed4}, .monitor = true}, PASS, RG_PASS_ALLOWLIST, true},
        {"Monitor mode, clean source", v4(kClean4).build(), Setup{.block = {kBlock4}, .monitor = true}, PASS, RG_PASS_CLEAN, true},
    };
}

void expect_counted(const rg::StatsSnapshot &before, const rg::StatsSnapshot &after,
                    const rg::ReasonCounters &expected)
{
    rg::ReasonCounters total = minus(after.total, before.total);
    EXPECT_EQ(describe(total), describe(expected));
    ASSERT_TRUE(after.slots.count(kSlot)) << "slot " << kSlot << " missing from stats()";
    ASSERT_TRUE(before.slots.count(kSlot));
    rg::ReasonCounters slot = minus(after.slots.at(kSlot), before.slots.at(kSlot));
    EXPECT_EQ(describe(slot), describe(expected)) << "slot " << kSlot << " disagrees";
}

} // namespace

// Every case of the table, in one process. The cases with the same setup
// run through one filter (loading and verifying the program is nearly all
// of a case's time; a filter without a rate limit keeps no state a packet
// changes but its counters), and each is judged by what its own packet
// changed. A failure names its case, expectations and frame.
TEST(ProgRun, EveryCaseOfTheTable)
{
    RG_REQUIRE_PRIVILEGED();
    const std::vector<Case> all = cases();
    std::vector<bool> done(all.size(), false);
    for (size_t first = 0; first < all.size(); first++) {
        if (done[first])
            continue;
        Filter f(all[first].setup);
        for (size_t i = first; i < all.size(); i++) {
            const Case &c = all[i];
            if (done[i] || !(c.setup == all[first].setup))
                continue;
            done[i] = true;
            SCOPED_TRACE(testing::PrintToString(c));
            ASSERT_GE(c.packet.size(), 14u) << "BPF_PROG_RUN needs at least an Ethernet header";

            rg::StatsSnapshot before = f.maps().stats();
            int verdict = f.run(c.packet);
            rg::StatsSnapshot after = f.maps().stats();

            EXPECT_EQ(verdict_name(verdict), std::string(verdict_name(c.verdict)));
            expect_counted(before, after, one(c.reason, c.packet.size(), c.syn));
        }
    }
}

TEST(ProgRun, TableHasDistinctDescriptions)
{
    RG_REQUIRE_PRIVILEGED();
    std::set<std::string> seen;
    for (const Case &c : cases())
        EXPECT_TRUE(seen.insert(c.description).second) << "duplicate: " << c.description;
    EXPECT_GE(seen.size(), 30u);
}

TEST(ProgRun, DelRuleTakesEffectOnNextPacket)
{
    RG_REQUIRE_PRIVILEGED();
    Filter f;
    const Bytes p4 = v4().build(), p6 = v6().build();
    const std::string block4 = kBlock4, block6 = kBlock6, allow4 = kBlocked4;

    EXPECT_EQ(f.run(p4), XDP_PASS);
    ASSERT_TRUE(f.edit(rg::ListKind::block, {block4}, true)[0]);
    ASSERT_TRUE(f.edit(rg::ListKind::block, {block6}, true)[0]);
    EXPECT_EQ(f.run(p4), XDP_DROP) << "a rule added after load applies at once";
    EXPECT_EQ(f.run(p6), XDP_DROP);

    ASSERT_TRUE(f.edit(rg::ListKind::allow, {allow4}, true)[0]);
    EXPECT_EQ(f.run(p4), XDP_PASS);
    ASSERT_TRUE(f.edit(rg::ListKind::allow, {allow4}, false)[0]);
    EXPECT_EQ(f.run(p4), XDP_DROP) << "deleting the allow rule re-exposes the block";

    ASSERT_TRUE(f.edit(rg::ListKind::block, {block4}, false)[0]);
    EXPECT_EQ(f.run(p4), XDP_PASS);
    EXPECT_EQ(f.run(p6), XDP_DROP) << "deleting the IPv4 rule left IPv6 alone";
    ASSERT_TRUE(f.edit(rg::ListKind::block, {block6}, false)[0]);
    EXPECT_EQ(f.run(p6), XDP_PASS);

    rg::StatsSnapshot s = f.maps().stats();
    EXPECT_EQ(s.total[RG_DROP_BLOCKLIST].packets, 4u);
    EXPECT_EQ(s.total[RG_PASS_ALLOWLIST].packets, 1u);
    EXPECT_EQ(s.total[RG_PASS_CLEAN].packets, 3u);
}

TEST(ProgRun, PortsChangeWithoutReload)
{
    RG_REQUIRE_PRIVILEGED();
    Filter f(kBlocklist);
    const Bytes to25 = v4(kBlocked4, 25).build(), to587 = v4(kBlocked4, 587).build();
    EXPECT_EQ(f.run(to25), XDP_DROP);
    EXPECT_EQ(f.run(to587), XDP_PASS);

    f.maps().set_ports({587});
    auto before = f.maps().stats();
    EXPECT_EQ(f.run(to25), XDP_PASS);
    expect_counted(before, f.maps().stats(), one(RG_PASS_UNPROTECTED, to25.size(), false));
    before = f.maps().stats();
    EXPECT_EQ(f.run(to587), XDP_DROP);
    expect_counted(before, f.maps().stats(), one(RG_DROP_BLOCKLIST, to587.size(), true));
}

TEST(ProgRun, MonitorModeChangesWithoutReload)
{
    RG_REQUIRE_PRIVILEGED();
    Filter f(kBlocklist);
    const Bytes p = v6().build();
    EXPECT_EQ(f.run(p), XDP_DROP);
    f.maps().set_monitor(true);
    auto before = f.maps().stats();
    EXPECT_EQ(f.run(p), XDP_PASS);
    expect_counted(before, f.maps().stats(), one(RG_WOULD_DROP_BLOCKLIST, p.size(), true));
    f.maps().set_monitor(false);
    EXPECT_EQ(f.run(p), XDP_DROP);
}

// Every packet lands under exactly one reason: the reasons' sums equal what
// was run, for every packet of the table at once.
TEST(ProgRun, EveryPacketCountedExactlyOnce)
{
    RG_REQUIRE_PRIVILEGED();
    Filter f(kBlockAndAllow);
    uint64_t packets = 0, bytes = 0;
    for (const Case &c : cases()) {
        f.run(c.packet);
        packets++;
        bytes += c.packet.size();
    }
    const Bytes syn = v4(kClean4).build();
    f.run(syn, 100);  // BPF_PROG_RUN repeat: 100 runs, 100 counts
    packets += 100;
    bytes += 100 * syn.size();

    rg::StatsSnapshot s = f.maps().stats();
    uint64_t sum_packets = 0, sum_bytes = 0;
    for (size_t r = 0; r < RG_REASON_MAX; r++) {
        sum_packets += s.total[r].packets;
        sum_bytes += s.total[r].bytes;
        EXPECT_LE(s.total[r].syn, s.total[r].packets) << rg_reason_info[r].name;
        EXPECT_EQ(s.slots.at(kSlot)[r].packets, s.total[r].packets) << rg_reason_info[r].name;
    }
    EXPECT_EQ(sum_packets, packets);
    EXPECT_EQ(sum_bytes, bytes);
    EXPECT_GE(s.total[RG_PASS_CLEAN].packets, 100u);
}

// Two program instances on one map set count into their own slots; the
// totals are their sum.
TEST(ProgRun, SlotsCountSeparately)
{
    RG_REQUIRE_PRIVILEGED();
    Filter f(kBlocklist);
    const uint32_t other = 2;
    struct rg_iface entry {};
    entry.flags = RG_IFACE_USED;
    f.maps().put_iface(other, entry);
    rg::Program second(f.maps(), other);
    second.load();

    const Bytes blocked = v4().build(), clean = v6(kClean6).build();
    EXPECT_EQ(f.run(blocked), XDP_DROP);
    EXPECT_EQ(Filter::run(second, blocked), XDP_DROP);
    EXPECT_EQ(Filter::run(second, clean, 3), XDP_PASS);

    rg::StatsSnapshot s = f.maps().stats();
    EXPECT_EQ(describe(s.slots.at(kSlot)), describe(one(RG_DROP_BLOCKLIST, blocked.size(), true)));
    rg::ReasonCounters want2 = one(RG_DROP_BLOCKLIST, blocked.size(), true);
    want2[RG_PASS_CLEAN] = {3, 3 * clean.size(), 3};
    EXPECT_EQ(describe(s.slots.at(other)), describe(want2));
    rg::ReasonCounters want_total = want2;
    want_total[RG_DROP_BLOCKLIST] = {2, 2 * blocked.size(), 2};
    EXPECT_EQ(describe(s.total), describe(want_total));
}

// The limit that keeps "truncated Ethernet" out of the table: the kernel
// refuses XDP test input shorter than an Ethernet header.
TEST(ProgRun, KernelRefusesFramesShorterThanEthernet)
{
    RG_REQUIRE_PRIVILEGED();
    Filter f;
    Bytes runt = PacketBuilder().eth().ipv4(kBlocked4, kDst4).build_truncated_at(Hdr::eth, 13);
    EXPECT_THROW(f.run(runt), std::runtime_error);
    rg::StatsSnapshot s = f.maps().stats();
    for (size_t r = 0; r < RG_REASON_MAX; r++)
        EXPECT_EQ(s.total[r].packets, 0u) << rg_reason_info[r].name;
}
