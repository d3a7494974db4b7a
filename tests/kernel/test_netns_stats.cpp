// `relayguard stats --json` (schema 2) on a real lab: after traffic through
// the attached program, with manual, allowlist, feed (one shadow, one whose
// fetch failed), hand-made and watch bans, the real document validates
// against docs/stats.schema.json, has exactly the key paths of
// tests/golden/stats-keys.txt, and its numbers agree with what was sent and
// with each other. The same for `--iface`.
#include "netns_fixture.hpp"
#include "stats_schema.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace {

using rg::test::NetnsTest;
using namespace rg::test::netns_lab;

class StatsNetnsTest : public NetnsTest {
protected:
    StatsNetnsTest() { ns_prefix_ = "rgst"; }

    void SetUp() override
    {
        NetnsTest::SetUp();
        char tmpl[] = "/tmp/relayguard-stats-test.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override
    {
        NetnsTest::TearDown();
        std::filesystem::remove_all(dir_);
    }

    std::string write(const std::string &name, const std::string &text)
    {
        std::string path = dir_ + "/" + name;
        std::ofstream(path) << text;
        return path;
    }

    std::string dir_;
};

uint64_t u64(const json &j) { return j.get<uint64_t>(); }

// Sums of a field over every reason.
uint64_t over_reasons(const json &reasons, const char *count)
{
    uint64_t n = 0;
    for (const auto &[name, c] : reasons.items())
        n += u64(c[count]);
    return n;
}

TEST_F(StatsNetnsTest, RealDocumentValidatesAndHasTheGoldenKeys)
{
    attach();
    rg_ok({"block", "add", kBad4});
    rg_ok({"allow", "add", kClean6});
    // "drop" lists .67; the shadow feed "watchlist" lists .66 as manual does.
    rg_ok({"feed", "add", "drop", write("drop.txt", kBadNeighbour4 + "/32\n")});
    rg_ok({"feed", "add", "watchlist", write("watchlist.txt", kBad4 + "\n"), "--shadow"});
    auto failed = rg({"feed", "add", "gone", dir_ + "/missing.txt"});
    EXPECT_EQ(failed.status, 1) << failed.output;
    rg_ok({"bans", "add", "198.51.100.0/24", "--ttl", "1h"});
    // Three relay refusals in a mail log: watch bans 203.0.113.30.
    std::string log;
    for (int i = 0; i < 3; i++)
        log += "Dec  3 10:00:0" + std::to_string(i) +
               " mx postfix/smtpd[7]: NOQUEUE: reject: RCPT from unknown[203.0.113.30]: 554 5.7.1 "
               "<v@example.net>: Relay access denied; from=<a@example.org> to=<v@example.net>\n";
    rg_ok({"watch", "--log", write("mail.log", log), "--once", "--from-start"});

    EXPECT_EQ(connect(kClean4, kServer4, 25), ConnectResult::connected);
    EXPECT_EQ(connect(kClean6, kServer6, 25), ConnectResult::connected);
    uint64_t manual_syns = blocked_attempt(kBad4, kServer4, 25);
    uint64_t feed_syns = blocked_attempt(kBadNeighbour4, kServer4, 25);
    ASSERT_GT(manual_syns, 0u);
    ASSERT_GT(feed_syns, 0u);

    json all = stats();
    json one = rg_json({"stats", "--json", "--iface", iface_});
    for (const json *doc : {&all, &one}) {
        RG_EXPECT_SCHEMA_VALID(rg::test::check_stats_schema(*doc));
        EXPECT_EQ(rg::test::golden_stats_key_paths_diff(rg::test::stats_key_paths(*doc)), "") << doc->dump(2);
    }

    // The verdicts: what was sent, and totals that are the reasons' sums.
    const json &reasons = all["reasons"], &total = all["total"];
    EXPECT_EQ(u64(reasons["dropped_blocklist"]["syns"]), manual_syns + feed_syns);
    EXPECT_EQ(u64(reasons["dropped_blocklist"]["packets"]), manual_syns + feed_syns);
    EXPECT_GE(u64(reasons["passed_clean"]["syns"]), 1u);
    EXPECT_GE(u64(reasons["passed_allowlist"]["syns"]), 1u);
    EXPECT_GT(u64(reasons["dropped_blocklist"]["bytes"]), 0u);
    for (const char *count : {"packets", "bytes", "syns"}) {
        EXPECT_EQ(u64(total["all"][count]), over_reasons(reasons, count)) << count;
        EXPECT_EQ(u64(total["passed"][count]) + u64(total["dropped"][count]), u64(total["all"][count])) << count;
    }
    EXPECT_EQ(u64(total["dropped"]["packets"]), manual_syns + feed_syns);
    EXPECT_EQ(u64(total["would_drop"]["packets"]), 0u);

    // Interfaces by name, with the ifindex status reports.
    ASSERT_TRUE(all["interfaces"].contains(iface_)) << all.dump();
    EXPECT_EQ(all["interfaces"][iface_]["ifindex"], rg_json({"status", "--json"})["interfaces"][0]["ifindex"]);
    EXPECT_EQ(all["interfaces"][iface_]["reasons"]["dropped_blocklist"], reasons["dropped_blocklist"]);
    EXPECT_EQ(one["scope"], iface_);
    EXPECT_EQ(all["scope"], "all");
    EXPECT_EQ(one["reasons"]["dropped_blocklist"], reasons["dropped_blocklist"]);
    EXPECT_EQ(one["sources"], all["sources"]) << "attribution is kept for all interfaces together";

    // Attribution: each SYN counts for every source listing its address.
    const json &src = all["sources"];
    EXPECT_EQ(src["manual"]["kind"], "manual");
    EXPECT_EQ(src["manual"]["dropped"], json({{"packets", manual_syns}, {"syns", manual_syns}}));
    EXPECT_EQ(src["drop"]["kind"], "feed");
    EXPECT_EQ(src["drop"]["dropped"], json({{"packets", feed_syns}, {"syns", feed_syns}}));
    EXPECT_EQ(src["watchlist"]["shadow"], true);
    EXPECT_EQ(src["watchlist"]["would_drop"], json({{"packets", manual_syns}, {"syns", manual_syns}}));
    EXPECT_EQ(u64(src["watchlist"]["dropped"]["packets"]), 0u);
    EXPECT_EQ(u64(src["config"]["dropped"]["packets"]), 0u);

    // List sizes, in total and per source.
    EXPECT_EQ(all["lists"]["blocklist"], json({{"ipv4", 2}, {"ipv6", 0}, {"total", 2}}));
    EXPECT_EQ(all["lists"]["allowlist"], json({{"ipv4", 0}, {"ipv6", 1}, {"total", 1}}));
    EXPECT_EQ(u64(src["manual"]["listed"]["blocklist"]["ipv4"]), 1u);
    EXPECT_EQ(u64(src["manual"]["listed"]["allowlist"]["ipv6"]), 1u);
    EXPECT_EQ(u64(src["drop"]["listed"]["blocklist"]["ipv4"]), 1u);
    EXPECT_EQ(u64(src["watchlist"]["listed"]["blocklist"]["ipv4"]), 1u);
    EXPECT_EQ(u64(src["gone"]["listed"]["blocklist"]["total"]), 0u);
    EXPECT_EQ(u64(src["config"]["listed"]["blocklist"]["total"]), 0u);

    // Feed state: the failed one says why.
    const json &feeds = all["feeds"];
    EXPECT_EQ(feeds["drop"]["last_result"], "applied");
    EXPECT_EQ(feeds["drop"]["last_error"], "");
    EXPECT_GT(u64(feeds["drop"]["last_success"]), 0u);
    EXPECT_EQ(feeds["gone"]["last_result"], "fetch_failed") << feeds.dump();
    EXPECT_NE(feeds["gone"]["last_error"].get<std::string>().find("missing.txt"), std::string::npos) << feeds.dump();
    EXPECT_EQ(u64(feeds["gone"]["last_success"]), 0u);

    // Bans per reason, and the watch that made one.
    EXPECT_EQ(all["bans"]["reasons"]["manual"], 1);
    EXPECT_EQ(all["bans"]["reasons"]["watch"], 1);
    EXPECT_EQ(all["bans"]["active"], 2);
    EXPECT_EQ(all["watch"]["lines"], 3);
    EXPECT_EQ(all["watch"]["rules"]["relay-denied"], json({{"matches", 3}, {"bans", 1}, {"exempt", 0}}));
}

} // namespace
