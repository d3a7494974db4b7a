// Integration tests of `relayguard run`: the daemon started in the lab's
// server namespace with a config file, reloaded with SIGHUP, stopped with
// SIGTERM. Readiness and reloads are awaited on the sd_notify socket, exits
// with a pidfd, counter lines with inotify: no test sleeps.
#include "lab.hpp"
#include "loopback.hpp"
#include "netns_fixture.hpp"
#include "packet_builder.hpp"
#include "process.hpp"
#include "stats_schema.hpp"

#include <gtest/gtest.h>

#include "bpffs.hpp"

#include <arpa/inet.h>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace std::chrono_literals;
using namespace rg::test::netns_lab;
using rg::test::NetnsTest;
using rg::test::NotifyListener;
using rg::test::PacketBuilder;
using rg::test::Process;

namespace {

// An HTTP server on 127.0.0.1 of a namespace that reads a request and holds
// its answer until release(): a feed server that hangs. From then on it
// answers every request at once with 200 and the body.
class HeldFeedServer {
public:
    HeldFeedServer(const rg::lab::Netns &ns, std::string body) : body_(std::move(body))
    {
        ns.run([&] {
            fd_ = rg::test::listen_loopback(AF_INET, port_);
        });
        thread_ = std::thread([this] { serve(); });
    }
    ~HeldFeedServer()
    {
        release();
        stop_ = true;
        thread_.join();
        close(fd_);
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/drop.txt"; }
    // Waits until a request is being held (one more than at the last hold()).
    bool wait_held(std::chrono::milliseconds timeout)
    {
        std::unique_lock<std::mutex> l(mu_);
        return cv_.wait_for(l, timeout, [&] { return held_ > seen_; });
    }
    // Holds the next request again.
    void hold()
    {
        std::lock_guard<std::mutex> g(mu_);
        released_ = false;
        seen_ = held_;
    }
    void release()
    {
        std::lock_guard<std::mutex> g(mu_);
        released_ = true;
        cv_.notify_all();
    }

private:
    void serve()
    {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 100) <= 0)  // a look at stop_ now and then
                continue;
            int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0)
                continue;
            std::string req;
            char buf[4096];
            while (req.find("\r\n\r\n") == std::string::npos && req.size() < 65536) {
                pollfd q{c, POLLIN, 0};
                ssize_t n = poll(&q, 1, 5000) > 0 ? read(c, buf, sizeof(buf)) : 0;
                if (n <= 0)
                    break;
                req.append(buf, size_t(n));
            }
            {
                std::unique_lock<std::mutex> l(mu_);
                held_++;
                cv_.notify_all();
                cv_.wait(l, [&] { return released_; });
            }
            std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                               std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" + body_;
            (void)!write(c, resp.data(), resp.size());
            close(c);
        }
    }

    int fd_ = -1;
    uint16_t port_ = 0;
    std::string body_;
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::condition_variable cv_;
    unsigned held_ = 0, seen_ = 0;
    bool released_ = false;
    std::thread thread_;
};

// Opens a FIFO for reading, which returns once a writer has opened it;
// -1 if none did within the timeout.
int open_fifo_reader(const std::string &path, std::chrono::milliseconds timeout)
{
    auto opened = std::async(std::launch::async, [path] { return open(path.c_str(), O_RDONLY | O_CLOEXEC); });
    if (opened.wait_for(timeout) == std::future_status::ready)
        return opened.get();
    int w = open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);  // lets the open above return
    int r = opened.get();
    if (w >= 0)
        close(w);
    if (r >= 0)
        close(r);
    return -1;
}

// How often needle occurs in text.
size_t occurrences(const std::string &text, const std::string &needle)
{
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size()))
        n++;
    return n;
}

// Waits until the file holds needle at least n times.
bool wait_for_occurrences(const std::string &path, const std::string &needle, size_t n,
                          std::chrono::milliseconds timeout)
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        std::ifstream in(path);
        std::stringstream ss;
        ss << in.rdbuf();
        std::string text = ss.str();
        if (occurrences(text, needle) >= n)
            return true;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        size_t lines = size_t(std::count(text.begin(), text.end(), '\n'));
        if (left.count() <= 0 || !rg::test::wait_for_lines(path, lines + 1, left))
            return false;
    }
}

// The line of a file where text first occurs (1-based), 0 if nowhere.
int line_of(const std::string &path, const std::string &text)
{
    std::ifstream in(path);
    int n = 0;
    for (std::string line; std::getline(in, line);) {
        n++;
        if (line.find(text) != std::string::npos)
            return n;
    }
    return 0;
}

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
        global_args_ = {"--state-dir", dir_ + "/state"};  // the daemon's (daemon_section)
    }

    void TearDown() override
    {
        daemon_.reset();  // SIGKILL if a test left it running
        NetnsTest::TearDown();
        if (!dir_.empty())
            std::filesystem::remove_all(dir_);
    }

    // The [daemon] section: the private pin directory, and a state directory
    // (daemon.lock) in the test's directory, so that nothing is left in
    // /var/lib.
    std::string daemon_section() const
    {
        return "[daemon]\npin_dir = " + fs_->pin_dir() + "\nstate_dir = " + dir_ + "/state\n";
    }

    // A config for the lab: the server's veth (plus more_ifaces), a private
    // pin directory, counters every 200 ms into stats_; `extra` is appended,
    // daemon_extra goes into [daemon].
    void write_config(const std::string &filter_extra, const std::string &extra = "",
                      const std::string &more_ifaces = "", const std::string &daemon_extra = "")
    {
        std::ofstream f(conf_);
        f << "[filter]\ninterfaces = " << iface_ << " " << more_ifaces << "\n" << filter_extra << "\n"
          << extra << "\n"
          << daemon_section() << "stats_interval = 200ms\nstats_output = " << stats_ << "\n"
          << daemon_extra << "\n";
    }

    // The daemon refuses a config that others may read (check_config_mode);
    // rewriting the file later keeps its mode.
    static void private_mode(const std::string &path)
    {
        std::error_code ec;  // a test of a missing config has none
        std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                     std::filesystem::perm_options::replace, ec);
    }

    std::vector<std::string> run_argv(const std::string &conf) const
    {
        return {"ip", "netns", "exec", server_->name(), RELAYGUARD_BIN, "run", "--config", conf};
    }

    void start(const std::vector<std::string> &extra_args = {}, const std::vector<std::string> &extra_env = {})
    {
        private_mode(conf_);
        std::vector<std::string> argv = run_argv(conf_);
        argv.insert(argv.end(), extra_args.begin(), extra_args.end());
        std::vector<std::string> env{"LIBXDP_BPFFS=" + fs_->root(), notify_.env()};
        env.insert(env.end(), extra_env.begin(), extra_env.end());
        daemon_ = std::make_unique<Process>(argv, env);
    }

    // For messages: whether the daemon still runs.
    std::string exit_text()
    {
        auto code = daemon_->wait_exit(0ms);
        std::string s = !code ? "still running" : *code < 0 ? "killed by a signal" : "exited with " + std::to_string(*code);
        return s + "; output:\n" + daemon_->output();
    }

    // Waits for a line of stats_ after the ones looked at so far (from_)
    // that want accepts, and returns it; lines are taken up to the last
    // newline only (one being written is left for the next look).
    std::optional<nlohmann::json> wait_for_stats(const std::function<bool(const nlohmann::json &)> &want,
                                                 std::chrono::milliseconds timeout = 10s)
    {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        for (size_t lines = from_ + 1; std::chrono::steady_clock::now() < deadline;) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            auto text = rg::test::wait_for_lines(stats_, lines, left);
            if (!text)
                break;
            std::istringstream in(text->substr(0, text->rfind('\n') + 1));
            std::string line;
            size_t n = 0;
            for (; std::getline(in, line); n++) {
                if (n < from_)
                    continue;
                auto event = nlohmann::json::parse(line, nullptr, false);
                if (event.is_discarded() || !want(event))
                    continue;
                from_ = n + 1;
                return event;
            }
            lines = n + 1;
        }
        return std::nullopt;
    }

    // A feed_sync line of the feed with this result.
    std::optional<nlohmann::json> wait_for_sync(const std::string &feed, const std::string &result,
                                                std::chrono::milliseconds timeout = 10s)
    {
        return wait_for_stats(
            [&](const nlohmann::json &e) {
                return e.value("event", "") == "feed_sync" && e.value("feed", "") == feed &&
                       e.value("result", "") == result;
            },
            timeout);
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

    bool blocked(const std::string &src) { return connect(src, kServer4, 25, 400) == ConnectResult::timed_out; }

    std::string dir_, conf_, stats_;
    size_t from_ = 0;  // lines of stats_ that wait_for_stats looked at
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
    EXPECT_EQ(line["generation"], 1);
    EXPECT_EQ(line["schema"], 2);
    EXPECT_GE(line["reasons"]["dropped_blocklist"]["syns"].get<uint64_t>(), 2u);
    EXPECT_TRUE(line["interfaces"].contains(iface_)) << last;
    // As the kernel holds them: .66 and .67 merge into a /31, the 4096
    // addresses of bulk.txt into 198.18.0.0/20.
    EXPECT_EQ(line["sources"]["config"]["listed"]["blocklist"]["ipv4"], 2) << last;
    // Every line so far is the document of `stats --json` (no feed, no
    // watch: nothing else writes to stats_output here).
    rg::test::SchemaCheck check = rg::test::check_stats_schema_file(stats_);
    if (check.status != 77 || rg::test::privileged_required()) {
        EXPECT_EQ(check.status, 0) << check.output;
    }

    // Reload with a changed config while 192.0.2.66, listed before and after,
    // keeps sending SYNs: none may pass during the reload.
    uint64_t clean_before = reason_count("passed_clean", "syns");
    uint64_t dropped_before = reason_count("dropped_blocklist", "syns");
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
    EXPECT_EQ(reason_count("passed_clean", "syns"), clean_before)
        << "a SYN from a prefix listed before and after passed";
    EXPECT_GE(reason_count("dropped_blocklist", "syns") - dropped_before, std::min<size_t>(sent_during, 1));

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
          << daemon_section() << "on_exit = keep\nstats_interval = 0s\n";
    }
    start_ready();
    daemon_->signal(SIGTERM);
    auto code = daemon_->wait_exit(15s);
    ASSERT_TRUE(code) << daemon_->output();
    EXPECT_EQ(*code, 0);
    attached_ = true;  // the fixture detaches at the end
    EXPECT_TRUE(xdp_attached());
    EXPECT_TRUE(blocked(kBad4));
    uint32_t old_id = rg_json({"status", "--json"})["interfaces"][0]["prog_id"].get<uint32_t>();

    // A restart adopts the running attachment instead of failing, and puts
    // its own build's program in place of the one it found (an upgrade).
    start_ready();
    EXPECT_NE(daemon_->output().find("adopting"), std::string::npos) << daemon_->output();
    uint32_t new_id = rg_json({"status", "--json"})["interfaces"][0]["prog_id"].get<uint32_t>();
    EXPECT_NE(new_id, old_id);
    EXPECT_NE(daemon_->output().find("upgraded to this build's program (id " + std::to_string(old_id) + " -> " +
                                     std::to_string(new_id)),
              std::string::npos)
        << daemon_->output();
    EXPECT_TRUE(blocked(kBad4));
    daemon_->signal(SIGTERM);
    ASSERT_TRUE(daemon_->wait_exit(15s));
}

TEST_F(DaemonTest, BadConfigAtStartIsRefusedAndChangesNothing)
{
    {
        std::ofstream f(conf_);
        f << "[filter]\ninterfaces = " << iface_ << " nosuch0\n"
          << daemon_section();
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

    // Synced at start (right after READY): the feed is in force, owned by
    // the config, and the sync wrote its line with its duration.
    auto sync = wait_for_sync("drop", "applied");
    ASSERT_TRUE(sync) << daemon_->output();
    EXPECT_GT(sync->value("seconds", 0.0), 0) << sync->dump();
    auto f = rg_json({"feed", "show", "drop", "--json"});
    EXPECT_EQ(f["defined_by"], "config");
    EXPECT_EQ(f["last_result"], "applied");
    EXPECT_EQ(f["source"], list);
    EXPECT_TRUE(blocked(kBad4));
    EXPECT_TRUE(blocked(kBadNeighbour4));

    // A change of the list is picked up on the feed's interval: a
    // feed_sync line applying `prefixes` prefixes, with its duration.
    nlohmann::json last;  // the line found
    auto wait_for_applied = [&](uint64_t prefixes) {
        auto event = wait_for_stats([&](const nlohmann::json &e) {
            return e.value("event", "") == "feed_sync" && e.value("feed", "") == "drop" &&
                   e.value("result", "") == "applied" && e.value("prefixes", uint64_t(0)) == prefixes;
        });
        if (!event)
            return ::testing::AssertionFailure() << "no feed_sync line applying " << prefixes << " prefixes:\n"
                                                 << daemon_->output();
        if (!(event->value("seconds", 0.0) > 0))
            return ::testing::AssertionFailure() << "no duration in " << event->dump();
        last = *event;
        return ::testing::AssertionSuccess();
    };
    std::ofstream(list) << "192.0.2.66/32\n192.0.2.10/32\n";
    ASSERT_TRUE(wait_for_applied(2));
    EXPECT_TRUE(blocked(kClean4));
    EXPECT_EQ(rg_json({"feed", "show", "drop", "--json"})["prefixes"], 2);

    // The daemon keeps its maps and the merged set it wrote from one sync to
    // the next: another writer in between must not be undone by the next.
    // Here the manual list takes the feed's new prefix too, so the feed
    // dropping it must leave it blocked.
    rg_ok({"block", "add", kClean4 + "/32"});
    std::ofstream(list) << "192.0.2.66/32\n";
    ASSERT_TRUE(wait_for_applied(1));
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

// A feed_sync line whose message quotes a path that is not UTF-8 (and holds
// ESC) is still written, as valid JSON; the log line escapes the ESC.
// [watch]: the daemon follows a mail log; a source whose lines reach a
// rule's maxretry is banned (its SYNs time out), the decision is written to
// the stats output, and `bans list` explains it. A reload that changes
// [watch] restarts the watch with the new settings: an ignored prefix is
// then exempt, as an allowlisted one always is.
TEST_F(DaemonTest, WatchBansFromTheMailLogAndReloadsItsSettings)
{
    std::string log = dir_ + "/mail.log";
    std::ofstream(log).close();
    auto relay_denied = [&](const std::string &addr, int n) {
        std::ofstream f(log, std::ios::app);
        for (int i = 0; i < n; i++)
            f << "Dec  3 10:00:0" << i << " mx postfix/smtpd[7]: NOQUEUE: reject: RCPT from unknown[" << addr
              << "]: 554 5.7.1 <v@example.net>: Relay access denied; from=<a@example.org> to=<v@example.net>\n";
    };
    auto watch_event = [&](const std::string &event, const std::string &prefix) {
        return wait_for_stats([&](const nlohmann::json &e) {
            return e.value("event", "") == event && e.value("prefix", "") == prefix;
        });
    };
    std::string rule = "[watch-rule relay-denied]\nmaxretry = 2\n";
    std::string allow = "allow = " + kBadNeighbour4 + "/32";
    write_config(allow, "[watch]\nlog = mail.log\n" + rule);
    std::ofstream(stats_).close();
    start_ready();
    EXPECT_FALSE(blocked(kBad4));
    relay_denied(kBad4, 1);
    relay_denied(kClean4, 1);  // one line: under maxretry
    relay_denied(kBad4, 1);
    auto ban = watch_event("ban", kBad4 + "/32");
    ASSERT_TRUE(ban) << daemon_->output();
    EXPECT_EQ((*ban)["rule"], "relay-denied");
    EXPECT_EQ((*ban)["lines"].size(), 2u);
    EXPECT_TRUE(blocked(kBad4));
    EXPECT_FALSE(blocked(kClean4));
    nlohmann::json bans = rg_json({"bans", "list", "--json"});
    ASSERT_EQ(bans["count"], 1) << bans.dump();
    EXPECT_EQ(bans["bans"][0]["reason"], "watch");
    EXPECT_EQ(bans["bans"][0]["watch"]["rule"], "relay-denied");
    EXPECT_EQ(rg_json({"stats", "--json"})["watch"]["rules"]["relay-denied"]["bans"], 1);

    // The allowlist (read from the kernel's lists) is never banned.
    relay_denied(kBadNeighbour4, 2);
    auto allowed = watch_event("exempt", kBadNeighbour4 + "/32");
    ASSERT_TRUE(allowed) << daemon_->output();
    EXPECT_EQ((*allowed)["why"], "allowlisted (" + kBadNeighbour4 + "/32)");

    // A reload with an ignore list restarts the watch with it.
    write_config(allow, "[watch]\nlog = mail.log\nignore = " + kClean4 + "/32\n" + rule);
    EXPECT_NE(reload().find("running"), std::string::npos);
    relay_denied(kClean4, 2);
    auto exempt = watch_event("exempt", kClean4 + "/32");
    ASSERT_TRUE(exempt) << daemon_->output();
    EXPECT_EQ((*exempt)["why"], "ignored (" + kClean4 + "/32)");
    EXPECT_FALSE(blocked(kClean4));
}

TEST_F(DaemonTest, FeedSyncLineIsWrittenWhenItsTextIsNotUtf8)
{
    write_config("", "[feed odd]\nsource = gone\xff\x1b[2J.txt\ninterval = 1h\n");
    std::ofstream(stats_).close();
    start();
    auto text = rg::test::wait_for_text(stats_, "\"feed_sync\"", 10s);
    ASSERT_TRUE(text) << "no feed_sync line:\n" << daemon_->output();
    std::istringstream in(text->substr(0, text->rfind('\n') + 1));
    bool found = false;
    for (std::string line; std::getline(in, line);) {
        auto event = nlohmann::json::parse(line, nullptr, false);
        ASSERT_FALSE(event.is_discarded()) << "not JSON: " << line;
        if (event.value("event", "") != "feed_sync")
            continue;
        found = true;
        EXPECT_EQ(event["feed"], "odd");
        EXPECT_EQ(event["result"], "fetch_failed");
        EXPECT_NE(event["message"].get<std::string>().find("gone\xef\xbf\xbd\x1b[2J.txt"), std::string::npos)
            << line;
    }
    EXPECT_TRUE(found) << *text;
    std::string out = daemon_->output();
    EXPECT_EQ(out.find('\x1b'), std::string::npos) << "a raw ESC in the daemon's log: " << out;
    daemon_->signal(SIGTERM);
    ASSERT_TRUE(daemon_->wait_exit(15s));
}

// ---- issue 15 -------------------------------------------------------------

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
    EXPECT_NE(out.find("<3>relayguard: error: " + conf_ + ": [filter] interfaces: \"nosuch0\""), std::string::npos)
        << out;
}

// Item 6: readiness does not wait for feeds. READY=1 comes once the filter is
// attached and the config's lists applied, while the feed's server still
// holds its answer; a SIGHUP while that sync waits is a reload once the
// sync is over, not the end of the daemon (before: READY only after every
// feed's first sync, and SIGHUP meanwhile killed it with exit 129).
TEST_F(DaemonTest, ReadyBeforeFeedSyncsAndSighupDuringASyncReloads)
{
    HeldFeedServer http(*server_, kBadNeighbour4 + "/32\n");
    write_config("block = " + kBad4 + "/32", "[feed slow]\nsource = " + http.url() + "\ninterval = 1s\n");
    std::ofstream(stats_).close();
    start();
    ASSERT_TRUE(notify_.wait_for("READY=1", 15s)) << "no READY=1 while the feed server holds its answer; "
                                                   << exit_text();
    EXPECT_TRUE(blocked(kBad4)) << "READY=1 before the config's list was in force";
    // The feed is synced after READY=1; its server now holds the request.
    ASSERT_TRUE(http.wait_held(15s)) << "the feed was not fetched after READY=1; " << exit_text();
    EXPECT_EQ(rg_json({"feed", "show", "slow", "--json"})["last_result"], "never");

    daemon_->signal(SIGHUP);
    http.release();
    auto st = notify_.wait_for("STATUS=", 15s);
    ASSERT_TRUE(st) << exit_text();
    EXPECT_NE(st->find("running, config generation 2"), std::string::npos) << *st;
    EXPECT_FALSE(daemon_->wait_exit(0ms)) << exit_text();
    ASSERT_TRUE(wait_for_sync("slow", "applied")) << daemon_->output();
    EXPECT_TRUE(blocked(kBadNeighbour4));

    // A SIGTERM while a download is held gives the download up: the daemon
    // stops at once, not when the server (or the 120 s limit) is done.
    http.hold();
    ASSERT_TRUE(http.wait_held(15s)) << "no fetch after the next interval; " << daemon_->output();
    auto t0 = std::chrono::steady_clock::now();
    daemon_->signal(SIGTERM);
    auto code = daemon_->wait_exit(15s);
    ASSERT_TRUE(code) << daemon_->output();
    EXPECT_EQ(*code, 0) << daemon_->output();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "the stop waited for the download";
    http.release();
}

// Item 6: signals are handled from the daemon's first moment. The daemon is
// held inside its start: it has opened its stats output (a FIFO this test
// reads) and waits for the pin directory's lock, which the test holds. A
// SIGHUP then is a reload once started; a SIGTERM stops it cleanly (exit 0,
// no READY=1, nothing left attached) instead of killing it.
TEST_F(DaemonTest, SignalsDuringStartAreHandled)
{
    const std::string fifo = dir_ + "/stats.fifo";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    {
        std::ofstream f(conf_);
        f << "[filter]\ninterfaces = " << iface_ << "\nblock = " << kBad4 << "/32\n"
          << daemon_section() << "stats_interval = 0s\nstats_output = " << fifo << "\n";
    }
    for (int sig : {SIGHUP, SIGTERM}) {
        SCOPED_TRACE(strsignal(sig));
        attach();  // by hand: the pin directory exists to be locked; the daemon adopts it
        auto hold = std::make_unique<rg::DirLock>(fs_->pin_dir());
        size_t readies = 0;
        for (const std::string &m : notify_.messages())
            readies += m.find("READY=1") != std::string::npos;
        start();
        int reader = open_fifo_reader(fifo, 15s);
        ASSERT_GE(reader, 0) << "the daemon did not open its stats output; " << exit_text();
        daemon_->signal(sig);
        hold.reset();
        if (sig == SIGHUP) {
            ASSERT_TRUE(notify_.wait_for("READY=1", 15s)) << exit_text();
            auto st = notify_.wait_for("STATUS=", 15s);
            ASSERT_TRUE(st) << exit_text();
            EXPECT_NE(st->find("running, config generation 2"), std::string::npos) << *st;
            EXPECT_TRUE(blocked(kBad4));
            daemon_->signal(SIGTERM);
        }
        auto code = daemon_->wait_exit(15s);
        close(reader);
        ASSERT_TRUE(code) << exit_text();
        EXPECT_EQ(*code, 0) << exit_text();
        EXPECT_TRUE(notify_.wait_for("STOPPING=1", 1s));
        if (sig == SIGTERM) {
            size_t now = 0;
            for (const std::string &m : notify_.messages())
                now += m.find("READY=1") != std::string::npos;
            EXPECT_EQ(now, readies) << "READY=1 although SIGTERM came during the start";
        }
        EXPECT_FALSE(xdp_attached()) << xdp_on_iface();
        EXPECT_FALSE(std::filesystem::exists(fs_->pin_dir()));
        attached_ = false;
    }
}

// Item 2: a start that fails part-way (the second interface, `lo`, cannot
// attach in native mode) leaves everything as it found it: the adopted
// interface stays attached; ports, mode, rate settings, the config's lists
// and the feed registry are as before; nothing of the failed config stays.
TEST_F(DaemonTest, FailedStartLeavesEverythingAsFound)
{
    std::ofstream(dir_ + "/drop.txt") << kClean4 << "/32\n";
    std::ofstream(dir_ + "/other.txt") << "198.51.100.2/32\n";

    // State set by hand.
    attach();
    rg_ok({"ports", "set", "25", "2525"});
    rg_ok({"mode", "monitor"});
    rg_ok({"rate", "set", "--rate", "5/s", "--burst", "3"});
    rg_ok({"block", "add", kBad4 + "/32"});
    write_config("ports = 587\nmode = enforce\nblock = 198.51.100.1/32",
                 "[rate]\nrate = 1/s\nburst = 1\n[feed other]\nsource = other.txt\n", "lo");
    start();
    auto code = daemon_->wait_exit(15s);
    ASSERT_TRUE(code) << daemon_->output();
    EXPECT_EQ(*code, 1) << daemon_->output();
    EXPECT_TRUE(xdp_attached()) << "the failed start detached the interface it had adopted\n" << daemon_->output();
    auto status = rg_json({"status", "--json"});
    EXPECT_EQ(status["ports"], nlohmann::json::array({25, 2525})) << status.dump();
    EXPECT_EQ(status["mode"], "monitor") << status.dump();
    auto rate = rg_json({"rate", "show", "--json"});
    EXPECT_EQ(rate["enabled"], true) << rate.dump();
    EXPECT_EQ(rate["burst"], 3) << rate.dump();
    auto list = rg_json({"block", "list", "--json"});
    EXPECT_EQ(list["count"], 1) << list.dump();
    EXPECT_EQ(list["entries"][0]["cidr"], kBad4 + "/32");
    EXPECT_EQ(rg_json({"feed", "list", "--json"})["count"], 0);

    // State left by a daemon that kept enforcing: the config's list and feed.
    write_config("block = " + kBadNeighbour4 + "/32", "[feed drop]\nsource = drop.txt\n", "", "on_exit = keep");
    std::ofstream(stats_).close();
    from_ = 0;
    start_ready();
    ASSERT_TRUE(wait_for_sync("drop", "applied")) << daemon_->output();
    EXPECT_FALSE(std::filesystem::exists(dir_ + "/state/feed-drop.memo")) << "the daemon keeps it in memory";
    daemon_->signal(SIGTERM);
    code = daemon_->wait_exit(15s);
    ASSERT_TRUE(code);
    ASSERT_EQ(*code, 0) << daemon_->output();
    // Its feed's version in force saved for the next sync, whoever runs it.
    EXPECT_TRUE(std::filesystem::exists(dir_ + "/state/feed-drop.memo")) << daemon_->output();
    EXPECT_TRUE(std::filesystem::exists(dir_ + "/state/feed-drop.body")) << daemon_->output();

    // A config that lists another prefix, drops the feed and adds one fails.
    write_config("block = 198.51.100.1/32", "[feed other]\nsource = other.txt\n", "lo", "on_exit = keep");
    start();
    code = daemon_->wait_exit(15s);
    ASSERT_TRUE(code) << daemon_->output();
    EXPECT_EQ(*code, 1) << daemon_->output();
    EXPECT_TRUE(xdp_attached()) << daemon_->output();
    list = rg_json({"block", "list", "--all", "--json"});
    EXPECT_EQ(list["count"], 3) << list.dump();
    EXPECT_EQ(list["entries"][0]["cidr"], kClean4 + "/32");
    EXPECT_EQ(list["entries"][0]["sources"], nlohmann::json::array({"drop"})) << list.dump();
    EXPECT_EQ(list["entries"][1]["cidr"], kBad4 + "/32");
    EXPECT_EQ(list["entries"][2]["cidr"], kBadNeighbour4 + "/32");
    EXPECT_EQ(list["entries"][2]["sources"], nlohmann::json::array({"config"})) << list.dump();
    auto feeds = rg_json({"feed", "list", "--json"});
    EXPECT_EQ(feeds["count"], 1) << feeds.dump();
    auto drop = rg_json({"feed", "show", "drop", "--json"});
    EXPECT_EQ(drop["defined_by"], "config");
    EXPECT_EQ(drop["prefixes"], 1);
    EXPECT_TRUE(blocked(kClean4));
    EXPECT_TRUE(blocked(kBadNeighbour4));
}

// Item 5: a [feed NAME] section never takes over a feed of that name added
// with `relayguard feed add`: refused at start (exit 1, nothing changed)
// and at reload (the running config stays); the hand-added feed is never
// lost, also not by a reload without the section.
TEST_F(DaemonTest, ConfigFeedNamedLikeAHandAddedFeedIsRefused)
{
    const std::string drop = dir_ + "/drop.txt";
    std::ofstream(drop) << kBadNeighbour4 << "/32\n";
    std::ofstream(dir_ + "/other.txt") << kClean4 << "/32\n";
    attach();
    rg_ok({"feed", "add", "drop", drop});
    auto by_hand = [&] {
        auto f = rg_json({"feed", "show", "drop", "--json"});
        EXPECT_EQ(f["defined_by"], "cli") << f.dump();
        EXPECT_EQ(f["source"], drop) << f.dump();
        EXPECT_TRUE(blocked(kBadNeighbour4));
        EXPECT_EQ(connect(kClean4, kServer4, 25), ConnectResult::connected);
    };
    auto expect_clash_message = [&](const std::string &text) {
        int line = line_of(conf_, "[feed drop]");
        EXPECT_NE(text.find(conf_ + ":" + std::to_string(line) + ":"), std::string::npos) << text;
        EXPECT_NE(text.find("relayguard feed add"), std::string::npos) << text;
        EXPECT_NE(text.find("feed del drop"), std::string::npos) << text;
    };

    write_config("block = " + kBad4 + "/32", "[feed drop]\nsource = other.txt\n");
    start();
    auto code = daemon_->wait_exit(15s);
    ASSERT_TRUE(code) << "a config took over a hand-added feed\n" << daemon_->output();
    EXPECT_EQ(*code, 1) << daemon_->output();
    expect_clash_message(daemon_->output());
    by_hand();
    EXPECT_EQ(rg_json({"block", "list", "--all", "--json"})["count"], 1) << "the refused config's list was applied";

    write_config("block = " + kBad4 + "/32");
    start_ready();
    write_config("block = " + kBad4 + "/32", "[feed drop]\nsource = other.txt\n");
    std::string st = reload();
    EXPECT_NE(st.find("reload failed"), std::string::npos) << st;
    expect_clash_message(st);
    by_hand();
    write_config("block = " + kBad4 + "/32");
    st = reload();
    EXPECT_NE(st.find("running, config generation"), std::string::npos) << st;
    by_hand();
    EXPECT_TRUE(blocked(kBad4));
    daemon_->signal(SIGTERM);
    ASSERT_TRUE(daemon_->wait_exit(15s));
    attached_ = false;
}

// Item 3: one daemon per pin directory. A second one is refused with the pin
// directory and the first one's pid, exit 1, having changed nothing; the
// first runs on untouched.
TEST_F(DaemonTest, SecondDaemonOnThePinDirectoryIsRefused)
{
    write_config("block = " + kBad4 + "/32");
    start_ready();
    const std::string conf2 = dir_ + "/second.conf", stats2 = dir_ + "/stats2.jsonl";
    {
        std::ofstream f(conf2);
        f << "[filter]\ninterfaces = " << iface_ << "\nports = 587\nblock = " << kClean4 << "/32\n"
          << daemon_section() << "stats_output = " << stats2 << "\n";
    }
    private_mode(conf2);
    Process second(run_argv(conf2), {"LIBXDP_BPFFS=" + fs_->root()});
    auto code = second.wait_exit(15s);
    ASSERT_TRUE(code) << "a second daemon runs on the same pin directory:\n" << second.output();
    EXPECT_EQ(*code, 1) << second.output();
    EXPECT_NE(second.output().find(fs_->pin_dir()), std::string::npos) << second.output();
    EXPECT_NE(second.output().find("pid " + std::to_string(daemon_->pid())), std::string::npos)
        << second.output();
    EXPECT_FALSE(std::filesystem::exists(stats2));
    EXPECT_EQ(rg_json({"status", "--json"})["ports"], nlohmann::json::array({25}));
    EXPECT_EQ(rg_json({"block", "list", "--json"})["count"], 1);
    EXPECT_EQ(connect(kClean4, kServer4, 25), ConnectResult::connected);

    std::string st = reload();
    EXPECT_NE(st.find("running, config generation 2"), std::string::npos) << st;
    EXPECT_TRUE(xdp_attached());
    EXPECT_TRUE(blocked(kBad4));
    daemon_->signal(SIGTERM);
    code = daemon_->wait_exit(15s);
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 0) << daemon_->output();
    EXPECT_FALSE(xdp_attached());
}

// Item 3: a daemon that finds its maps or attachments gone says so and
// repairs: before a reload applies, and at its 30 s housekeeping tick. Its
// stop message tells the truth about what stays enforcing.
TEST_F(DaemonTest, RepairsMapsAndAttachmentsRemovedUnderIt)
{
    std::ofstream(dir_ + "/drop.txt") << kBadNeighbour4 << "/32\n";
    const std::string filter = "block = " + kBad4 + "/32\nports = 25, 2525";
    const std::string extra = "[rate]\nrate = 1/s\nburst = 2\n[feed drop]\nsource = drop.txt\n";
    write_config(filter, extra);
    std::ofstream(stats_).close();
    start_ready();
    ASSERT_TRUE(wait_for_sync("drop", "applied")) << daemon_->output();
    auto all_in_force = [&] {
        EXPECT_TRUE(xdp_attached()) << xdp_on_iface();
        auto status = rg_json({"status", "--json"});
        EXPECT_EQ(status["ports"], nlohmann::json::array({25, 2525})) << status.dump();
        ASSERT_EQ(status["interfaces"].size(), 1u) << status.dump();
        EXPECT_EQ(status["interfaces"][0]["attached"], true) << status.dump();
        EXPECT_EQ(status["interfaces"][0]["programs_on_interface"], 1) << status.dump();
        EXPECT_EQ(rg_json({"rate", "show", "--json"})["burst"], 2);
        EXPECT_EQ(rg_json({"feed", "show", "drop", "--json"})["defined_by"], "config");
        EXPECT_TRUE(blocked(kBad4));
    };

    // `relayguard detach` of its only interface (which removes the maps),
    // then a reload: repaired before the reload applies.
    rg_ok({"detach", iface_});
    ASSERT_FALSE(xdp_attached());
    std::string st = reload();
    EXPECT_NE(st.find("running, config generation 2"), std::string::npos) << st;
    EXPECT_NE(daemon_->output().find("gone"), std::string::npos) << daemon_->output();
    all_in_force();
    ASSERT_TRUE(wait_for_sync("drop", "applied")) << "the feed was not synced again\n" << daemon_->output();
    EXPECT_TRUE(blocked(kBadNeighbour4));

    // The pins removed by hand, the program left running on maps nobody can
    // reach: repaired at the next housekeeping tick.
    size_t repairs = occurrences(daemon_->output(), "repaired");
    std::filesystem::remove_all(fs_->pin_dir());
    ASSERT_TRUE(wait_for_occurrences(daemon_->output_path(), "repaired", repairs + 1, 45s))
        << "no repair within 45 s\n" << daemon_->output();
    all_in_force();
    ASSERT_TRUE(wait_for_sync("drop", "applied")) << daemon_->output();
    EXPECT_TRUE(blocked(kBadNeighbour4));

    // on_exit = keep, then the filter detached by hand: the stop message
    // must not claim that anything stays enforcing.
    write_config(filter, extra, "", "on_exit = keep");
    st = reload();
    EXPECT_NE(st.find("running, config generation 3"), std::string::npos) << st;
    rg_ok({"detach", iface_});
    daemon_->signal(SIGTERM);
    auto code = daemon_->wait_exit(15s);
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 0) << daemon_->output();
    std::string out = daemon_->output();
    EXPECT_NE(out.find("nothing stays enforcing"), std::string::npos) << out;
    EXPECT_EQ(out.find("stays attached and enforcing"), std::string::npos) << out;
    EXPECT_FALSE(xdp_attached());
}

// [metrics] listen: GET /metrics over the server namespace's loopback gives
// the text of `stats --prometheus`, which promtool accepts; a reload that
// drops the section stops the server, and so does the daemon's stop.
class DaemonMetricsTest : public DaemonTest {
protected:
    DaemonMetricsTest() { ns_prefix_ = "rgmx-"; }
    rg::lab::CmdResult scrape()
    {
        return server_->exec({"curl", "-sS", "--max-time", "5", "-o", "-", "-w", "\n%{http_code} %{content_type}",
                              "http://127.0.0.1:9468/metrics"});
    }
};

TEST_F(DaemonMetricsTest, ServesPrometheusTextOnLoopback)
{
    auto promtool = rg::lab::run({"sh", "-c", "command -v promtool"});
    if (promtool.status != 0) {
        if (rg::test::privileged_required())
            FAIL() << "promtool not found (tools/setup-deps.sh installs it)";
        GTEST_SKIP() << "promtool not found (tools/setup-deps.sh installs it)";
    }
    rg::lab::run_checked({"ip", "-n", server_->name(), "link", "set", "lo", "up"});
    write_config("block = " + kBad4 + "/32", "[metrics]\nlisten = 127.0.0.1:9468\n");
    start_ready();
    ASSERT_TRUE(blocked(kBad4));

    auto r = scrape();
    ASSERT_EQ(r.status, 0) << r.output << exit_text();
    size_t tail = r.output.rfind('\n');
    std::string body = r.output.substr(0, tail + 1), status = r.output.substr(tail + 1);
    EXPECT_EQ(status, "200 text/plain; version=0.0.4; charset=utf-8");
    EXPECT_NE(body.find("relayguard_packets_total{reason=\"dropped_blocklist\",interface=\"" + iface_ + "\"} "),
              std::string::npos)
        << body;
    EXPECT_NE(body.find("\nrelayguard_source_dropped_packets_total{source=\"config\",kind=\"config\"} "),
              std::string::npos)
        << body;
    std::string file = dir_ + "/metrics.txt";
    std::ofstream(file) << body;
    auto check = rg::lab::run({"sh", "-c", "exec promtool check metrics <\"$0\"", file});
    EXPECT_EQ(check.status, 0) << check.output << body;

    // A reload without [metrics] stops the server.
    write_config("block = " + kBad4 + "/32");
    EXPECT_NE(reload().find("generation 2"), std::string::npos);
    EXPECT_NE(scrape().status, 0);

    // Back on, then a stop ends the server thread with the daemon.
    write_config("block = " + kBad4 + "/32", "[metrics]\nlisten = 127.0.0.1:9468\n");
    EXPECT_NE(reload().find("generation 3"), std::string::npos);
    EXPECT_EQ(scrape().status, 0);
    daemon_->signal(SIGTERM);
    auto code = daemon_->wait_exit(15s);
    ASSERT_TRUE(code) << daemon_->output();
    EXPECT_EQ(*code, 0) << daemon_->output();
    EXPECT_NE(scrape().status, 0);
}

// [alerts], each provoked for real: a SYN flood from a blocklisted source
// (drop_rate), a feed refused by its shrink guard and a feed gone
// (feed_rejected, feed_stale), bans added quickly (ban_storm), and XDP
// taken off the interface behind the daemon's back (detached). Each is
// checked three ways: the command's stdin (a script appending it to
// alerts_), the log line, and /metrics; then its resolution.
class DaemonAlertsTest : public DaemonTest {
protected:
    DaemonAlertsTest() { ns_prefix_ = "rgal"; }

    void SetUp() override
    {
        DaemonTest::SetUp();
        if (IsSkipped() || HasFatalFailure())
            return;
        alerts_ = dir_ + "/alerts.jsonl";
        std::ofstream(alerts_).close();
        std::ofstream(alerts_ + ".env").close();
        std::string script = dir_ + "/alert.sh";
        std::ofstream(script) << "#!/bin/sh\n# what an alert command gets: stdin, and the environment\n"
                                 "{ tr -d '\\n'; echo; } >>\"$1\"\n"
                                 "echo \"$RELAYGUARD_ALERT $RELAYGUARD_ALERT_STATE\" >>\"$1.env\"\n";
        chmod(script.c_str(), 0755);
        rg::lab::run_checked({"ip", "-n", server_->name(), "link", "set", "lo", "up"});
    }

    // [alerts] with the test's command, and the metrics endpoint.
    std::string alerts_section(const std::string &keys) const
    {
        return "[alerts]\ncommand = " + dir_ + "/alert.sh " + alerts_ + "\n" + keys +
               "\n[metrics]\nlisten = 127.0.0.1:9468\n";
    }

    // Waits for the command to have received the alert NAME in STATE (with
    // the label's value, if given), and returns that JSON.
    std::optional<nlohmann::json> wait_for_alert(const std::string &name, const std::string &state,
                                                 const std::string &label_value = "",
                                                 std::chrono::milliseconds timeout = 20s)
    {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        for (size_t lines = 1;; lines++) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            auto text = rg::test::wait_for_lines(alerts_, lines, std::max(left, 0ms));
            if (!text)
                return std::nullopt;
            std::istringstream in(text->substr(0, text->rfind('\n') + 1));  // complete lines only
            lines = 0;
            for (std::string line; std::getline(in, line); lines++) {
                auto j = nlohmann::json::parse(line, nullptr, false);
                bool label_ok = label_value.empty() || j.value("reason", "") == label_value ||
                                j.value("feed", "") == label_value || j.value("interface", "") == label_value;
                if (!j.is_discarded() && j.value("name", "") == name && j.value("state", "") == state && label_ok)
                    return j;
            }
        }
    }

    std::string metrics()
    {
        auto r = server_->exec({"curl", "-sS", "--max-time", "5", "http://127.0.0.1:9468/metrics"});
        EXPECT_EQ(r.status, 0) << r.output;
        return r.output;
    }

    // The log line, the metric and the environment that go with an alert
    // the command received.
    void expect_reported(const nlohmann::json &alert, const std::string &label, const std::string &state,
                         int active, int total)
    {
        std::string name = alert["name"];
        std::string value = label.empty() ? "" : alert[label].get<std::string>();
        std::string key = name + (label.empty() ? "" : " (" + label + " " + value + ")");
        std::string line = std::string(state == "firing" ? "relayguard: warning: " : "relayguard: ") + "alert " +
                           key + " " + state + ": ";
        EXPECT_NE(daemon_->output().find(line), std::string::npos) << line << "\n" << daemon_->output();
        std::string series = "relayguard_alert_active{alert=\"" + name + "\"" +
                             (label.empty() ? "" : "," + label + "=\"" + value + "\"") + "} " +
                             std::to_string(active) + "\n";
        std::string m = metrics();
        EXPECT_NE(m.find(series), std::string::npos) << series << m;
        std::string counter = "relayguard_alerts_total{alert=\"" + name + "\"} " + std::to_string(total) + "\n";
        EXPECT_NE(m.find(counter), std::string::npos) << counter << m;
        EXPECT_TRUE(wait_for_occurrences(alerts_ + ".env", name + " " + state, 1, 5s));
        EXPECT_FALSE(alert.value("host", "").empty()) << alert.dump();
        EXPECT_TRUE(alert["since"].is_string()) << alert.dump();
    }

    std::string alerts_;
};

TEST_F(DaemonAlertsTest, DropRateFromASynFloodFiresAndResolves)
{
    write_config("block = " + kBad4 + "/32",
                 alerts_section("drop_rate = dropped_blocklist:50, dropped_banned:50\nrate_window = 2s"));
    start_ready();
    auto mac = rg::lab::mac_address(*server_, iface_);
    char macs[18];
    std::snprintf(macs, sizeof(macs), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                  mac[5]);
    std::vector<std::vector<uint8_t>> frames;
    for (uint16_t port = 40000; port < 40064; port++)
        frames.push_back(
            PacketBuilder().eth(macs).ipv4(kBad4, kServer4).tcp(port, 25).flags(rg::test::tcp_flags::SYN).build());
    std::atomic<bool> flooding{true};
    std::thread flood([&] {
        while (flooding)
            rg::lab::send_frames(*client_, client_iface_, frames);
    });
    auto fired = wait_for_alert("drop_rate", "firing", "dropped_blocklist");
    ASSERT_TRUE(fired) << exit_text();
    EXPECT_EQ(fired->at("reason"), "dropped_blocklist");
    EXPECT_EQ(fired->at("threshold"), 50);
    EXPECT_GT(fired->at("values").at("rate").get<double>(), 50.0) << fired->dump();
    expect_reported(*fired, "reason", "firing", 1, 1);
    EXPECT_NE(metrics().find("relayguard_alert_active{alert=\"drop_rate\",reason=\"dropped_banned\"} 0\n"),
              std::string::npos);
    auto line = wait_for_stats([](const nlohmann::json &e) { return e.value("event", "") == "alert"; });
    ASSERT_TRUE(line);
    EXPECT_EQ(line->at("alert").at("name"), "drop_rate");
    flooding = false;
    flood.join();

    auto resolved = wait_for_alert("drop_rate", "resolved", "dropped_blocklist");
    ASSERT_TRUE(resolved) << exit_text();
    EXPECT_EQ(resolved->at("since"), fired->at("since"));
    EXPECT_LE(resolved->at("values").at("rate").get<double>(), 50.0);
    expect_reported(*resolved, "reason", "resolved", 0, 1);
    // Fired once, resolved once: nothing in between.
    EXPECT_EQ(occurrences(daemon_->output(), "alert drop_rate"), 2u) << daemon_->output();
}

TEST_F(DaemonAlertsTest, FeedRejectedByItsShrinkGuardThenStale)
{
    std::string list;
    for (int i = 1; i <= 10; i++)
        list += "198.51.100." + std::to_string(i) + "/32\n";
    std::ofstream(dir_ + "/drop.txt") << list;
    write_config("", "[feed drop]\nsource = drop.txt\ninterval = 1s\n" + alerts_section("feed_stale = 8s"));
    std::ofstream(stats_).close();
    start_ready();
    ASSERT_TRUE(wait_for_sync("drop", "applied")) << exit_text();
    auto in_force = rg_json({"feed", "show", "drop", "--json"})["prefixes"];

    // One entry of ten: refused by max_shrink (50%), the ten stay.
    std::ofstream(dir_ + "/drop.txt.new") << "198.51.100.1/32\n";
    std::filesystem::rename(dir_ + "/drop.txt.new", dir_ + "/drop.txt");
    auto rejected = wait_for_alert("feed_rejected", "firing", "drop");
    ASSERT_TRUE(rejected) << exit_text();
    EXPECT_EQ(rejected->at("values").at("last_result"), "shrunk");
    EXPECT_TRUE(rejected->at("threshold").is_null());
    expect_reported(*rejected, "feed", "firing", 1, 1);
    EXPECT_EQ(rg_json({"feed", "show", "drop", "--json"})["prefixes"], in_force);
    EXPECT_GT(in_force.get<int>(), 1);

    // The whole list back: the next sync succeeds and the alert resolves.
    std::ofstream(dir_ + "/drop.txt.new") << list;
    std::filesystem::rename(dir_ + "/drop.txt.new", dir_ + "/drop.txt");
    auto ok = wait_for_alert("feed_rejected", "resolved", "drop");
    ASSERT_TRUE(ok) << exit_text();
    expect_reported(*ok, "feed", "resolved", 0, 1);

    // The source gone: every sync fails; 8 s after the last success, stale.
    std::filesystem::remove(dir_ + "/drop.txt");
    auto stale = wait_for_alert("feed_stale", "firing", "drop");
    ASSERT_TRUE(stale) << exit_text();
    EXPECT_EQ(stale->at("threshold"), 8);
    EXPECT_GT(stale->at("values").at("seconds_since_success").get<int>(), 8);
    EXPECT_EQ(stale->at("values").at("last_result"), "fetch_failed");
    expect_reported(*stale, "feed", "firing", 1, 1);
    std::ofstream(dir_ + "/drop.txt") << list;
    auto fresh = wait_for_alert("feed_stale", "resolved", "drop");
    ASSERT_TRUE(fresh) << exit_text();
    expect_reported(*fresh, "feed", "resolved", 0, 1);
}

TEST_F(DaemonAlertsTest, BanStormFromBansAddedQuickly)
{
    write_config("", alerts_section("ban_storm = 3"));
    start_ready();
    for (int i = 1; i <= 3; i++)
        rg_ok({"bans", "add", "203.0.113." + std::to_string(i), "--ttl", "1h"});
    EXPECT_NE(metrics().find("relayguard_alert_active{alert=\"ban_storm\"} 0\n"), std::string::npos);
    rg_ok({"bans", "add", "2001:db8:bad::/48", "--ttl", "1h"});
    auto storm = wait_for_alert("ban_storm", "firing");
    ASSERT_TRUE(storm) << exit_text();
    EXPECT_EQ(storm->at("values").at("new_bans"), 4);
    EXPECT_EQ(storm->at("threshold"), 3);
    expect_reported(*storm, "", "firing", 1, 1);

    // A reload with a higher threshold: the same bans no longer a storm.
    write_config("", alerts_section("ban_storm = 10"));
    EXPECT_NE(reload().find("generation 2"), std::string::npos);
    auto calm = wait_for_alert("ban_storm", "resolved");
    ASSERT_TRUE(calm) << exit_text();
    EXPECT_EQ(calm->at("values").at("new_bans"), 4);
    expect_reported(*calm, "", "resolved", 0, 1);
}

TEST_F(DaemonAlertsTest, DetachedBehindTheDaemonsBackFiresUntilRepaired)
{
    write_config("block = " + kBad4 + "/32", alerts_section(""));
    start_ready();
    EXPECT_NE(metrics().find("relayguard_alert_active{alert=\"detached\",interface=\"" + iface_ + "\"} 0\n"),
              std::string::npos);
    rg::lab::run_checked({"ip", "-n", server_->name(), "link", "set", "dev", iface_, "xdp", "off"});
    ASSERT_FALSE(xdp_attached());
    auto detached = wait_for_alert("detached", "firing", iface_);
    ASSERT_TRUE(detached) << exit_text();
    EXPECT_EQ(detached->at("values").at("why"), "the filter's XDP program is no longer on the interface");
    expect_reported(*detached, "interface", "firing", 1, 1);

    // A reload repairs first (so does the 30 s check): attached, resolved.
    EXPECT_NE(reload().find("generation 2"), std::string::npos);
    EXPECT_TRUE(xdp_attached());
    auto repaired = wait_for_alert("detached", "resolved", iface_);
    ASSERT_TRUE(repaired) << exit_text();
    expect_reported(*repaired, "interface", "resolved", 0, 1);
    EXPECT_TRUE(blocked(kBad4));
}

// A real Prometheus (Debian's `prometheus`) in the server namespace, with
// the shipped alerting rules, scrapes the daemon's /metrics on the
// namespace's loopback every second. Its query API must come to return the
// drop count the kernel reports (`stats --json`) for blocked SYNs sent
// through the attached program, the feed's sync (timestamp, list size, the
// daemon's duration histogram), and every rule evaluated without error;
// promtool accepts the daemon's text with the histograms' samples.
// Prometheus is polled with a deadline: it gives no event to wait on.
class PrometheusScrapeTest : public DaemonTest {
protected:
    PrometheusScrapeTest() { ns_prefix_ = "rgpm-"; }
    void TearDown() override
    {
        prometheus_.reset();  // before DaemonTest removes its storage directory
        DaemonTest::TearDown();
    }

    void start_prometheus()
    {
        std::string conf = dir_ + "/prometheus.yml";
        std::ofstream(conf) << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                            << "rule_files:\n  - " << RG_DIST_DIR << "/prometheus/relayguard-rules.yml\n"
                            << "scrape_configs:\n  - job_name: relayguard\n    static_configs:\n"
                            << "      - targets: ['127.0.0.1:9468']\n";
        prometheus_ = std::make_unique<Process>(
            std::vector<std::string>{"ip", "netns", "exec", server_->name(), "prometheus", "--config.file=" + conf,
                                     "--storage.tsdb.path=" + dir_ + "/tsdb",
                                     "--web.listen-address=127.0.0.1:9090", "--log.level=warn"},
            std::vector<std::string>{});
    }

    // GET of Prometheus's HTTP API (path and query); its "data" when the
    // answer is {"status": "success"}.
    std::optional<nlohmann::json> api(const std::string &path, const std::vector<std::string> &params = {})
    {
        std::vector<std::string> argv{"curl", "-sS", "--max-time", "2", "-G"};
        for (const std::string &p : params) {
            argv.push_back("--data-urlencode");
            argv.push_back(p);
        }
        argv.push_back("http://127.0.0.1:9090" + path);
        auto r = server_->exec(argv);
        auto j = nlohmann::json::parse(r.output, nullptr, false);
        if (r.status != 0 || !j.is_object() || j.value("status", "") != "success")
            return std::nullopt;
        return j["data"];
    }

    // The value of an instant query's only sample, if it has exactly one.
    std::optional<double> query(const std::string &promql)
    {
        auto data = api("/api/v1/query", {"query=" + promql});
        if (!data || !(*data)["result"].is_array() || (*data)["result"].size() != 1)
            return std::nullopt;
        return std::stod((*data)["result"][0]["value"][1].get<std::string>());
    }

    // Polls until get() gives a value that want accepts, or the deadline
    // passes; returns the last value seen.
    template <class T>
    std::optional<T> poll_until(const std::function<std::optional<T>()> &get, const std::function<bool(const T &)> &want,
                                std::chrono::seconds timeout = 60s)
    {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        std::optional<T> v;
        for (;;) {
            v = get();
            if ((v && want(*v)) || std::chrono::steady_clock::now() > deadline)
                return v;
            std::this_thread::sleep_for(250ms);  // the poll's pace, not a synchronisation
        }
    }

    std::optional<double> await_query(const std::string &promql, const std::function<bool(const double &)> &want)
    {
        return poll_until<double>([&] { return query(promql); }, want);
    }

    std::string prometheus_output() { return "\nprometheus said:\n" + (prometheus_ ? prometheus_->output() : ""); }

    std::unique_ptr<Process> prometheus_;
};

TEST_F(PrometheusScrapeTest, QueryReturnsTheKernelsDropCount)
{
    if (rg::lab::run({"sh", "-c", "command -v prometheus"}).status != 0) {
        if (rg::test::privileged_required())
            FAIL() << "prometheus not found (tools/setup-deps.sh installs it)";
        GTEST_SKIP() << "prometheus not found (tools/setup-deps.sh installs it)";
    }
    rg::lab::run_checked({"ip", "-n", server_->name(), "link", "set", "lo", "up"});
    std::ofstream(dir_ + "/feed.txt") << "198.51.100.0/24\n";
    write_config("block = " + kBad4 + "/32",
                 "[metrics]\nlisten = 127.0.0.1:9468\n\n[feed local]\nsource = " + dir_ + "/feed.txt\n");
    std::ofstream(stats_).close();
    start_ready();
    ASSERT_TRUE(wait_for_sync("local", "applied")) << exit_text();
    start_prometheus();

    // promtool's lint of /metrics with the histograms' samples in it.
    auto scraped = server_->exec({"curl", "-sS", "--max-time", "5", "-o", dir_ + "/metrics.txt",
                                  "http://127.0.0.1:9468/metrics"});
    ASSERT_EQ(scraped.status, 0) << scraped.output;
    auto check = rg::lab::run({"sh", "-c", "exec promtool check metrics <\"$0\"", dir_ + "/metrics.txt"});
    EXPECT_EQ(check.status, 0) << check.output;

    uint64_t syns = blocked_attempt(kBad4, kServer4, 25);
    ASSERT_GT(syns, 0u);
    const uint64_t kernel = reason_count("dropped_blocklist");
    EXPECT_EQ(kernel, syns);

    auto up = await_query("up{job=\"relayguard\"}", [](double v) { return v == 1; });
    ASSERT_EQ(up, 1.0) << "the target never came up" << prometheus_output() << exit_text();
    const std::string drops =
        "sum(relayguard_packets_total{job=\"relayguard\",reason=\"dropped_blocklist\",interface=\"" + iface_ + "\"})";
    auto seen = await_query(drops, [&](double v) { return v == double(kernel); });
    EXPECT_EQ(seen, double(kernel)) << drops << prometheus_output();

    // The feed, from the registry and the daemon's histogram.
    EXPECT_EQ(await_query("relayguard_feed_prefixes{feed=\"local\"}", [](double v) { return v == 1; }), 1.0);
    auto success = await_query("relayguard_feed_last_success_timestamp_seconds{feed=\"local\"}",
                               [](double v) { return v > 0; });
    ASSERT_TRUE(success);
    EXPECT_LE(*success, double(time(nullptr)));
    EXPECT_GT(*success, double(time(nullptr)) - 120);
    EXPECT_EQ(await_query("relayguard_feed_sync_duration_seconds_count{feed=\"local\"}", [](double v) { return v == 1; }),
              1.0);
    EXPECT_EQ(await_query("relayguard_feed_sync_duration_seconds_bucket{feed=\"local\",le=\"+Inf\"}",
                          [](double v) { return v == 1; }),
              1.0);

    // Every shipped rule evaluated against these series without an error.
    auto rules = poll_until<nlohmann::json>(
        [&]() -> std::optional<nlohmann::json> {
            auto data = api("/api/v1/rules");
            if (!data)
                return std::nullopt;
            nlohmann::json out = nlohmann::json::array();
            for (const auto &g : (*data)["groups"])
                for (const auto &r : g["rules"])
                    out.push_back({r["name"], r["health"], r.value("lastError", "")});
            return out;
        },
        [](const nlohmann::json &rs) {
            return rs.size() == 7 && std::ranges::all_of(rs, [](const nlohmann::json &r) { return r[1] == "ok"; });
        });
    ASSERT_TRUE(rules) << prometheus_output();
    EXPECT_EQ(rules->size(), 7u) << rules->dump();
    for (const auto &r : *rules)
        EXPECT_EQ(r[1], "ok") << r.dump();
}

} // namespace
