// relayguard as a CrowdSec bouncer, against a real Local API (Debian 12's
// crowdsec, tools/lab/crowdsec-lapi.sh) on the loopback of the lab's server
// namespace: decisions added and deleted with cscli are enforced on real
// SYNs through the XDP program and lifted; ranges, IPv6, overlapping
// decisions, a decision that ends, the LAPI stopped (enforcement kept, the
// status says why) and started again (resync), and 100,000 decisions at
// startup. Namespaces rgcsS<pid>/rgcsC<pid>.
#include "lab.hpp"
#include "netns_fixture.hpp"
#include "process.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sys/stat.h>
#include <thread>

using namespace std::chrono_literals;
using namespace rg::test::netns_lab;
using nlohmann::json;
using rg::test::NotifyListener;
using rg::test::Process;

namespace {

constexpr const char *kLapiPort = "8080";

class CrowdsecTest : public rg::test::NetnsTest {
protected:
    CrowdsecTest() { ns_prefix_ = "rgcs"; }

    void SetUp() override
    {
        NetnsTest::SetUp();
        if (IsSkipped() || HasFatalFailure())
            return;
        if (rg::lab::run({"sh", "-c", "command -v crowdsec && command -v cscli"}).status != 0) {
            if (getenv("RELAYGUARD_REQUIRE_PRIVILEGED"))
                FAIL() << "crowdsec is not installed (tools/setup-deps.sh)";
            GTEST_SKIP() << "crowdsec is not installed (tools/setup-deps.sh)";
        }
        char tmpl[] = "/tmp/relayguard-crowdsec.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        lapi_ = dir_ + "/lapi";
        global_args_ = {"--state-dir", dir_ + "/state"};
        make_links();
        if (HasFatalFailure())
            return;
        auto r = rg::lab::run({RG_CROWDSEC_LAPI, "start", lapi_, server_->name(), kLapiPort},
                              {"CROWDSEC_LAPI_ADDR=" + lapi_addr_});
        ASSERT_EQ(r.status, 0) << r.output;
    }

    // Before the LAPI starts: links it is to listen on (a derived fixture's).
    virtual void make_links() {}

    void TearDown() override
    {
        daemon_.reset();
        if (!lapi_.empty())
            lapi_script({"stop", lapi_});
        NetnsTest::TearDown();
        if (!dir_.empty())
            std::filesystem::remove_all(dir_);
    }

    rg::lab::CmdResult lapi_script(std::vector<std::string> args)
    {
        args.insert(args.begin(), RG_CROWDSEC_LAPI);
        return rg::lab::run(args);
    }

    // cscli against the test's LAPI; its output.
    std::string cscli(std::vector<std::string> args)
    {
        args.insert(args.begin(), {"cscli", lapi_, server_->name()});
        auto r = lapi_script(args);
        EXPECT_EQ(r.status, 0) << r.output;
        return r.output;
    }

    // The id of the newest decision on value (cscli decisions list).
    uint64_t decision_id(const std::string &value)
    {
        auto r = lapi_script({"cscli", lapi_, server_->name(), "decisions", "list", "-o", "json"});
        json alerts = json::parse(r.output.substr(r.output.find('[')), nullptr, false);
        uint64_t id = 0;
        for (const json &a : alerts.is_array() ? alerts : json::array())
            for (const json &d : a.value("decisions", json::array()))
                if (d.value("value", "") == value)
                    id = std::max(id, d.value("id", uint64_t(0)));
        EXPECT_NE(id, 0u) << "no decision on " << value << ": " << r.output;
        return id;
    }

    // `relayguard run` in ns on iface, with its pin and state directories,
    // [crowdsec] with the key in key_file, and `extra` sections; once ready.
    std::unique_ptr<Process> run_daemon(const rg::lab::Netns &ns, const std::string &iface, const std::string &pin_dir,
                                        const std::string &state_dir, const std::string &key_file,
                                        const std::string &poll, const std::string &crowdsec_extra,
                                        const std::string &extra, NotifyListener &notify)
    {
        std::string conf = state_dir + ".conf";
        std::ofstream(conf) << "[filter]\ninterfaces = " << iface << "\n"
                            << "[daemon]\npin_dir = " << pin_dir << "\nstate_dir = " << state_dir << "\n"
                            << "stats_interval = 0s\n"
                            << "[crowdsec]\nlapi_url = http://" << lapi_addr_ << ":" << kLapiPort
                            << "\napi_key_file = " << key_file << "\npoll_interval = " << poll << "\n"
                            << crowdsec_extra << extra;
        std::filesystem::permissions(conf, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                     std::filesystem::perm_options::replace);  // the daemon refuses others reading it
        auto p = std::make_unique<Process>(
            std::vector<std::string>{"ip", "netns", "exec", ns.name(), RELAYGUARD_BIN, "run", "--config", conf},
            std::vector<std::string>{"LIBXDP_BPFFS=" + std::filesystem::path(pin_dir).parent_path().string(),
                                     notify.env()});
        EXPECT_TRUE(notify.wait_for("READY=1", 15s)) << p->output();
        return p;
    }

    void start_daemon(const std::string &poll = "200ms")
    {
        daemon_ = run_daemon(*server_, iface_, fs_->pin_dir(), dir_ + "/state", lapi_ + "/bouncer.key", poll, "", "",
                             notify_);
        ASSERT_FALSE(HasFailure());
    }

    json status() { return rg_json({"crowdsec", "status", "--json"}); }

    // Waits until pred holds, looking every 50 ms: the bouncer's state in
    // the maps and its status file give no event to wait on.
    bool eventually(const std::function<bool()> &pred, std::chrono::milliseconds timeout = 15s)
    {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!pred()) {
            if (std::chrono::steady_clock::now() > deadline)
                return false;
            std::this_thread::sleep_for(50ms);
        }
        return true;
    }

    // Whether the bouncer's status shows n decisions in force after the
    // poll that followed `since` (a status "updated" of a later second).
    bool decisions_in_force(uint64_t n)
    {
        return eventually([&] {
            json s = status();
            return s.value("decisions", uint64_t(0)) == n && s.value("connected", false);
        });
    }

    bool blocked(const std::string &src, const std::string &dst = kServer4)
    {
        return connect(src, dst, 25, 600) == ConnectResult::timed_out;
    }
    bool passes(const std::string &src, const std::string &dst = kServer4)
    {
        return connect(src, dst, 25) == ConnectResult::connected;
    }

    json crowdsec_source()
    {
        json stats = rg_json({"stats", "--json"});
        return stats["sources"].value("crowdsec", json());
    }

    std::string dir_, lapi_;
    std::string lapi_addr_ = "127.0.0.1";
    NotifyListener notify_;
    std::unique_ptr<Process> daemon_;
};

TEST_F(CrowdsecTest, DecisionsAddedAndDeletedWithCscliAreEnforcedAndLifted)
{
    start_daemon();
    ASSERT_TRUE(decisions_in_force(0)) << daemon_->output();
    EXPECT_TRUE(passes(kBad4));

    cscli({"decisions", "add", "--ip", kBad4, "--duration", "1h"});
    ASSERT_TRUE(eventually([&] { return blocked(kBad4); })) << daemon_->output();
    EXPECT_GT(blocked_attempt(kBad4, kServer4, 25), 0u);
    EXPECT_TRUE(passes(kClean4));  // the data path drops only what it was asked to
    json src = crowdsec_source();
    ASSERT_TRUE(src.is_object());
    EXPECT_EQ(src["kind"], "crowdsec");
    EXPECT_GT(src["dropped"]["syns"].get<uint64_t>(), 0u);
    json feed = rg_json({"feed", "show", "crowdsec", "--json"});
    EXPECT_EQ(feed["defined_by"], "crowdsec");
    EXPECT_EQ(feed["last_result"], "applied");
    EXPECT_EQ(feed["prefixes"], 1);
    auto sync = rg({"feed", "sync", "crowdsec"});  // never fetched as a feed
    EXPECT_NE(sync.status, 0);
    EXPECT_NE(sync.output.find("kept by the daemon's [crowdsec] bouncer"), std::string::npos) << sync.output;

    // IPv6, and a range around an address that has a decision of its own.
    cscli({"decisions", "add", "--ip", kBad6, "--duration", "1h"});
    cscli({"decisions", "add", "--range", "192.0.2.64/28", "--duration", "1h"});
    cscli({"decisions", "add", "--ip", kBadNeighbour4, "--duration", "1h"});
    ASSERT_TRUE(decisions_in_force(4)) << daemon_->output();
    EXPECT_TRUE(blocked(kBad6, kServer6));
    EXPECT_TRUE(blocked(kBadNeighbour4));
    EXPECT_TRUE(passes(kClean6, kServer6));

    // Deleting the address (by its id: cscli's --ip also deletes the ranges
    // holding it) leaves the range: the neighbour stays blocked.
    cscli({"decisions", "delete", "--id", std::to_string(decision_id(kBadNeighbour4))});
    ASSERT_TRUE(decisions_in_force(3)) << daemon_->output();
    EXPECT_TRUE(blocked(kBadNeighbour4));

    // Two decisions on one address: deleting one keeps it blocked (the
    // LAPI says nothing; a few polls later it is still dropped).
    uint64_t first6 = decision_id(kBad6);
    cscli({"decisions", "add", "--ip", kBad6, "--duration", "2h"});
    uint64_t second6 = decision_id(kBad6);
    ASSERT_NE(first6, second6);
    ASSERT_TRUE(decisions_in_force(4)) << daemon_->output();
    cscli({"decisions", "delete", "--id", std::to_string(second6)});
    uint64_t polls = status()["polls"];
    ASSERT_TRUE(eventually([&] { return status().value("polls", uint64_t(0)) > polls + 2; }));
    EXPECT_TRUE(blocked(kBad6, kServer6));

    // Deleting the range and the IPv6 address lifts them (by id: cscli's
    // --range would also delete the decisions on addresses inside it).
    cscli({"decisions", "delete", "--id", std::to_string(decision_id("192.0.2.64/28"))});
    cscli({"decisions", "delete", "--id", std::to_string(first6)});
    ASSERT_TRUE(eventually([&] { return passes(kBadNeighbour4) && passes(kBad6, kServer6); })) << daemon_->output();
    EXPECT_TRUE(blocked(kBad4));  // its own decision is still in force

    json st = status();
    EXPECT_TRUE(st["active"].get<bool>());
    EXPECT_EQ(st["consecutive_failures"], 0);
    EXPECT_EQ(st["decisions_refused"], 0);
}

TEST_F(CrowdsecTest, ADecisionEndsOnTime)
{
    start_daemon();
    cscli({"decisions", "add", "--ip", kBad4, "--duration", "2s"});
    auto added = std::chrono::steady_clock::now();
    ASSERT_TRUE(eventually([&] { return blocked(kBad4); })) << daemon_->output();
    ASSERT_TRUE(eventually([&] { return passes(kBad4); }, 10s)) << daemon_->output();
    EXPECT_LT(std::chrono::steady_clock::now() - added, 6s);
    EXPECT_TRUE(decisions_in_force(0));
}

TEST_F(CrowdsecTest, LapiDownKeepsEnforcementAndARestartResyncs)
{
    cscli({"decisions", "add", "--ip", kBad4, "--duration", "1h"});
    cscli({"decisions", "add", "--ip", kBad6, "--duration", "1h"});
    start_daemon();
    ASSERT_TRUE(decisions_in_force(2)) << daemon_->output();
    ASSERT_TRUE(blocked(kBad4));

    auto r = lapi_script({"stop", lapi_});
    ASSERT_EQ(r.status, 0) << r.output;
    ASSERT_TRUE(eventually([&] { return status().value("consecutive_failures", uint64_t(0)) >= 2; }))
        << daemon_->output();
    json st = status();
    EXPECT_FALSE(st["connected"].get<bool>());
    EXPECT_NE(st["last_error"].get<std::string>().find("cannot reach http://127.0.0.1:8080"), std::string::npos)
        << st.dump();
    EXPECT_EQ(st["decisions"], 2);
    json feed = rg_json({"feed", "show", "crowdsec", "--json"});
    EXPECT_EQ(feed["last_result"], "fetch_failed");
    EXPECT_NE(feed["message"].get<std::string>().find("enforcement kept"), std::string::npos) << feed.dump();
    EXPECT_GT(blocked_attempt(kBad4, kServer4, 25), 0u);  // still dropped
    EXPECT_TRUE(blocked(kBad6, kServer6));
    auto metrics = rg({"stats", "--prometheus"});
    EXPECT_NE(metrics.output.find("relayguard_crowdsec_up 0"), std::string::npos) << metrics.output;

    // While it is down, one decision goes from its database (cscli needs
    // the LAPI itself, so sqlite3 does it); the restarted LAPI's startup
    // answer lifts it, the other stays.
    r = rg::lab::run({"python3", "-c",
                      "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
                      "c.execute('delete from decisions where value=?', (sys.argv[2],)); c.commit()",
                      lapi_ + "/data/crowdsec.db", kBad4});
    ASSERT_EQ(r.status, 0) << r.output;
    r = lapi_script({"resume", lapi_, server_->name(), kLapiPort});
    ASSERT_EQ(r.status, 0) << r.output;
    ASSERT_TRUE(eventually([&] { return status().value("connected", false); }, 40s)) << daemon_->output();
    EXPECT_TRUE(decisions_in_force(1));
    EXPECT_GE(status()["resyncs"].get<uint64_t>(), 2u);
    EXPECT_TRUE(eventually([&] { return passes(kBad4); }));
    EXPECT_TRUE(blocked(kBad6, kServer6));
    metrics = rg({"stats", "--prometheus"});
    EXPECT_NE(metrics.output.find("relayguard_crowdsec_up 1"), std::string::npos) << metrics.output;
    EXPECT_NE(metrics.output.find("relayguard_crowdsec_decisions 1"), std::string::npos) << metrics.output;
}

TEST_F(CrowdsecTest, AHundredThousandDecisionsAtStartup)
{
    // Every second address of 198.18.0.0/15 (65,536, which the client may
    // use) and of 2001:db8:ff::/64 (the other 34,464): nothing merges.
    std::string csv = dir_ + "/decisions.csv";
    {
        std::ofstream f(csv);
        f << "duration,scope,value\n";
        for (uint32_t i = 0; i < 65536; i++) {
            uint32_t a = (198u << 24) + (18u << 16) + i * 2;
            f << "4h,ip," << (a >> 24) << "." << (a >> 16 & 255) << "." << (a >> 8 & 255) << "." << (a & 255) << "\n";
        }
        char v6[64];
        for (uint32_t i = 0; i < 100000 - 65536; i++) {
            snprintf(v6, sizeof(v6), "2001:db8:ff::%x:%x", (i * 2) >> 16, (i * 2) & 0xffff);
            f << "4h,ip," << v6 << "\n";
        }
    }
    cscli({"decisions", "import", "-i", csv});
    rg::lab::run_checked({"ip", "-n", server_->name(), "addr", "add", "198.18.0.1/15", "dev", iface_});
    for (const char *a : {"198.18.200.2/15", "198.18.200.3/15"})
        rg::lab::run_checked({"ip", "-n", client_->name(), "addr", "add", a, "dev", client_iface_});

    auto t0 = std::chrono::steady_clock::now();
    start_daemon("1s");
    ASSERT_TRUE(eventually([&] { return status().value("prefixes", uint64_t(0)) == 100000; }, 120s))
        << daemon_->output();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    RecordProperty("seconds_to_enforce", std::to_string(seconds));
    json feed = rg_json({"feed", "show", "crowdsec", "--json"});
    EXPECT_EQ(feed["prefixes"], 100000);
    EXPECT_TRUE(blocked("198.18.200.2", "198.18.0.1"));  // listed (an even address)
    EXPECT_TRUE(passes("198.18.200.3", "198.18.0.1"));   // not listed
}

// Part 2: two hosts on one LAPI. Host A (the lab's server namespace, where
// the LAPI listens on a management link) watches its mail log with
// push = watch; host B (namespace rgcsB<pid>, its own pin directory and
// state) is a bouncer of the same LAPI. The attacker (the client
// namespace, 192.0.2.66) reaches both. Relay attempts in A's log (in
// Postfix's format) get the attacker banned on A, the ban goes to the LAPI as an alert, and B drops
// the attacker's SYNs within its poll interval; a clean client passes B.
class CrowdsecFleetTest : public CrowdsecTest {
protected:
    void make_links() override
    {
        std::string pid = std::to_string(getpid());
        rg::lab::cleanup_stale("rgcsB");
        host_b_ = std::make_unique<rg::lab::Netns>("rgcsB" + pid);
        b_iface_ = "rgcsB" + pid;
        b_client_iface_ = "rgcsD" + pid;
        // B <-> client: B is 203.0.113.1; the client reaches it from its
        // 192.0.2.x addresses (routes both ways).
        rg::lab::make_veth(*host_b_, b_iface_, {"203.0.113.1/24"}, *client_, b_client_iface_, {"203.0.113.2/24"});
        rg::lab::run_checked({"ip", "-n", host_b_->name(), "route", "add", "192.0.2.0/24", "dev", b_iface_});
        // A <-> B: the management link the LAPI listens on.
        rg::lab::make_veth(*server_, "rgcsM" + pid, {"198.51.100.1/24"}, *host_b_, "rgcsN" + pid, {"198.51.100.2/24"});
        lapi_addr_ = "198.51.100.1";
    }

    void TearDown() override
    {
        daemon_b_.reset();
        CrowdsecTest::TearDown();
        host_b_.reset();
        fs_b_.reset();
    }

    // Host B: a bouncer of the LAPI with its own key and bpffs (a host of
    // its own); its daemon once ready.
    void start_host_b()
    {
        std::string key_b = dir_ + "/b.key";
        std::string key = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0";
        cscli({"bouncers", "add", "rg-host-b", "-k", key});
        {
            std::ofstream(key_b) << key << "\n";
            chmod(key_b.c_str(), 0600);
        }
        fs_b_ = std::make_unique<rg::test::PrivateBpffs>();
        daemon_b_ = run_daemon(*host_b_, b_iface_, fs_b_->pin_dir(), dir_ + "/state-b", key_b, "1s", "", "", notify_b_);
    }

    // Whether B drops src's SYN. B has no listener: a connection refused
    // (RST) is an answer, a dropped SYN is not.
    bool b_drops(const std::string &src)
    {
        return rg::lab::connect_tcp(*client_, src, "203.0.113.1", 25, 600) == ConnectResult::timed_out;
    }

    // B's `crowdsec status --json`.
    json b_status()
    {
        auto r = host_b_->exec({RELAYGUARD_BIN, "--pin-dir", fs_b_->pin_dir(), "--state-dir", dir_ + "/state-b",
                                "crowdsec", "status", "--json"},
                               {"LIBXDP_BPFFS=" + fs_b_->root()});
        return json::parse(r.output, nullptr, false);
    }

    std::unique_ptr<rg::lab::Netns> host_b_;
    std::unique_ptr<rg::test::PrivateBpffs> fs_b_;
    std::string b_iface_, b_client_iface_;
    NotifyListener notify_b_;
    std::unique_ptr<Process> daemon_b_;
};

TEST_F(CrowdsecFleetTest, ABanOnHostAIsDroppedOnHostB)
{
    std::string log = dir_ + "/mail.log";
    std::ofstream(log).close();
    daemon_ = run_daemon(*server_, iface_, fs_->pin_dir(), dir_ + "/state", lapi_ + "/bouncer.key", "200ms",
                         "push = watch\nmachine_credentials = " + lapi_ + "/machine.yaml\n",
                         "[watch]\nlog = " + log + "\n", notify_);
    ASSERT_FALSE(HasFailure());
    start_host_b();
    ASSERT_FALSE(HasFailure());
    ASSERT_FALSE(b_drops(kBad4));

    {
        std::ofstream f(log, std::ios::app);
        for (int i = 0; i < 3; i++)
            f << "Dec  3 10:00:0" << i << " mx postfix/smtpd[7]: NOQUEUE: reject: RCPT from unknown[" << kBad4
              << "]: 554 5.7.1 <v@example.net>: Relay access denied; from=<a@example.org> to=<v@example.net>\n";
    }
    ASSERT_TRUE(eventually([&] { return blocked(kBad4); })) << daemon_->output();  // A's own ban
    auto banned = std::chrono::steady_clock::now();
    ASSERT_TRUE(eventually([&] { return b_drops(kBad4); })) << daemon_b_->output() << daemon_->output();
    EXPECT_LT(std::chrono::steady_clock::now() - banned, 5s);
    EXPECT_FALSE(b_drops(kClean4));

    // B holds it as a CrowdSec decision, on its own maps.
    json b = b_status();
    EXPECT_EQ(b.value("decisions", 0), 1) << b.dump();
    EXPECT_GT(b["counters"].value("dropped_syn", 0), 0) << b.dump();
    json a = status();
    EXPECT_EQ(a["pushed"], 1) << a.dump();
    EXPECT_EQ(a["push"], "watch");
}

// push = ratelimit: a SYN flood over A's rate limit gets the flooder banned
// by A's kernel; the daemon finds the ban, sends it as scenario
// relayguard/syn-rate, and B drops the flooder.
TEST_F(CrowdsecFleetTest, ARateLimitBanOnHostAIsDroppedOnHostB)
{
    daemon_ = run_daemon(*server_, iface_, fs_->pin_dir(), dir_ + "/state", lapi_ + "/bouncer.key", "200ms",
                         "push = ratelimit\nmachine_credentials = " + lapi_ + "/machine.yaml\n",
                         "[rate]\nrate = 1/m\nburst = 2\nban_after = 0\nban_ttl = 10m\n", notify_);
    ASSERT_FALSE(HasFailure());
    start_host_b();
    ASSERT_FALSE(HasFailure());
    ASSERT_FALSE(b_drops(kBad4));

    // A has no listener: each SYN within the burst is refused (RST); the
    // first over it is dropped and bans the source.
    ASSERT_TRUE(eventually([&] {
        return rg::lab::connect_tcp(*client_, kBad4, kServer4, 25, 300) == ConnectResult::timed_out;
    }));
    json bans = rg_json({"bans", "list", "--json"});
    EXPECT_NE(bans.dump().find("ratelimit"), std::string::npos) << bans.dump();
    ASSERT_TRUE(eventually([&] { return b_drops(kBad4); })) << daemon_b_->output() << daemon_->output();
    EXPECT_FALSE(b_drops(kClean4));
    EXPECT_EQ(b_status().value("decisions", 0), 1);
    json a = status();
    EXPECT_EQ(a["pushed"], 1) << a.dump();
    EXPECT_EQ(a["push"], "ratelimit");
    EXPECT_NE(daemon_->output().find("sharing the rate limiter's ban of " + kBad4 + "/32"), std::string::npos)
        << daemon_->output();
}

} // namespace
