// `relayguard stats --prometheus` against an attached lab: promtool (the
// Prometheus project's own checker) accepts the real output, and its counters
// are the ones `stats --json` shows after blocked SYNs. Without promtool the
// test is skipped, or fails under RELAYGUARD_REQUIRE_PRIVILEGED=1 (CI).
#include "netns_fixture.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace {

using rg::test::NetnsTest;
using namespace rg::test::netns_lab;

std::optional<std::string> find_promtool()
{
    const char *path = getenv("PATH");
    std::istringstream dirs(path ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');)
        if (!dir.empty() && access((dir + "/promtool").c_str(), X_OK) == 0)
            return dir + "/promtool";
    return std::nullopt;
}

// The sum of a family's samples whose labels include all of `labels`
// (each written as name="value").
uint64_t sum_of(const std::string &text, const std::string &family, const std::vector<std::string> &labels)
{
    uint64_t sum = 0;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(family + "{", 0) != 0)
            continue;
        size_t close = line.rfind('}');
        std::string set = line.substr(family.size(), close - family.size() + 1);
        bool all = true;
        for (const std::string &l : labels)
            all = all && (set.find("{" + l + ",") != std::string::npos || set.find("," + l + ",") != std::string::npos ||
                          set.find("{" + l + "}") != std::string::npos || set.find("," + l + "}") != std::string::npos);
        if (all)
            sum += std::stoull(line.substr(close + 2));
    }
    return sum;
}

class MetricsNetnsTest : public NetnsTest {
protected:
    MetricsNetnsTest() { ns_prefix_ = "rgmx-"; }
    void SetUp() override
    {
        NetnsTest::SetUp();
        if (IsSkipped() || HasFatalFailure())
            return;
        if (!promtool_) {
            if (rg::test::privileged_required())
                FAIL() << "promtool not found (tools/setup-deps.sh installs it; RELAYGUARD_REQUIRE_PRIVILEGED=1 forbids skipping)";
            GTEST_SKIP() << "promtool not found (tools/setup-deps.sh installs it)";
        }
    }

    // promtool check metrics on the text; its exit status and what it said.
    std::pair<int, std::string> promtool_check(const std::string &text)
    {
        char tmpl[] = "/tmp/relayguard-metrics.XXXXXX";
        int fd = mkstemp(tmpl);
        EXPECT_GE(fd, 0);
        close(fd);
        { std::ofstream(tmpl) << text; }
        auto r = rg::lab::run({"sh", "-c", "exec \"$0\" check metrics <\"$1\"", *promtool_, tmpl});
        std::filesystem::remove(tmpl);
        return {r.status, r.output};
    }

    std::optional<std::string> promtool_ = find_promtool();
};

TEST_F(MetricsNetnsTest, PrometheusTextPassesPromtoolAndMatchesJson)
{
    attach();
    rg_ok({"block", "add", kBad4});
    EXPECT_EQ(connect(kClean4, kServer4, 25), ConnectResult::connected);
    uint64_t syns = blocked_attempt(kBad4, kServer4, 25);
    ASSERT_GT(syns, 0u);

    auto r = rg({"stats", "--prometheus"});
    ASSERT_EQ(r.status, 0) << r.output;
    const std::string text = r.output;
    auto [status, said] = promtool_check(text);
    EXPECT_EQ(status, 0) << said << "\n" << text;

    json j = rg_json({"stats", "--json"});
    const json &blocklist = j["reasons"]["dropped_blocklist"];
    uint64_t dropped = blocklist["packets"].get<uint64_t>();
    EXPECT_EQ(dropped, syns);
    const std::string reason = "reason=\"dropped_blocklist\"", iface = "interface=\"" + iface_ + "\"";
    EXPECT_EQ(sum_of(text, "relayguard_packets_total", {reason, iface}), dropped) << text;
    EXPECT_EQ(sum_of(text, "relayguard_syn_packets_total", {reason, iface}), blocklist["syns"].get<uint64_t>())
        << text;
    EXPECT_EQ(sum_of(text, "relayguard_bytes_total", {reason, iface}), blocklist["bytes"].get<uint64_t>()) << text;
    EXPECT_EQ(sum_of(text, "relayguard_packets_total", {"reason=\"passed_clean\""}),
              j["reasons"]["passed_clean"]["packets"].get<uint64_t>())
        << text;
    uint64_t manual = j["sources"]["manual"]["dropped"]["packets"].get<uint64_t>();
    EXPECT_EQ(manual, dropped);
    EXPECT_EQ(sum_of(text, "relayguard_source_dropped_packets_total", {"source=\"manual\"", "kind=\"manual\""}), manual)
        << text;
    EXPECT_NE(text.find("\nrelayguard_list_prefixes{list=\"blocklist\",family=\"ipv4\"} 1\n"), std::string::npos) << text;
    EXPECT_EQ(j["lists"]["blocklist"]["ipv4"], 1);

    // --iface narrows the interface series; --json and --prometheus exclude each other.
    r = rg({"stats", "--prometheus", "--iface", iface_});
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(sum_of(r.output, "relayguard_packets_total", {reason}), dropped) << r.output;
    EXPECT_NE(rg({"stats", "--prometheus", "--iface", "lo"}).status, 0);
    EXPECT_EQ(rg({"stats", "--prometheus", "--json"}).status, 2);
}

// The feed families of `stats --prometheus` after syncs by hand (`feed add`
// syncs once, then a `feed sync` the shrink check refuses): the registry's
// times, result and size, and the sync counts that the state directory keeps
// from one command to the next; promtool accepts them, and `feed del` ends
// the feed's series and its counts.
class FeedMetricsNetnsTest : public MetricsNetnsTest {
protected:
    FeedMetricsNetnsTest() { ns_prefix_ = "rgpm-"; }
    void SetUp() override
    {
        MetricsNetnsTest::SetUp();
        if (IsSkipped() || HasFatalFailure())
            return;
        char tmpl[] = "/tmp/relayguard-feedmetrics.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        global_args_ = {"--state-dir", dir_ + "/state"};
    }
    void TearDown() override
    {
        MetricsNetnsTest::TearDown();
        if (!dir_.empty())
            std::filesystem::remove_all(dir_);
    }
    std::string dir_;
};

TEST_F(FeedMetricsNetnsTest, SyncsByHandAreCountedAcrossCommands)
{
    attach();
    std::string path = dir_ + "/local.txt", list;
    for (int i = 0; i < 20; i += 2)  // 10 addresses, no two of them siblings: 10 prefixes
        list += "198.51.100." + std::to_string(i) + "\n";
    std::ofstream(path) << list;
    rg_ok({"feed", "add", "local", path, "--max-shrink", "20"});
    std::ofstream(path) << "198.51.100.0\n198.51.100.2\n";
    auto r = rg({"feed", "sync", "local"});
    EXPECT_EQ(r.status, 1) << r.output;

    r = rg({"stats", "--prometheus"});
    ASSERT_EQ(r.status, 0) << r.output;
    const std::string text = r.output;
    auto [status, said] = promtool_check(text);
    EXPECT_EQ(status, 0) << said << "\n" << text;
    json f = rg_json({"feed", "show", "local", "--json"});
    ASSERT_EQ(f["last_result"], "shrunk") << f.dump();
    const std::string feed = "feed=\"local\"";
    EXPECT_EQ(sum_of(text, "relayguard_feed_prefixes", {feed}), 10u) << text;
    EXPECT_EQ(sum_of(text, "relayguard_feed_prefixes", {feed}), f["prefixes"].get<uint64_t>());
    EXPECT_GT(f["last_success"].get<uint64_t>(), 0u);
    EXPECT_EQ(sum_of(text, "relayguard_feed_last_success_timestamp_seconds", {feed}), f["last_success"].get<uint64_t>());
    EXPECT_EQ(sum_of(text, "relayguard_feed_last_attempt_timestamp_seconds", {feed}), f["last_attempt"].get<uint64_t>());
    EXPECT_EQ(sum_of(text, "relayguard_feed_last_result", {feed, "result=\"shrunk\""}), 1u) << text;
    EXPECT_EQ(sum_of(text, "relayguard_feed_last_result", {feed}), 1u) << text;
    EXPECT_EQ(sum_of(text, "relayguard_feed_syncs_total", {feed}), 2u) << text;
    EXPECT_EQ(sum_of(text, "relayguard_feed_sync_errors_total", {feed, "result=\"shrunk\""}), 1u) << text;
    EXPECT_EQ(sum_of(text, "relayguard_feed_sync_errors_total", {feed}), 1u) << text;
    // The histograms are the daemon's: not in the one-shot text.
    EXPECT_EQ(text.find("relayguard_feed_sync_duration_seconds"), std::string::npos);

    // A removed feed leaves no series, and a new one of that name counts anew.
    rg_ok({"feed", "del", "local"});
    r = rg({"stats", "--prometheus"});
    EXPECT_EQ(r.output.find(feed), std::string::npos) << r.output;
    rg_ok({"feed", "add", "local", path});
    r = rg({"stats", "--prometheus"});
    EXPECT_EQ(sum_of(r.output, "relayguard_feed_syncs_total", {feed}), 1u) << r.output;
    EXPECT_EQ(sum_of(r.output, "relayguard_feed_last_result", {feed, "result=\"applied\""}), 1u) << r.output;
}

} // namespace
