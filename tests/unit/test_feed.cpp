// Feeds without a kernel: definitions the registry can hold, the safety
// checks a download must pass before it is applied, allowlist overlaps,
// and fetching from files and stdin.
#include "error.hpp"
#include "feed.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

rg::Cidr cidr(const std::string &t) { return rg::parse_cidr(t).cidr; }

rg::FeedCheck check(const std::string &text, uint64_t in_force, unsigned max_shrink = 50)
{
    rg::FeedDef d;
    d.name = "t";
    d.max_shrink = max_shrink;
    return rg::check_feed(rg::parse_feed(text, rg::FeedFormat::automatic, "t"), d, in_force);
}

std::string lines(int n, int from = 0)
{
    std::string s;
    for (int i = from; i < from + n; i++)
        s += "198.18." + std::to_string(2 * i) + ".0/24\n";
    return s;
}

} // namespace

TEST(FeedCheck, FirstDownloadIsAppliedNormalised)
{
    auto c = check("192.0.2.0/25\n192.0.2.128/25\n192.0.2.7\n2001:db8::/32\n", 0);
    EXPECT_TRUE(c.applicable()) << c.message;
    std::vector<rg::Cidr> got = rg::to_cidrs(c.list);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], cidr("192.0.2.0/24"));
    EXPECT_EQ(got[1], cidr("2001:db8::/32"));
}

TEST(FeedCheck, EmptyAndUnparseableAreRefused)
{
    EXPECT_EQ(check("", 10).result, uint32_t(RG_FEED_EMPTY));
    EXPECT_EQ(check("# nothing\n; here\n", 10).result, uint32_t(RG_FEED_EMPTY));
    EXPECT_EQ(check("<html>\n<body>oops</body>\n</html>\n", 10).result, uint32_t(RG_FEED_UNPARSEABLE));
    // More bad lines than good: the wrong format, not a few typos.
    EXPECT_EQ(check("192.0.2.0/24\nx\ny\n", 0).result, uint32_t(RG_FEED_UNPARSEABLE));
    // A few bad lines among many good ones are skipped.
    auto c = check(lines(10) + "bogus\n", 0);
    EXPECT_TRUE(c.applicable()) << c.message;
    EXPECT_EQ(c.list.size(), 10u);
}

TEST(FeedCheck, ShrinkBeyondTheLimitIsRefused)
{
    EXPECT_TRUE(check(lines(50), 100).applicable()) << "exactly 50% fewer is allowed";
    auto c = check(lines(49), 100);
    EXPECT_EQ(c.result, uint32_t(RG_FEED_SHRUNK));
    EXPECT_NE(c.message.find("49 prefixes instead of 100 in force (51% fewer, max-shrink is 50%)"), std::string::npos)
        << c.message;
    EXPECT_EQ(check(lines(89), 100, 10).result, uint32_t(RG_FEED_SHRUNK));
    EXPECT_TRUE(check(lines(90), 100, 10).applicable());
    EXPECT_TRUE(check(lines(1), 100, 100).applicable()) << "max-shrink 100 accepts anything non-empty";
    EXPECT_EQ(check(lines(1), 100, 0).result, uint32_t(RG_FEED_SHRUNK));
    EXPECT_TRUE(check(lines(101), 100, 0).applicable()) << "growth is never a shrink";
}

TEST(FeedCheck, BroadPrefixesAreRefusedOneByOne)
{
    rg::FeedDef d;
    d.name = "t";
    d.min_prefix4 = 16;
    d.min_prefix6 = 32;
    auto parsed = rg::parse_feed("10.0.0.0/8\n10.1.0.0/16\n2001:db8::/31\n2001:db8::/32\n", rg::FeedFormat::plain, "t");
    auto c = rg::check_feed(parsed, d, 0);
    EXPECT_TRUE(c.applicable());
    EXPECT_EQ(c.refused_broad, 2u);
    std::vector<rg::Cidr> got = rg::to_cidrs(c.list);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], cidr("10.1.0.0/16"));
    EXPECT_EQ(c.broad_examples, (std::vector<std::string>{"10.0.0.0/8", "2001:db8::/31"}));
    // Nothing but broad prefixes: nothing to apply.
    auto only = rg::check_feed(rg::parse_feed("0.0.0.0/0\n", rg::FeedFormat::plain, "t"), rg::FeedDef{"t", "x"}, 5);
    EXPECT_EQ(only.result, uint32_t(RG_FEED_EMPTY));
    EXPECT_NE(only.message.find("refused 1 prefixes broader than /8"), std::string::npos) << only.message;
}

TEST(FeedCheck, AllowlistOverlapsBothWays)
{
    rg::CompactList feed = rg::normalise_compact(
        {cidr("192.0.2.0/24"), cidr("198.51.100.64/26"), cidr("198.51.100.200/32"), cidr("2001:db8::/48")});
    std::string ex;
    EXPECT_EQ(rg::count_allow_overlaps(feed, {cidr("203.0.113.0/24")}, &ex), 0u);
    EXPECT_TRUE(ex.empty());
    // Inside a feed prefix; containing two feed prefixes; IPv6.
    EXPECT_EQ(rg::count_allow_overlaps(feed, {cidr("192.0.2.7/32"), cidr("198.51.100.0/24"), cidr("2001:db8::1")}, &ex),
              4u);
    EXPECT_EQ(ex, "192.0.2.0/24 overlaps allowlisted 192.0.2.7/32");
}

TEST(FeedDefTest, DefaultsAreTheDocumentedOnes)
{
    rg::FeedDef d;
    EXPECT_EQ(d.format, "auto");
    EXPECT_EQ(d.max_shrink, 50u);
    EXPECT_EQ(d.min_prefix4, 8);
    EXPECT_EQ(d.min_prefix6, 19);
    EXPECT_EQ(d.interval, std::chrono::hours(1));
    d.name = "x";
    d.source = "/x";
    rg::Feed f{5, rg::feed_to_kernel(d)};
    EXPECT_EQ(f.def(), d);
    EXPECT_STREQ(f.result_name(), "never");
}

TEST(FeedContentHash, Sha256OfTheSettingsThatShapeTheListAndTheBytes)
{
    auto hex = [](const rg::FeedHash &h) {
        std::string s;
        for (uint8_t b : h) {
            s += "0123456789abcdef"[b >> 4];
            s += "0123456789abcdef"[b & 15];
        }
        return s;
    };
    rg::FeedDef d;
    d.name = "x";
    d.source = "/x";
    const std::string body = "192.0.2.0/24\n";
    // sha256(b"relayguard feed content 1\0/x\0auto\0\x08\x13" + body), by Python's hashlib.
    EXPECT_EQ(hex(rg::feed_content_hash(d, body)), "e1ade72edd381df187f86f95d228640e23ab1e4b93819fa0fa436b0369175554");
    rg::FeedHash base = rg::feed_content_hash(d, body);
    EXPECT_NE(rg::feed_content_hash(d, "192.0.2.0/25\n"), base);
    EXPECT_NE(rg::feed_content_hash(d, body + " "), base);
    auto with = [&](auto change) {
        rg::FeedDef e = d;
        change(e);
        return rg::feed_content_hash(e, body);
    };
    EXPECT_NE(with([](rg::FeedDef &e) { e.source = "/y"; }), base);
    EXPECT_NE(with([](rg::FeedDef &e) { e.format = "plain"; }), base);
    EXPECT_NE(with([](rg::FeedDef &e) { e.min_prefix4 = 9; }), base);
    EXPECT_NE(with([](rg::FeedDef &e) { e.min_prefix6 = 20; }), base);
    // What does not change the list a download compiles to.
    EXPECT_EQ(with([](rg::FeedDef &e) { e.name = "y"; }), base);
    EXPECT_EQ(with([](rg::FeedDef &e) { e.shadow = true; }), base);
    EXPECT_EQ(with([](rg::FeedDef &e) { e.max_shrink = 10; }), base);
    EXPECT_EQ(with([](rg::FeedDef &e) { e.interval = std::chrono::minutes(5); }), base);
}

TEST(FeedFetch, FilesStdinAndLimits)
{
    char tmpl[] = "/tmp/relayguard-fetch.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    std::string dir = tmpl, path = dir + "/list.txt";
    std::ofstream(path) << "192.0.2.0/24\n";
    rg::FetchLimits lim;
    auto r = rg::fetch_source(path, "", "", lim, nullptr);
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.body, "192.0.2.0/24\n");
    lim.max_bytes = 4;
    r = rg::fetch_source(path, "", "", lim, nullptr);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("larger than the limit of 4 bytes"), std::string::npos) << r.error;
    r = rg::fetch_source(dir + "/missing", "", "", rg::FetchLimits{}, nullptr);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, dir + "/missing: No such file or directory");
    r = rg::fetch_source(dir, "", "", rg::FetchLimits{}, nullptr);
    EXPECT_FALSE(r.ok);
    std::istringstream in("2001:db8::/32\n");
    r = rg::fetch_source("-", "", "", rg::FetchLimits{}, &in);
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.body, "2001:db8::/32\n");
    // Nothing listens on port 9 of 127.0.0.1 (discard): a connection error, not a throw.
    r = rg::fetch_source("http://127.0.0.1:9/list.txt", "", "", rg::FetchLimits{}, nullptr);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("http://127.0.0.1:9/list.txt: "), std::string::npos) << r.error;
    std::filesystem::remove_all(dir);
}
TEST(FeedDef, RefusesWhatTheRegistryCannotHold)
{
    rg::FeedDef def;
    def.name = "ok";
    def.source = std::string(RG_FEED_SOURCE_LEN - 1, 'a');
    EXPECT_NO_THROW(rg::validate_feed_def(def));
    def.source.push_back('a');
    try {
        rg::validate_feed_def(def);
        ADD_FAILURE() << "a source longer than the registry field was accepted";
    } catch (const rg::Error &e) {
        EXPECT_NE(std::string(e.what()).find("the most is 511"), std::string::npos) << e.what();
    }
    def.source = "x";
    def.name = std::string(33, 'n');
    EXPECT_THROW(rg::validate_feed_def(def), rg::Error);
    def.name = "bad name";
    EXPECT_THROW(rg::validate_feed_def(def), rg::Error);
    def.name = "ok";
    def.format = "csv";
    EXPECT_THROW(rg::validate_feed_def(def), rg::Error);
    def.format = "auto";
    def.max_shrink = 101;
    EXPECT_THROW(rg::validate_feed_def(def), rg::Error);
}

// "manual" and "config" name the built-in sources (block list --json
// "sources", stats --json): a feed may not take them, in any case.
TEST(FeedDef, BuiltInSourceNamesAreReserved)
{
    rg::FeedDef def;
    def.source = "/etc/relayguard/list.txt";
    for (const char *name : {"manual", "config", "Manual", "CONFIG"}) {
        def.name = name;
        try {
            rg::validate_feed_def(def);
            ADD_FAILURE() << "feed name " << name << " accepted";
        } catch (const rg::Error &e) {
            EXPECT_NE(std::string(e.what()).find("reserved"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
        }
    }
    for (const char *name : {"manual2", "configs", "my-config"}) {
        def.name = name;
        EXPECT_NO_THROW(rg::validate_feed_def(def)) << name;
    }
}
