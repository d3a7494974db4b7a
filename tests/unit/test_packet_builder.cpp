// The packet builder the BPF_PROG_RUN tests rely on: if it wrote a wrong
// length or next-header value, those tests would exercise other paths than
// their names claim. Offsets below are written out from the RFCs, not taken
// from the builder's layout().
#include "packet_builder.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

using rg::test::Hdr;
using rg::test::inet_checksum;
using rg::test::PacketBuilder;
namespace tf = rg::test::tcp_flags;

namespace {

using Bytes = std::vector<uint8_t>;

uint16_t be16(const Bytes &b, size_t off)
{
    return uint16_t(b.at(off) << 8 | b.at(off + 1));
}

uint32_t be32(const Bytes &b, size_t off)
{
    return uint32_t(be16(b, off)) << 16 | be16(b, off + 2);
}

Bytes slice(const Bytes &b, size_t off, size_t len)
{
    return Bytes(b.begin() + off, b.begin() + off + len);
}

// One's complement sum of the IPv4 or IPv6 pseudo header, to verify a
// transport checksum: summing pseudo header and segment must give zero.
uint32_t pseudo_sum(const Bytes &b, size_t ip_off, bool v6, uint8_t proto, size_t seg_len)
{
    const size_t addr_off = v6 ? 8 : 12, addr_len = v6 ? 32 : 8;
    uint32_t sum = proto + uint32_t(seg_len);
    for (size_t i = 0; i < addr_len; i += 2)
        sum += be16(b, ip_off + addr_off + i);
    return sum;
}

constexpr size_t kEth = 14;

} // namespace

TEST(PacketBuilderChecksum, Rfc1071Example)
{
    // RFC 1071 section 3: the sum of these bytes is 0xddf2.
    const Bytes data{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    EXPECT_EQ(inet_checksum(data.data(), data.size()), uint16_t(~0xddf2));
    // An odd length pads with a zero byte.
    const Bytes odd{0x12, 0x34, 0x56};
    EXPECT_EQ(inet_checksum(odd.data(), odd.size()), uint16_t(~(0x1234 + 0x5600)));
}

TEST(PacketBuilderChecksum, Ipv4HeaderKnownAnswer)
{
    // The usual textbook header: 4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7.
    Bytes p = PacketBuilder()
                  .eth()
                  .ipv4("192.168.0.1", "192.168.0.199")
                  .dont_fragment()
                  .ttl(64)
                  .udp(1000, 2000)
                  .payload(0x73 - 28)
                  .build();
    const Bytes expect{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                       0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    EXPECT_EQ(slice(p, kEth, 20), expect);
}

TEST(PacketBuilderEth, EthertypeFollowsNextHeader)
{
    Bytes p = PacketBuilder().eth("aa:bb:cc:dd:ee:ff", "02:00:00:00:00:09").ipv4("192.0.2.1", "192.0.2.2").build();
    EXPECT_EQ(slice(p, 0, 6), (Bytes{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}));
    EXPECT_EQ(slice(p, 6, 6), (Bytes{0x02, 0, 0, 0, 0, 0x09}));
    EXPECT_EQ(be16(p, 12), 0x0800);
    EXPECT_EQ(be16(PacketBuilder().eth().ipv6("2001:db8::1", "2001:db8::2").build(), 12), 0x86dd);

    Bytes bare = PacketBuilder().eth().build();
    EXPECT_EQ(bare.size(), kEth);
    EXPECT_EQ(be16(bare, 12), rg::test::kEthPExperimental);
}

TEST(PacketBuilderEth, EthertypeOverride)
{
    Bytes p = PacketBuilder().eth().ethertype(0x0806).payload(28).build();
    EXPECT_EQ(p.size(), kEth + 28);
    EXPECT_EQ(be16(p, 12), 0x0806);
    // Override of the type inside a tag leaves the outer TPID alone.
    Bytes v = PacketBuilder().eth().vlan(7).ethertype(0x88cc).payload(4).build();
    EXPECT_EQ(be16(v, 12), 0x8100);
    EXPECT_EQ(be16(v, 16), 0x88cc);
}

TEST(PacketBuilderEth, ArpRequest)
{
    Bytes p = PacketBuilder().eth("ff:ff:ff:ff:ff:ff", "02:11:22:33:44:55").arp("192.0.2.1", "192.0.2.9").build();
    ASSERT_EQ(p.size(), kEth + 28);
    EXPECT_EQ(be16(p, 12), 0x0806);
    EXPECT_EQ(be16(p, kEth + 0), 1);       // Ethernet
    EXPECT_EQ(be16(p, kEth + 2), 0x0800);  // IPv4
    EXPECT_EQ(p[kEth + 4], 6);
    EXPECT_EQ(p[kEth + 5], 4);
    EXPECT_EQ(be16(p, kEth + 6), 1);  // request
    EXPECT_EQ(slice(p, kEth + 8, 6), (Bytes{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}));
    EXPECT_EQ(slice(p, kEth + 14, 4), (Bytes{192, 0, 2, 1}));
    EXPECT_EQ(slice(p, kEth + 18, 6), Bytes(6, 0));
    EXPECT_EQ(slice(p, kEth + 24, 4), (Bytes{192, 0, 2, 9}));
}

TEST(PacketBuilderVlan, SingleTag)
{
    Bytes p = PacketBuilder().eth().vlan(100, rg::test::kEthP8021Q, 5).ipv4("192.0.2.1", "192.0.2.2").build();
    EXPECT_EQ(be16(p, 12), 0x8100);
    EXPECT_EQ(be16(p, 14), 5 << 13 | 100);
    EXPECT_EQ(be16(p, 16), 0x0800);
    EXPECT_EQ(p[18], 0x45);
}

TEST(PacketBuilderVlan, QinqOuterServiceTagFirst)
{
    Bytes p = PacketBuilder().eth().qinq(100, 200).ipv6("2001:db8::1", "2001:db8::2").build();
    EXPECT_EQ(be16(p, 12), 0x88a8);  // announces the outer (service) tag
    EXPECT_EQ(be16(p, 14), 100);
    EXPECT_EQ(be16(p, 16), 0x8100);  // announces the inner (customer) tag
    EXPECT_EQ(be16(p, 18), 200);
    EXPECT_EQ(be16(p, 20), 0x86dd);
    EXPECT_EQ(p[22] >> 4, 6);
}

TEST(PacketBuilderVlan, TagsInCallOrder)
{
    PacketBuilder b;
    b.eth().vlan(1, 0x88a8).vlan(2).vlan(3, 0x88a8).ipv4("192.0.2.1", "192.0.2.2");
    Bytes p = b.build();
    EXPECT_EQ(be16(p, 12), 0x88a8);
    EXPECT_EQ(be16(p, 14), 1);
    EXPECT_EQ(be16(p, 16), 0x8100);
    EXPECT_EQ(be16(p, 18), 2);
    EXPECT_EQ(be16(p, 20), 0x88a8);
    EXPECT_EQ(be16(p, 22), 3);
    EXPECT_EQ(be16(p, 24), 0x0800);
    EXPECT_EQ(b.span(Hdr::vlan, 2).offset, 22u);
    EXPECT_EQ(b.span(Hdr::ipv4).offset, 26u);
}

TEST(PacketBuilderIpv4, HeaderFields)
{
    Bytes p = PacketBuilder()
                  .eth()
                  .ipv4("192.0.2.1", "198.51.100.7")
                  .ttl(17)
                  .ipv4_id(0xbeef)
                  .tcp(40000, 25)
                  .payload(10)
                  .build();
    ASSERT_EQ(p.size(), kEth + 20 + 20 + 10);
    EXPECT_EQ(p[kEth], 0x45);
    EXPECT_EQ(be16(p, kEth + 2), 50);  // total length: IP + TCP + payload
    EXPECT_EQ(be16(p, kEth + 4), 0xbeef);
    EXPECT_EQ(be16(p, kEth + 6), 0);   // no flags, offset 0
    EXPECT_EQ(p[kEth + 8], 17);
    EXPECT_EQ(p[kEth + 9], 6);
    EXPECT_EQ(slice(p, kEth + 12, 4), (Bytes{192, 0, 2, 1}));
    EXPECT_EQ(slice(p, kEth + 16, 4), (Bytes{198, 51, 100, 7}));
    EXPECT_EQ(inet_checksum(&p[kEth], 20), 0) << "header checksum does not verify";
    EXPECT_NE(be16(p, kEth + 10), 0);
}

TEST(PacketBuilderIpv4, OptionsSetIhlAndLengths)
{
    for (size_t opt = 0; opt <= 40; opt += 4) {
        SCOPED_TRACE("options " + std::to_string(opt));
        PacketBuilder b;
        b.eth().ipv4("192.0.2.1", "192.0.2.2").ip_options(opt).tcp(1, 25).payload(3);
        Bytes p = b.build();
        const size_t hlen = 20 + opt;
        ASSERT_EQ(p.size(), kEth + hlen + 20 + 3);
        EXPECT_EQ(p[kEth] & 0x0f, 5 + opt / 4);
        EXPECT_EQ(be16(p, kEth + 2), hlen + 23);
        EXPECT_EQ(inet_checksum(&p[kEth], hlen), 0);
        EXPECT_EQ(be16(p, kEth + hlen + 2), 25) << "TCP does not start after the options";
        if (opt) {
            for (size_t i = 0; i + 1 < opt; i++)
                EXPECT_EQ(p[kEth + 20 + i], 0x01) << "NOP expected at option byte " << i;
            EXPECT_EQ(p[kEth + hlen - 1], 0x00) << "end of options list expected";
            auto s = b.span(Hdr::ipv4_options);
            EXPECT_EQ(s.offset, kEth + 20);
            EXPECT_EQ(s.length, opt);
            EXPECT_EQ(b.span(Hdr::ipv4).length, hlen);
        } else {
            EXPECT_THROW(b.span(Hdr::ipv4_options), std::invalid_argument);
        }
    }
}

TEST(PacketBuilderIpv4, FragmentFlagsAndOffset)
{
    Bytes first = PacketBuilder().eth().ipv4("192.0.2.1", "192.0.2.2").ipv4_fragment(0, true).build();
    EXPECT_EQ(be16(first, kEth + 6), 0x2000);
    Bytes later = PacketBuilder().eth().ipv4("192.0.2.1", "192.0.2.2").ipv4_fragment(1480, false).build();
    EXPECT_EQ(be16(later, kEth + 6), 1480 / 8);
    Bytes mid = PacketBuilder().eth().ipv4("192.0.2.1", "192.0.2.2").ipv4_fragment(65528, true).dont_fragment().build();
    EXPECT_EQ(be16(mid, kEth + 6), 0x4000 | 0x2000 | 0x1fff);
    EXPECT_EQ(inet_checksum(&mid[kEth], 20), 0);
}

TEST(PacketBuilderIpv4, VersionAndIhlOverrides)
{
    Bytes p = PacketBuilder()
                  .eth()
                  .ipv4("192.0.2.1", "192.0.2.2")
                  .ip_options(4)
                  .ipv4_version(6)
                  .ipv4_ihl(3)
                  .tcp(1, 25)
                  .build();
    EXPECT_EQ(p[kEth], 0x63);
    // The bytes written are still a 24-byte header, checksummed as written.
    EXPECT_EQ(be16(p, kEth + 24 + 2), 25);
    EXPECT_EQ(be16(p, kEth + 2), 44);
    EXPECT_EQ(inet_checksum(&p[kEth], 24), 0);
}

TEST(PacketBuilderIpv4, NextProtocols)
{
    auto proto_after = [](PacketBuilder b) { return b.build().at(kEth + 9); };
    auto base = [] { return PacketBuilder().eth().ipv4("192.0.2.1", "192.0.2.2"); };
    EXPECT_EQ(proto_after(base().tcp(1, 2)), 6);
    EXPECT_EQ(proto_after(base().udp(1, 2)), 17);
    EXPECT_EQ(proto_after(base().icmp()), 1);
    EXPECT_EQ(proto_after(base().raw(47, 4)), 47);
    EXPECT_EQ(proto_after(base().ipv6("2001:db8::1", "2001:db8::2")), 41);
    EXPECT_EQ(proto_after(base()), 59);
}

TEST(PacketBuilderIpv6, HeaderFields)
{
    Bytes p = PacketBuilder()
                  .eth()
                  .ipv6("2001:db8::1", "2001:db8:ffff::2")
                  .ttl(9)
                  .tcp(40000, 25)
                  .payload(7)
                  .build();
    ASSERT_EQ(p.size(), kEth + 40 + 20 + 7);
    EXPECT_EQ(be32(p, kEth), 6u << 28);
    EXPECT_EQ(be16(p, kEth + 4), 27);  // payload length excludes the fixed header
    EXPECT_EQ(p[kEth + 6], 6);
    EXPECT_EQ(p[kEth + 7], 9);
    EXPECT_EQ(slice(p, kEth + 8, 16), (Bytes{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
    EXPECT_EQ(slice(p, kEth + 24, 4), (Bytes{0x20, 0x01, 0x0d, 0xb8}));
    EXPECT_EQ(be16(p, kEth + 28), 0xffff);
}

TEST(PacketBuilderIpv6, NothingAfterMeansNoNextHeader)
{
    Bytes p = PacketBuilder().eth().ipv6("::1", "::2").build();
    EXPECT_EQ(p[kEth + 6], 59);
    EXPECT_EQ(be16(p, kEth + 4), 0);
    Bytes q = PacketBuilder().eth().ipv6("::1", "::2").dest_opts().build();
    EXPECT_EQ(q[kEth + 6], 60);
    EXPECT_EQ(q[kEth + 40], 59);
    EXPECT_EQ(be16(q, kEth + 4), 8);
}

TEST(PacketBuilderIpv6, ExtensionChain)
{
    PacketBuilder b;
    b.eth()
        .ipv6("2001:db8::1", "2001:db8::2")
        .hop_by_hop(8)
        .routing(24, 4, 1)
        .dest_opts(16)
        .fragment(0, true, 0xabcdef01)
        .ah(12, 0x1000)
        .tcp(40000, 25);
    Bytes p = b.build();
    const size_t ip = kEth, hbh = ip + 40, rt = hbh + 8, dst = rt + 24, frag = dst + 16, ah = frag + 8,
                 tcp = ah + 24;
    ASSERT_EQ(p.size(), tcp + 20);
    EXPECT_EQ(be16(p, ip + 4), p.size() - hbh);

    EXPECT_EQ(p[ip + 6], 0);    // -> hop-by-hop
    EXPECT_EQ(p[hbh], 43);      // -> routing
    EXPECT_EQ(p[hbh + 1], 0);   // (0 + 1) * 8 bytes
    EXPECT_EQ(p[hbh + 2], 1);   // PadN ...
    EXPECT_EQ(p[hbh + 3], 4);   // ... over the remaining 4 bytes
    EXPECT_EQ(p[rt], 60);       // -> destination options
    EXPECT_EQ(p[rt + 1], 2);    // (2 + 1) * 8 = 24
    EXPECT_EQ(p[rt + 2], 4);    // routing type
    EXPECT_EQ(p[rt + 3], 1);    // segments left
    EXPECT_EQ(p[dst], 44);      // -> fragment
    EXPECT_EQ(p[dst + 1], 1);   // 16 bytes
    EXPECT_EQ(p[dst + 3], 12);
    EXPECT_EQ(p[frag], 51);     // -> AH
    EXPECT_EQ(be16(p, frag + 2), 0x0001);  // offset 0, M set
    EXPECT_EQ(be32(p, frag + 4), 0xabcdef01u);
    EXPECT_EQ(p[ah], 6);        // -> TCP
    EXPECT_EQ(p[ah + 1], 4);    // 24 / 4 - 2 (RFC 4302)
    EXPECT_EQ(be32(p, ah + 4), 0x1000u);
    EXPECT_EQ(be16(p, tcp + 2), 25);

    const Hdr order[] = {Hdr::eth, Hdr::ipv6, Hdr::hop_by_hop, Hdr::routing,
                         Hdr::dest_opts, Hdr::fragment, Hdr::ah, Hdr::tcp};
    auto spans = b.layout();
    ASSERT_EQ(spans.size(), std::size(order));
    size_t at = 0;
    for (size_t i = 0; i < spans.size(); i++) {
        EXPECT_EQ(spans[i].kind, order[i]) << "span " << i;
        EXPECT_EQ(spans[i].offset, at) << "span " << i;
        at += spans[i].length;
    }
    EXPECT_EQ(at, p.size());
}

TEST(PacketBuilderIpv6, FragmentOffsetAndMoreFlag)
{
    Bytes p = PacketBuilder().eth().ipv6("::1", "::2").fragment(1232, false).tcp(1, 25).build();
    EXPECT_EQ(be16(p, kEth + 40 + 2), 1232);  // 154 units << 3, M clear
    Bytes q = PacketBuilder().eth().ipv6("::1", "::2").fragment(65528, true).build();
    EXPECT_EQ(be16(q, kEth + 40 + 2), 0xfff9);
    EXPECT_EQ(q[kEth + 40], 59);
}

TEST(PacketBuilderIpv6, OptionHeaderLengths)
{
    for (size_t len : {8, 16, 64, 2048}) {
        SCOPED_TRACE(len);
        Bytes p = PacketBuilder().eth().ipv6("::1", "::2").hop_by_hop(len).tcp(1, 25).build();
        EXPECT_EQ(p[kEth + 40 + 1], len / 8 - 1);
        EXPECT_EQ(be16(p, kEth + 40 + len + 2), 25);
    }
    for (size_t icv : {0, 4, 12, 1016}) {
        SCOPED_TRACE(icv);
        Bytes p = PacketBuilder().eth().ipv6("::1", "::2").ah(icv).tcp(1, 25).build();
        EXPECT_EQ(p[kEth + 40 + 1], (12 + icv) / 4 - 2);
        EXPECT_EQ(be16(p, kEth + 40 + 12 + icv + 2), 25);
    }
}

TEST(PacketBuilderTcp, Fields)
{
    Bytes p = PacketBuilder().eth().ipv4("192.0.2.1", "192.0.2.2").tcp(40000, 587).build();
    const size_t t = kEth + 20;
    EXPECT_EQ(be16(p, t), 40000);
    EXPECT_EQ(be16(p, t + 2), 587);
    EXPECT_EQ(p[t + 12] >> 4, 5);
    EXPECT_EQ(p[t + 13], tf::SYN) << "a new TCP header is a SYN";

    Bytes q = PacketBuilder()
                  .eth()
                  .ipv4("192.0.2.1", "192.0.2.2")
                  .tcp(1, 25)
                  .flags(tf::ACK | tf::PSH)
                  .seq(0x01020304, 0x0a0b0c0d)
                  .tcp_options(12)
                  .build();
    EXPECT_EQ(q.size(), t + 32);
    EXPECT_EQ(q[t + 13], tf::ACK | tf::PSH);
    EXPECT_EQ(be32(q, t + 4), 0x01020304u);
    EXPECT_EQ(be32(q, t + 8), 0x0a0b0c0du);
    EXPECT_EQ(q[t + 12] >> 4, 8);

    Bytes r = PacketBuilder().eth().ipv4("192.0.2.1", "192.0.2.2").tcp(1, 25).tcp_doff(3).build();
    EXPECT_EQ(r[t + 12] >> 4, 3);
    EXPECT_EQ(r.size(), t + 20);
}

TEST(PacketBuilderTcp, ChecksumVerifiesOverIpv4AndIpv6)
{
    Bytes p = PacketBuilder().eth().ipv4("192.0.2.1", "198.51.100.1").ip_options(8).tcp(40000, 25).payload(11).build();
    const size_t ip = kEth, t = ip + 28, seg = p.size() - t;
    EXPECT_NE(be16(p, t + 16), 0);
    EXPECT_EQ(inet_checksum(&p[t], seg, pseudo_sum(p, ip, false, 6, seg)), 0);

    Bytes q = PacketBuilder().eth().ipv6("2001:db8::1", "2001:db8::2").dest_opts(8).tcp(40000, 25).payload(11).build();
    const size_t t6 = kEth + 48, seg6 = q.size() - t6;
    EXPECT_EQ(inet_checksum(&q[t6], seg6, pseudo_sum(q, kEth, true, 6, seg6)), 0);
}

TEST(PacketBuilderUdp, LengthAndChecksum)
{
    Bytes p = PacketBuilder().eth().ipv4("192.0.2.1", "192.0.2.2").udp(53, 25).payload(9).build();
    const size_t u = kEth + 20;
    EXPECT_EQ(be16(p, u), 53);
    EXPECT_EQ(be16(p, u + 2), 25);
    EXPECT_EQ(be16(p, u + 4), 17);
    EXPECT_EQ(inet_checksum(&p[u], 17, pseudo_sum(p, kEth, false, 17, 17)), 0);

    Bytes q = PacketBuilder().eth().ipv6("2001:db8::1", "2001:db8::2").udp(53, 25).payload(9).build();
    const size_t u6 = kEth + 40;
    EXPECT_EQ(be16(q, u6 + 4), 17);
    EXPECT_EQ(inet_checksum(&q[u6], 17, pseudo_sum(q, kEth, true, 17, 17)), 0);
}

TEST(PacketBuilderIcmp, FamilyFollowsIpHeader)
{
    Bytes p = PacketBuilder().eth().ipv4("192.0.2.1", "192.0.2.2").icmp().payload(4).build();
    EXPECT_EQ(p[kEth + 9], 1);
    EXPECT_EQ(p[kEth + 20], 8);  // echo request
    EXPECT_EQ(inet_checksum(&p[kEth + 20], 12), 0);  // ICMPv4: no pseudo header

    Bytes q = PacketBuilder().eth().ipv6("2001:db8::1", "2001:db8::2").hop_by_hop().icmp(135).payload(4).build();
    EXPECT_EQ(q[kEth + 40], 58);
    EXPECT_EQ(q[kEth + 48], 135);
    EXPECT_EQ(inet_checksum(&q[kEth + 48], 12, pseudo_sum(q, kEth, true, 58, 12)), 0);
}

TEST(PacketBuilderRaw, ProtocolAndBody)
{
    Bytes p = PacketBuilder().eth().ipv6("::1", "::2").raw(50, 16).build();
    EXPECT_EQ(p[kEth + 6], 50);
    EXPECT_EQ(p.size(), kEth + 40 + 16);
    EXPECT_EQ(be16(p, kEth + 4), 16);
}

TEST(PacketBuilderPayload, BytesAtTheEnd)
{
    Bytes p = PacketBuilder().eth().ipv4("192.0.2.1", "192.0.2.2").tcp(1, 25).payload(Bytes{'H', 'E', 'L', 'O'}).build();
    EXPECT_EQ(slice(p, p.size() - 4, 4), (Bytes{'H', 'E', 'L', 'O'}));
    Bytes q = PacketBuilder().eth().payload(5).build();
    EXPECT_EQ(slice(q, kEth, 5), (Bytes{0, 1, 2, 3, 4}));
}

TEST(PacketBuilderTruncate, CutsButKeepsLengthFields)
{
    PacketBuilder b;
    b.eth().ipv4("192.0.2.1", "192.0.2.2").tcp(1, 25).payload(100);
    Bytes full = b.build();
    Bytes cut = PacketBuilder(b).truncate(40).build();
    ASSERT_EQ(cut.size(), 40u);
    EXPECT_EQ(cut, slice(full, 0, 40));
    EXPECT_EQ(be16(cut, kEth + 2), 140) << "total length describes the packet as sent";
    EXPECT_EQ(PacketBuilder(b).truncate(5000).build(), full);
}

TEST(PacketBuilderTruncate, AtHeader)
{
    PacketBuilder b;
    b.eth().qinq(1, 2).ipv6("::1", "::2").hop_by_hop(16).dest_opts(8).tcp(1, 25).payload(8);
    Bytes full = b.build();
    EXPECT_EQ(b.build_truncated_at(Hdr::vlan).size(), 14u);
    EXPECT_EQ(b.build_truncated_at(Hdr::vlan, 2, 1).size(), 20u);
    EXPECT_EQ(b.build_truncated_at(Hdr::ipv6, 39).size(), 22u + 39);
    EXPECT_EQ(b.build_truncated_at(Hdr::hop_by_hop, 1).size(), 62u + 1);
    EXPECT_EQ(b.build_truncated_at(Hdr::hop_by_hop, 15).size(), 62u + 15);
    EXPECT_EQ(b.build_truncated_at(Hdr::dest_opts).size(), 78u);
    EXPECT_EQ(b.build_truncated_at(Hdr::tcp, 19).size(), 86u + 19);
    EXPECT_EQ(b.build_truncated_at(Hdr::payload, 8), full);
    Bytes t = b.build_truncated_at(Hdr::tcp, 10);
    EXPECT_EQ(t, slice(full, 0, t.size()));
    EXPECT_THROW(b.build_truncated_at(Hdr::tcp, 21), std::invalid_argument);
    EXPECT_THROW(b.build_truncated_at(Hdr::ipv4), std::invalid_argument);
    EXPECT_THROW(b.build_truncated_at(Hdr::vlan, 0, 2), std::invalid_argument);
}

TEST(PacketBuilderMisuse, Throws)
{
    EXPECT_THROW(PacketBuilder().eth("nope"), std::invalid_argument);
    EXPECT_THROW(PacketBuilder().eth().ipv4("192.0.2.300", "192.0.2.1"), std::invalid_argument);
    EXPECT_THROW(PacketBuilder().eth().ipv6("192.0.2.1", "::1"), std::invalid_argument);
    EXPECT_THROW(PacketBuilder().eth().ip_options(4), std::invalid_argument);
    EXPECT_THROW(PacketBuilder().eth().ipv4("192.0.2.1", "192.0.2.2").ip_options(6), std::invalid_argument);
    EXPECT_THROW(PacketBuilder().eth().ipv4("192.0.2.1", "192.0.2.2").ip_options(44), std::invalid_argument);
    EXPECT_THROW(PacketBuilder().eth().ipv4("192.0.2.1", "192.0.2.2").ipv4_fragment(12, false), std::invalid_argument);
    EXPECT_THROW(PacketBuilder().eth().ipv6("::1", "::2").fragment(7, true), std::invalid_argument);
    EXPECT_THROW(PacketBuilder().eth().ipv6("::1", "::2").hop_by_hop(12), std::invalid_argument);
    EXPECT_THROW(PacketBuilder().eth().ipv6("::1", "::2").routing(0), std::invalid_argument);
    EXPECT_THROW(PacketBuilder().eth().ipv6("::1", "::2").dest_opts(2056), std::invalid_argument);
    EXPECT_THROW(PacketBuilder().eth().ipv6("::1", "::2").ah(2), std::invalid_argument);
    EXPECT_THROW(PacketBuilder().eth().vlan(4096), std::invalid_argument);
    EXPECT_THROW(PacketBuilder().eth().ipv4("192.0.2.1", "192.0.2.2").flags(tf::ACK), std::invalid_argument);
    EXPECT_THROW(PacketBuilder().eth().icmp(), std::invalid_argument);
    EXPECT_THROW(PacketBuilder().ethertype(0x0800), std::invalid_argument);
    EXPECT_THROW(PacketBuilder().eth().ttl(1), std::invalid_argument);
    EXPECT_THROW(PacketBuilder().eth().ipv4("192.0.2.1", "192.0.2.2").tcp(1, 2).tcp_doff(16), std::invalid_argument);
}
