// The reference model of the packet fuzz (tests/model), without a kernel:
// its prefix index against a scan of every prefix, its parser on frames of
// known shape from the packet builder (the limits it shares with
// bpf/parse.h), the ban rule with its 4 hops, and the order of the checks.
#include "frame_gen.hpp"
#include "packet_builder.hpp"
#include "round_spec.hpp"
#include "verdict_model.hpp"

#include <gtest/gtest.h>

using rg::test::Hdr;
using rg::test::PacketBuilder;
namespace m = rg::model;

namespace {

m::ModelPrefix prefix(int family, m::U128 addr, unsigned len) { return {family, addr & m::mask(len), len}; }
m::U128 v4(uint32_t a) { return m::U128(a) << 96; }
constexpr m::U128 kDoc6 = m::U128(0x20010db8) << 96;

m::Parse parse(const std::vector<uint8_t> &f) { return m::parse_frame(f).status; }

PacketBuilder syn4(const char *src = "192.0.2.66", uint16_t dport = 25)
{
    return std::move(PacketBuilder().eth().ipv4(src, "203.0.113.25").tcp(40000, dport));
}

std::vector<uint8_t> v6_chain(size_t n)
{
    PacketBuilder b;
    b.eth().ipv6("2001:db8::66", "2001:db8::25");
    for (size_t i = 0; i < n; i++)
        if (i % 2)
            b.dest_opts(16);
        else
            b.ah(12);
    return b.tcp(40000, 25).build();
}

} // namespace

// The per-length index gives what a scan of every prefix gives, on the
// fuzz's own random lists and addresses drawn around them.
TEST(VerdictModel, IndexAgreesWithALinearScan)
{
    rg::fuzz::Rng rng(7);
    const rg::fuzz::RoundSpec *prev = nullptr;
    rg::fuzz::RoundSpec r;
    size_t checked = 0, listed = 0;
    for (int round = 0; round < 20; round++) {
        r = rg::fuzz::random_round(rng, 3000, prev);
        prev = &r;
        m::PrefixLists lists = r.lists();
        rg::fuzz::FrameGen gen(rg::fuzz::Rng(round), r);
        for (int i = 0; i < 2000; i++) {
            m::ParsedFrame p = m::parse_frame(gen.next());
            if (!p.family)
                continue;
            m::U128 a = m::address_of(p.family, p.saddr);
            m::Sources s = lists.lookup(p.family, a);
            ASSERT_EQ(s, lists.lookup_linear(p.family, a)) << "round " << round << " frame " << i;
            checked++;
            listed += s.allow || s.block;
        }
    }
    EXPECT_GT(checked, 20000u);
    EXPECT_GT(listed, checked / 5) << "the frames' sources should often be listed";
}

TEST(VerdictModel, LookupOrsEverySourceOfEveryContainingPrefix)
{
    m::PrefixLists l;
    l.add({prefix(4, v4(0xc0000200), 24), m::List::block, 3});
    l.add({prefix(4, v4(0xc0000240), 26), m::List::block, 5});
    l.add({prefix(4, v4(0xc0000242), 32), m::List::allow, 1});
    l.add({prefix(6, kDoc6, 32), m::List::block, 0});
    EXPECT_EQ(l.lookup(4, v4(0xc0000241)), (m::Sources{0, 0x28}));
    EXPECT_EQ(l.lookup(4, v4(0xc0000242)), (m::Sources{0x2, 0x28}));
    EXPECT_EQ(l.lookup(4, v4(0xc0000201)), (m::Sources{0, 0x8}));
    EXPECT_EQ(l.lookup(4, v4(0xc0000301)), (m::Sources{}));
    EXPECT_EQ(l.lookup(6, kDoc6 | 5), (m::Sources{0, 1}));
    EXPECT_EQ(l.lookup(4, kDoc6), (m::Sources{})) << "families never mix";
}

TEST(VerdictModel, ParserLimits)
{
    EXPECT_EQ(parse(syn4().build()), m::Parse::tcp);
    EXPECT_EQ(parse(PacketBuilder().eth().qinq(1, 2).ipv4("192.0.2.1", "192.0.2.2").tcp(1, 25).build()), m::Parse::tcp);
    EXPECT_EQ(parse(PacketBuilder().eth().qinq(1, 2).vlan(3).ipv4("192.0.2.1", "192.0.2.2").tcp(1, 25).build()),
              m::Parse::unparsed);
    EXPECT_EQ(parse(PacketBuilder().eth().vlan(3, 0x9100).ipv4("192.0.2.1", "192.0.2.2").tcp(1, 25).build()),
              m::Parse::not_ip);
    EXPECT_EQ(parse(syn4().ip_options(40).build()), m::Parse::tcp);
    EXPECT_EQ(parse(syn4().ip_options(4).ipv4_ihl(15).build()), m::Parse::malformed);
    EXPECT_EQ(parse(syn4().ipv4_ihl(4).build()), m::Parse::malformed);
    EXPECT_EQ(parse(syn4().ipv4_fragment(0, true).build()), m::Parse::tcp);
    EXPECT_EQ(parse(syn4().ipv4_fragment(8, false).build()), m::Parse::fragment);
    EXPECT_EQ(parse(PacketBuilder().eth().ipv4("192.0.2.1", "192.0.2.2").ipv4_fragment(8, false).udp(1, 2).build()),
              m::Parse::fragment);
    EXPECT_EQ(parse(v6_chain(8)), m::Parse::tcp);
    EXPECT_EQ(parse(v6_chain(9)), m::Parse::unparsed);
    EXPECT_EQ(parse(PacketBuilder().eth().ipv6("2001:db8::1", "2001:db8::2").fragment(8, false).tcp(1, 25).build()),
              m::Parse::fragment);
    EXPECT_EQ(parse(PacketBuilder().eth().ipv6("2001:db8::1", "2001:db8::2").raw(50, 16).build()), m::Parse::not_tcp);
    EXPECT_EQ(parse(syn4().tcp_doff(4).build()), m::Parse::malformed);
    // A data offset past the frame's end: the ports and flags are there, so
    // the segment is judged (bpf/parse.h does the same).
    EXPECT_EQ(parse(syn4().tcp_doff(15).build()), m::Parse::tcp);
    // Every cut inside the headers is malformed; the whole frame is TCP.
    PacketBuilder b;
    b.eth().vlan(7).ipv6("2001:db8::1", "2001:db8::2").hop_by_hop(16).fragment(0, true).tcp(1, 25);
    std::vector<uint8_t> full = b.build();
    for (size_t n = 14; n < full.size(); n++)
        EXPECT_EQ(parse(std::vector<uint8_t>(full.begin(), full.begin() + long(n))), m::Parse::malformed) << n;
    EXPECT_EQ(parse(full), m::Parse::tcp);
}

TEST(VerdictModel, ParsedFields)
{
    m::ParsedFrame p = m::parse_frame(syn4("198.51.100.9", 587).flags(0x12).build());
    EXPECT_EQ(p.family, 4);
    EXPECT_EQ(p.dport, 587);
    EXPECT_FALSE(p.syn) << "SYN-ACK is no connection attempt";
    EXPECT_EQ(m::address_of(4, p.saddr), v4(0xc6336409));
    p = m::parse_frame(syn4().flags(0x06).build());
    EXPECT_TRUE(p.syn) << "SYN with RST still counts: only ACK is looked at";
}

// Nested bans: past up to 4 expired ones to a broader live ban, not past 5.
TEST(VerdictModel, BanLooksPastFourExpiredBans)
{
    const uint32_t a = 0xc0000242;
    for (unsigned expired = 0; expired <= 6; expired++) {
        m::BanTable t;
        t.put({prefix(4, v4(a), 16), 100});  // live at now = 50
        for (unsigned i = 0; i < expired; i++)
            t.put({prefix(4, v4(a), 32 - 2 * i), 10});
        EXPECT_EQ(t.find(4, v4(a), 50) != nullptr, expired <= 4) << expired << " expired bans";
    }
    m::BanTable t;
    t.put({prefix(4, 0, 0), 10});
    EXPECT_EQ(t.find(4, v4(a), 50), nullptr);
    t.put({prefix(4, 0, 0), 100});
    EXPECT_NE(t.find(4, v4(a), 50), nullptr) << "a new ban of the same prefix replaces the old";
    EXPECT_EQ(t.find(4, v4(a), 100), nullptr) << "live while now < expires";
}

TEST(VerdictModel, ChecksInOrder)
{
    m::PrefixLists l;
    l.add({prefix(4, v4(0xc0000200), 24), m::List::block, 4});  // 192.0.2.0/24, a shadow source below
    l.add({prefix(4, v4(0xc0000200), 25), m::List::block, 2});
    l.add({prefix(4, v4(0xc0000207), 32), m::List::allow, 0});
    m::BanTable bans;
    bans.put({prefix(4, v4(0xc00002f0), 28), 100});
    m::Policy p;
    p.ports.set(25);
    p.shadow = 1u << 4;
    p.now_ns = 50;
    auto verdict = [&](const char *src, uint16_t port = 25) {
        return m::verdict(syn4(src, port).build(), l, bans, p);
    };
    EXPECT_EQ(verdict("192.0.2.7").reason, RG_PASS_ALLOWLIST);
    m::Verdict v = verdict("192.0.2.66");
    EXPECT_EQ(v.reason, RG_DROP_BLOCKLIST);
    EXPECT_TRUE(v.drop);
    EXPECT_EQ(v.block_sources, 0x14u);
    EXPECT_EQ(v.sources_dropped, 0x4u) << "the shadow source counts a would-drop";
    v = verdict("192.0.2.200");  // listed by the shadow source only: on to the bans
    EXPECT_EQ(v.reason, RG_PASS_CLEAN);
    EXPECT_EQ(v.block_sources, 0x10u);
    EXPECT_EQ(verdict("192.0.2.241").reason, RG_DROP_BANNED);
    EXPECT_EQ(verdict("192.0.2.66", 80).reason, RG_PASS_UNPROTECTED);
    EXPECT_FALSE(verdict("192.0.2.66", 80).syn) << "unprotected ports count no syn";
    p.monitor = true;
    v = verdict("192.0.2.66");
    EXPECT_EQ(v.reason, RG_WOULD_DROP_BLOCKLIST);
    EXPECT_FALSE(v.drop);
    EXPECT_EQ(v.sources_dropped, 0u);
    EXPECT_EQ(verdict("192.0.2.241").reason, RG_WOULD_DROP_BANNED);
}
