// BPF_PROG_RUN tests of the egress program (bpf/egress.h), loaded from the
// real object next to the XDP program of the fixture and sharing its maps:
// what it counts, what it leaves alone, the cap and its watch mode, and the
// per-minute sketch as read_egress() (the controller's reader) sees it.
#include "egress.hpp"
#include "packet_builder.hpp"
#include "prog_fixture.hpp"

#include <gtest/gtest.h>
#include <linux/pkt_cls.h>

#include <optional>
#include <string>

using rg::test::Filter;
using rg::test::kSlot;
using rg::test::PacketBuilder;
namespace tf = rg::test::tcp_flags;
using Bytes = std::vector<uint8_t>;

namespace {

constexpr const char *kLocal4 = "198.51.100.25";
constexpr const char *kLocal6 = "2001:db8:25::25";
constexpr uint64_t kMinute = RG_EGRESS_MINUTE_NS;
constexpr uint64_t kT0 = 1000 * kMinute + 6;  // inside minute 1000; even, as the bucket's times are

Bytes syn4(const std::string &dst, uint16_t dport = 25, const char *src = kLocal4)
{
    return PacketBuilder().eth().ipv4(src, dst).tcp(40000, dport).flags(tf::SYN).build();
}

Bytes syn6(const std::string &dst, uint16_t dport = 25)
{
    return PacketBuilder().eth().ipv6(kLocal6, dst).tcp(40000, dport).flags(tf::SYN).build();
}

// The fixture's maps with the egress program of slot kSlot, on the test clock.
class EgressProg {
public:
    explicit EgressProg(bool cap, std::optional<rg::EgressSettings> settings = std::nullopt)
        : f_(rg::test::Setup{}, true), prog_(f_.maps(), kSlot, true, rg::ProgramKind::egress)
    {
        if (settings)
            rg::apply_egress(f_.maps(), *settings);
        prog_.set_egress_cap(cap);
        prog_.load();
        at(kT0);
    }
    void at(uint64_t ns)
    {
        now_ = ns;
        prog_.set_test_now(ns);
    }
    int run(const Bytes &pkt, uint32_t repeat = 1) { return Filter::run(prog_, pkt, repeat); }
    rg::EgressSnapshot read() { return rg::read_egress(f_.maps(), now_); }
    Filter &filter() { return f_; }

private:
    Filter f_;
    rg::Program prog_;
    uint64_t now_ = 0;
};

// The row of a sender or destination prefix, by its text (e.g. "203.0.113.0/24").
const rg::EgressCount *row(const std::vector<rg::EgressCount> &rows, const std::string &key)
{
    for (const rg::EgressCount &c : rows)
        if (c.key.str() == key)
            return &c;
    return nullptr;
}

rg::EgressSettings budget(uint64_t interval_ns, uint32_t burst)
{
    rg::EgressSettings s;
    s.interval_ns = interval_ns;
    s.burst = burst;
    return s;
}

TEST(EgressProgRun, CountsSynToWatchedPortBySourceAndDestination)
{
    RG_REQUIRE_PRIVILEGED();
    EgressProg e(false);
    EXPECT_EQ(e.run(syn4("203.0.113.7")), TC_ACT_UNSPEC);
    EXPECT_EQ(e.run(syn4("203.0.113.8")), TC_ACT_UNSPEC);
    EXPECT_EQ(e.run(syn4("192.0.2.1")), TC_ACT_UNSPEC);
    rg::EgressSnapshot s = e.read();
    EXPECT_EQ(s.syns, 3u);
    EXPECT_EQ(s.capped + s.would_cap + s.untracked, 0u);
    ASSERT_EQ(s.sources.size(), 1u);
    EXPECT_EQ(s.sources[0].key.str(), std::string(kLocal4) + "/32");
    EXPECT_EQ(s.sources[0].syns, 3u);
    EXPECT_EQ(s.sources[0].first_seen, kT0);
    ASSERT_EQ(s.destinations.size(), 2u);
    EXPECT_EQ(s.destinations[0].key.str(), "203.0.113.0/24");
    EXPECT_EQ(s.destinations[0].syns, 2u);
    EXPECT_EQ(s.destinations[1].key.str(), "192.0.2.0/24");
    EXPECT_EQ(s.minute, kT0 / kMinute);
    EXPECT_NEAR(s.distinct_current, 2.0, 0.01);
    EXPECT_EQ(s.distinct_previous, 0.0);
    // No reason counter moves for a SYN within budget (there is no budget).
    EXPECT_EQ(e.filter().count(RG_DROP_EGRESS_CAPPED) + e.filter().count(RG_WOULD_DROP_EGRESS_CAPPED), 0u);
}

TEST(EgressProgRun, LeavesEverythingElseAlone)
{
    RG_REQUIRE_PRIVILEGED();
    EgressProg e(true, budget(1000000000, 1));
    const std::pair<const char *, Bytes> untouched[] = {
        {"SYN+ACK", PacketBuilder().eth().ipv4(kLocal4, "203.0.113.7").tcp(25, 40000).flags(tf::SYN | tf::ACK).build()},
        {"ACK", PacketBuilder().eth().ipv4(kLocal4, "203.0.113.7").tcp(40000, 25).flags(tf::ACK).build()},
        {"SYN to port 80", syn4("203.0.113.7", 80)},
        {"SYN to port 587 (not watched)", syn4("203.0.113.7", 587)},
        {"UDP to port 25", PacketBuilder().eth().ipv4(kLocal4, "203.0.113.7").udp(40000, 25).build()},
        {"ICMP", PacketBuilder().eth().ipv4(kLocal4, "203.0.113.7").icmp().build()},
        {"ARP", PacketBuilder().eth().arp().build()},
        {"truncated TCP", PacketBuilder().eth().ipv4(kLocal4, "203.0.113.7").tcp(40000, 25).flags(tf::SYN)
                              .build_truncated_at(rg::test::Hdr::tcp, 10)},
        {"later fragment", PacketBuilder().eth().ipv4(kLocal4, "203.0.113.7").ipv4_fragment(8, false)
                               .tcp(40000, 25).flags(tf::SYN).build()},
    };
    for (const auto &[what, pkt] : untouched)
        for (int i = 0; i < 3; i++)  // over a budget of 1 if it were charged
            EXPECT_EQ(e.run(pkt), TC_ACT_UNSPEC) << what;
    rg::EgressSnapshot s = e.read();
    EXPECT_EQ(s.syns, 0u);
    EXPECT_TRUE(s.sources.empty());
    EXPECT_EQ(s.distinct_current, 0.0);
}

TEST(EgressProgRun, ParsesVlanTagsAndIpv6ExtensionHeaders)
{
    RG_REQUIRE_PRIVILEGED();
    EgressProg e(false);
    EXPECT_EQ(e.run(PacketBuilder().eth().vlan(100).ipv4(kLocal4, "203.0.113.7").tcp(40000, 25).flags(tf::SYN).build()),
              TC_ACT_UNSPEC);
    EXPECT_EQ(e.run(PacketBuilder().eth().qinq(100, 200).ipv4(kLocal4, "203.0.113.7").tcp(40000, 25)
                        .flags(tf::SYN).build()),
              TC_ACT_UNSPEC);
    EXPECT_EQ(e.run(PacketBuilder().eth().ipv6(kLocal6, "2001:db8:1:2::25").hop_by_hop().dest_opts()
                        .tcp(40000, 25).flags(tf::SYN).build()),
              TC_ACT_UNSPEC);
    EXPECT_EQ(e.run(syn6("2001:db8:1:3::25")), TC_ACT_UNSPEC);  // same /48
    rg::EgressSnapshot s = e.read();
    EXPECT_EQ(s.syns, 4u);
    ASSERT_EQ(s.sources.size(), 2u);
    ASSERT_EQ(s.destinations.size(), 2u);
    ASSERT_NE(row(s.destinations, "203.0.113.0/24"), nullptr);
    EXPECT_EQ(row(s.destinations, "203.0.113.0/24")->syns, 2u);
    ASSERT_NE(row(s.destinations, "2001:db8:1::/48"), nullptr);
    EXPECT_EQ(row(s.destinations, "2001:db8:1::/48")->syns, 2u);
    EXPECT_NEAR(s.distinct_current, 2.0, 0.01);
}

TEST(EgressProgRun, CapDropsOverBudgetAndRefills)
{
    RG_REQUIRE_PRIVILEGED();
    EgressProg e(true, budget(1000000000, 3));  // 1/s, 3 back to back
    for (int i = 0; i < 3; i++)
        EXPECT_EQ(e.run(syn4("203.0.113.7")), TC_ACT_UNSPEC) << "SYN " << i << " is within the burst";
    for (int i = 0; i < 2; i++)
        EXPECT_EQ(e.run(syn4("192.0.2.9")), TC_ACT_SHOT) << "SYN " << 3 + i << " is over budget";
    rg::EgressSnapshot s = e.read();
    EXPECT_EQ(s.syns, 5u);
    EXPECT_EQ(s.capped, 2u);
    EXPECT_EQ(s.would_cap, 0u);
    EXPECT_EQ(e.filter().count(RG_DROP_EGRESS_CAPPED), 2u);
    EXPECT_EQ(e.filter().count(RG_WOULD_DROP_EGRESS_CAPPED), 0u);
    ASSERT_EQ(s.destinations.size(), 2u);
    EXPECT_EQ(s.destinations[0].key.str(), "203.0.113.0/24");
    EXPECT_EQ(s.destinations[0].over, 0u);
    EXPECT_EQ(s.destinations[1].over, 2u);
    EXPECT_EQ(s.sources.at(0).over, 2u);
    // One interval later one token is back: one SYN passes, the next not.
    e.at(kT0 + 1000000000);
    EXPECT_EQ(e.run(syn4("203.0.113.7")), TC_ACT_UNSPEC);
    EXPECT_EQ(e.run(syn4("203.0.113.7")), TC_ACT_SHOT);
    // Traffic that is not a watched SYN still passes while the budget is spent.
    EXPECT_EQ(e.run(syn4("203.0.113.7", 443)), TC_ACT_UNSPEC);
}

TEST(EgressProgRun, WatchCountsWouldDropAndPassesAll)
{
    RG_REQUIRE_PRIVILEGED();
    EgressProg e(false, budget(1000000000, 2));
    for (int i = 0; i < 5; i++)
        EXPECT_EQ(e.run(syn4("203.0.113.7")), TC_ACT_UNSPEC);
    rg::EgressSnapshot s = e.read();
    EXPECT_EQ(s.syns, 5u);
    EXPECT_EQ(s.capped, 0u);
    EXPECT_EQ(s.would_cap, 3u);
    EXPECT_EQ(e.filter().count(RG_WOULD_DROP_EGRESS_CAPPED), 3u);
    EXPECT_EQ(e.filter().count(RG_DROP_EGRESS_CAPPED), 0u);
}

TEST(EgressProgRun, MonitorModeTurnsCapIntoWouldDrop)
{
    RG_REQUIRE_PRIVILEGED();
    EgressProg e(true, budget(1000000000, 1));
    e.filter().maps().set_monitor(true);
    EXPECT_EQ(e.run(syn4("203.0.113.7")), TC_ACT_UNSPEC);
    EXPECT_EQ(e.run(syn4("203.0.113.7")), TC_ACT_UNSPEC);
    EXPECT_EQ(e.read().would_cap, 1u);
    e.filter().maps().set_monitor(false);
    EXPECT_EQ(e.run(syn4("203.0.113.7")), TC_ACT_SHOT);
}

TEST(EgressProgRun, WatchedPortsComeFromTheSettings)
{
    RG_REQUIRE_PRIVILEGED();
    rg::EgressSettings s;
    s.ports = {465, 587};
    EgressProg e(false, s);
    EXPECT_EQ(e.run(syn4("203.0.113.7", 25)), TC_ACT_UNSPEC);
    EXPECT_EQ(e.run(syn4("203.0.113.7", 587)), TC_ACT_UNSPEC);
    EXPECT_EQ(e.run(syn4("203.0.113.7", 465)), TC_ACT_UNSPEC);
    EXPECT_EQ(e.read().syns, 2u);
    EXPECT_EQ(rg::egress_settings(e.filter().maps()).ports, (std::vector<uint16_t>{465, 587}));
}

TEST(EgressProgRun, SketchKeepsThePreviousMinuteWhole)
{
    RG_REQUIRE_PRIVILEGED();
    EgressProg e(false);
    const uint64_t m0 = kT0 / kMinute * kMinute;
    for (int i = 0; i < 50; i++)
        e.run(syn4("203.0." + std::to_string(i) + ".1"));
    rg::EgressSnapshot s = e.read();
    EXPECT_NEAR(s.distinct_current, 50.0, 1.0);
    // The next minute: 5 prefixes, 3 of them seen before.
    e.at(m0 + kMinute + 7);
    for (int i = 0; i < 5; i++)
        e.run(syn4("203.0." + std::to_string(i + 47) + ".1"));
    s = e.read();
    EXPECT_EQ(s.minute, kT0 / kMinute + 1);
    EXPECT_NEAR(s.distinct_current, 5.0, 0.05);
    EXPECT_NEAR(s.distinct_previous, 50.0, 1.0);
    // Two minutes on, the old registers of the same parity count as empty.
    e.at(m0 + 2 * kMinute + 7);
    e.run(syn4("192.0.2.1"));
    s = e.read();
    EXPECT_NEAR(s.distinct_current, 1.0, 0.01);
    EXPECT_NEAR(s.distinct_previous, 5.0, 0.05);
    EXPECT_EQ(s.syns, 56u);
}

} // namespace
