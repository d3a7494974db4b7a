// Per-packet cost of the data path for a clean SYN, with the rate limiter off
// and on, from one source and from a different (spoofed) source per packet.
// A measurement, not a test: disabled by default, it asserts no timing, only
// that every row did what its name says (every packet got the expected
// verdict). Run it on a quiet machine:
//
//   build/tests/prog_run_tests --gtest_also_run_disabled_tests --gtest_filter='RateCost.*'
//
// RG_BENCH_RUNS (default 11) BPF_PROG_RUN calls of RG_BENCH_REPEAT (default
// 1,000,000) repeats per row; a row reports the median of the calls'
// per-repeat durations, as measured by the kernel. The "spoofed" rows load the
// program with the rg_test_spoof knob (bpf/rate.h): each repeat then comes
// from the next source of a per-CPU sequence, 198.18.0.0/15 for IPv4 and the
// /64s of 2001:db8::/32 for IPv6. Every row uses the production clock.
#include "packet_builder.hpp"
#include "privileged.hpp"
#include "prog_fixture.hpp"
#include "rate.hpp"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <barrier>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <thread>

using rg::test::Bytes;
using rg::test::PacketBuilder;
using rg::test::kSlot;
using namespace std::chrono_literals;

namespace {

uint32_t env_or(const char *name, uint32_t dflt)
{
    const char *v = std::getenv(name);
    return v && *v ? uint32_t(std::strtoul(v, nullptr, 10)) : dflt;
}

Bytes syn(const std::string &src)
{
    bool v6 = src.find(':') != std::string::npos;
    PacketBuilder b;
    b.eth();
    v6 ? b.ipv6(src, "2001:db8:25::25") : b.ipv4(src, "203.0.113.25");
    return b.tcp(40000, 25).flags(rg::test::tcp_flags::SYN).build();
}

// Maps and one loaded program instance, optionally with spoofed sources.
rg::test::Filter bench(bool spoof)
{
    rg::test::Setup s;
    s.test_spoof = spoof;
    return rg::test::Filter(s);
}

rg::RateSettings limiter(uint64_t interval_ns, uint32_t burst)
{
    rg::RateSettings s;
    s.enabled = true;
    s.interval_ns = interval_ns;
    s.burst = burst;
    return s;
}

struct Row {
    std::string name;
    double ns;
};

double median(std::vector<uint32_t> v)
{
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

class RateCost : public ::testing::Test {
protected:
    void SetUp() override { RG_REQUIRE_PRIVILEGED(); }

    // Runs `runs` calls on this CPU; before_each runs before each call.
    double measure(rg::test::Filter &b, const Bytes &pkt, const std::function<void()> &before_each = {})
    {
        std::vector<uint32_t> ns;
        for (uint32_t i = 0; i < runs_; i++) {
            if (before_each)
                before_each();
            ns.push_back(b.run_ns(pkt, repeat_));
        }
        return median(ns);
    }
    // The same on two CPUs at once (one thread pinned to each): the median of
    // both threads' calls.
    double measure_2cpu(rg::test::Filter &b, const Bytes &pkt)
    {
        std::vector<uint32_t> ns[2];
        std::barrier sync(2);
        auto worker = [&](int cpu) {
            rg::test::pin_to_cpu(cpu);
            for (uint32_t i = 0; i < runs_; i++) {
                sync.arrive_and_wait();
                ns[cpu].push_back(b.run_ns(pkt, repeat_));
            }
        };
        std::thread t0(worker, 0), t1(worker, 1);
        t0.join();
        t1.join();
        ns[0].insert(ns[0].end(), ns[1].begin(), ns[1].end());
        return median(ns[0]);
    }
    void report()
    {
        std::printf("\n| case | ns/packet (median of %u x %u) |\n|---|---|\n", runs_, repeat_);
        for (const Row &r : rows_)
            std::printf("| %s | %.1f |\n", r.name.c_str(), r.ns);
        std::fflush(stdout);
    }
    uint64_t total() const { return uint64_t(runs_) * repeat_; }

    uint32_t runs_ = env_or("RG_BENCH_RUNS", 11);
    uint32_t repeat_ = env_or("RG_BENCH_REPEAT", 1000000);
    std::vector<Row> rows_;
};

TEST_F(RateCost, DISABLED_CleanSyn)
{
    const Bytes v4 = syn("192.0.2.7"), v6 = syn("2001:db8:7::7");
    {
        rg::test::Filter b = bench(false);
        rows_.push_back({"IPv4, limiter off, one source", measure(b, v4)});
        EXPECT_EQ(b.count(RG_PASS_CLEAN), total());
    }
    {
        rg::test::Filter b = bench(true);
        rows_.push_back({"IPv4, limiter off, spoofed sources", measure(b, v4)});
        rows_.push_back({"IPv6, limiter off, spoofed sources", measure(b, v6)});
        EXPECT_EQ(b.count(RG_PASS_CLEAN), 2 * total());
    }
    {
        // 1,000,000/s with a burst of 1,000,000: a call of up to 1M repeats
        // stays within budget; wait for the bucket to refill before each.
        rg::test::Filter b = bench(false);
        ASSERT_LE(repeat_, 1000000u);
        rg::apply_rate(b.maps(), limiter(1000, 1000000));
        rows_.push_back({"IPv4, limiter on, one source (within budget)",
                         measure(b, v4, [] { std::this_thread::sleep_for(1050ms); })});
        EXPECT_EQ(b.count(RG_PASS_CLEAN), total());
    }
    {
        rg::test::Filter b = bench(false);
        rg::apply_rate(b.maps(), limiter(3600ull * 1000000000, 1));  // 1/h: no refill during the row
        rows_.push_back({"IPv4, limiter on, one source (over budget: dropped)", measure(b, v4)});
        EXPECT_EQ(b.count(RG_DROP_RATELIMIT), total() - 1);
    }
    {
        rg::test::Filter b = bench(true);
        // An IPv4 source comes back after 131,071 others; a burst of 1000
        // keeps it within budget whether or not the table still knows it.
        rg::apply_rate(b.maps(), limiter(1000000000, 1000));
        rows_.push_back({"IPv4, limiter on, spoofed sources", measure(b, v4)});
        rows_.push_back({"IPv6, limiter on, spoofed sources", measure(b, v6)});
        EXPECT_EQ(b.count(RG_PASS_CLEAN), 2 * total());
    }
    if (std::thread::hardware_concurrency() >= 2) {
        {
            rg::test::Filter b = bench(true);
            rows_.push_back({"IPv4, limiter off, spoofed sources, 2 CPUs at once (per CPU)", measure_2cpu(b, v4)});
            EXPECT_EQ(b.count(RG_PASS_CLEAN), 2 * total());
        }
        {
            rg::test::Filter b = bench(true);
            rg::apply_rate(b.maps(), limiter(1000000000, 1000));
            rows_.push_back({"IPv4, limiter on, spoofed sources, 2 CPUs at once (per CPU)", measure_2cpu(b, v4)});
            EXPECT_EQ(b.count(RG_PASS_CLEAN), 2 * total());
        }
    }
    report();
}

// What the ban lookup costs a spoofed clean SYN: the ban tries hold N live
// bans of random IPv4 /32s (none inside 198.18.0.0/15), limiter off.
TEST_F(RateCost, DISABLED_BanLookup)
{
    const Bytes v4 = syn("192.0.2.7");
    for (uint32_t n : {0u, 1u, 1000u, 65536u}) {
        rg::test::Filter b = bench(true);
        std::mt19937 rnd(n);
        std::set<uint32_t> seen;
        while (seen.size() < n) {
            uint32_t a = rnd();
            if ((a >> 17) == ((198u << 24 | 18u << 16) >> 17) || !seen.insert(a).second)
                continue;
            rg::Cidr c;
            c.family = 4;
            c.len = 32;
            for (int i = 0; i < 4; i++)
                c.addr[i] = uint8_t(a >> (24 - 8 * i));
            rg::add_ban(b.maps(), c, 1h);
        }
        rows_.push_back({"IPv4, limiter off, spoofed sources, " + std::to_string(n) + " bans", measure(b, v4)});
        EXPECT_EQ(b.count(RG_PASS_CLEAN), total());
    }
    report();
}

} // namespace
