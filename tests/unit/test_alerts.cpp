// The alerts without a kernel: the engine's firing/not re-firing/resolving
// with injected time, each check's thresholds on injected readings, the
// [alerts] config keys, and the command (a real child reading its stdin).
#include "alerts.hpp"
#include "config.hpp"
#include "error.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const rg::WallTime kT0 = rg::WallTime(std::chrono::seconds(1'800'000'000));

rg::AlertCheck check(const std::string &name, const std::string &label, const std::string &value, bool firing)
{
    rg::AlertCheck c;
    c.key = {name, label, value};
    c.firing = firing;
    c.summary = firing ? "bad" : "fine";
    return c;
}

// ---- the engine -------------------------------------------------------------

TEST(AlertEngine, FiresOnceStaysQuietResolvesOnce)
{
    rg::AlertEngine e;
    auto up = check("detached", "interface", "eth0", true);
    auto down = check("detached", "interface", "eth0", false);
    EXPECT_TRUE(e.update({down}, {}, kT0).empty());
    auto ev = e.update({up}, {}, kT0 + 1s);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].state, rg::AlertEvent::State::firing);
    EXPECT_EQ(ev[0].since, kT0 + 1s);
    for (int i = 2; i < 100; i++)
        EXPECT_TRUE(e.update({up}, {}, kT0 + std::chrono::seconds(i)).empty()) << "fired again at tick " << i;
    ev = e.update({down}, {}, kT0 + 100s);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].state, rg::AlertEvent::State::resolved);
    EXPECT_EQ(ev[0].since, kT0 + 1s);
    EXPECT_EQ(ev[0].at, kT0 + 100s);
    EXPECT_NE(ev[0].message().find("was firing since 2027-01-15T08:00:01Z, for 1m39s"), std::string::npos)
        << ev[0].message();
    EXPECT_TRUE(e.update({down}, {}, kT0 + 101s).empty());
    // Firing again counts again.
    EXPECT_EQ(e.update({up}, {}, kT0 + 102s).size(), 1u);
    std::string text = e.prometheus_text({"detached", "ban_storm"});
    EXPECT_NE(text.find("relayguard_alert_active{alert=\"detached\",interface=\"eth0\"} 1\n"), std::string::npos)
        << text;
    EXPECT_NE(text.find("relayguard_alerts_total{alert=\"detached\"} 2\n"), std::string::npos) << text;
    EXPECT_NE(text.find("relayguard_alerts_total{alert=\"ban_storm\"} 0\n"), std::string::npos) << text;
}

TEST(AlertEngine, InstancesAreIndependent)
{
    rg::AlertEngine e;
    auto ev = e.update({check("feed_stale", "feed", "a", true), check("feed_stale", "feed", "b", false)}, {}, kT0);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].check.key.value, "a");
    ev = e.update({check("feed_stale", "feed", "a", true), check("feed_stale", "feed", "b", true)}, {}, kT0 + 1s);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].check.key.value, "b");
    EXPECT_EQ(e.active(), 2u);
}

TEST(AlertEngine, RepeatRemindsWhileFiring)
{
    rg::AlertEngine e(10min);
    auto up = check("ban_storm", "", "", true);
    ASSERT_EQ(e.update({up}, {}, kT0).size(), 1u);
    EXPECT_TRUE(e.update({up}, {}, kT0 + 9min).empty());
    auto ev = e.update({up}, {}, kT0 + 10min);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].state, rg::AlertEvent::State::repeat);
    EXPECT_EQ(ev[0].since, kT0);
    EXPECT_EQ(ev[0].to_json("mx")["state"], "firing");
    EXPECT_EQ(ev[0].to_json("mx")["repeat"], true);
    EXPECT_TRUE(e.update({up}, {}, kT0 + 19min).empty());
    EXPECT_EQ(e.update({up}, {}, kT0 + 20min).size(), 1u);
}

TEST(AlertEngine, UncheckedAlertsResolveUnlessTheirReadingFailed)
{
    rg::AlertEngine e;
    ASSERT_EQ(e.update({check("detached", "interface", "eth0", true), check("feed_stale", "feed", "f", true)}, {}, kT0)
                  .size(),
              2u);
    // The feed registry could not be read: feed_stale keeps firing, shown as such.
    auto ev = e.update({check("detached", "interface", "eth0", true)}, {"feed_stale"}, kT0 + 1s);
    EXPECT_TRUE(ev.empty());
    EXPECT_NE(e.prometheus_text({}).find("relayguard_alert_active{alert=\"feed_stale\",feed=\"f\"} 1"),
              std::string::npos);
    // The feed left the config: resolved.
    ev = e.update({check("detached", "interface", "eth0", true)}, {}, kT0 + 2s);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].state, rg::AlertEvent::State::resolved);
    EXPECT_EQ(ev[0].check.key.value, "f");
    EXPECT_NE(ev[0].check.summary.find("left the configuration"), std::string::npos);
}

TEST(AlertEngine, JsonCarriesTheLabelAndTimes)
{
    rg::AlertEngine e;
    auto c = check("drop_rate", "reason", "dropped_blocklist", true);
    c.values = {{"rate", 1500.5}};
    c.threshold = 1000;
    auto ev = e.update({c}, {}, kT0);
    ASSERT_EQ(ev.size(), 1u);
    json j = ev[0].to_json("mx.example.org");
    EXPECT_EQ(j["name"], "drop_rate");
    EXPECT_EQ(j["state"], "firing");
    EXPECT_EQ(j["reason"], "dropped_blocklist");
    EXPECT_EQ(j["host"], "mx.example.org");
    EXPECT_EQ(j["since"], "2027-01-15T08:00:00Z");
    EXPECT_EQ(j["since_unix"], 1'800'000'000);
    EXPECT_EQ(j["threshold"], 1000);
    EXPECT_EQ(j["values"]["rate"], 1500.5);
    EXPECT_EQ(ev[0].message(), "alert drop_rate (reason dropped_blocklist) firing: bad");
}

// ---- the checks -------------------------------------------------------------

struct Clock {
    std::chrono::steady_clock::time_point mono{};
    rg::WallTime wall = kT0;
    uint64_t boot_ns = 3600'000'000'000;
    rg::AlertReadings readings()
    {
        rg::AlertReadings r;
        r.mono = mono;
        r.wall = wall;
        r.boot_ns = boot_ns;
        return r;
    }
    void advance(std::chrono::seconds s)
    {
        mono += s;
        wall += s;
        boot_ns += uint64_t(std::chrono::nanoseconds(s).count());
    }
};

const rg::AlertCheck *find_check(const std::vector<rg::AlertCheck> &checks, const std::string &name,
                           const std::string &value = "")
{
    for (const auto &c : checks)
        if (c.key.name == name && c.key.value == value)
            return &c;
    return nullptr;
}

rg::ReasonCounters counters(uint64_t blocklist, uint64_t banned = 0)
{
    rg::ReasonCounters c{};
    c[RG_DROP_BLOCKLIST].packets = blocklist;
    c[RG_DROP_BANNED].packets = banned;
    c[RG_PASS_CLEAN].packets = 1'000'000'000;  // never counted
    return c;
}

TEST(AlertChecks, DropRateOverTheWindow)
{
    rg::AlertsConfig cfg;
    cfg.detached = cfg.feed_rejected = false;
    cfg.drop_rate = {{"dropped_blocklist", 100}, {"dropped", 1000}};
    cfg.rate_window = 10s;
    rg::AlertChecks checks(cfg);
    Clock t;
    auto r = t.readings();
    r.counters = counters(0);
    auto out = checks.evaluate(r);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_FALSE(out[0].firing);  // one sample: no rate yet

    // 500/s of blocklist drops for 2 s: above 100/s, not above 1000/s.
    t.advance(2s);
    r = t.readings();
    r.counters = counters(1000, 50);
    out = checks.evaluate(r);
    ASSERT_TRUE(find_check(out, "drop_rate", "dropped_blocklist"));
    EXPECT_TRUE(find_check(out, "drop_rate", "dropped_blocklist")->firing);
    EXPECT_EQ(find_check(out, "drop_rate", "dropped_blocklist")->values["rate"], 500.0);
    EXPECT_EQ(find_check(out, "drop_rate", "dropped_blocklist")->threshold, 100);
    EXPECT_FALSE(find_check(out, "drop_rate", "dropped")->firing);
    EXPECT_EQ(find_check(out, "drop_rate", "dropped")->values["packets"], 1050);

    // Exactly at the threshold is not above it: 1000 more packets in 10 s
    // (the window) with nothing since.
    for (int i = 0; i < 10; i++) {
        t.advance(1s);
        r = t.readings();
        r.counters = counters(1000, 50);
        out = checks.evaluate(r);
    }
    EXPECT_FALSE(find_check(out, "drop_rate", "dropped_blocklist")->firing);
    EXPECT_EQ(find_check(out, "drop_rate", "dropped_blocklist")->values["seconds"], 10.0);
    t.advance(10s);
    r = t.readings();
    r.counters = counters(2000, 50);
    out = checks.evaluate(r);
    EXPECT_EQ(find_check(out, "drop_rate", "dropped_blocklist")->values["rate"], 100.0);
    EXPECT_FALSE(find_check(out, "drop_rate", "dropped_blocklist")->firing);

    // Counters that went back (maps made anew): no rate from the old ones.
    t.advance(1s);
    r = t.readings();
    r.counters = counters(5);
    out = checks.evaluate(r);
    EXPECT_FALSE(find_check(out, "drop_rate", "dropped_blocklist")->firing);
    EXPECT_EQ(find_check(out, "drop_rate", "dropped_blocklist")->values["packets"], 0);

    // Unreadable counters: no check, so the engine keeps the alert's state.
    r = t.readings();
    r.unknown = {"drop_rate"};
    EXPECT_EQ(find_check(checks.evaluate(r), "drop_rate", "dropped_blocklist"), nullptr);
}

TEST(AlertChecks, FeedStaleAndRejected)
{
    rg::AlertsConfig cfg;
    cfg.detached = false;
    cfg.feed_stale = 2h;
    rg::AlertChecks checks(cfg);
    Clock t;
    int64_t now = 1'800'000'000;
    auto r = t.readings();
    r.feeds = {{"fresh", RG_FEED_APPLIED, "", now - 86400, now - 3600},
               {"old", RG_FEED_FETCH_FAILED, "HTTP 503", now - 86400, now - 7201},
               {"never", RG_FEED_NEVER, "", now - 7300, 0},
               {"young", RG_FEED_NEVER, "", now - 60, 0},
               {"shrunk", RG_FEED_SHRUNK, "lists 10 of 1000 entries", now - 86400, now - 60}};
    auto out = checks.evaluate(r);
    EXPECT_FALSE(find_check(out, "feed_stale", "fresh")->firing);
    EXPECT_TRUE(find_check(out, "feed_stale", "old")->firing);
    EXPECT_EQ(find_check(out, "feed_stale", "old")->values["seconds_since_success"], 7201);
    EXPECT_EQ(find_check(out, "feed_stale", "old")->values["last_result"], "fetch_failed");
    EXPECT_EQ(find_check(out, "feed_stale", "old")->threshold, 7200);
    EXPECT_NE(find_check(out, "feed_stale", "old")->summary.find("HTTP 503"), std::string::npos);
    EXPECT_TRUE(find_check(out, "feed_stale", "never")->firing);
    EXPECT_TRUE(find_check(out, "feed_stale", "never")->values["last_success"].is_null());
    EXPECT_FALSE(find_check(out, "feed_stale", "young")->firing);
    EXPECT_FALSE(find_check(out, "feed_stale", "shrunk")->firing);

    EXPECT_FALSE(find_check(out, "feed_rejected", "fresh")->firing);
    EXPECT_FALSE(find_check(out, "feed_rejected", "old")->firing);  // a fetch failure is staleness, not a refusal
    EXPECT_TRUE(find_check(out, "feed_rejected", "shrunk")->firing);
    EXPECT_EQ(find_check(out, "feed_rejected", "shrunk")->values["last_result"], "shrunk");
    EXPECT_NE(find_check(out, "feed_rejected", "shrunk")->summary.find("lists 10 of 1000 entries"), std::string::npos);
    for (uint32_t res : {RG_FEED_EMPTY, RG_FEED_UNPARSEABLE}) {
        r.feeds = {{"f", res, "", now, now}};
        EXPECT_TRUE(find_check(checks.evaluate(r), "feed_rejected", "f")->firing) << res;
    }
}

TEST(AlertChecks, BanStormCountsTheLastMinutesNewBans)
{
    rg::AlertsConfig cfg;
    cfg.detached = cfg.feed_rejected = false;
    cfg.ban_storm = 2;
    rg::AlertChecks checks(cfg);
    Clock t;
    uint64_t s = 1'000'000'000;
    auto r = t.readings();
    r.bans = {{"192.0.2.1/32", t.boot_ns - 120 * s}, {"192.0.2.2/32", t.boot_ns - 30 * s},
              {"192.0.2.3/32", t.boot_ns - 1 * s}};
    auto out = checks.evaluate(r);
    ASSERT_TRUE(find_check(out, "ban_storm"));
    EXPECT_FALSE(find_check(out, "ban_storm")->firing);  // 2 new, not more than 2
    EXPECT_EQ(find_check(out, "ban_storm")->values["new_bans"], 2);
    r.bans.push_back({"2001:db8::/64", t.boot_ns});
    out = checks.evaluate(r);
    EXPECT_TRUE(find_check(out, "ban_storm")->firing);
    EXPECT_EQ(find_check(out, "ban_storm")->threshold, 2);
    // Expired and removed within the minute: still counted.
    t.advance(10s);
    r = t.readings();
    out = checks.evaluate(r);
    EXPECT_TRUE(find_check(out, "ban_storm")->firing);
    // A minute after the last: none left.
    t.advance(60s);
    r = t.readings();
    out = checks.evaluate(r);
    EXPECT_FALSE(find_check(out, "ban_storm")->firing);
    EXPECT_EQ(find_check(out, "ban_storm")->values["new_bans"], 0);
}

TEST(AlertChecks, DetachedPerInterface)
{
    rg::AlertsConfig cfg;
    rg::AlertChecks checks(cfg);
    Clock t;
    auto r = t.readings();
    r.interfaces = {{"eth0", true, ""}, {"eth1", false, "the interface is gone (removed or renamed)"}};
    auto out = checks.evaluate(r);
    EXPECT_FALSE(find_check(out, "detached", "eth0")->firing);
    EXPECT_TRUE(find_check(out, "detached", "eth1")->firing);
    EXPECT_EQ(find_check(out, "detached", "eth1")->values["why"], "the interface is gone (removed or renamed)");
    cfg.detached = false;
    EXPECT_EQ(find_check(rg::AlertChecks(cfg).evaluate(r), "detached", "eth1"), nullptr);
}

// ---- [alerts] in the config ---------------------------------------------------

const std::string kFilter = "[filter]\ninterfaces = eth0\n";

rg::Config parse(const std::string &text) { return rg::parse_config(text, "/etc/relayguard/test.conf"); }

std::string error(const std::string &text)
{
    try {
        parse(text);
    } catch (const rg::Error &e) {
        return e.what();
    }
    return "";
}

TEST(AlertsConfig, DefaultsAndEveryKey)
{
    rg::AlertsConfig d = parse(kFilter).alerts;
    EXPECT_TRUE(d.drop_rate.empty());
    EXPECT_EQ(d.rate_window, 1min);
    EXPECT_FALSE(d.feed_stale);
    EXPECT_TRUE(d.feed_rejected);
    EXPECT_FALSE(d.ban_storm);
    EXPECT_TRUE(d.detached);
    EXPECT_TRUE(d.command.empty());
    EXPECT_EQ(d.command_timeout, 30s);
    EXPECT_EQ(d.repeat, 0s);
    EXPECT_EQ(d.kinds(), (std::set<std::string>{"detached", "feed_rejected"}));

    rg::AlertsConfig a = parse(kFilter + "[alerts]\n"
                                         "drop_rate = dropped_blocklist:1000, would_drop:5\n"
                                         "drop_rate = dropped_banned:0\n"
                                         "rate_window = 30s\n"
                                         "feed_stale = 6h\n"
                                         "feed_rejected = no\n"
                                         "ban_storm = 100\n"
                                         "detached = no\n"
                                         "command = /bin/sh -c 'cat >\"/tmp/x y\"' \"two words\"\n"
                                         "command_timeout = 5s\n"
                                         "repeat = 4h\n")
                             .alerts;
    ASSERT_EQ(a.drop_rate.size(), 3u);
    EXPECT_EQ(a.drop_rate[0], (rg::DropRateRule{"dropped_blocklist", 1000}));
    EXPECT_EQ(a.drop_rate[1], (rg::DropRateRule{"would_drop", 5}));
    EXPECT_EQ(a.drop_rate[2], (rg::DropRateRule{"dropped_banned", 0}));
    EXPECT_EQ(a.rate_window, 30s);
    EXPECT_EQ(a.feed_stale, rg::Duration(6h));
    EXPECT_FALSE(a.feed_rejected);
    EXPECT_EQ(a.ban_storm, 100u);
    EXPECT_FALSE(a.detached);
    EXPECT_EQ(a.command, (std::vector<std::string>{"/bin/sh", "-c", "cat >\"/tmp/x y\"", "two words"}));
    EXPECT_EQ(a.command_timeout, 5s);
    EXPECT_EQ(a.repeat, 4h);
    EXPECT_EQ(a.kinds(), (std::set<std::string>{"drop_rate", "feed_stale", "ban_storm"}));

    rg::AlertsConfig off = parse(kFilter + "[alerts]\nfeed_stale = off\nban_storm = off\nrepeat = off\n").alerts;
    EXPECT_FALSE(off.feed_stale);
    EXPECT_FALSE(off.ban_storm);
    EXPECT_EQ(off.repeat, 0s);
}

TEST(AlertsConfig, ErrorsNameTheLineAndKey)
{
    const std::string head = kFilter + "[alerts]\n";
    auto expect = [&](const std::string &line, const std::string &where, const std::string &why) {
        std::string msg = error(head + line + "\n");
        EXPECT_EQ(msg.rfind("/etc/relayguard/test.conf:4: [alerts] " + where + ": ", 0), 0u) << msg;
        EXPECT_NE(msg.find(why), std::string::npos) << msg;
    };
    expect("drop_rate = passed_clean:10", "drop_rate", "not a drop reason (valid: dropped, would_drop, dropped_blocklist");
    expect("drop_rate = dropped_blocklist", "drop_rate", "expected REASON:N");
    expect("drop_rate = dropped_blocklist:1.5", "drop_rate", "not a whole number");
    expect("drop_rate = dropped:1 dropped:2", "drop_rate", "\"dropped\": given twice");
    expect("rate_window = 0s", "rate_window", "shorter than 1s");
    expect("feed_stale = 10", "feed_stale", "missing unit");
    expect("ban_storm = many", "ban_storm", "not a whole number");
    expect("detached = maybe", "detached", "not one of");
    expect("command = mail postmaster", "command", "must be an absolute path");
    expect("command = /nonexistent/alert-mail", "command", "not an executable file");
    expect("command = /bin/sh -c 'unclosed", "command", "unclosed '");
    expect("no_such = 1", "no_such", "valid keys: drop_rate, rate_window, feed_stale, feed_rejected, ban_storm, "
                                     "detached, command, command_timeout, repeat");
}

// outbound_surge's keys, in [egress] (egress_baseline.hpp).
TEST(EgressSurgeConfig, DefaultsEveryKeyAndErrors)
{
    EXPECT_FALSE(parse(kFilter).alerts.outbound_surge) << "no egress, no outbound alert";
    EXPECT_FALSE(parse(kFilter + "[egress]\nsurge_multiple = 3\n").alerts.outbound_surge) << "egress off";
    const std::string kEgress = kFilter + "egress = watch\n";
    rg::Config d = parse(kEgress + "[egress]\n");
    ASSERT_TRUE(d.alerts.outbound_surge);
    EXPECT_EQ(*d.alerts.outbound_surge, rg::SurgeSettings{});
    EXPECT_TRUE(d.alerts.kinds().count("outbound_surge"));
    rg::Config c = parse(kEgress + "[egress]\n"
                                   "surge_window = 5s\n"
                                   "surge_floor_connections = 20\n"
                                   "surge_floor_destinations = 0\n"
                                   "surge_multiple = 2.5\n"
                                   "baseline_half_life = 2m\n");
    rg::SurgeSettings s = *c.alerts.outbound_surge;
    EXPECT_EQ(s.window, 5s);
    EXPECT_EQ(s.floor_connections, 20u);
    EXPECT_EQ(s.floor_destinations, 0u);
    EXPECT_EQ(s.multiple, 2.5);
    EXPECT_EQ(s.half_life, 2min);

    auto expect = [&](const std::string &body, const std::string &where, const std::string &why) {
        std::string msg = error(kEgress + "[egress]\n" + body);
        EXPECT_EQ(msg.rfind("/etc/relayguard/test.conf:" + where + ": ", 0), 0u) << msg;
        EXPECT_NE(msg.find(why), std::string::npos) << msg;
    };
    expect("surge_window = 0s\n", "5: [egress] surge_window", "shorter than 1s");
    expect("surge_floor_connections = -1\n", "5: [egress] surge_floor_connections", "not a whole number");
    expect("surge_multiple = 0.5\n", "5: [egress] surge_multiple", "not a number from 1 to 1000");
    expect("surge_multiple = x\n", "5: [egress] surge_multiple", "not a number from 1 to 1000");
    expect("surge_window = 10m\nbaseline_half_life = 5m\n", "6: [egress] baseline_half_life",
           "baseline_half_life 5m is shorter than surge_window 10m");
    expect("surge_window = 2h\n", "5: [egress] surge_window", "is shorter than surge_window 2h");
}

// The shipped example's [alerts], uncommented: its default lines are the
// defaults, and its examples parse.
TEST(AlertsConfig, ShippedExampleShowsTheDefaults)
{
    std::ifstream in(RG_EXAMPLE_CONFIG);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    size_t at = text.find("\n#[alerts]\n");
    ASSERT_NE(at, std::string::npos);
    std::istringstream lines(text.substr(at + 1));
    std::string defaults, all;
    for (std::string l; std::getline(lines, l);) {
        if (l.starts_with("#[") && l != "#[alerts]")
            break;  // the next section's example
        if (!l.starts_with("#[") && (l.starts_with("# ") || l.find(" = ") == std::string::npos))
            continue;
        all += l.substr(1) + "\n";
        if (!l.starts_with("#drop_rate") && !l.starts_with("#command ="))
            defaults += l.substr(1) + "\n";
    }
    EXPECT_EQ(parse(kFilter + defaults).alerts, rg::AlertsConfig()) << defaults;
    rg::AlertsConfig examples = parse(kFilter + all).alerts;
    EXPECT_EQ(examples.drop_rate.size(), 2u) << all;
    EXPECT_EQ(examples.command.at(0), "/usr/bin/logger") << all;
}

// ---- the command and the whole ------------------------------------------------

class AlertCommandTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        char tmpl[] = "/tmp/relayguard-alerts.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    // Polls until no command runs (each poll reaps what ended), within 10 s.
    static bool finish(rg::AlertCommand &cmd)
    {
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (cmd.running() || cmd.waiting()) {
            if (std::chrono::steady_clock::now() > deadline)
                return false;
            std::this_thread::sleep_for(5ms);  // waits for the children's exits, which have no fd here
            cmd.poll();
        }
        return true;
    }

    static std::string read(const std::string &path)
    {
        std::ifstream in(path);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }

    std::string dir_;
};

TEST_F(AlertCommandTest, GetsTheJsonOnStdinAndTheEnvironment)
{
    rg::AlertCommand cmd;
    std::string out = dir_ + "/out";
    cmd.set({"/bin/sh", "-c", "cat >\"$0\"; echo \"$RELAYGUARD_ALERT $RELAYGUARD_ALERT_STATE\" >>\"$0\"", out}, 10s);
    cmd.run({.name = "ban_storm", .state = "firing", .summary = "s", .input = "{\"name\":\"ban_storm\"}\n"});
    ASSERT_TRUE(finish(cmd));
    EXPECT_EQ(read(out), "{\"name\":\"ban_storm\"}\nban_storm firing\n");
}

TEST_F(AlertCommandTest, FailuresAndTimeoutsAreLoggedAndTheLoopNeverWaits)
{
    rg::AlertCommand cmd;
    ::testing::internal::CaptureStderr();
    cmd.set({"/bin/sh", "-c", "exit 3"}, 10s);
    cmd.run({.name = "detached", .state = "firing", .summary = "", .input = "{}\n"});
    ASSERT_TRUE(finish(cmd));
    // sleep would run 60 s; it is killed when poll() finds it past its deadline.
    cmd.set({"/bin/sh", "-c", "sleep 60"}, 1s);
    auto start = std::chrono::steady_clock::now();
    cmd.run({.name = "detached", .state = "resolved", .summary = "", .input = "{}\n"}, start);
    EXPECT_EQ(cmd.running(), 1u);
    cmd.poll(start + 2s);  // past its deadline: killed
    ASSERT_TRUE(finish(cmd));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
    cmd.set({"/nonexistent"}, 1s);
    cmd.run({.name = "ban_storm", .state = "firing", .summary = "", .input = "{}\n"});
    std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("alert command /bin/sh (alert detached firing): exited with status 3"), std::string::npos) << err;
    EXPECT_NE(err.find("alert command /bin/sh (alert detached resolved): killed after its timeout of 1s"),
              std::string::npos)
        << err;
    EXPECT_NE(err.find("alert command /nonexistent (alert ban_storm firing): cannot run: No such file"),
              std::string::npos)
        << err;
}

TEST_F(AlertCommandTest, MoreThanFourWaitTheirTurn)
{
    rg::AlertCommand cmd;
    std::string out = dir_ + "/out";
    cmd.set({"/bin/sh", "-c", "cat >>\"$0\"", out}, 10s);
    for (int i = 0; i < 10; i++)
        cmd.run({.name = "a", .state = "firing", .summary = "", .input = std::to_string(i) + "\n"});
    EXPECT_EQ(cmd.running(), rg::AlertCommand::kMaxRunning);
    EXPECT_EQ(cmd.waiting(), 10 - rg::AlertCommand::kMaxRunning);
    ASSERT_TRUE(finish(cmd));
    std::string text = read(out);
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 10) << text;
}

// The whole: readings in, a log line, a stats line and a command per event,
// the metrics as of the tick.
TEST_F(AlertCommandTest, AlertsReportEachEventThreeWays)
{
    rg::AlertsConfig cfg;
    std::string out = dir_ + "/out";
    cfg.command = {"/bin/sh", "-c", "cat >>\"$0\"", out};
    std::vector<json> lines;
    rg::Alerts alerts(cfg, [&](const json &l) { lines.push_back(l); });
    EXPECT_NE(alerts.prometheus_text().find("relayguard_alerts_total{alert=\"detached\"} 0"), std::string::npos);
    Clock t;
    auto r = t.readings();
    r.interfaces = {{"eth0", false, "the filter's XDP program is no longer on the interface"}};
    ::testing::internal::CaptureStderr();
    alerts.tick(r);
    std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("warning: alert detached (interface eth0) firing: eth0: the filter's XDP program is no longer "
                       "on the interface"),
              std::string::npos)
        << err;
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0]["event"], "alert");
    EXPECT_EQ(lines[0]["alert"]["interface"], "eth0");
    EXPECT_NE(alerts.prometheus_text().find("relayguard_alert_active{alert=\"detached\",interface=\"eth0\"} 1"),
              std::string::npos);
    EXPECT_NE(alerts.prometheus_text().find("relayguard_alerts_total{alert=\"detached\"} 1"), std::string::npos);

    t.advance(1s);
    r = t.readings();
    r.interfaces = {{"eth0", true, ""}};
    ::testing::internal::CaptureStderr();
    alerts.tick(r);
    err = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("relayguard: alert detached (interface eth0) resolved: eth0: the filter is attached"),
              std::string::npos)
        << err;
    EXPECT_NE(alerts.prometheus_text().find("relayguard_alert_active{alert=\"detached\",interface=\"eth0\"} 0"),
              std::string::npos);

    auto deadline = std::chrono::steady_clock::now() + 10s;
    std::string text;
    while ((text = read(out), std::count(text.begin(), text.end(), '\n') < 2) &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    std::istringstream in(text);
    std::string first, second;
    std::getline(in, first);
    std::getline(in, second);
    // Both ran at once: either may have written first.
    std::set<std::string> states{json::parse(first)["state"], json::parse(second)["state"]};
    EXPECT_EQ(states, (std::set<std::string>{"firing", "resolved"})) << text;
    EXPECT_EQ(json::parse(first)["name"], "detached");
}

} // namespace
