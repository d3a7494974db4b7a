// Integration tests of `relayguard run`: the daemon started in the lab's
// server namespace with a config file, reloaded with SIGHUP, stopped with
// SIGTERM. Readiness and reloads are awaited on the sd_notify socket, exits
// with a pidfd, counter lines with inotify: no test sleeps.
#include "lab.hpp"
#include "netns_fixture.hpp"
#include "packet_builder.hpp"
#include "process.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;
using namespace rg::test::netns_lab;
using rg::test::NetnsTest;
using rg::test::NotifyListener;
using rg::test::PacketBuilder;
using rg::test::Process;

namespace {

class DaemonTest : public NetnsTest {
protected:
    void SetUp() override
    {
        NetnsTest::SetUp();
        if (IsSkipped() || HasFatalFailure())
            return;
        char tmpl[] = "/tmp/relayguard-daemon.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        conf_ = dir_ + "/relayguard.conf";
        stats_ = dir_ + "/stats.jsonl";
    }

    void TearDown() override
    {
        daemon_.reset();  // SIGKILL if a test left it running
        NetnsTest::TearDown();
        if (!dir_.empty())
            std::filesystem::remove_all(dir_);
    }

    // A config for the lab: the server's veth (plus more_ifaces), a private
    // pin directory, counters every 200 ms into stats_; `extra` is appended.
    void write_config(const std::string &filter_extra, const std::string &extra = "",
                      const std::string &more_ifaces = "")
    {
        std::ofstream f(conf_);
        f << "[filter]\ninterfaces = " << iface_ << " " << more_ifaces << "\n" << filter_extra << "\n"
          << extra << "\n"
          << "[daemon]\npin_dir = " << fs_->pin_dir() << "\nstats_interval = 200ms\nstats_output = " << stats_
          << "\n";
    }

    void start(const std::vector<std::string> &extra_args = {}, const std::vector<std::string> &extra_env = {})
    {
        std::vector<std::string> argv{"ip", "netns", "exec", server_->name(), RELAYGUARD_BIN, "run",
                                      "--config", conf_};
        argv.insert(argv.end(), extra_args.begin(), extra_args.end());
        std::vector<std::string> env{"LIBXDP_BPFFS=" + fs_->root(), notify_.env()};
        env.insert(env.end(), extra_env.begin(), extra_env.end());
        daemon_ = std::make_unique<Process>(argv, env);
    }

    void start_ready()
    {
        start();
        ASSERT_TRUE(notify_.wait_for("READY=1", 15s)) << daemon_->output();
    }

    // Sends SIGHUP and waits for the daemon's status after the reload.
    std::string reload()
    {
        daemon_->signal(SIGHUP);
        auto msg = notify_.wait_for("STATUS=", 15s);
        EXPECT_TRUE(msg) << daemon_->output();
        return msg.value_or("");
    }

    bool xdp_attached() { return xdp_on_iface().find("prog/xdp") != std::string::npos; }

    uint64_t counter(const std::string &name) { return counters()[name].get<uint64_t>(); }

    bool blocked(const std::string &src) { return connect(src, kServer4, 25, 400) == ConnectResult::timed_out; }

    std::string dir_, conf_, stats_;
    NotifyListener notify_;
    std::unique_ptr<Process> daemon_;
};

TEST_F(DaemonTest, StartReloadRefuseBrokenReloadStop)
{
    // 4096 more prefixes in both configs, so that an implementation that
    // replaced the list instead of diffing it would leave a gap of
    // milliseconds, long enough for the sender below to hit.
    {
        std::ofstream bulk(dir_ + "/bulk.txt");
        for (int i = 0; i < 4096; i++)
            bulk << "198.18." << i / 256 << "." << i % 256 << "\n";
    }
    write_config("block = 192.0.2.66/32, 192.0.2.67/32\nblock_file = bulk.txt");
    std::ofstream(stats_).close();
    start_ready();

    // Started: attached, rules from the config, enforcing.
    auto status = rg_json({"status", "--json"});
    ASSERT_EQ(status["interfaces"].size(), 1u) << status.dump();
    EXPECT_EQ(status["interfaces"][0]["name"], iface_);
    auto list = rg_json({"block", "list", "--json"});
    EXPECT_EQ(list["count"], 4098);
    EXPECT_EQ(list["entries"][0]["sources"], nlohmann::json::array({"config"}));
    EXPECT_TRUE(blocked(kBad4));
    EXPECT_TRUE(blocked(kBadNeighbour4));
    EXPECT_EQ(connect(kClean4, kServer4, 25), ConnectResult::connected);

    // Counter lines: wait for one written after the attempts above.
    auto text = rg::test::wait_for_lines(stats_, 1, 5s);
    ASSERT_TRUE(text);
    size_t lines = size_t(std::count(text->begin(), text->end(), '\n'));
    text = rg::test::wait_for_lines(stats_, lines + 1, 5s);
    ASSERT_TRUE(text);
    std::string last = text->substr(text->rfind('\n', text->size() - 2) + 1);
    auto line = nlohmann::json::parse(last);
    EXPECT_EQ(line["event"], "stats");
    EXPECT_GE(line["counters"]["dropped_blocklist_syn"].get<uint64_t>(), 2u);
    EXPECT_EQ(line["interfaces"][0]["name"], iface_);

    // Reload with a changed config while 192.0.2.66, listed before and after,
    // keeps sending SYNs: none may pass during the reload.
    uint64_t clean_before = counter("passed_clean_syn");
    uint64_t dropped_before = counter("dropped_blocklist_syn");
    auto mac = rg::lab::mac_address(*server_, iface_);
    char macs[18];
    std::snprintf(macs, sizeof(macs), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                  mac[5]);
    std::vector<std::vector<uint8_t>> frames(
        256, PacketBuilder().eth(macs).ipv4(kBad4, kServer4).tcp(41000, 25).flags(rg::test::tcp_flags::SYN).build());
    std::atomic<bool> sending{true};
    std::atomic<size_t> sent{0};
    std::thread sender([&] {
        while (sending)
            sent += rg::lab::send_frames(*client_, client_iface_, frames);
    });
    write_config("block = 192.0.2.66/32, 192.0.2.8/29\nblock_file = bulk.txt", "[rate]\nrate = 1/s\nburst = 2\n");
    std::string st = reload();
    size_t sent_during = sent;  // at least this many were sent while reloading
    sending = false;
    sender.join();
    EXPECT_NE(st.find("generation 2"), std::string::npos) << st;
    EXPECT_EQ(counter("passed_clean_syn"), clean_before) << "a SYN from a prefix listed before and after passed";
    EXPECT_GE(counter("dropped_blocklist_syn") - dropped_before, std::min<size_t>(sent_during, 1));

    EXPECT_TRUE(blocked(kClean4));                                                  // added
    EXPECT_EQ(connect(kBadNeighbour4, kServer4, 25), ConnectResult::connected);  // removed
    EXPECT_TRUE(blocked(kBad4));                                                    // kept
    auto rate = rg_json({"rate", "show", "--json"});
    EXPECT_EQ(rate["enabled"], true);
    EXPECT_EQ(rate["burst"], 2);

    // A broken config is refused on reload; the running one stays in force.
    write_config("block = 192.0.2.66/32\nports = 25, 99999");
    st = reload();
    EXPECT_NE(st.find("reload failed"), std::string::npos) << st;
    EXPECT_NE(daemon_->output().find(conf_ + ":"), std::string::npos) << daemon_->output();
    EXPECT_NE(daemon_->output().find("ports"), std::string::npos) << daemon_->output();
    EXPECT_TRUE(blocked(kClean4));
    EXPECT_EQ(rg_json({"rate", "show", "--json"})["enabled"], true);
    EXPECT_EQ(rg_json({"block", "list", "--json"})["count"], 4098);

    // SIGTERM: exits 0, detached, pins removed.
    daemon_->signal(SIGTERM);
    auto code = daemon_->wait_exit(15s);
    ASSERT_TRUE(code) << "did not exit after SIGTERM:\n" << daemon_->output();
    EXPECT_EQ(*code, 0) << daemon_->output();
    EXPECT_TRUE(notify_.wait_for("STOPPING=1", 1s));
    EXPECT_FALSE(xdp_attached()) << xdp_on_iface();
    EXPECT_FALSE(std::filesystem::exists(fs_->pin_dir()));
    EXPECT_EQ(connect(kClean4, kServer4, 25), ConnectResult::connected);
}

// Failures after the config was checked: `lo` exists but has no native XDP.
TEST_F(DaemonTest, FailedApplyRollsBackReloadAndCleansUpStart)
{
    write_config("block = 192.0.2.66/32");
    start_ready();
    write_config("block = 192.0.2.66/32, 192.0.2.10/32", "[rate]\nrate = 1/s\nburst = 1\n", "lo");
    std::string st = reload();
    EXPECT_NE(st.find("reload failed"), std::string::npos) << st << daemon_->output();
    EXPECT_EQ(connect(kClean4, kServer4, 25), ConnectResult::connected) << "the new blocklist entry stayed";
    EXPECT_EQ(rg_json({"rate", "show", "--json"})["enabled"], false) << "the new rate settings stayed";
    EXPECT_EQ(rg_json({"block", "list", "--json"})["count"], 1);
    EXPECT_EQ(rg_json({"status", "--json"})["interfaces"].size(), 1u);
    EXPECT_TRUE(blocked(kBad4));
    daemon_->signal(SIGTERM);
    ASSERT_TRUE(daemon_->wait_exit(15s));
    EXPECT_FALSE(xdp_attached());

    // At start: the first interface attaches, the second fails: the daemon
    // exits 1 and leaves neither a program nor pinned maps.
    start();
    auto code = daemon_->wait_exit(15s);
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 1) << daemon_->output();
    EXPECT_NE(daemon_->output().find("lo"), std::string::npos) << daemon_->output();
    EXPECT_FALSE(xdp_attached());
    EXPECT_FALSE(std::filesystem::exists(fs_->pin_dir())) << "a failed start left its maps pinned";
}

TEST_F(DaemonTest, OnExitKeepLeavesTheFilterEnforcing)
{
    {
        std::ofstream f(conf_);
        f << "[filter]\ninterfaces = " << iface_ << "\nblock = 192.0.2.66/32\n"
          << "[daemon]\npin_dir = " << fs_->pin_dir() << "\non_exit = keep\nstats_interval = 0s\n";
    }
    start_ready();
    daemon_->signal(SIGTERM);
    auto code = daemon_->wait_exit(15s);
    ASSERT_TRUE(code) << daemon_->output();
    EXPECT_EQ(*code, 0);
    attached_ = true;  // the fixture detaches at the end
    EXPECT_TRUE(xdp_attached());
    EXPECT_TRUE(blocked(kBad4));

    // A restart adopts the running attachment instead of failing.
    start_ready();
    EXPECT_NE(daemon_->output().find("adopting"), std::string::npos) << daemon_->output();
    daemon_->signal(SIGTERM);
    ASSERT_TRUE(daemon_->wait_exit(15s));
}

TEST_F(DaemonTest, BadConfigAtStartIsRefusedAndChangesNothing)
{
    {
        std::ofstream f(conf_);
        f << "[filter]\ninterfaces = " << iface_ << " nosuch0\n"
          << "[daemon]\npin_dir = " << fs_->pin_dir() << "\n";
    }
    start();
    auto code = daemon_->wait_exit(15s);
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 1);
    std::string out = daemon_->output();
    EXPECT_NE(out.find(conf_), std::string::npos) << out;
    EXPECT_NE(out.find("nosuch0"), std::string::npos) << out;
    EXPECT_FALSE(xdp_attached());
    EXPECT_FALSE(std::filesystem::exists(fs_->pin_dir()));

    {
        std::ofstream f(conf_);
        f << "[filter]\ninterfaces = " << iface_ << "\n[rate]\nrate = 5/s\n";  // burst missing
    }
    start();
    code = daemon_->wait_exit(15s);
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 1);
    out = daemon_->output();
    EXPECT_NE(out.find(conf_ + ":"), std::string::npos) << out;
    EXPECT_NE(out.find("burst"), std::string::npos) << out;
    EXPECT_FALSE(xdp_attached());
}

TEST_F(DaemonTest, FeedsFromTheConfigSyncOnStartOnTheirIntervalAndGoOnReload)
{
    std::string list = dir_ + "/drop.txt";
    std::ofstream(list) << "192.0.2.66/32 ; SBL1\n";
    write_config("block = 192.0.2.67/32", "[feed drop]\nsource = drop.txt\ninterval = 1s\n");
    std::ofstream(stats_).close();
    start_ready();

    // Synced before READY: the feed is in force, owned by the config.
    auto f = rg_json({"feed", "show", "drop", "--json"});
    EXPECT_EQ(f["defined_by"], "config");
    EXPECT_EQ(f["last_result"], "applied");
    EXPECT_EQ(f["source"], list);
    EXPECT_TRUE(blocked(kBad4));
    EXPECT_TRUE(blocked(kBadNeighbour4));

    // A change of the list is picked up on the feed's interval.
    // Waits (10 s at most) for a feed_sync line of the feed after the first
    // `from` lines of stats_ with `prefixes` prefixes in force, and checks it
    // gives the sync's duration. Lines are taken up to the last newline
    // only (one being written is left for the next look).
    size_t from = 0;
    nlohmann::json last;  // the line found
    auto wait_for_sync = [&](uint64_t prefixes) {
        auto deadline = std::chrono::steady_clock::now() + 10s;
        for (size_t lines = from + 1; std::chrono::steady_clock::now() < deadline;) {
            auto text = rg::test::wait_for_lines(stats_, lines, 10s);
            if (!text)
                break;
            std::istringstream in(text->substr(0, text->rfind('\n') + 1));
            std::string line;
            size_t n = 0;
            for (; std::getline(in, line); n++) {
                if (n < from)
                    continue;
                auto event = nlohmann::json::parse(line, nullptr, false);
                if (event.is_discarded() || event.value("event", "") != "feed_sync" ||
                    event.value("feed", "") != "drop" || event.value("result", "") != "applied" ||
                    event.value("prefixes", uint64_t(0)) != prefixes)
                    continue;
                from = n + 1;
                if (!(event.value("seconds", 0.0) > 0))
                    return ::testing::AssertionFailure() << "no duration in " << line;
                last = event;
                return ::testing::AssertionSuccess();
            }
            lines = n + 1;
        }
        return ::testing::AssertionFailure() << "no feed_sync line applying " << prefixes << " prefixes:\n"
                                             << daemon_->output();
    };
    std::ofstream(list) << "192.0.2.66/32\n192.0.2.10/32\n";
    ASSERT_TRUE(wait_for_sync(2));
    EXPECT_TRUE(blocked(kClean4));
    EXPECT_EQ(rg_json({"feed", "show", "drop", "--json"})["prefixes"], 2);

    // The daemon keeps its maps and the merged set it wrote from one sync to
    // the next: another writer in between must not be undone by the next.
    // Here the manual list takes the feed's new prefix too, so the feed
    // dropping it must leave it blocked.
    rg_ok({"block", "add", kClean4 + "/32"});
    std::ofstream(list) << "192.0.2.66/32\n";
    ASSERT_TRUE(wait_for_sync(1));
    EXPECT_TRUE(blocked(kClean4)) << "the sync undid a rule added since the daemon's last sync";
    EXPECT_TRUE(blocked(kBad4));
    // The daemon kept the version in force: only the removed line was parsed.
    EXPECT_EQ(last["lines_parsed"], 1) << last.dump();

    // Reload without the section: the feed and what only it listed go; the
    // config's own block stays.
    write_config("block = 192.0.2.67/32");
    std::string st = reload();
    EXPECT_NE(st.find("generation 2"), std::string::npos) << st;
    EXPECT_EQ(rg_json({"feed", "list", "--json"})["count"], 0);
    auto rules = rg_json({"block", "list", "--json"});
    ASSERT_EQ(rules["count"], 2) << rules.dump();
    EXPECT_EQ(rules["entries"][0]["cidr"], "192.0.2.10/32");
    EXPECT_EQ(rules["entries"][1]["cidr"], "192.0.2.67/32");
    EXPECT_EQ(connect(kBad4, kServer4, 25), ConnectResult::connected);
    EXPECT_TRUE(blocked(kBadNeighbour4));

    daemon_->signal(SIGTERM);
    ASSERT_TRUE(daemon_->wait_exit(15s));
}

// Messages carry their level: under systemd ($JOURNAL_STREAM set) each line
// starts with the syslog priority journald reads. A failed reload and a
// failed start are errors (<3>), lifecycle events notices (<5>).
TEST_F(DaemonTest, MessagesCarryTheirLevel)
{
    const std::vector<std::string> journal{"JOURNAL_STREAM=8:1"};
    write_config("block = 192.0.2.66/32");
    start({}, journal);
    ASSERT_TRUE(notify_.wait_for("READY=1", 15s)) << daemon_->output();
    write_config("ports = 99999");
    std::string st = reload();
    EXPECT_NE(st.find("reload failed"), std::string::npos) << st;
    daemon_->signal(SIGTERM);
    ASSERT_TRUE(daemon_->wait_exit(15s));
    std::string out = daemon_->output();
    EXPECT_NE(out.find("<5>relayguard: running on "), std::string::npos) << out;
    EXPECT_NE(out.find("<3>relayguard: error: reload failed"), std::string::npos) << out;
    EXPECT_NE(out.find("<5>relayguard: received "), std::string::npos) << out;

    write_config("block = 192.0.2.66/32", "", "nosuch0");
    start({}, journal);
    auto code = daemon_->wait_exit(15s);
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 1);
    out = daemon_->output();
    EXPECT_EQ(out.rfind("<3>relayguard: error: " + conf_ + ": [filter] interfaces: \"nosuch0\"", 0), 0u) << out;
}

} // namespace
