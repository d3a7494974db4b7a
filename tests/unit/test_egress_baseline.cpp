// The outbound baseline and the outbound_surge alert without a kernel: the
// baseline's learning (warm-up, half-life, surges kept out), steady senders
// with jitter that never alert over 10 minutes of simulated time, a surge
// that fires within its window and resolves after. The [egress] keys are
// tested with the other alerts' keys (test_alerts.cpp).
#include "alert_checks.hpp"
#include "egress_baseline.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

using namespace std::chrono_literals;

namespace {

rg::EgressSample sample(uint64_t connections, double destinations = 1)
{
    rg::EgressSample s;
    s.connections = connections;
    s.destinations = destinations;
    return s;
}

// A mail host's minutes: `mean` connections to `dests` prefixes, each
// minute off by up to +-`jitter` (a fraction), and every `burst_every`-th
// minute twice as busy (a newsletter, a queue flush).
struct Sender {
    double mean, dests, jitter;
    int burst_every;
    std::mt19937 rng;
    rg::EgressSample next(int minute)
    {
        std::uniform_real_distribution<double> j(1 - jitter, 1 + jitter);
        double f = minute % burst_every == burst_every - 1 ? 2 : 1;
        return sample(uint64_t(mean * f * j(rng)), std::max(1.0, dests * f * j(rng)));
    }
};

TEST(EgressBaseline, SteadySendersWithJitterNeverSurge)
{
    // Below, around and well above the default floors (100 connections, 50
    // destinations a minute): the floor protects the quiet host, the
    // baseline the busy one.
    for (double mean : {20.0, 90.0, 300.0, 5000.0}) {
        // A host this busy sets its floors to its busiest usual minute.
        rg::SurgeSettings settings;
        if (mean > 1000)
            settings.floor_connections = 2000, settings.floor_destinations = 500;
        for (unsigned seed = 1; seed <= 20; seed++) {
            rg::EgressBaseline b(settings);
            Sender s{mean, mean / 4, 0.4, 7, std::mt19937(seed)};
            // 10 minutes of warm-up, then 50 judged against what was learned.
            for (int minute = 0; minute < 60; minute++) {
                rg::SurgeVerdict v = b.observe(s.next(minute));
                EXPECT_FALSE(v.surge) << "mean " << mean << " seed " << seed << " minute " << minute
                                      << ": threshold " << v.threshold_connections << "/"
                                      << v.threshold_destinations;
            }
            EXPECT_EQ(b.learned(), 60u);
            EXPECT_NEAR(b.connections(), mean * 1.1, mean * 0.35) << "the baseline follows the sender";
        }
    }
}

TEST(EgressBaseline, ASurgeFiresInItsWindowIsNotLearnedAndResolves)
{
    rg::EgressBaseline b;
    for (int i = 0; i < 20; i++)
        ASSERT_FALSE(b.observe(sample(200, 20)).surge);
    EXPECT_NEAR(b.connections(), 200, 0.01);
    // The relay: 500 messages in a minute, to 300 destination prefixes.
    rg::SurgeVerdict v = b.observe(sample(1500, 300));
    EXPECT_TRUE(v.surge);
    EXPECT_TRUE(v.by_connections);  // above 5 x 200
    EXPECT_TRUE(v.by_destinations);  // above 50 and 5 x 20
    EXPECT_FALSE(v.warming_up);
    EXPECT_EQ(v.threshold_connections, 1000);
    EXPECT_NEAR(b.connections(), 200, 0.01) << "a surge window is not learned";
    // Sustained: still a surge every window.
    for (int i = 0; i < 30; i++)
        EXPECT_TRUE(b.observe(sample(1500, 300)).surge) << "window " << i;
    EXPECT_NEAR(b.connections(), 200, 0.01);
    // Back to usual: no surge, learned again.
    EXPECT_FALSE(b.observe(sample(210, 20)).surge);
    EXPECT_EQ(b.learned(), 21u);
}

TEST(EgressBaseline, DestinationsAloneCanSurge)
{
    rg::EgressBaseline b;
    for (int i = 0; i < 12; i++)
        b.observe(sample(400, 30));
    // As many connections as usual, to far more places: a list of victims.
    rg::SurgeVerdict v = b.observe(sample(400, 400));
    EXPECT_TRUE(v.surge);
    EXPECT_FALSE(v.by_connections);
    EXPECT_TRUE(v.by_destinations);
    EXPECT_EQ(v.threshold_destinations, 150);
}

TEST(EgressBaseline, FloorAndMultipleMustBothBeExceeded)
{
    rg::EgressBaseline b;
    for (int i = 0; i < 12; i++)
        b.observe(sample(2, 1));
    // 50 x the baseline, yet below the floor: a quiet host's busy minute.
    EXPECT_FALSE(b.observe(sample(100, 50)).surge);
    EXPECT_TRUE(b.observe(sample(101, 1)).surge);
    EXPECT_TRUE(b.observe(sample(1, 51)).surge);
}

TEST(EgressBaseline, WarmUpCountsTheBaselineAsAtLeastTheFloor)
{
    rg::EgressBaseline b;
    // First window: nothing learned; a surge is above 5 x 100.
    rg::SurgeVerdict v = b.observe(sample(450));
    EXPECT_FALSE(v.surge);
    EXPECT_TRUE(v.warming_up);
    EXPECT_EQ(v.threshold_connections, 500);
    // A busy host's restart: its level, learned at once, raises the bar.
    EXPECT_NEAR(b.connections(), 450, 0.01);
    EXPECT_EQ(b.observe(sample(450)).threshold_connections, 2250);
    // A relay from the start: caught in the first window, and learned (in
    // warm-up a surge is learned, or a busy host's restart would fire forever).
    rg::EgressBaseline fresh;
    EXPECT_TRUE(fresh.observe(sample(5000)).surge);
    EXPECT_FALSE(fresh.observe(sample(5000)).surge);
    // Quiet warm-up, then the floor x multiple bar until 10 windows learned.
    rg::EgressBaseline quiet;
    for (uint64_t i = 0; i < rg::EgressBaseline::kWarmupWindows; i++) {
        v = quiet.observe(sample(10));
        EXPECT_TRUE(v.warming_up);
        EXPECT_EQ(v.threshold_connections, 500);
    }
    v = quiet.observe(sample(10));
    EXPECT_FALSE(v.warming_up);
    EXPECT_EQ(v.threshold_connections, 100);  // the floor: 5 x 10 is below it
}

// What the baseline learned of a step from 0 to 80 connections a window,
// `steps` windows after it, well past the warm-up.
double after_step(const rg::SurgeSettings &s, int steps)
{
    rg::EgressBaseline b(s);
    for (int i = 0; i < 2000; i++)
        b.observe(sample(0, 0));
    for (int i = 0; i < steps; i++)
        b.observe(sample(80, 0));  // learned: under the floor, no surge
    return b.connections();
}

TEST(EgressBaseline, HalfLifeInTime)
{
    // After one half-life of windows, half the step is learned, whatever
    // the window: 10 windows of 1m, or 120 of 5s, for a half-life of 10m.
    rg::SurgeSettings s;
    s.half_life = 10min;
    s.window = 1min;
    EXPECT_NEAR(after_step(s, 10), 40, 0.5);
    s.window = 5s;
    EXPECT_NEAR(after_step(s, 120), 40, 0.5);
    // New thresholds keep the baseline; a new window length starts anew.
    rg::EgressBaseline f(s);
    for (int i = 0; i < 20; i++)
        f.observe(sample(40, 0));
    s.multiple = 3;
    f.configure(s);
    EXPECT_NEAR(f.connections(), 40, 0.5);
    EXPECT_EQ(f.learned(), 20u);
    s.window = 1min;
    f.configure(s);
    EXPECT_EQ(f.learned(), 0u);
}

// ---- the alert, from cumulative readings ------------------------------------

// A tick a second; windows are aligned to boot time, and the first reading
// is at a minute's start (which the checks cannot know: judged from the next).
struct Ticks {
    std::chrono::steady_clock::time_point mono{};
    rg::WallTime wall = rg::WallTime(std::chrono::seconds(1'800'000'000));
    uint64_t boot_ns = 3599'000'000'000;
    rg::EgressReading egress;
    rg::AlertReadings next()
    {
        mono += 1s;
        wall += 1s;
        boot_ns += 1'000'000'000;
        rg::AlertReadings r;
        r.mono = mono;
        r.wall = wall;
        r.boot_ns = boot_ns;
        r.egress = egress;
        return r;
    }
    // The minute the checks started in: not judged. Ends with the next
    // minute's first tick.
    void lead_in(rg::AlertChecks &checks)
    {
        for (int i = 0; i <= 60; i++)
            checks.evaluate(next());
    }
    void send(const std::string &from, const std::string &to_prefix, uint64_t n)
    {
        egress.connections += n;
        egress.senders[from] += n;
        egress.prefixes[to_prefix] += n;
    }
};

rg::AlertsConfig surge_config()
{
    rg::AlertsConfig cfg;
    cfg.detached = cfg.feed_rejected = false;
    cfg.outbound_surge = rg::SurgeSettings{};
    return cfg;
}

const rg::AlertCheck &only(const std::vector<rg::AlertCheck> &checks)
{
    EXPECT_EQ(checks.size(), 1u);
    EXPECT_EQ(checks.at(0).key.name, "outbound_surge");
    return checks.at(0);
}

TEST(OutboundSurge, TenSteadyMinutesThenASurgeWithinOneWindowThenResolved)
{
    rg::AlertChecks checks(surge_config());
    rg::AlertEngine engine;
    Ticks t;
    std::mt19937 rng(7);
    std::poisson_distribution<int> per_second(3);  // ~180 a minute to 40 prefixes, from one host
    std::vector<rg::AlertEvent> events;
    auto tick = [&] {
        rg::AlertReadings r = t.next();
        auto out = checks.evaluate(r);
        const rg::AlertCheck &c = only(out);
        for (auto &e : engine.update(out, {}, r.wall))
            events.push_back(e);
        return c;
    };
    t.lead_in(checks);
    for (int s = 0; s < 600; s++) {
        int n = per_second(rng);
        for (int i = 0; i < n; i++)
            t.send("198.51.100.25", "198.18." + std::to_string(rng() % 40) + ".0/24", 1);
        EXPECT_FALSE(tick().firing) << "second " << s;
    }
    EXPECT_TRUE(events.empty());
    EXPECT_EQ(checks.baseline().learned(), 10u);
    // The relay starts: 3000 connections in a minute, mostly from a second
    // local address, to 250 /24s.
    for (int s = 0; s < 60; s++) {
        for (int i = 0; i < 50; i++)
            t.send("198.51.100.26", "198.19." + std::to_string((s * 50 + i) % 250) + ".0/24", 1);
        t.send("198.51.100.25", "198.18.1.0/24", 1);
        tick();
    }
    ASSERT_EQ(events.size(), 1u) << "fired within the window";
    const rg::AlertCheck &c = events[0].check;
    EXPECT_EQ(events[0].state, rg::AlertEvent::State::firing);
    EXPECT_EQ(c.values["connections"], 3060);
    EXPECT_EQ(c.values["by"], nlohmann::json({"connections", "destinations"}));
    EXPECT_EQ(c.values["top_senders"][0]["address"], "198.51.100.26");
    EXPECT_EQ(c.values["top_senders"][0]["connections"], 3000);
    EXPECT_EQ(c.values["top_senders"][1]["address"], "198.51.100.25");
    EXPECT_EQ(c.values["top_destinations"].size(), 5u);
    EXPECT_EQ(c.values["top_destinations"][0]["prefix"], "198.18.1.0/24");
    EXPECT_EQ(c.values["destinations"], 251);
    EXPECT_NE(c.summary.find("top senders: 198.51.100.26 (3000), 198.51.100.25 (60)"), std::string::npos) << c.summary;
    EXPECT_NE(events[0].message().find("alert outbound_surge firing: 3060 new outbound SMTP connections in 1m"),
              std::string::npos)
        << events[0].message();
    // Over: the next window resolves it.
    for (int s = 0; s < 60; s++) {
        t.send("198.51.100.25", "198.18.1.0/24", 3);
        tick();
    }
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[1].state, rg::AlertEvent::State::resolved);
    EXPECT_EQ(checks.baseline().learned(), 11u);
}

TEST(OutboundSurge, NoEgressReadingNoCheckAndCountersThatWentBackStartOver)
{
    rg::AlertChecks checks(surge_config());
    Ticks t;
    rg::AlertReadings r = t.next();
    r.egress.reset();
    EXPECT_TRUE(checks.evaluate(r).empty());
    EXPECT_FALSE(only(checks.evaluate(t.next())).firing);  // a partial window starts
    for (int s = 0; s < 59; s++)
        checks.evaluate(t.next());
    EXPECT_NE(only(checks.evaluate(t.next())).summary.find("no whole window of 1m has ended yet"), std::string::npos);
    t.send("198.51.100.25", "198.18.0.0/24", 10'000);
    for (int s = 0; s < 58; s++)
        EXPECT_FALSE(only(checks.evaluate(t.next())).firing);
    EXPECT_TRUE(only(checks.evaluate(t.next())).firing);
    // The maps made anew: counting starts over (in a partial window), no
    // negative window.
    t.egress = {};
    for (int s = 0; s < 119; s++)
        EXPECT_TRUE(only(checks.evaluate(t.next())).firing) << "the last window's verdict stands";
    const rg::AlertCheck c = only(checks.evaluate(t.next()));
    EXPECT_FALSE(c.firing);
    EXPECT_EQ(c.values["connections"], 0);
}

TEST(OutboundSurge, AMinuteWindowTakesTheSketchsEstimateOfThatMinute)
{
    rg::AlertChecks checks(surge_config());
    Ticks t;
    t.lead_in(checks);  // the window of minute 61 starts
    t.send("198.51.100.25", "198.18.0.0/24", 10);
    for (int s = 0; s < 59; s++)
        checks.evaluate(t.next());
    t.egress.sketch = {{61, 812.4}};
    rg::AlertCheck c = only(checks.evaluate(t.next()));
    EXPECT_EQ(c.values["destinations"], 812.4);
    EXPECT_EQ(c.values["destinations_from"], "sketch");
    EXPECT_EQ(c.values["by"], nlohmann::json({"destinations"}));
    EXPECT_TRUE(c.firing);
    // Another minute's sketch is not this window's: the table counts.
    for (int s = 0; s < 60; s++)
        c = only(checks.evaluate(t.next()));
    EXPECT_EQ(c.values["destinations"], 0);
    EXPECT_EQ(c.values["destinations_from"], "table");
}

TEST(OutboundSurge, ReloadKeepsTheBaseline)
{
    rg::AlertsConfig cfg = surge_config();
    rg::AlertChecks checks(cfg);
    Ticks t;
    t.lead_in(checks);
    for (int s = 0; s < 180; s++) {
        t.send("198.51.100.25", "198.18.0.0/24", 2);
        checks.evaluate(t.next());
    }
    ASSERT_EQ(checks.baseline().learned(), 3u);
    cfg.outbound_surge->multiple = 3;
    checks.reconfigure(cfg);
    EXPECT_EQ(checks.baseline().learned(), 3u);
    EXPECT_EQ(checks.baseline().settings().multiple, 3);
    cfg.outbound_surge->window = 5s;
    checks.reconfigure(cfg);
    EXPECT_EQ(checks.baseline().learned(), 0u);
}

} // namespace
