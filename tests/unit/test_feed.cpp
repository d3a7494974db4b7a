// Feeds without a kernel: definitions the registry can hold, the safety
// checks a download must pass before it is applied, allowlist overlaps,
// and fetching from files, stdin and FIFOs.
#include "error.hpp"
#include "feed_check.hpp"
#include "feed_fetch.hpp"
#include "feed_registry.hpp"
#include "feed_sync.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <fcntl.h>
#include <sys/stat.h>
#include <thread>
#include <sys/wait.h>
#include <unistd.h>

namespace {

rg::Cidr cidr(const std::string &t) { return rg::parse_cidr(t).cidr; }

rg::FeedCheck check(const std::string &text, rg::InForce in_force, unsigned max_shrink = 50)
{
    rg::FeedDef d;
    d.name = "t";
    d.max_shrink = max_shrink;
    rg::FeedParseResult p = rg::parse_feed(text, rg::FeedFormat::automatic, "t");
    return rg::check_feed(p, d, in_force);
}

// n /24s, none adjacent: n entries covering n * 256 addresses.
std::string lines(int n, int from = 0)
{
    std::string s;
    for (int i = from; i < from + n; i++)
        s += "198.18." + std::to_string(2 * i) + ".0/24\n";
    return s;
}

rg::InForce entries(uint64_t n) { return {n, {rg::U128(n) * 256, 0}}; }

// A temporary directory, removed at the end of the test.
struct TempDir {
    std::string path;
    TempDir()
    {
        char tmpl[] = "/tmp/relayguard-test.XXXXXX";
        path = mkdtemp(tmpl) ? tmpl : "";
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

} // namespace

TEST(FeedCheck, FirstDownloadIsAppliedNormalised)
{
    auto c = check("192.0.2.0/25\n192.0.2.128/25\n192.0.2.7\n2001:db8::/32\n", {});
    EXPECT_TRUE(c.applicable()) << c.message;
    std::vector<rg::Cidr> got = rg::to_cidrs(c.list);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], cidr("192.0.2.0/24"));
    EXPECT_EQ(got[1], cidr("2001:db8::/32"));
}

TEST(FeedCheck, EmptyAndUnparseableAreRefused)
{
    EXPECT_EQ(check("", entries(10)).result, uint32_t(RG_FEED_EMPTY));
    EXPECT_EQ(check("# nothing\n; here\n", entries(10)).result, uint32_t(RG_FEED_EMPTY));
    EXPECT_EQ(check("<html>\n<body>oops</body>\n</html>\n", entries(10)).result, uint32_t(RG_FEED_UNPARSEABLE));
    // More bad lines than good: the wrong format, not a few typos.
    EXPECT_EQ(check("192.0.2.0/24\nx\ny\n", {}).result, uint32_t(RG_FEED_UNPARSEABLE));
    // A few bad lines among many good ones are skipped.
    auto c = check(lines(10) + "bogus\n", {});
    EXPECT_TRUE(c.applicable()) << c.message;
    EXPECT_EQ(c.list.size(), 10u);
}

TEST(FeedCheck, ShrinkBeyondTheLimitIsRefused)
{
    EXPECT_TRUE(check(lines(50), entries(100)).applicable()) << "exactly 50% fewer is allowed";
    auto c = check(lines(49), entries(100));
    EXPECT_EQ(c.result, uint32_t(RG_FEED_SHRUNK));
    EXPECT_NE(c.message.find("49 entries instead of 100 in force (51% fewer, max-shrink is 50%)"), std::string::npos)
        << c.message;
    EXPECT_EQ(check(lines(89), entries(100), 10).result, uint32_t(RG_FEED_SHRUNK));
    EXPECT_TRUE(check(lines(90), entries(100), 10).applicable());
    EXPECT_TRUE(check(lines(1), entries(100), 100).applicable()) << "max-shrink 100 accepts anything non-empty";
    EXPECT_EQ(check(lines(1), entries(100), 0).result, uint32_t(RG_FEED_SHRUNK));
    EXPECT_TRUE(check(lines(101), entries(100), 0).applicable()) << "growth is never a shrink";
}

// The shrink guard counts what a download lists and covers, not the
// prefixes left after merging: 256 adjacent addresses are one /24 merged,
// and the first 3 of them (a truncated download) are 2 merged prefixes.
TEST(FeedCheck, ShrinkGuardCountsEntriesAndAddressesNotMergedPrefixes)
{
    std::string all;
    for (int i = 0; i < 256; i++)
        all += "198.51.100." + std::to_string(i) + "\n";
    rg::FeedCheck full = check(all, {});
    ASSERT_TRUE(full.applicable()) << full.message;
    EXPECT_EQ(full.list.size(), 1u);
    EXPECT_EQ(full.measure.entries, 256u);
    EXPECT_TRUE(full.measure.cover.v4 == 256);
    rg::FeedCheck cut = check(all.substr(0, all.find("198.51.100.3\n")), full.measure);
    EXPECT_EQ(cut.result, uint32_t(RG_FEED_SHRUNK)) << cut.message;
    EXPECT_NE(cut.message.find("3 entries instead of 256"), std::string::npos) << cut.message;
    // As many entries, far fewer addresses: a /16 replaced by single ones.
    rg::FeedCheck wide = check("198.18.0.0/16\n192.0.2.1\n", {});
    rg::FeedCheck narrow = check("192.0.2.1\n192.0.2.3\n", wide.measure);
    EXPECT_EQ(narrow.result, uint32_t(RG_FEED_SHRUNK));
    EXPECT_NE(narrow.message.find("2 addresses covered (IPv4 addresses and IPv6 /64s) instead of 65537"),
              std::string::npos)
        << narrow.message;
    // IPv6 counts in /64s: a /48 lost is 65,536 of them, one /128 is one.
    rg::FeedCheck v6 = check("2001:db8::/48\n2001:db8:1::1\n192.0.2.1\n", {});
    EXPECT_TRUE(v6.measure.cover.v6 == 65537);
    rg::FeedCheck lost6 = check("2001:db8:1::1\n192.0.2.0/24\n198.51.100.0/24\n", v6.measure);
    EXPECT_EQ(lost6.result, uint32_t(RG_FEED_SHRUNK)) << lost6.message;
    // A small list dropping half of its entries, its only IPv6 one among
    // them, is within max-shrink 50.
    rg::FeedCheck two = check("192.0.2.1\n2001:db8::1\n", {});
    EXPECT_TRUE(check("192.0.2.2\n", two.measure).applicable());
    // A version in force that is not known (0) never refuses.
    EXPECT_TRUE(check("192.0.2.1\n", {}).applicable());
}

TEST(FeedCheck, BroadPrefixesAreRefusedOneByOne)
{
    rg::FeedDef d;
    d.name = "t";
    d.min_prefix4 = 16;
    d.min_prefix6 = 32;
    auto parsed = rg::parse_feed("10.0.0.0/8\n10.1.0.0/16\n2001:db8::/31\n2001:db8::/32\n", rg::FeedFormat::plain, "t");
    auto c = rg::check_feed(parsed, d, {});
    EXPECT_TRUE(c.applicable());
    EXPECT_EQ(c.refused_broad, 2u);
    std::vector<rg::Cidr> got = rg::to_cidrs(c.list);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], cidr("10.1.0.0/16"));
    EXPECT_EQ(c.broad_examples, (std::vector<std::string>{"10.0.0.0/8", "2001:db8::/31"}));
    // Nothing but broad prefixes: nothing to apply.
    auto zero = rg::parse_feed("0.0.0.0/0\n", rg::FeedFormat::plain, "t");
    auto only = rg::check_feed(zero, rg::FeedDef{"t", "x"}, entries(5));
    EXPECT_EQ(only.result, uint32_t(RG_FEED_EMPTY));
    EXPECT_NE(only.message.find("refused 1 prefixes broader than /8"), std::string::npos) << only.message;
}

TEST(FeedCheck, AllowlistOverlapsBothWays)
{
    auto set = [](std::vector<rg::Cidr> c) { return rg::collapse(rg::to_prefix_set(c)); };
    rg::PrefixSet feed =
        set({cidr("192.0.2.0/24"), cidr("198.51.100.64/26"), cidr("198.51.100.200/32"), cidr("2001:db8::/48")});
    std::string ex;
    EXPECT_EQ(rg::count_allow_overlaps(feed, set({cidr("203.0.113.0/24")}), &ex), 0u);
    EXPECT_TRUE(ex.empty());
    // Inside a feed prefix; containing two feed prefixes; IPv6.
    EXPECT_EQ(rg::count_allow_overlaps(feed, set({cidr("192.0.2.7/32"), cidr("198.51.100.0/24"), cidr("2001:db8::1")}),
                                       &ex),
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

TEST(FeedContentHash, Xxh128OfTheSettingsThatShapeTheListAndTheBytes)
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
    // XXH128 of "relayguard feed content 2\0/x\0auto\0\x08\x13" + body, by
    // `printf ... | xxhsum -H2` (the xxhash package's own tool).
    EXPECT_EQ(hex(rg::feed_content_hash(d, body)), "09934c03effaba0e341bb06947873eee");
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
    TempDir tmp;
    std::string path = tmp.path + "/list.txt";
    std::ofstream(path) << "192.0.2.0/24\n";
    rg::FetchLimits lim;
    {
        std::string d;
        auto r = rg::fetch_source(path, "", "", lim, d);
        EXPECT_TRUE(r.ok) << r.error;
        EXPECT_EQ(r.bytes, 13u);
        EXPECT_EQ(d, "192.0.2.0/24\n");
    }
    lim.max_bytes = 4;
    {
        std::string d;
        auto r = rg::fetch_source(path, "", "", lim, d);
        EXPECT_FALSE(r.ok);
        EXPECT_NE(r.error.find("larger than the limit of 4 bytes"), std::string::npos) << r.error;
    }
    {
        std::string d;
        auto r = rg::fetch_source(tmp.path + "/missing", "", "", rg::FetchLimits{}, d);
        EXPECT_FALSE(r.ok);
        EXPECT_EQ(r.error, tmp.path + "/missing: No such file or directory");
        r = rg::fetch_source(tmp.path, "", "", rg::FetchLimits{}, d);
        EXPECT_FALSE(r.ok);
    }
    {
        int p[2];
        ASSERT_EQ(pipe(p), 0);
        ASSERT_EQ(write(p[1], "2001:db8::/32\n", 14), 14);
        close(p[1]);
        std::string d;
        auto r = rg::fetch_source("-", "", "", rg::FetchLimits{}, d, p[0]);
        close(p[0]);
        EXPECT_TRUE(r.ok) << r.error;
        EXPECT_EQ(d, "2001:db8::/32\n");
    }
    {
        // Nothing listens on port 9 of 127.0.0.1 (discard): a connection error, not a throw.
        std::string d;
        auto r = rg::fetch_source("http://127.0.0.1:9/list.txt", "", "", rg::FetchLimits{}, d);
        EXPECT_FALSE(r.ok);
        EXPECT_NE(r.error.find("http://127.0.0.1:9/list.txt: "), std::string::npos) << r.error;
    }
}

// The temporary files of a process that is gone (killed while writing a
// state file) are removed; a live one's stay.
TEST(StateDir, StaleTemporaryFilesGo)
{
    TempDir tmp;
    rg::StateDir state(tmp.path + "/state");
    state.write_text("kept", "x");
    std::string live = state.file("feed-t.body.tmp." + std::to_string(getpid()) + ".XyZ123");
    std::ofstream(live) << "being written";
    pid_t gone = fork();
    if (gone == 0)
        _exit(0);
    ASSERT_GT(gone, 0);
    ASSERT_EQ(waitpid(gone, nullptr, 0), gone);
    std::string stale = state.file("feed-t.body.tmp." + std::to_string(gone) + ".AbCdEf");
    std::ofstream(stale) << "left by a killed sync";
    state.remove_stale_temps();
    EXPECT_FALSE(std::filesystem::exists(stale));
    EXPECT_TRUE(std::filesystem::exists(live)) << "this process's temporary file must stay";
    EXPECT_EQ(state.read_text("kept"), "x");
}

// A source that never ends (a FIFO whose writer stays, a pipe on stdin)
// stops at the time limit; a FIFO without a writer does not block either.
TEST(FeedFetch, SourcesThatNeverEndStopAtTheTimeLimit)
{
    TempDir tmp;
    std::string fifo = tmp.path + "/fifo";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    rg::FetchLimits lim;
    lim.timeout_s = 1;
    {
        std::string d;
        auto r = rg::fetch_source(fifo, "", "", lim, d);  // no writer: at once, empty
        EXPECT_TRUE(r.ok) << r.error;
        EXPECT_EQ(r.bytes, 0u);
    }
    int keep = open(fifo.c_str(), O_RDWR);  // a writer that never writes nor closes
    ASSERT_GE(keep, 0);
    ASSERT_EQ(write(keep, "192.0.2.1\n", 10), 10);
    {
        std::string d;
        auto t0 = std::chrono::steady_clock::now();
        auto r = rg::fetch_source(fifo, "", "", lim, d);
        double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        EXPECT_FALSE(r.ok);
        EXPECT_NE(r.error.find("no end of data within 1 s"), std::string::npos) << r.error;
        EXPECT_LT(took, 5.0);
    }
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    {
        std::string d;
        auto r = rg::fetch_source("-", "", "", lim, d, p[0]);
        EXPECT_FALSE(r.ok);
        EXPECT_NE(r.error.find("standard input: no end of data"), std::string::npos) << r.error;
    }
    // Given up as soon as the caller says so (the daemon on SIGTERM).
    {
        std::string d;
        lim.timeout_s = 60;
        int asked = 0;
        lim.cancelled = [&] { return ++asked > 2; };
        auto t0 = std::chrono::steady_clock::now();
        auto r = rg::fetch_source("-", "", "", lim, d, p[0]);
        EXPECT_FALSE(r.ok);
        EXPECT_NE(r.error.find("given up"), std::string::npos) << r.error;
        EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
    }
    close(p[0]);
    close(p[1]);
    close(keep);
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

namespace {

// A feed's sync counts (feed_stats.hpp): per result, kept across processes
// in the state directory; a damaged file counts from zero again.
TEST(FeedStats, CountsPerResultInTheStateDirectory)
{
    TempDir tmp;
    rg::StateDir state(tmp.path);
    EXPECT_EQ(rg::load_feed_stats(state, "drop").total(), 0u);
    rg::count_feed_sync(state, "drop", RG_FEED_APPLIED, 0.5);
    rg::count_feed_sync(state, "drop", RG_FEED_SHRUNK, 0.25);
    rg::count_feed_sync(state, "drop", RG_FEED_SHRUNK, 0.125);
    rg::count_feed_sync(state, "other", RG_FEED_FETCH_FAILED, 2);
    rg::FeedStats s = rg::load_feed_stats(state, "drop");
    EXPECT_EQ(s.syncs[RG_FEED_APPLIED], 1u);
    EXPECT_EQ(s.syncs[RG_FEED_SHRUNK], 2u);
    EXPECT_EQ(s.syncs[RG_FEED_FETCH_FAILED], 0u);
    EXPECT_EQ(s.total(), 3u);
    EXPECT_EQ(s.last_seconds, 0.125);
    EXPECT_EQ(rg::load_feed_stats(state, "other").syncs[RG_FEED_FETCH_FAILED], 1u);
    // Results by name in the file, so that the enum may grow.
    auto text = state.read_text(rg::feed_stats_file("drop"));
    ASSERT_TRUE(text);
    EXPECT_NE(text->find("\"shrunk\":2"), std::string::npos) << *text;

    std::ofstream(state.file(rg::feed_stats_file("drop"))) << "{\"syncs\": [1, 2";
    EXPECT_EQ(rg::load_feed_stats(state, "drop").total(), 0u);
    rg::count_feed_sync(state, "drop", RG_FEED_UNCHANGED, 0.01);
    EXPECT_EQ(rg::load_feed_stats(state, "drop").syncs[RG_FEED_UNCHANGED], 1u);
}

TEST(FeedStats, OkResultsAreThoseThatLeaveTheFeedCurrent)
{
    std::vector<std::string> ok;
    for (uint32_t r = 0; r < RG_FEED_RESULT_MAX; r++)
        if (rg::feed_result_ok(r))
            ok.push_back(rg_feed_result_name[r]);
    EXPECT_EQ(ok, (std::vector<std::string>{"applied", "unchanged", "not_modified", "same_content"}));
}

} // namespace
