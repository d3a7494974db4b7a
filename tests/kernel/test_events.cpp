// BPF_PROG_RUN tests of drop and ban events (bpf/events.h) on the real
// object, with the program's test clock: one drop event per source per
// interval, the global cap per second, ban events of the rate limiter, and
// the counters of what was not written. Settings go through the controller
// (rg::apply_events, rg::apply_rate), events are read through rg::EventRing.
#include "event_ring.hpp"
#include "packet_builder.hpp"
#include "privileged.hpp"
#include "prog_fixture.hpp"
#include "rate.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

using rg::test::Bytes;
using rg::test::Filter;
using rg::test::PacketBuilder;
namespace tf = rg::test::tcp_flags;

namespace {

constexpr uint64_t kSec = 1000000000ull;
constexpr uint64_t kT0 = 5000 * kSec;

Bytes syn(const std::string &src, uint16_t dport = 25)
{
    bool v6 = src.find(':') != std::string::npos;
    PacketBuilder b;
    b.eth();
    v6 ? b.ipv6(src, "2001:db8:25::25") : b.ipv4(src, "203.0.113.25");
    return b.tcp(40000, dport).flags(tf::SYN).build();
}

std::string addr_of(const struct rg_event &e)
{
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(e.family == 4 ? AF_INET : AF_INET6, e.addr, buf, sizeof(buf));
    return buf;
}

// A filter on the test clock with these event settings, and the reader of
// its ring.
struct EventFilter {
    explicit EventFilter(rg::EventSettings es, const rg::test::Setup &setup = rg::test::Setup{})
        : f(setup, true), ring(f.maps(), [this](const struct rg_event &e) { got.push_back(e); })
    {
        rg::apply_events(f.maps(), es);
        f.prog().set_test_now(now);
    }
    void advance(uint64_t ns)
    {
        now += ns;
        f.prog().set_test_now(now);
    }
    // The events written since the last call.
    std::vector<struct rg_event> events()
    {
        got.clear();
        ring.consume();
        return got;
    }
    Filter f;
    rg::EventRing ring;
    std::vector<struct rg_event> got;
    uint64_t now = kT0;
};

rg::EventSettings every(std::chrono::milliseconds interval, uint32_t per_second)
{
    return {.enabled = true, .interval = interval, .per_second = per_second};
}

} // namespace

TEST(Events, OneDropEventPerSourcePerInterval)
{
    RG_REQUIRE_PRIVILEGED();
    EventFilter ef(every(std::chrono::seconds(10), 1000), rg::test::Setup{.block = {"192.0.2.0/24", "2001:db8:66::/48"}});
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(ef.f.run(syn("192.0.2.7")), XDP_DROP);
    ASSERT_EQ(ef.f.run(syn("2001:db8:66::9", 587)), XDP_PASS);  // 587 is not protected: no drop, no event
    ef.f.maps().set_ports({25, 587});
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(ef.f.run(syn("2001:db8:66::9", 587)), XDP_DROP);

    std::vector<struct rg_event> ev = ef.events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].kind, RG_EVENT_DROP);
    EXPECT_EQ(addr_of(ev[0]), "192.0.2.7");
    EXPECT_EQ(ev[0].family, 4);
    EXPECT_EQ(ev[0].prefixlen, 32);
    EXPECT_EQ(ev[0].reason, uint32_t(RG_DROP_BLOCKLIST));
    EXPECT_EQ(ev[0].sources, 1ull << RG_SOURCE_MANUAL);
    EXPECT_EQ(ev[0].dport, 25);
    EXPECT_EQ(ev[0].time_ns, kT0);
    EXPECT_EQ(ev[0].expires_ns, 0u);
    EXPECT_EQ(addr_of(ev[1]), "2001:db8:66::9");
    EXPECT_EQ(ev[1].family, 6);
    EXPECT_EQ(ev[1].prefixlen, 128);
    EXPECT_EQ(ev[1].dport, 587);

    // Within the interval: drops, no event; once it is over: one more each.
    ef.advance(9 * kSec);
    ASSERT_EQ(ef.f.run(syn("192.0.2.7"), 10), XDP_DROP);
    EXPECT_EQ(ef.events().size(), 0u);
    ef.advance(1 * kSec);
    ASSERT_EQ(ef.f.run(syn("192.0.2.7"), 10), XDP_DROP);
    ASSERT_EQ(ef.f.run(syn("2001:db8:66::9", 587), 10), XDP_DROP);
    ev = ef.events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].time_ns, kT0 + 10 * kSec);
    EXPECT_EQ(rg::event_counters(ef.f.maps()).emitted, 4u);
    EXPECT_EQ(rg::event_counters(ef.f.maps()).capped, 0u);
}

TEST(Events, GlobalCapHoldsAgainstManySources)
{
    RG_REQUIRE_PRIVILEGED();
    // Every run from a new source (rg_test_spoof: 198.18.0.0/15), all blocklisted.
    EventFilter ef(every(std::chrono::minutes(1), 50), rg::test::Setup{.block = {"198.18.0.0/15"}, .test_spoof = true});
    ASSERT_EQ(ef.f.run(syn("192.0.2.1"), 1000), XDP_DROP);
    EXPECT_EQ(ef.f.count(RG_DROP_BLOCKLIST), 1000u);
    std::vector<struct rg_event> ev = ef.events();
    EXPECT_EQ(ev.size(), 50u);
    struct rg_event_stats c = rg::event_counters(ef.f.maps());
    EXPECT_EQ(c.emitted, 50u);
    EXPECT_EQ(c.capped, 950u);  // 50 got their event; the 950 drops after them came in a spent second
    EXPECT_EQ(c.lost, 0u);

    ef.advance(999 * 1000000);  // the same second of the clock: still capped
    ASSERT_EQ(ef.f.run(syn("192.0.2.1"), 100), XDP_DROP);
    EXPECT_EQ(ef.events().size(), 0u);
    ef.advance(1 * 1000000);  // the next second: 50 more
    ASSERT_EQ(ef.f.run(syn("192.0.2.1"), 100), XDP_DROP);
    EXPECT_EQ(ef.events().size(), 50u);
}

// A drop in a second whose budget is spent does not touch its source's
// record: the source gets its event in a later second, not an interval later.
TEST(Events, CappedSourceGetsItsEventInTheNextSecond)
{
    RG_REQUIRE_PRIVILEGED();
    EventFilter ef(every(std::chrono::minutes(1), 1), rg::test::Setup{.block = {"192.0.2.0/24"}});
    ASSERT_EQ(ef.f.run(syn("192.0.2.7")), XDP_DROP);
    ASSERT_EQ(ef.f.run(syn("192.0.2.8"), 3), XDP_DROP);  // the budget of 1 is spent
    std::vector<struct rg_event> ev = ef.events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(addr_of(ev[0]), "192.0.2.7");
    EXPECT_EQ(rg::event_counters(ef.f.maps()).capped, 3u);  // drops, not sources

    ef.advance(1 * kSec);
    ASSERT_EQ(ef.f.run(syn("192.0.2.7")), XDP_DROP);  // had its event: none
    ASSERT_EQ(ef.f.run(syn("192.0.2.8")), XDP_DROP);
    ev = ef.events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(addr_of(ev[0]), "192.0.2.8");
    EXPECT_EQ(rg::event_counters(ef.f.maps()).emitted, 2u);
}

TEST(Events, RingFullIsCountedAsLost)
{
    RG_REQUIRE_PRIVILEGED();
    EventFilter ef(every(std::chrono::minutes(1), 1000000), rg::test::Setup{.block = {"198.18.0.0/15"}, .test_spoof = true});
    ASSERT_EQ(ef.f.run(syn("192.0.2.1"), 6000), XDP_DROP);  // more than the ring holds, nobody reading
    struct rg_event_stats c = rg::event_counters(ef.f.maps());
    EXPECT_GT(c.lost, 0u);
    EXPECT_EQ(c.emitted + c.lost, 6000u);
    EXPECT_EQ(ef.events().size(), c.emitted);
    EXPECT_LE(c.emitted, uint64_t(RG_EVENTS_BYTES / 64));
}

TEST(Events, RateLimitDropThenBanEvent)
{
    RG_REQUIRE_PRIVILEGED();
    EventFilter ef(every(std::chrono::minutes(1), 100));
    rg::RateSettings r;
    r.enabled = true;
    r.interval_ns = kSec;  // 1/s, burst 1, a 10-minute ban at the first SYN over budget
    r.burst = 1;
    r.ban_ttl = std::chrono::minutes(10);
    rg::apply_rate(ef.f.maps(), r);
    ASSERT_EQ(ef.f.run(syn("198.51.100.20")), XDP_PASS);
    EXPECT_EQ(ef.events().size(), 0u);  // a pass is no event
    ASSERT_EQ(ef.f.run(syn("198.51.100.20")), XDP_DROP);  // over budget: dropped and banned
    ASSERT_EQ(ef.f.run(syn("198.51.100.20"), 5), XDP_DROP);  // banned
    EXPECT_EQ(ef.f.count(RG_DROP_BANNED), 5u);

    std::vector<struct rg_event> ev = ef.events();
    ASSERT_EQ(ev.size(), 2u);  // the ban, then the drop that caused it; the banned drops come within the interval
    EXPECT_EQ(ev[0].kind, RG_EVENT_BAN);
    EXPECT_EQ(ev[0].reason, uint32_t(RG_BAN_RATELIMIT));
    EXPECT_EQ(addr_of(ev[0]), "198.51.100.20");
    EXPECT_EQ(ev[0].prefixlen, 32);
    EXPECT_EQ(ev[0].expires_ns, kT0 + 600 * kSec);
    EXPECT_EQ(ev[0].dport, 25);
    EXPECT_EQ(ev[1].kind, RG_EVENT_DROP);
    EXPECT_EQ(ev[1].reason, uint32_t(RG_DROP_RATELIMIT));
}

TEST(Events, MonitorModeWouldDropsAndOff)
{
    RG_REQUIRE_PRIVILEGED();
    EventFilter ef(every(std::chrono::minutes(1), 100), rg::test::Setup{.block = {"192.0.2.0/24"}, .monitor = true});
    ASSERT_EQ(ef.f.run(syn("192.0.2.9")), XDP_PASS);
    std::vector<struct rg_event> ev = ef.events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].reason, uint32_t(RG_WOULD_DROP_BLOCKLIST));

    rg::apply_events(ef.f.maps(), {.enabled = false});
    EXPECT_FALSE(rg::event_settings(ef.f.maps()).enabled);
    ASSERT_EQ(ef.f.run(syn("192.0.2.10")), XDP_PASS);
    EXPECT_EQ(ef.events().size(), 0u);
}
