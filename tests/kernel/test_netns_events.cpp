// Drop and ban events with real traffic: TCP clients in a namespace connect
// through the attached filter; `relayguard events --json` (no daemon: it
// reads the ring itself) lists the blocklist drop and a rate-limit ban with
// source, reason, feed, interface and port, and `--follow` prints a new one
// as it comes.
#include "lab.hpp"
#include "netns_fixture.hpp"
#include "process.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

using namespace std::chrono_literals;
using rg::test::NetnsTest;
using namespace rg::test::netns_lab;
using nlohmann::json;

namespace {

class EventsNetnsTest : public NetnsTest {
protected:
    EventsNetnsTest() { ns_prefix_ = "rgev"; }

    void SetUp() override
    {
        NetnsTest::SetUp();
        if (IsSkipped() || HasFatalFailure())
            return;
        char tmpl[] = "/tmp/rgev-events.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        global_args_ = {"--state-dir", dir_ + "/state"};
    }

    void TearDown() override
    {
        NetnsTest::TearDown();
        if (!dir_.empty())
            std::filesystem::remove_all(dir_);
    }

    // `events --json`: one object a line.
    std::vector<json> events()
    {
        auto r = rg({"events", "--json"});
        EXPECT_EQ(r.status, 0) << r.output;
        std::vector<json> out;
        std::stringstream ss(r.output);
        for (std::string line; std::getline(ss, line);)
            if (!line.empty() && line[0] == '{')
                out.push_back(json::parse(line));
        return out;
    }

    static const json *find(const std::vector<json> &evs, const std::string &event, const std::string &source,
                            const std::string &reason)
    {
        for (const json &e : evs)
            if (e["event"] == event && e["source"] == source && e["reason"] == reason)
                return &e;
        return nullptr;
    }

    std::string dir_;
};

} // namespace

TEST_F(EventsNetnsTest, BlocklistDropAndRateLimitBanAreListed)
{
    attach();
    rg_ok({"block", "add", kBad4});
    rg_ok({"rate", "set", "--rate", "1/m", "--burst", "1", "--ban-after", "0", "--ban-ttl", "10m"});
    uint64_t syns = blocked_attempt(kBad4, kServer4, 25);  // the SYN and its retransmissions
    ASSERT_GE(syns, 2u);
    ASSERT_EQ(connect(kClean4, kServer4, 25), ConnectResult::connected);  // its one connection a minute
    EXPECT_EQ(connect(kClean4, kServer4, 25, kBlockedTimeoutMs), ConnectResult::timed_out);  // over: banned

    std::vector<json> evs = events();
    std::string all;
    for (const json &e : evs)
        all += e.dump() + "\n";
    const json *drop = find(evs, "drop", kBad4, "dropped_blocklist");
    ASSERT_NE(drop, nullptr) << all;
    EXPECT_EQ((*drop)["feeds"], json::array({"manual"}));
    EXPECT_EQ((*drop)["interface"], iface_);
    EXPECT_EQ((*drop)["port"], 25);
    EXPECT_EQ((*drop)["family"], "ipv4");
    EXPECT_NEAR((*drop)["time"].get<double>(), double(time(nullptr)), 30);
    // One event for the source however many SYNs it sent within the interval.
    size_t n = std::count_if(evs.begin(), evs.end(), [](const json &e) { return e["source"] == kBad4; });
    EXPECT_EQ(n, 1u) << all;

    const json *ban = find(evs, "ban", kClean4 + "/32", "ratelimit");
    ASSERT_NE(ban, nullptr) << all;
    EXPECT_EQ((*ban)["interface"], iface_);
    EXPECT_EQ((*ban)["port"], 25);
    EXPECT_NEAR((*ban)["expires"].get<double>() - (*ban)["time"].get<double>(), 600, 1);
    EXPECT_NE(find(evs, "drop", kClean4, "dropped_ratelimit"), nullptr) << all;

    // The file keeps them: a second look lists the same.
    EXPECT_EQ(events().size(), evs.size());
}

TEST_F(EventsNetnsTest, FollowPrintsNewEventsAsTheyCome)
{
    attach();
    rg_ok({"block", "add", kBad4, kBadNeighbour4});
    blocked_attempt(kBad4, kServer4, 25);
    rg::test::Process follow({"ip", "netns", "exec", server_->name(), RELAYGUARD_BIN, "--pin-dir", fs_->pin_dir(),
                              "--state-dir", dir_ + "/state", "events", "--follow", "--json"},
                             {"LIBXDP_BPFFS=" + fs_->root()});
    // What was there is printed first, then what comes.
    ASSERT_TRUE(rg::test::wait_for_text(follow.output_path(), "\"source\":\"" + kBad4 + "\"", 10s))
        << follow.output();
    blocked_attempt(kBadNeighbour4, kServer4, 25);
    ASSERT_TRUE(rg::test::wait_for_text(follow.output_path(), "\"source\":\"" + kBadNeighbour4 + "\"", 10s))
        << follow.output();
    // While it holds the ring, another `events` reads the file it writes.
    std::vector<json> evs = events();
    EXPECT_NE(find(evs, "drop", kBadNeighbour4, "dropped_blocklist"), nullptr);
}
