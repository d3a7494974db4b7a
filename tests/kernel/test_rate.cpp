// BPF_PROG_RUN tests of the SYN rate limiter, bans and escalation, on the
// real object, with the program's test clock (rg_test_clock): the same code
// as production, with time set by the test instead of CLOCK_BOOTTIME.
//
// Settings, bans and rules are set through the controller API (rg::apply_rate,
// rg::add_ban, the lists' write path), as the CLI sets them.
#include "packet_builder.hpp"
#include "privileged.hpp"
#include "prog_fixture.hpp"
#include "rate.hpp"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

using rg::test::Bytes;
using rg::test::Filter;
using rg::test::PacketBuilder;
using rg::test::Setup;
using rg::test::kSlot;
namespace tf = rg::test::tcp_flags;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kSec = 1000000000ull;
constexpr uint64_t kT0 = 1000 * kSec;  // test clock start: any fixed time
constexpr const char *kDst4 = "203.0.113.25";
constexpr const char *kDst6 = "2001:db8:25::25";

Bytes syn(const std::string &src, uint16_t dport = 25)
{
    bool v6 = src.find(':') != std::string::npos;
    PacketBuilder b;
    b.eth();
    v6 ? b.ipv6(src, kDst6) : b.ipv4(src, kDst4);
    return b.tcp(40000, dport).flags(tf::SYN).build();
}

Bytes ack(const std::string &src)
{
    bool v6 = src.find(':') != std::string::npos;
    PacketBuilder b;
    b.eth();
    v6 ? b.ipv6(src, kDst6) : b.ipv4(src, kDst4);
    return b.tcp(40000, 25).flags(tf::ACK).build();
}

rg::RateSettings rate(double per_second, uint32_t burst)
{
    rg::RateSettings s;
    s.enabled = true;
    s.interval_ns = uint64_t(double(kSec) / per_second);
    s.burst = burst;
    return s;
}

// One SYN per second, burst 1, a ban of ban_ttl at the first refusal, and
// a /24 ban after `after` such bans within `window`.
rg::RateSettings escalating(std::chrono::seconds ban_ttl, uint32_t after, std::chrono::seconds window)
{
    rg::RateSettings s = rate(1, 1);
    s.ban_ttl = ban_ttl;
    s.escalate_after = after;
    s.escalate_window = window;
    return s;
}

// A filter with the test clock at kT0 and these rate settings.
struct RateFilter {
    explicit RateFilter(const rg::RateSettings &s, const Setup &setup = Setup{}, uint64_t t0 = kT0)
        : f(setup, true), now(t0)
    {
        rg::apply_rate(f.maps(), s);
        f.prog().set_test_now(now);
    }
    void advance(uint64_t ns)
    {
        now += ns;
        f.prog().set_test_now(now);
    }
    int run(const Bytes &pkt, uint32_t repeat = 1) { return f.run(pkt, repeat); }
    // How many of n back-to-back SYNs from src pass.
    int passed_of(const std::string &src, int n)
    {
        int passed = 0;
        for (int i = 0; i < n; i++)
            passed += run(syn(src)) == XDP_PASS;
        return passed;
    }
    struct rg_counter count(enum rg_reason r) { return f.maps().stats().slots.at(kSlot)[r]; }
    std::optional<rg::Ban> ban_of(const std::string &cidr)
    {
        rg::Cidr c = rg::parse_cidr(cidr).cidr;
        for (const rg::Ban &b : rg::list_bans(f.maps()))
            if (b.cidr == c)
                return b;
        return std::nullopt;
    }
    Filter f;
    uint64_t now;
};

TEST(Rate, BurstThenOnePerInterval)
{
    RG_REQUIRE_PRIVILEGED();
    RateFilter rf(rate(2, 3));  // 2/s: one token every 500 ms
    EXPECT_EQ(rf.passed_of("198.51.100.9", 5), 3);
    EXPECT_EQ(rf.count(RG_PASS_CLEAN).syn, 3u);
    EXPECT_EQ(rf.count(RG_DROP_RATELIMIT).syn, 2u);

    rf.advance(499 * 1000000);  // not yet a whole token
    EXPECT_EQ(rf.run(syn("198.51.100.9")), XDP_DROP);
    rf.advance(1 * 1000000);
    EXPECT_EQ(rf.passed_of("198.51.100.9", 2), 1);
    rf.advance(10 * kSec);  // long idle: refills to the burst, not beyond
    EXPECT_EQ(rf.passed_of("198.51.100.9", 5), 3);
}

TEST(Rate, FractionalRate)
{
    RG_REQUIRE_PRIVILEGED();
    RateFilter rf(rate(0.5, 1));  // one connection every 2 s
    EXPECT_EQ(rf.passed_of("198.51.100.9", 2), 1);
    rf.advance(1999 * 1000000);
    EXPECT_EQ(rf.passed_of("198.51.100.9", 1), 0);
    rf.advance(1 * 1000000);
    EXPECT_EQ(rf.passed_of("198.51.100.9", 2), 1);
}

TEST(Rate, OnlySynsToProtectedPortsAreCharged)
{
    RG_REQUIRE_PRIVILEGED();
    RateFilter rf(rate(1, 1));
    EXPECT_EQ(rf.passed_of("198.51.100.9", 1), 1);
    EXPECT_EQ(rf.run(syn("198.51.100.9")), XDP_DROP);
    // Established traffic of the limited source and other ports pass.
    EXPECT_EQ(rf.run(ack("198.51.100.9"), 100), XDP_PASS);
    EXPECT_EQ(rf.run(syn("198.51.100.9", 2525), 100), XDP_PASS);
    EXPECT_EQ(rf.count(RG_PASS_CLEAN).packets, 101u);
    EXPECT_EQ(rf.count(RG_PASS_UNPROTECTED).packets, 100u);
    EXPECT_EQ(rf.count(RG_DROP_RATELIMIT).packets, 1u);
}

TEST(Rate, OffMeansNoLimit)
{
    RG_REQUIRE_PRIVILEGED();
    RateFilter rf(rate(1, 1));
    rg::RateSettings off = rg::rate_settings(rf.f.maps());
    off.enabled = false;
    rg::apply_rate(rf.f.maps(), off);
    EXPECT_EQ(rf.passed_of("198.51.100.9", 50), 50);
    EXPECT_TRUE(rg::rate_sources(rf.f.maps()).empty());
}

TEST(Rate, SourcesAreIndependentAtSlash32)
{
    RG_REQUIRE_PRIVILEGED();
    RateFilter rf(rate(1, 2));
    EXPECT_EQ(rf.passed_of("198.51.100.9", 3), 2);
    EXPECT_EQ(rf.passed_of("198.51.100.10", 3), 2);
    EXPECT_EQ(rg::rate_sources(rf.f.maps()).size(), 2u);
}

TEST(Rate, Prefix4AggregationSharesTheBudget)
{
    RG_REQUIRE_PRIVILEGED();
    rg::RateSettings s = rate(1, 4);
    s.prefix4 = 24;
    RateFilter rf(s);
    EXPECT_EQ(rf.passed_of("198.51.100.9", 3), 3);
    EXPECT_EQ(rf.passed_of("198.51.100.200", 3), 1);  // same /24: one token left
    EXPECT_EQ(rf.passed_of("198.51.101.1", 3), 3);    // another /24
    auto sources = rg::rate_sources(rf.f.maps());
    ASSERT_EQ(sources.size(), 2u);
    std::set<std::string> names{sources[0].source.str(), sources[1].source.str()};
    EXPECT_EQ(names, (std::set<std::string>{"198.51.100.0/24", "198.51.101.0/24"}));
}

TEST(Rate, Prefix6AggregationSharesTheBudget)
{
    RG_REQUIRE_PRIVILEGED();
    RateFilter rf(rate(1, 2));  // default /64
    EXPECT_EQ(rf.passed_of("2001:db8:1:2::1", 1), 1);
    EXPECT_EQ(rf.passed_of("2001:db8:1:2:ffff::9", 2), 1);  // same /64
    EXPECT_EQ(rf.passed_of("2001:db8:1:3::1", 2), 2);       // next /64

    rg::RateSettings s = rate(1, 2);
    s.prefix6 = 48;
    RateFilter wide(s);
    EXPECT_EQ(wide.passed_of("2001:db8:1:2::1", 1), 1);
    EXPECT_EQ(wide.passed_of("2001:db8:1:3::1", 2), 1);  // same /48
    EXPECT_EQ(wide.passed_of("2001:db8:2::1", 2), 2);
}

TEST(Rate, AllowlistIsNeverLimitedOrBanned)
{
    RG_REQUIRE_PRIVILEGED();
    rg::RateSettings s = rate(1, 1);
    s.ban_after = 0;
    s.ban_ttl = 60s;
    RateFilter rf(s, rg::test::Setup{.allow = {"198.51.100.9"}});
    EXPECT_EQ(rf.passed_of("198.51.100.9", 1000), 1000);
    EXPECT_EQ(rf.count(RG_PASS_ALLOWLIST).syn, 1000u);
    EXPECT_TRUE(rg::list_bans(rf.f.maps()).empty());
    EXPECT_TRUE(rg::rate_sources(rf.f.maps()).empty());
}

TEST(Rate, BanAfterMoreThanNOverBudgetSyns)
{
    RG_REQUIRE_PRIVILEGED();
    rg::RateSettings s = rate(1, 2);
    s.ban_after = 3;
    s.ban_ttl = 30s;
    RateFilter rf(s);
    const std::string src = "198.51.100.9";
    EXPECT_EQ(rf.passed_of(src, 2), 2);
    EXPECT_EQ(rf.passed_of(src, 3), 0);  // over budget 3 times: not yet banned
    EXPECT_FALSE(rf.ban_of(src));
    EXPECT_EQ(rf.run(syn(src)), XDP_DROP);  // the 4th: banned now
    EXPECT_EQ(rf.count(RG_DROP_RATELIMIT).syn, 4u);
    auto ban = rf.ban_of(src);
    ASSERT_TRUE(ban);
    EXPECT_EQ(ban->raw.reason, uint32_t(RG_BAN_RATELIMIT));
    EXPECT_EQ(ban->raw.expires_ns, rf.now + 30 * kSec);

    // Banned: every packet to a protected port drops, SYN or not.
    rf.advance(5 * kSec);  // the bucket has refilled, the ban still holds
    EXPECT_EQ(rf.run(syn(src)), XDP_DROP);
    EXPECT_EQ(rf.run(ack(src), 9), XDP_DROP);
    EXPECT_EQ(rf.count(RG_DROP_BANNED).packets, 10u);
    EXPECT_EQ(rf.count(RG_DROP_BANNED).syn, 1u);
    EXPECT_EQ(rf.ban_of(src)->raw.hits, 10u);
    EXPECT_EQ(rf.run(syn(src, 2525)), XDP_PASS);  // unprotected ports are not affected

    // The kernel ends the ban by itself at expires_ns.
    rf.advance(25 * kSec - 1);
    EXPECT_EQ(rf.run(ack(src)), XDP_DROP);
    rf.advance(1);
    EXPECT_EQ(rf.passed_of(src, 3), 2);  // a full bucket again
}

TEST(Rate, OverBudgetCountRestartsWhenTheBucketRefills)
{
    RG_REQUIRE_PRIVILEGED();
    rg::RateSettings s = rate(1, 2);
    s.ban_after = 1;
    s.ban_ttl = 30s;
    RateFilter rf(s);
    const std::string src = "198.51.100.9";
    for (int episode = 0; episode < 5; episode++) {
        EXPECT_EQ(rf.passed_of(src, 3), 2);  // one SYN over budget per episode
        rf.advance(3 * kSec);                // then quiet until the bucket is full
    }
    EXPECT_TRUE(rg::list_bans(rf.f.maps()).empty());
    EXPECT_EQ(rf.passed_of(src, 4), 2);  // two over budget in one episode: the second bans
    EXPECT_TRUE(rf.ban_of(src));
}

TEST(Rate, BanAtAggregatedPrefix)
{
    RG_REQUIRE_PRIVILEGED();
    rg::RateSettings s = rate(1, 1);
    s.prefix6 = 56;
    s.ban_ttl = 60s;
    RateFilter rf(s);
    EXPECT_EQ(rf.passed_of("2001:db8:7:100::1", 2), 1);  // over once, ban_after 0: banned
    ASSERT_TRUE(rf.ban_of("2001:db8:7:100::/56"));
    EXPECT_EQ(rf.run(syn("2001:db8:7:1ff::2")), XDP_DROP);  // same /56
    EXPECT_EQ(rf.run(syn("2001:db8:7:200::2")), XDP_PASS);
}

TEST(Rate, EscalationBansThePrefix)
{
    RG_REQUIRE_PRIVILEGED();
    RateFilter rf(escalating(600s, 3, 60s));
    for (const char *src : {"198.51.100.1", "198.51.100.2"}) {
        EXPECT_EQ(rf.passed_of(src, 2), 1);
        rf.advance(10 * kSec);
    }
    EXPECT_FALSE(rf.ban_of("198.51.100.0/24"));
    EXPECT_EQ(rf.run(syn("198.51.100.77")), XDP_PASS);  // neighbours still pass
    EXPECT_EQ(rf.passed_of("198.51.100.3", 2), 1);       // the third ban in the window
    auto esc = rf.ban_of("198.51.100.0/24");
    ASSERT_TRUE(esc);
    EXPECT_EQ(esc->raw.reason, uint32_t(RG_BAN_ESCALATION));
    EXPECT_EQ(rf.run(syn("198.51.100.200")), XDP_DROP);  // a fresh source in the /24
    EXPECT_EQ(rf.run(syn("198.51.101.200")), XDP_PASS);
}

TEST(Rate, EscalationRenewsAfterThePrefixBanExpiredWithinTheWindow)
{
    RG_REQUIRE_PRIVILEGED();
    RateFilter rf(escalating(10s, 2, 600s));
    EXPECT_EQ(rf.passed_of("198.51.100.1", 2), 1);
    EXPECT_EQ(rf.passed_of("198.51.100.2", 2), 1);
    ASSERT_TRUE(rf.ban_of("198.51.100.0/24"));
    rf.advance(11 * kSec);  // every ban expired, the window is still open
    EXPECT_EQ(rf.passed_of("198.51.100.3", 2), 1);
    auto again = rf.ban_of("198.51.100.0/24");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->raw.expires_ns, rf.now + 10 * kSec) << "the prefix ban was not renewed";
    EXPECT_EQ(rf.run(syn("198.51.100.4")), XDP_DROP);
}

TEST(Rate, EscalationCountsOnlyWithinTheWindow)
{
    RG_REQUIRE_PRIVILEGED();
    RateFilter rf(escalating(600s, 2, 60s));
    EXPECT_EQ(rf.passed_of("198.51.100.1", 2), 1);
    rf.advance(61 * kSec);  // the window has closed
    EXPECT_EQ(rf.passed_of("198.51.100.2", 2), 1);
    EXPECT_FALSE(rf.ban_of("198.51.100.0/24"));
    rf.advance(30 * kSec);
    EXPECT_EQ(rf.passed_of("198.51.100.3", 2), 1);
    EXPECT_TRUE(rf.ban_of("198.51.100.0/24"));
}

TEST(Rate, MonitorModeCountsWouldDropsAndDropsNothing)
{
    RG_REQUIRE_PRIVILEGED();
    rg::RateSettings s = rate(1, 2);
    s.ban_ttl = 60s;
    RateFilter rf(s, rg::test::Setup{.monitor = true});
    EXPECT_EQ(rf.passed_of("198.51.100.9", 5), 5);
    // 2 within budget, the 3rd over budget (and bans), then banned.
    EXPECT_EQ(rf.count(RG_PASS_CLEAN).syn, 2u);
    EXPECT_EQ(rf.count(RG_WOULD_DROP_RATELIMIT).syn, 1u);
    EXPECT_EQ(rf.count(RG_WOULD_DROP_BANNED).syn, 2u);
    EXPECT_EQ(rf.count(RG_DROP_RATELIMIT).packets + rf.count(RG_DROP_BANNED).packets, 0u);
}

TEST(Bans, ManualBanUsesTheBoottimeClock)
{
    RG_REQUIRE_PRIVILEGED();
    Filter f;  // the production clock
    rg::add_ban(f.maps(), rg::parse_cidr("198.51.100.0/24").cidr, 1h);
    EXPECT_EQ(f.run(syn("198.51.100.9")), XDP_DROP);
    EXPECT_EQ(f.maps().stats().slots.at(kSlot)[RG_DROP_BANNED].packets, 1u);
    auto bans = rg::list_bans(f.maps());
    ASSERT_EQ(bans.size(), 1u);
    EXPECT_EQ(bans[0].raw.reason, uint32_t(RG_BAN_MANUAL));
    EXPECT_EQ(bans[0].raw.hits, 1u);
    uint64_t left = bans[0].raw.expires_ns - rg::boottime_ns();
    EXPECT_GT(left, 3590 * kSec);
    EXPECT_LE(left, 3600 * kSec);
    EXPECT_TRUE(rg::del_ban(f.maps(), rg::parse_cidr("198.51.100.0/24").cidr));
    EXPECT_FALSE(rg::del_ban(f.maps(), rg::parse_cidr("198.51.100.0/24").cidr));
    EXPECT_EQ(f.run(syn("198.51.100.9")), XDP_PASS);
}

TEST(Bans, AllowlistWinsOverABan)
{
    RG_REQUIRE_PRIVILEGED();
    Filter f(rg::test::Setup{.allow = {"198.51.100.9"}});
    rg::add_ban(f.maps(), rg::parse_cidr("198.51.100.0/24").cidr, 1h);
    EXPECT_EQ(f.run(syn("198.51.100.9")), XDP_PASS);
    EXPECT_EQ(f.run(syn("198.51.100.10")), XDP_DROP);
}

TEST(Bans, ExpiredEntryDoesNotHideABroaderLiveBan)
{
    RG_REQUIRE_PRIVILEGED();
    uint64_t t0 = rg::boottime_ns();
    rg::RateSettings s = rate(1, 1);
    s.ban_ttl = 10s;
    RateFilter rf(s, rg::test::Setup{}, t0);
    rg::add_ban(rf.f.maps(), rg::parse_cidr("198.51.100.0/24").cidr, 1h);  // live for an hour
    rg::add_ban(rf.f.maps(), rg::parse_cidr("198.51.100.0/26").cidr, 1s);
    rg::add_ban(rf.f.maps(), rg::parse_cidr("198.51.100.0/28").cidr, 1s);
    rg::add_ban(rf.f.maps(), rg::parse_cidr("198.51.100.0/30").cidr, 2s);
    rg::add_ban(rf.f.maps(), rg::parse_cidr("198.51.100.1/32").cidr, 3s);
    // add_ban times a ban from the real clock: 5 s after the last one was
    // added (not after t0: the setup can take seconds on a slow machine),
    // the four longer prefixes (RG_BAN_HOPS) have expired.
    rf.advance(rg::boottime_ns() - t0 + 5 * kSec);
    EXPECT_EQ(rf.run(syn("198.51.100.1")), XDP_DROP);
    EXPECT_EQ(rf.count(RG_DROP_BANNED).packets, 1u);
    EXPECT_EQ(rf.ban_of("198.51.100.0/24")->raw.hits, 1u);
    // expire_bans removes exactly the expired entries.
    EXPECT_EQ(rg::expire_bans(rf.f.maps(), rf.now), 4u);
    EXPECT_EQ(rg::list_bans(rf.f.maps()).size(), 1u);
    EXPECT_EQ(rg::flush_bans(rf.f.maps()), 1u);
    EXPECT_EQ(rf.run(syn("198.51.100.1")), XDP_PASS);
}

TEST(Rate, SettingsRoundTripThroughTheConfigMap)
{
    RG_REQUIRE_PRIVILEGED();
    rg::RateSettings s = rate(0.5, 7);
    s.prefix4 = 28;
    s.prefix6 = 56;
    s.ban_after = 4;
    s.ban_ttl = 10min;
    s.escalate_after = 5;
    s.escalate_window = 2min;
    s.escalate_prefix4 = 20;
    s.escalate_prefix6 = 40;
    RateFilter rf(s);
    EXPECT_EQ(rg::rate_settings(rf.f.maps()), s);
    // The port set and mode are untouched by rate changes, and vice versa.
    rf.f.maps().set_ports({25, 587});
    rf.f.maps().set_monitor(true);
    EXPECT_EQ(rg::rate_settings(rf.f.maps()), s);
    EXPECT_EQ(rf.f.maps().ports(), (std::vector<uint16_t>{25, 587}));
}

// Two CPUs charging one source at once must not double its budget: with the
// clock frozen, exactly `burst` SYNs pass however the CPUs interleave. The
// source's way is claimed by one SYN first: two CPUs that miss a new source
// at the same instant may give it two ways (rate.h says so). A SYN whose
// every compare-and-swap lost (RG_CAS_TRIES of them; about 1 in 10,000 raced
// SYNs here) is charged by an atomic add instead, so none passes uncharged.
TEST(Rate, ConcurrentCpusShareOneBudget)
{
    RG_REQUIRE_PRIVILEGED();
    if (std::thread::hardware_concurrency() < 2)
        GTEST_SKIP() << "needs 2 CPUs";
    constexpr uint32_t kBurst = 1000000, kRepeat = 1500000;
    RateFilter rf(rate(1, kBurst));
    Bytes pkt = syn("198.51.100.9");
    ASSERT_EQ(rf.run(pkt), XDP_PASS);
    std::barrier start(2);
    auto worker = [&](int cpu) {
        rg::test::pin_to_cpu(cpu);
        start.arrive_and_wait();
        rf.run(pkt, kRepeat);
    };
    std::thread a(worker, 0), b(worker, 1);
    a.join();
    b.join();
    rg::StatsSnapshot st = rf.f.maps().stats();
    uint64_t passed = st.slots.at(kSlot)[RG_PASS_CLEAN].syn, limited = st.slots.at(kSlot)[RG_DROP_RATELIMIT].syn;
    EXPECT_EQ(passed + limited, 2ull * kRepeat + 1);
    EXPECT_EQ(passed, kBurst);
    auto sources = rg::rate_sources(rf.f.maps());
    ASSERT_EQ(sources.size(), 1u);
    EXPECT_EQ(sources[0].syns, 2ull * kRepeat + 1);
    EXPECT_EQ(sources[0].limited, limited);
}

// While there are no bans the program skips the ban lookup; every way a ban
// appears (by hand, by the limiter, by escalation) turns the lookup back on,
// and it goes off again only when the last ban is gone.
TEST(Bans, TheLookupIsSkippedOnlyWhileThereAreNoBans)
{
    RG_REQUIRE_PRIVILEGED();
    rg::RateSettings s = rate(1, 1);
    s.ban_ttl = 10s;
    RateFilter rf(s);
    rg::Maps &maps = rf.f.maps();
    EXPECT_FALSE(rg::bans_flagged(maps));
    rg::add_ban(maps, rg::parse_cidr("2001:db8:66::/48").cidr, 1h);
    EXPECT_TRUE(rg::bans_flagged(maps));
    EXPECT_EQ(rf.run(syn("2001:db8:66::1")), XDP_DROP);
    EXPECT_TRUE(rg::del_ban(maps, rg::parse_cidr("2001:db8:66::/48").cidr));
    EXPECT_FALSE(rg::bans_flagged(maps));
    EXPECT_EQ(rf.run(syn("2001:db8:66::1")), XDP_PASS);

    // The limiter's own ban (written by the program).
    EXPECT_EQ(rf.passed_of("198.51.100.9", 2), 1);
    EXPECT_TRUE(rg::bans_flagged(maps));
    EXPECT_EQ(rf.run(ack("198.51.100.9")), XDP_DROP);
    // Deleting one ban of two keeps the lookup on.
    rg::add_ban(maps, rg::parse_cidr("192.0.2.0/24").cidr, 1h);
    EXPECT_TRUE(rg::del_ban(maps, rg::parse_cidr("192.0.2.0/24").cidr));
    EXPECT_TRUE(rg::bans_flagged(maps));
    EXPECT_EQ(rf.run(ack("198.51.100.9")), XDP_DROP);
    // Expiry: the kernel ends the ban, expire_bans removes it and the flag.
    rf.advance(10 * kSec);
    EXPECT_EQ(rf.run(ack("198.51.100.9")), XDP_PASS);
    EXPECT_TRUE(rg::bans_flagged(maps));
    EXPECT_EQ(rg::expire_bans(maps, rf.now), 1u);
    EXPECT_FALSE(rg::bans_flagged(maps));
    // A flush of several.
    rg::add_ban(maps, rg::parse_cidr("192.0.2.1").cidr, 1h);
    rg::add_ban(maps, rg::parse_cidr("2001:db8::1").cidr, 1h);
    EXPECT_EQ(rg::flush_bans(maps), 2u);
    EXPECT_FALSE(rg::bans_flagged(maps));
    EXPECT_EQ(rf.run(syn("192.0.2.1")), XDP_PASS);
}

// A second program instance on the same maps that gives every packet a new
// source (rg_test_spoof, bpf/rate.h): one BPF_PROG_RUN call with repeat=N is a
// flood from N spoofed sources. IPv6 SYNs walk the /64s of 2001:db8::/32.
class Spoofer {
public:
    explicit Spoofer(RateFilter &rf) : rf_(rf), prog_(rf.f.maps(), kSlot, true)
    {
        prog_.set_test_spoof(true);
        prog_.load();
    }
    // n SYNs to port 25, each from a new source, at the filter's time.
    void flood(uint32_t n, bool v6 = true)
    {
        sync_clock();
        Filter::run(prog_, syn(v6 ? "2001:db8::1" : "198.18.0.1"), n);
    }
    void sync_clock() { prog_.set_test_now(rf_.now); }
    rg::Program &prog() { return prog_; }

private:
    RateFilter &rf_;
    rg::Program prog_;
};

std::optional<rg::SourceState> source_of(rg::Maps &maps, const std::string &cidr)
{
    rg::Cidr c = rg::parse_cidr(cidr).cidr;
    for (const rg::SourceState &s : rg::rate_sources(maps))
        if (s.source == c)
            return s;
    return std::nullopt;
}

// Ten times the table's capacity in one-shot spoofed sources: each passes
// (a new source has a full bucket) and replaces another one-shot source, never
// a source in an over-budget episode, which outranks them even at burst 1.
// (An LRU table evicted it, and its next SYN passed with a fresh bucket.)
TEST(RateTable, AnOverBudgetSourceKeepsItsStateThroughASpoofedFlood)
{
    RG_REQUIRE_PRIVILEGED();
    RateFilter rf(rate(1.0 / 60, 1));  // one per minute
    const std::string bad = "2001:db8:bad:1::7";
    EXPECT_EQ(rf.passed_of(bad, 3), 1);
    Spoofer spoofer(rf);
    constexpr uint32_t kFlood = 10 * RG_RATE_MAX_ENTRIES;
    rf.advance(1 * kSec);
    spoofer.flood(kFlood);
    EXPECT_EQ(rf.count(RG_PASS_CLEAN).syn, 1u + kFlood);

    auto sources = rg::rate_sources(rf.f.maps());
    EXPECT_LE(sources.size(), size_t(RG_RATE_MAX_ENTRIES));
    auto st = source_of(rf.f.maps(), "2001:db8:bad:1::/64");
    ASSERT_TRUE(st) << "the flood evicted the over-budget source";
    EXPECT_EQ(st->syns, 3u);
    EXPECT_EQ(st->limited, 2u);
    EXPECT_TRUE(st->over_episode);
    EXPECT_EQ(rf.run(syn(bad)), XDP_DROP);  // still over budget
    rf.advance(59 * kSec);
    EXPECT_EQ(rf.passed_of(bad, 2), 1);  // its next token, exactly on time
}

// A source that spent most of its burst is ahead of fresh sources (its tat is
// further in the future), so one-shot sources replace each other, not it.
TEST(RateTable, APartlySpentBucketSurvivesASpoofedFlood)
{
    RG_REQUIRE_PRIVILEGED();
    RateFilter rf(rate(1.0 / 60, 10));
    const std::string busy = "198.51.100.9";
    EXPECT_EQ(rf.passed_of(busy, 8), 8);
    Spoofer spoofer(rf);
    spoofer.flood(10 * RG_RATE_MAX_ENTRIES);
    EXPECT_EQ(rf.passed_of(busy, 3), 2) << "the flood gave the source its spent tokens back";
}

// The table holds at most RG_RATE_MAX_ENTRIES sources whatever the flood, and
// a spoofed flood fills it: every set's ways end up taken.
TEST(RateTable, ASpoofedFloodFillsTheTableAndNoMore)
{
    RG_REQUIRE_PRIVILEGED();
    RateFilter rf(rate(1, 5));
    Spoofer spoofer(rf);
    constexpr uint32_t kFlood = 10 * RG_RATE_MAX_ENTRIES;
    spoofer.flood(kFlood);
    size_t tracked = rg::rate_sources(rf.f.maps()).size();
    EXPECT_LE(tracked, size_t(RG_RATE_MAX_ENTRIES));
    // 40 sources per set of 4 ways on average (Poisson): that any set gets
    // fewer than 4 has a probability below 1e-9.
    EXPECT_EQ(tracked, size_t(RG_RATE_MAX_ENTRIES));
    EXPECT_EQ(rf.count(RG_PASS_CLEAN).syn, kFlood);
}

// `top` reads rate_sources: after a flood, the heavy hitter is still there,
// with exact counts, and sorts first.
TEST(RateTable, TheHeavyHitterStaysVisibleThroughAFlood)
{
    RG_REQUIRE_PRIVILEGED();
    RateFilter rf(rate(1, 3));
    const std::string heavy = "198.51.100.77";
    EXPECT_EQ(rf.passed_of(heavy, 50), 3);
    Spoofer spoofer(rf);
    spoofer.flood(2 * RG_RATE_MAX_ENTRIES, false);
    spoofer.flood(2 * RG_RATE_MAX_ENTRIES, true);
    auto sources = rg::rate_sources(rf.f.maps());
    auto top = std::max_element(sources.begin(), sources.end(), [](const auto &a, const auto &b) {
        return std::tie(a.limited, a.syns) < std::tie(b.limited, b.syns);
    });
    ASSERT_NE(top, sources.end());
    EXPECT_EQ(top->source.str(), heavy + "/32");
    EXPECT_EQ(top->syns, 50u);
    EXPECT_EQ(top->limited, 47u);
    EXPECT_EQ(top->last_seen, rf.now);
}

// Two CPUs flooding at once race for the same sets: every SYN is still
// accounted for, the table stays within its capacity, and the source in an
// over-budget episode keeps its state.
TEST(RateTable, TwoCpusFloodingAtOnce)
{
    RG_REQUIRE_PRIVILEGED();
    if (std::thread::hardware_concurrency() < 2)
        GTEST_SKIP() << "needs 2 CPUs";
    RateFilter rf(rate(1.0 / 60, 1));
    const std::string bad = "198.51.100.66";
    EXPECT_EQ(rf.passed_of(bad, 2), 1);
    Spoofer spoofer(rf);
    constexpr uint32_t kEach = 4 * RG_RATE_MAX_ENTRIES;
    std::barrier start(2);
    auto worker = [&](int cpu) {
        rg::test::pin_to_cpu(cpu);
        start.arrive_and_wait();
        Filter::run(spoofer.prog(), syn("2001:db8::1"), kEach);
    };
    spoofer.sync_clock();
    std::thread a(worker, 0), b(worker, 1);
    a.join();
    b.join();
    // The CPUs' sources are distinct, but a SYN of a source being replaced
    // may still charge the way's new source on the other CPU (the bounded
    // inaccuracy of racing replacements): it counts as limited then.
    EXPECT_EQ(rf.count(RG_PASS_CLEAN).syn + rf.count(RG_DROP_RATELIMIT).syn, 2u + 2 * kEach);
    EXPECT_LE(rg::rate_sources(rf.f.maps()).size(), size_t(RG_RATE_MAX_ENTRIES));
    ::testing::Test::RecordProperty("racing_limited", std::to_string(rf.count(RG_DROP_RATELIMIT).syn - 1));
    auto st = source_of(rf.f.maps(), bad + "/32");
    ASSERT_TRUE(st);
    EXPECT_EQ(st->limited, 1u);
    EXPECT_EQ(rf.run(syn(bad)), XDP_DROP);
}

// The over-budget count runs with or without bans, so turning bans on during
// an episode that is already past ban_after bans on the next over-budget SYN.
TEST(Rate, BansTurnedOnDuringAnEpisodeBanOnTheNextExcessSyn)
{
    RG_REQUIRE_PRIVILEGED();
    RateFilter rf(rate(1, 1));
    const std::string src = "198.51.100.9";
    EXPECT_EQ(rf.passed_of(src, 6), 1);  // 5 over budget, no bans yet
    rg::RateSettings s = rate(1, 1);
    s.ban_after = 2;
    s.ban_ttl = 30s;
    rg::apply_rate(rf.f.maps(), s);
    EXPECT_FALSE(rf.ban_of(src));
    EXPECT_EQ(rf.run(syn(src)), XDP_DROP);
    EXPECT_TRUE(rf.ban_of(src));
    EXPECT_EQ(rf.count(RG_DROP_RATELIMIT).syn, 6u);
}

} // namespace
