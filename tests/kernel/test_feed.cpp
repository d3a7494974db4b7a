// Feeds against the real maps: sync from files into the pinned blocklist,
// the compiled view with every source's bit, refusals that change nothing,
// removal of one feed of two, repair of an interrupted sync, batched writes.
// State is set through the controller (rg::add_feed, rg::sync_feed, the
// lists' write path), as the CLI sets it.
#include "bpffs.hpp"
#include "class_table.hpp"
#include "feed_sync.hpp"
#include "table_update.hpp"
#include "packet_builder.hpp"
#include "privileged.hpp"
#include "prog_fixture.hpp"
#include "rate.hpp"

#include <bpf/bpf.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>

using rg::test::Filter;
using rg::test::PacketBuilder;
namespace tf = rg::test::tcp_flags;

namespace {

class FeedTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        RG_REQUIRE_PRIVILEGED();
        f_ = std::make_unique<Filter>();
        char tmpl[] = "/tmp/relayguard-feed.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override
    {
        f_.reset();
        if (!dir_.empty())
            std::filesystem::remove_all(dir_);
    }

    rg::Maps &maps() { return f_->maps(); }
    std::string pin_dir() { return maps().pin_dir(); }

    std::string write(const std::string &name, const std::string &text)
    {
        std::string path = dir_ + "/" + name;
        std::ofstream(path) << text;
        return path;
    }

    rg::Feed add(const std::string &name, const std::string &path, unsigned max_shrink = 50, bool shadow = false)
    {
        rg::FeedDef d;
        d.name = name;
        d.source = path;
        d.max_shrink = max_shrink;
        d.shadow = shadow;
        return rg::add_feed(maps(), d);
    }

    // {dropped, dropped_syn, would_drop, would_drop_syn} of a source bit.
    std::vector<uint64_t> src(unsigned bit)
    {
        auto c = maps().source_stats()[bit];
        return {c.dropped, c.dropped_syn, c.would_drop, c.would_drop_syn};
    }
    uint64_t reason(enum rg_reason r) { return maps().stats().total[r].packets; }
    int run_ack(const std::string &src_addr)
    {
        PacketBuilder b;
        b.eth();
        b.ipv4(src_addr, "203.0.113.25");
        return f_->run(b.tcp(40000, 25).flags(tf::ACK).build());
    }

    rg::Lists &lists() { return f_->lists(); }
    rg::SyncReport sync(const std::string &name, const rg::SyncOptions &o = {})
    {
        return rg::sync_feed(maps(), lists(), name, o);
    }
    bool manual(rg::ListKind kind, const std::string &cidr, bool add, unsigned bit = RG_SOURCE_MANUAL)
    {
        return f_->edit(kind, {cidr}, add, bit)[0];
    }

    // "prefix=bits" for every prefix a block source lists: the bits of every
    // source whose list covers it.
    std::map<std::string, uint64_t> table()
    {
        std::vector<std::pair<unsigned, std::vector<rg::Cidr>>> per;
        uint64_t listed = lists().sources_listed().block;
        for (unsigned b = 0; b < RG_MAX_SOURCES; b++)
            if (listed >> b & 1)
                per.push_back({b, rg::to_cidrs(lists().source_list(rg::ListKind::block, b))});
        std::map<std::string, uint64_t> out;
        for (const auto &[bit, list] : per)
            for (const rg::Cidr &p : list) {
                uint64_t bits = 0;
                for (const auto &[b2, l2] : per)
                    for (const rg::Cidr &q : l2)
                        if (q.contains(p))
                            bits |= uint64_t(1) << b2;
                out[p.str()] = bits;
            }
        return out;
    }

    int run_syn(const std::string &src)
    {
        bool v6 = src.find(':') != std::string::npos;
        PacketBuilder b;
        b.eth();
        v6 ? b.ipv6(src, "2001:db8:25::25") : b.ipv4(src, "203.0.113.25");
        return f_->run(b.tcp(40000, 25).flags(tf::SYN).build());
    }

    std::unique_ptr<Filter> f_;
    std::string dir_;
};

constexpr uint64_t M = 1u << RG_SOURCE_MANUAL;

TEST_F(FeedTest, SyncAppliesEveryFormatFromAFileWithEachSourcesBit)
{
    ASSERT_TRUE(manual(rg::ListKind::block, "198.51.100.0/24", true));
    auto a = add("a", write("a.txt", "# plain\n198.51.100.128/25\n203.0.113.0/24 ; SBL1\n2001:db8:bad::/48\n"));
    auto r = sync("a");
    EXPECT_EQ(r.result, uint32_t(RG_FEED_APPLIED)) << r.message;
    EXPECT_EQ(r.prefixes, 3u);
    uint64_t A = uint64_t(1) << a.bit;
    EXPECT_EQ(table(), (std::map<std::string, uint64_t>{{"198.51.100.0/24", M},
                                                        {"198.51.100.128/25", M | A},
                                                        {"203.0.113.0/24", A},
                                                        {"2001:db8:bad::/48", A}}));
    EXPECT_EQ(run_syn("203.0.113.9"), XDP_DROP);
    EXPECT_EQ(run_syn("2001:db8:bad::1"), XDP_DROP);
    EXPECT_EQ(run_syn("192.0.2.1"), XDP_PASS);

    // The same bytes again: not parsed, nothing written, still current.
    r = sync("a");
    EXPECT_EQ(r.result, uint32_t(RG_FEED_SAME_CONTENT)) << r.message;
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.upserts + r.deletes, 0u);
    EXPECT_EQ(r.prefixes, 3u);
    // Other bytes, the same prefixes: parsed, nothing written.
    write("a.txt", "# plain, edited\n198.51.100.128/25\n203.0.113.0/24 ; SBL1\n2001:db8:bad::/48\n");
    r = sync("a");
    EXPECT_EQ(r.result, uint32_t(RG_FEED_UNCHANGED)) << r.message;
    EXPECT_EQ(r.upserts + r.deletes, 0u);
    auto feed = rg::find_feed(maps(), "a");
    ASSERT_TRUE(feed);
    EXPECT_EQ(feed->raw.good_lines, 3u);
    EXPECT_EQ(feed->raw.prefixes, 3u);
    EXPECT_GT(feed->raw.last_success, 0u);
    EXPECT_FALSE(feed->raw.flags & RG_FEED_SYNCING);

    // Each format, forced and detected, through the same path.
    const std::pair<const char *, const char *> samples[] = {
        {"ipset", "create x hash:net\nadd x 203.0.113.0/24\nadd x 2001:db8:bad::/48\n"},
        {"json", "[\"203.0.113.0/24\", {\"cidr\": \"2001:db8:bad::/48\"}]"},
        {"range", "203.0.113.0-203.0.113.255\n2001:db8:bad::-2001:db8:bad:ffff:ffff:ffff:ffff:ffff\n"},
        {"spamhaus", "; Spamhaus DROP\n203.0.113.0/24 ; SBL1\n2001:db8:bad::/48 ; SBL2\n"},
        {"netset", "# firehol\n203.0.113.0/24\n2001:db8:bad::/48\n"},
    };
    for (const auto &[fmt, text] : samples) {
        rg::FeedDef d = rg::find_feed(maps(), "a")->def();
        d.source = write(std::string("a.") + fmt, text);
        d.format = fmt;
        rg::update_feed(maps(), d);
        r = sync("a");
        EXPECT_TRUE(r.ok()) << fmt << ": " << r.message;
        EXPECT_EQ(r.prefixes, 2u) << fmt;
        EXPECT_EQ(table().count("198.51.100.128/25"), 0u) << fmt << ": the old /25 of feed a went";
        EXPECT_EQ(table().at("203.0.113.0/24"), A) << fmt;
    }
}

TEST_F(FeedTest, SameContentIsSkippedOnlyWhileTheKernelHoldsItWithTheSameSettings)
{
    const std::string text = "198.51.100.0/24\n10.0.0.0/7\n2001:db8:bad::/48\n";
    auto a = add("a", write("a.txt", text));
    uint64_t A = uint64_t(1) << a.bit;
    auto r = sync("a");
    ASSERT_EQ(r.result, uint32_t(RG_FEED_APPLIED)) << r.message;
    const std::map<std::string, uint64_t> applied{{"198.51.100.0/24", A}, {"2001:db8:bad::/48", A}};
    EXPECT_EQ(table(), applied);  // 10.0.0.0/7 is broader than /8
    auto expect_skip = [&](const char *why) {
        uint64_t gen = maps().config().lists_gen;
        auto r = sync("a");
        EXPECT_EQ(r.result, uint32_t(RG_FEED_SAME_CONTENT)) << why << ": " << r.message;
        EXPECT_EQ(r.message, "unchanged (same content as the last sync)") << why;
        EXPECT_EQ(r.upserts + r.deletes, 0u) << why;
        EXPECT_EQ(maps().config().lists_gen, gen) << why << ": no list update";
        auto f = rg::find_feed(maps(), "a");
        EXPECT_EQ(f->raw.last_result, uint32_t(RG_FEED_SAME_CONTENT)) << why;
        EXPECT_EQ(f->raw.bytes, text.size()) << why;
    };
    expect_skip("the same bytes");

    // Other sources changing in between leave this feed's list in force.
    ASSERT_TRUE(manual(rg::ListKind::block, "192.0.2.0/24", true));
    add("b", write("b.txt", "203.0.113.0/24\n"));
    ASSERT_EQ(sync("b").result, uint32_t(RG_FEED_APPLIED));
    expect_skip("after a manual edit and another feed's sync");

    // Refused downloads leave the version in force, and its hash.
    write("a.txt", "");
    EXPECT_EQ(sync("a").result, uint32_t(RG_FEED_EMPTY));
    write("a.txt", text);
    expect_skip("the version in force again after an empty download");

    // --force parses and compares in full.
    rg::SyncOptions force;
    force.unconditional = true;
    r = sync("a", force);
    EXPECT_EQ(r.result, uint32_t(RG_FEED_UNCHANGED)) << r.message;
    expect_skip("after --force");

    // An interrupted sync of this feed: the next one is a full one.
    auto f = *rg::find_feed(maps(), "a");
    f.raw.flags |= RG_FEED_SYNCING;
    rg::put_feed(maps(), f);
    r = sync("a");
    EXPECT_EQ(r.result, uint32_t(RG_FEED_UNCHANGED)) << r.message;
    EXPECT_FALSE(rg::find_feed(maps(), "a")->raw.flags & RG_FEED_SYNCING);
    expect_skip("after the repair");

    // A list update killed half-way (odd lists_gen) with a damaged rg_tbl24:
    // the same bytes are not skipped, the sync repairs the tables.
    EXPECT_EQ(run_syn("198.51.100.9"), XDP_DROP);
    int t24 = maps().fd(RG_STR(RG_MAP_TBL24));
    uint32_t s = 198u << 16 | 51u << 8 | 100u, k = s / RG_TBL24_PER_GROUP;
    struct rg_tbl24_group g {};
    ASSERT_EQ(bpf_map_lookup_elem(t24, &k, &g), 0);
    g.e[s % RG_TBL24_PER_GROUP] = 0;
    ASSERT_EQ(bpf_map_update_elem(t24, &k, &g, BPF_ANY), 0);
    struct rg_config cfg = maps().config();
    cfg.lists_gen |= 1;
    uint32_t zero = 0;
    ASSERT_EQ(bpf_map_update_elem(maps().fd(RG_STR(RG_MAP_CONFIG)), &zero, &cfg, BPF_ANY), 0);
    ASSERT_EQ(run_syn("198.51.100.9"), XDP_PASS) << "the damage took effect";
    r = sync("a");
    EXPECT_NE(r.result, uint32_t(RG_FEED_SAME_CONTENT)) << r.message;
    EXPECT_TRUE(r.ok()) << r.message;
    EXPECT_EQ(maps().config().lists_gen % 2, 0u);
    EXPECT_EQ(run_syn("198.51.100.9"), XDP_DROP);
    expect_skip("after the repair of the tables");

    // A setting that shapes the list: parsed and applied again.
    rg::FeedDef d = rg::find_feed(maps(), "a")->def();
    d.min_prefix4 = 7;
    rg::update_feed(maps(), d);
    r = sync("a");
    EXPECT_EQ(r.result, uint32_t(RG_FEED_APPLIED)) << r.message;
    EXPECT_EQ(table().count("10.0.0.0/7"), 1u);
    expect_skip("the same bytes with the new setting");

    // One byte changed: parsed and applied.
    std::string edited = text;
    edited[14] = '5';  // 198.51.100.0/24 -> /25
    ASSERT_EQ(edited.substr(0, 16), "198.51.100.0/25\n");
    write("a.txt", edited);
    r = sync("a");
    EXPECT_EQ(r.result, uint32_t(RG_FEED_APPLIED)) << r.message;
    EXPECT_EQ(table().count("198.51.100.0/25"), 1u);
    EXPECT_EQ(table().count("198.51.100.0/24"), 0u);
    EXPECT_EQ(run_syn("198.51.100.200"), XDP_PASS);
}

TEST_F(FeedTest, TwoOverlappingFeedsRemovingOneKeepsWhatTheOtherLists)
{
    auto a = add("a", write("a.txt", "192.0.2.0/24\n198.51.100.0/24\n"));
    auto b = add("b", write("b.txt", "192.0.2.128/25\n203.0.113.0/24\n"));
    ASSERT_TRUE(sync("a").ok());
    ASSERT_TRUE(sync("b").ok());
    uint64_t A = uint64_t(1) << a.bit, B = uint64_t(1) << b.bit;
    EXPECT_EQ(table(), (std::map<std::string, uint64_t>{{"192.0.2.0/24", A},
                                                        {"192.0.2.128/25", A | B},
                                                        {"198.51.100.0/24", A},
                                                        {"203.0.113.0/24", B}}));
    ASSERT_TRUE(rg::del_feed(maps(), lists(), "a"));
    EXPECT_EQ(table(), (std::map<std::string, uint64_t>{{"192.0.2.128/25", B}, {"203.0.113.0/24", B}}));
    EXPECT_FALSE(rg::find_feed(maps(), "a"));
    EXPECT_FALSE(rg::del_feed(maps(), lists(), "a"));
    EXPECT_EQ(run_syn("192.0.2.1"), XDP_PASS);
    EXPECT_EQ(run_syn("192.0.2.200"), XDP_DROP);
    // The freed bit is reused by the next feed, with nothing listed.
    auto c = add("c", write("c.txt", "10.9.0.0/16\n"));
    EXPECT_EQ(c.bit, a.bit);
    EXPECT_EQ(table().size(), 2u);
}

TEST_F(FeedTest, TruncatedEmptyOrGarbageDownloadsAreNotApplied)
{
    std::string list;
    for (int i = 0; i < 100; i++)
        list += "198.18." + std::to_string(2 * i) + ".0/24\n";  // no two merge
    add("big", write("big.txt", list));
    ASSERT_TRUE(sync("big").ok());
    auto before = table();
    ASSERT_EQ(before.size(), 100u);

    auto expect_refused = [&](const std::string &text, uint32_t result, const char *why) {
        write("big.txt", text);
        auto r = sync("big");
        EXPECT_EQ(r.result, result) << why << ": " << r.message;
        EXPECT_FALSE(r.ok()) << why;
        EXPECT_EQ(table(), before) << why << ": the version in force must stay";
        auto feed = rg::find_feed(maps(), "big");
        EXPECT_EQ(feed->raw.last_result, result) << why;
        EXPECT_EQ(feed->raw.prefixes, 100u) << why;
        EXPECT_NE(std::string(feed->raw.message).find("not applied"), std::string::npos) << feed->raw.message;
    };
    expect_refused(list.substr(0, list.size() / 4), RG_FEED_SHRUNK, "truncated to a quarter");
    expect_refused("", RG_FEED_EMPTY, "empty");
    expect_refused("# only comments\n", RG_FEED_EMPTY, "comments only");
    expect_refused("<html><body>502 Bad Gateway</body></html>\n", RG_FEED_UNPARSEABLE, "an error page");
    std::filesystem::remove(dir_ + "/big.txt");
    auto r = sync("big");
    EXPECT_EQ(r.result, uint32_t(RG_FEED_FETCH_FAILED)) << r.message;
    EXPECT_NE(r.message.find("No such file"), std::string::npos) << r.message;
    EXPECT_EQ(table(), before);

    // Shrinking by less than max-shrink is applied.
    std::string sixty;
    for (int i = 0; i < 60; i++)
        sixty += "198.18." + std::to_string(2 * i) + ".0/24\n";
    write("big.txt", sixty);
    r = sync("big");
    EXPECT_EQ(r.result, uint32_t(RG_FEED_APPLIED)) << r.message;
    EXPECT_EQ(table().size(), 60u);
}

TEST_F(FeedTest, BroadPrefixesAreRefusedAndAllowlistOverlapsReported)
{
    ASSERT_TRUE(manual(rg::ListKind::allow, "198.51.100.7", true));
    add("wide", write("wide.txt", "0.0.0.0/0\n10.0.0.0/7\n11.0.0.0/8\n198.51.100.0/24\n2001:db8::/16\n2001:db8::/19\n"));
    auto r = sync("wide");
    EXPECT_EQ(r.result, uint32_t(RG_FEED_APPLIED)) << r.message;
    EXPECT_EQ(r.prefixes, 3u);  // 11/8, 198.51.100/24, 2001:db8::/19 (sic: masked to 2001:0::/19)
    EXPECT_EQ(table().count("0.0.0.0/0"), 0u);
    EXPECT_EQ(table().count("10.0.0.0/7"), 0u);
    EXPECT_EQ(table().count("11.0.0.0/8"), 1u);
    EXPECT_NE(r.message.find("refused 3 prefixes broader than /8 (IPv4) or /19 (IPv6)"), std::string::npos)
        << r.message;
    EXPECT_NE(r.message.find("1 overlap the allowlist"), std::string::npos) << r.message;
    auto feed = rg::find_feed(maps(), "wide");
    EXPECT_EQ(feed->raw.refused_broad, 3u);
    EXPECT_EQ(feed->raw.allow_overlaps, 1u);
    EXPECT_EQ(run_syn("198.51.100.7"), XDP_PASS);  // the allowlist wins
    EXPECT_EQ(run_syn("198.51.100.8"), XDP_DROP);
}

// The daemon's way: one Lists object kept from sync to sync (no copy in the
// state directory), while other processes change the lists in between: the
// allowlist overlaps it counts, and what it writes, follow those changes;
// the feed's memo makes the next sync parse only the changed lines.
TEST_F(FeedTest, AKeptWriterSeesChangesMadeByOthersBetweenSyncs)
{
    rg::Maps kept_maps = rg::Maps::open(pin_dir());
    rg::Lists kept(kept_maps, lists().state(), false);
    auto daemon_sync = [&](const std::string &name) { return rg::sync_feed(kept_maps, kept, name); };
    std::string base = "198.51.100.0/24\n203.0.113.0/24\n";
    add("d", write("d.txt", base));
    add("e", write("e.txt", "192.0.2.0/24\n"));
    auto r = daemon_sync("d");
    ASSERT_EQ(r.result, uint32_t(RG_FEED_APPLIED)) << r.message;
    ASSERT_TRUE(daemon_sync("e").ok());
    EXPECT_EQ(rg::find_feed(maps(), "d")->raw.allow_overlaps, 0u);

    // An allowlist entry and a manual block added by another process.
    ASSERT_TRUE(manual(rg::ListKind::allow, "203.0.113.9", true));
    ASSERT_TRUE(manual(rg::ListKind::block, "10.9.0.0/16", true));
    write("d.txt", base + "198.18.0.0/24\n");
    r = daemon_sync("d");
    ASSERT_EQ(r.result, uint32_t(RG_FEED_APPLIED)) << r.message;
    EXPECT_EQ(r.lines_parsed, 1u) << "the memo was used";
    EXPECT_EQ(rg::find_feed(maps(), "d")->raw.allow_overlaps, 1u);
    EXPECT_NE(r.message.find("1 overlap the allowlist"), std::string::npos) << r.message;
    EXPECT_EQ(table().count("10.9.0.0/16"), 1u) << "the other writer's prefix stays";

    // Removed by another process, and a feed removed meanwhile.
    ASSERT_TRUE(manual(rg::ListKind::allow, "203.0.113.9", false));
    {
        rg::DirLock lock(pin_dir());
        ASSERT_TRUE(rg::del_feed(maps(), lists(), "e"));
    }
    write("d.txt", base + "198.18.1.0/24\n");
    r = daemon_sync("d");
    ASSERT_EQ(r.result, uint32_t(RG_FEED_APPLIED)) << r.message;
    EXPECT_EQ(rg::find_feed(maps(), "d")->raw.allow_overlaps, 0u) << r.message;
    EXPECT_EQ(r.message.find("overlap"), std::string::npos) << r.message;
    EXPECT_EQ(table().count("192.0.2.0/24"), 0u);
    EXPECT_EQ(run_syn("198.18.1.9"), XDP_DROP);
    EXPECT_EQ(run_syn("198.18.0.9"), XDP_PASS);
}

// The daemon keeps each feed's memo in its SyncMemory: its syncs neither
// read nor write the state directory's memo, the next one parses only the
// changed lines, and save_memos leaves files that a one-shot sync (the
// CLI's) then uses -- for the feeds still registered only.
TEST_F(FeedTest, AMemoKeptInMemoryIsUsedAndSavedWhenAsked)
{
    rg::SyncMemory memory;
    rg::SyncOptions kept;
    kept.memory = &memory;
    std::string base = "198.51.100.0/24\n203.0.113.0/24\n2001:db8::/48\n";
    add("d", write("d.txt", base));
    add("e", write("e.txt", "192.0.2.0/24\n"));
    ASSERT_TRUE(rg::sync_feed(maps(), lists(), "d", kept).ok());
    ASSERT_TRUE(rg::sync_feed(maps(), lists(), "e", kept).ok());
    std::string memo_d = lists().state().file("feed-d.memo"), memo_e = lists().state().file("feed-e.memo");
    EXPECT_FALSE(std::filesystem::exists(memo_d)) << "written by a sync that keeps its memo in memory";
    ASSERT_EQ(memory.memos.count("d"), 1u);

    write("d.txt", base + "198.18.0.0/24\n");
    auto r = rg::sync_feed(maps(), lists(), "d", kept);
    ASSERT_EQ(r.result, uint32_t(RG_FEED_APPLIED)) << r.message;
    EXPECT_EQ(r.lines_parsed, 1u) << "the memo in memory was not used";
    EXPECT_EQ(run_syn("198.18.0.9"), XDP_DROP);
    EXPECT_FALSE(std::filesystem::exists(memo_d));

    {
        rg::DirLock lock(pin_dir());
        ASSERT_TRUE(rg::del_feed(maps(), lists(), "e"));
    }
    rg::save_memos(maps(), lists().state(), memory);
    EXPECT_TRUE(std::filesystem::exists(memo_d));
    EXPECT_FALSE(std::filesystem::exists(memo_e)) << "a memo saved for a feed that is gone";

    // A one-shot sync starts from the saved memo.
    write("d.txt", base + "198.18.0.0/24\n198.18.1.0/24\n");
    r = sync("d");
    ASSERT_EQ(r.result, uint32_t(RG_FEED_APPLIED)) << r.message;
    EXPECT_EQ(r.lines_parsed, 1u) << "the saved memo was not used";
    EXPECT_NE(rg::sync_summary(r).find(", 1 lines parsed)"), std::string::npos) << rg::sync_summary(r);
    EXPECT_EQ(run_syn("198.18.1.9"), XDP_DROP);
}

// A daemon's sync collapses only around the changed prefixes (its memo
// holds the list it wrote) and hands that list's change to the write while
// the lists are still as it left them. Whatever the path, the feed's list in
// the tables is the collapse of its download: checked over random edits
// that make and split merged blocks, with a one-shot sync of another
// version coming between now and then.
TEST_F(FeedTest, ADaemonSyncCollapsesAroundTheChangesAndListsWhatTheDownloadSays)
{
    std::mt19937 rng(5);
    // 198.18.0.0/18 and 2001:db8::/114 (16,384 addresses each), 1,500
    // lines: siblings to merge are common, long chains of them rare.
    auto line = [&] {
        unsigned r = rng() % 20, a = rng() % 16384;
        char v6[64];
        snprintf(v6, sizeof(v6), "2001:db8::%x:%x", a >> 16, a & 0xffff);
        std::string v4 = "198.18." + std::to_string(a >> 8) + "." + std::to_string(a & 0xfc);
        if (r == 0)
            return v4 + "/30";
        if (r == 1)
            return std::string(v6) + "/126";
        if (r < 6)
            return std::string(v6);
        return "198.18." + std::to_string(a >> 8) + "." + std::to_string(a & 0xff);
    };
    std::vector<std::string> lines;
    for (int i = 0; i < 1500; i++)
        lines.push_back(line());
    auto text = [&] {
        std::string t;
        for (const std::string &l : lines)
            t += l + "\n";
        return t;
    };
    rg::Feed feed = add("w", write("w.txt", text()), 100);
    rg::SyncMemory memory;
    rg::SyncOptions kept;
    kept.memory = &memory;
    ASSERT_TRUE(sync("w", kept).ok());
    int around = 0;
    for (int round = 0; round < 40; round++) {
        for (int k = 0; k < 12; k++) {
            long at = long(rng() % lines.size());
            if (unsigned op = rng() % 3; op == 0)
                lines[size_t(at)] = line();
            else if (op == 1)
                lines.erase(lines.begin() + at);
            else
                lines.insert(lines.begin() + at, line());
        }
        if (round % 7 == 3) {  // another process syncs another version meanwhile
            write("w.txt", text() + "198.18.200.0/24\n");
            ASSERT_TRUE(sync("w").ok());
        }
        std::string t = text();
        write("w.txt", t);
        rg::SyncReport r = sync("w", kept);
        ASSERT_TRUE(r.ok()) << r.message;
        rg::FeedParseResult full = rg::parse_feed(t, rg::FeedFormat::plain, "w");
        ASSERT_EQ(lists().source_list(rg::ListKind::block, feed.bit), rg::collapse(full.prefixes))
            << "round " << round;
        ASSERT_EQ(memory.memos.at("w").list_gen, maps().lists_gen()) << "the memo knows the list in force";
        around += r.prefixes_collapsed < full.prefixes.size() / 4;
    }
    EXPECT_GE(around, 35) << "syncs that collapsed only around the changed prefixes";
}

// A one-shot sync leaves the saved memo as it is while the download differs
// from it in at most half the lines a delta may parse (the next sync then
// still parses only what changed), and saves a new one when the download
// has moved further. Whichever memo is used, what is enforced is the
// download's list.
TEST_F(FeedTest, AOneShotSyncKeepsTheSavedMemoWhileTheDownloadStaysCloseToIt)
{
    // 200 lines: a delta parses at most 200 / 10 + 64 = 84 changed lines.
    auto lines = [](int from, int n) {
        std::string text;
        for (int i = from; i < from + n; i++)
            text += "198.18." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) + "\n";
        return text;
    };
    std::string v1 = lines(0, 200);
    add("m", write("m.txt", v1));
    ASSERT_TRUE(sync("m").ok());
    std::string body = lists().state().file("feed-m.body");
    auto saved = [&] {
        std::ifstream f(body, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(f), {});
    };
    ASSERT_EQ(saved(), v1) << "the first sync saves its memo";

    // 5 lines replaced: 10 lines parsed, the memo stays.
    std::string v2 = lines(0, 195) + lines(1000, 5);
    write("m.txt", v2);
    auto r = sync("m");
    ASSERT_EQ(r.result, uint32_t(RG_FEED_APPLIED)) << r.message;
    EXPECT_EQ(r.lines_parsed, 10u);
    EXPECT_EQ(saved(), v1) << "a memo 10 lines away was written again";
    EXPECT_EQ(run_syn("198.18.4.1"), XDP_DROP) << "line 1000";
    EXPECT_EQ(run_syn("198.18.0.196"), XDP_PASS) << "line 195, removed";

    // 30 lines replaced since the memo (60 parsed, over half of 84): a new memo.
    std::string v3 = lines(0, 170) + lines(2000, 30);
    write("m.txt", v3);
    r = sync("m");
    ASSERT_EQ(r.result, uint32_t(RG_FEED_APPLIED)) << r.message;
    EXPECT_EQ(r.lines_parsed, 60u);
    EXPECT_EQ(saved(), v3) << "a memo 60 lines away was kept";
    EXPECT_EQ(run_syn("198.18.4.1"), XDP_PASS);
    EXPECT_EQ(run_syn("198.18.8.1"), XDP_DROP) << "line 2000";

    // The next sync starts from that memo.
    write("m.txt", v3 + lines(3000, 1));
    r = sync("m");
    ASSERT_EQ(r.result, uint32_t(RG_FEED_APPLIED)) << r.message;
    EXPECT_EQ(r.lines_parsed, 1u);
    EXPECT_EQ(run_syn("198.18.12.1"), XDP_DROP) << "line 3000";
    EXPECT_EQ(rg::find_feed(maps(), "m")->raw.good_lines, 201u);
}

TEST_F(FeedTest, InterruptedSyncAndOrphanBitsAreRepairedByTheNextSync)
{
    ASSERT_TRUE(manual(rg::ListKind::block, "192.0.2.0/24", true));
    auto a = add("a", write("a.txt", "198.51.100.0/24\n203.0.113.0/25\n"));
    ASSERT_TRUE(sync("a").ok());
    // Bits of a feed whose removal died before its registry entry went.
    ASSERT_TRUE(manual(rg::ListKind::block, "10.1.0.0/16", true, 40));
    // A sync to a new version that died half-way: the flag set, the first
    // upsert of the change written, the generation left odd.
    {
        rg::ListTables tables(maps());
        rg::TableSet cur = tables.read(), next;
        rg::ClassTable classes(tables.classes(), cur);
        rg::PrefixSet l = rg::collapse(rg::to_prefix_set({rg::parse_cidr("198.51.100.0/25").cidr,
                                                          rg::parse_cidr("203.0.113.128/25").cidr}));
        rg::ListChange lc = rg::list_change(cur, classes, rg::ListKind::block, a.bit, l);
        rg::TableChange ch = rg::update_tables(cur, classes, rg::ListKind::block, a.bit, lc, next);
        ASSERT_GE(ch.up4.size(), 2u);
        rg::TableChange part;
        part.up4 = {ch.up4.front()};
        part.new_classes = ch.new_classes;
        rg::TableSet mid = cur;
        mid.v4.insert(std::lower_bound(mid.v4.begin(), mid.v4.end(), part.up4[0],
                                       [](const auto &x, const auto &y) { return rg::prefix_less(x.p, y.p); }),
                      part.up4[0]);
        maps().set_lists_gen(maps().lists_gen() | 1);
        tables.write(mid, part, false);
    }
    auto feed = *rg::find_feed(maps(), "a");
    feed.raw.flags |= RG_FEED_SYNCING;
    rg::put_feed(maps(), feed);

    write("a.txt", "198.51.100.0/25\n203.0.113.128/25\n");
    auto r = sync("a");
    EXPECT_EQ(r.result, uint32_t(RG_FEED_APPLIED)) << r.message;
    uint64_t A = uint64_t(1) << a.bit;
    EXPECT_EQ(table(), (std::map<std::string, uint64_t>{
                           {"192.0.2.0/24", M}, {"198.51.100.0/25", A}, {"203.0.113.128/25", A}}));
    EXPECT_FALSE(rg::find_feed(maps(), "a")->raw.flags & RG_FEED_SYNCING);
}

TEST_F(FeedTest, ManualEditsKeepFeedBitsAndAttribution)
{
    auto a = add("a", write("a.txt", "10.0.0.0/8\n"));
    ASSERT_TRUE(sync("a").ok());
    uint64_t A = uint64_t(1) << a.bit;
    // A manual prefix inside the feed's: its entry carries both bits.
    ASSERT_TRUE(manual(rg::ListKind::block, "10.1.0.0/16", true));
    EXPECT_EQ(table(), (std::map<std::string, uint64_t>{{"10.0.0.0/8", A}, {"10.1.0.0/16", A | M}}));
    EXPECT_FALSE(manual(rg::ListKind::block, "10.1.0.0/16", true)) << "already listed";
    EXPECT_FALSE(manual(rg::ListKind::block, "10.0.0.0/8", false)) << "not manual";
    ASSERT_TRUE(manual(rg::ListKind::block, "10.1.0.0/16", false));
    EXPECT_EQ(table(), (std::map<std::string, uint64_t>{{"10.0.0.0/8", A}}));
}

// ---- attribution and shadow feeds (BPF_PROG_RUN) -----------------------------------

TEST_F(FeedTest, EveryBlocklistHitCountsForEachSourceOfItsEntry)
{
    ASSERT_TRUE(manual(rg::ListKind::block, "10.1.0.0/16", true));
    auto a = add("a", write("a.txt", "10.0.0.0/8\n"));
    auto b = add("b", write("b.txt", "10.1.2.0/24\n192.0.2.0/24\n"));
    ASSERT_TRUE(sync("a").ok());
    ASSERT_TRUE(sync("b").ok());
    using V = std::vector<uint64_t>;
    EXPECT_EQ(run_syn("10.9.9.9"), XDP_DROP);   // a
    EXPECT_EQ(run_syn("10.1.9.9"), XDP_DROP);   // a, manual
    EXPECT_EQ(run_syn("10.1.2.3"), XDP_DROP);   // a, manual, b
    EXPECT_EQ(run_ack("10.1.2.3"), XDP_DROP);   // a packet, not a SYN
    EXPECT_EQ(run_syn("192.0.2.1"), XDP_DROP);  // b
    EXPECT_EQ(run_syn("198.51.100.1"), XDP_PASS);
    EXPECT_EQ(src(a.bit), (V{4, 3, 0, 0}));
    EXPECT_EQ(src(RG_SOURCE_MANUAL), (V{3, 2, 0, 0}));
    EXPECT_EQ(src(b.bit), (V{3, 2, 0, 0}));
    EXPECT_EQ(src(RG_SOURCE_CONFIG), (V{0, 0, 0, 0}));
    EXPECT_EQ(reason(RG_DROP_BLOCKLIST), 5u);

    // Allowlisted: not a blocklist hit, nothing attributed.
    ASSERT_TRUE(manual(rg::ListKind::allow, "10.9.9.9", true));
    EXPECT_EQ(run_syn("10.9.9.9"), XDP_PASS);
    EXPECT_EQ(src(a.bit), (V{4, 3, 0, 0}));

    // Monitor mode: the same hits count as would-drops.
    maps().set_monitor(true);
    EXPECT_EQ(run_syn("10.1.2.3"), XDP_PASS);
    EXPECT_EQ(src(a.bit), (V{4, 3, 1, 1}));
    EXPECT_EQ(src(b.bit), (V{3, 2, 1, 1}));
}

TEST_F(FeedTest, ShadowFeedsCountWouldDropsAndNeverDrop)
{
    auto sh = add("shadow", write("s.txt", "192.0.2.0/24\n10.1.0.0/16\n"), 50, true);
    auto en = add("enforce", write("e.txt", "10.0.0.0/8\n198.51.100.0/24\n"));
    ASSERT_TRUE(sync("shadow").ok());
    ASSERT_TRUE(sync("enforce").ok());
    EXPECT_EQ(maps().shadow_sources(), uint64_t(1) << sh.bit);
    using V = std::vector<uint64_t>;

    // Listed only by the shadow feed: passes, as a clean packet would.
    EXPECT_EQ(run_syn("192.0.2.1"), XDP_PASS);
    EXPECT_EQ(reason(RG_PASS_CLEAN), 1u);
    EXPECT_EQ(reason(RG_DROP_BLOCKLIST) + reason(RG_WOULD_DROP_BLOCKLIST), 0u);
    EXPECT_EQ(src(sh.bit), (V{0, 0, 1, 1}));

    // The shadow /16 lies inside the enforcing /8: that entry drops, and
    // counts a drop for the enforcing feed and a would-drop for the shadow.
    EXPECT_EQ(run_syn("10.1.2.3"), XDP_DROP);
    EXPECT_EQ(src(en.bit), (V{1, 1, 0, 0}));
    EXPECT_EQ(src(sh.bit), (V{0, 0, 2, 2}));
    EXPECT_EQ(run_syn("198.51.100.1"), XDP_DROP);
    EXPECT_EQ(src(sh.bit), (V{0, 0, 2, 2}));

    // A shadow-only entry hides nothing behind it: a ban still drops.
    rg::add_ban(maps(), rg::parse_cidr("192.0.2.1").cidr, std::chrono::minutes(5));
    EXPECT_EQ(run_syn("192.0.2.1"), XDP_DROP);
    EXPECT_EQ(reason(RG_DROP_BANNED), 1u);
    EXPECT_EQ(src(sh.bit), (V{0, 0, 3, 3}));
    rg::del_ban(maps(), rg::parse_cidr("192.0.2.1").cidr);

    // Turning shadow off enforces every entry at once, and back.
    rg::FeedDef d = rg::find_feed(maps(), "shadow")->def();
    d.shadow = false;
    rg::update_feed(maps(), d);
    EXPECT_EQ(run_syn("192.0.2.1"), XDP_DROP);
    EXPECT_EQ(src(sh.bit), (V{1, 1, 3, 3}));
    d.shadow = true;
    rg::update_feed(maps(), d);
    EXPECT_EQ(run_syn("192.0.2.1"), XDP_PASS);

    // Removing the feed clears its shadow bit; a new feed on the bit starts
    // with zero counters.
    ASSERT_TRUE(rg::del_feed(maps(), lists(), "shadow"));
    EXPECT_EQ(maps().shadow_sources(), 0u);
    auto again = add("again", write("g.txt", "203.0.113.0/24\n"));
    EXPECT_EQ(again.bit, sh.bit);
    EXPECT_EQ(src(again.bit), (V{0, 0, 0, 0}));
}

// A large feed through the whole path (200,000 prefixes, none adjacent),
// then 1% of its lines replaced: the sync writes exactly the change, parses
// only the changed lines (the memo), and a second process's view agrees.
// Times are the benchmark's (tools/bench/controlplane), not asserted here.
TEST_F(FeedTest, LargeFeedLoadsAndSyncsOnePercent)
{
    const int n = 200000;
    std::string list;
    for (int i = 0; i < n; i++) {
        char buf[64];
        if (i % 5 == 4)
            std::snprintf(buf, sizeof(buf), "2001:db8:%x:%x::/64\n", i >> 16, i & 0xffff);
        else
            std::snprintf(buf, sizeof(buf), "%d.%d.%d.0/24\n", 11 + i / 32768, (i / 128) % 256, (i % 128) * 2);
        list += buf;
    }
    add("large", write("large.txt", list), 100);
    auto r = sync("large");
    ASSERT_EQ(r.result, uint32_t(RG_FEED_APPLIED)) << r.message;
    EXPECT_EQ(r.prefixes, uint64_t(n));
    rg::ListSize size = lists().size(rg::ListKind::block);
    EXPECT_EQ(size.v4 + size.v6, r.prefixes);
    // 1% changed: every 100th line replaced.
    std::string changed;
    size_t pos = 0;
    for (int i = 0; pos < list.size(); i++) {
        size_t nl = list.find('\n', pos);
        changed += i % 100 == 0 ? "172." + std::to_string(16 + i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
                                      std::to_string(i % 256) + "\n"
                                : list.substr(pos, nl - pos + 1);
        pos = nl + 1;
    }
    write("large.txt", changed);
    rg::Maps other_maps = rg::Maps::open(pin_dir());
    rg::Lists other(other_maps, lists().state());
    auto r2 = rg::sync_feed(other_maps, other, "large");
    ASSERT_EQ(r2.result, uint32_t(RG_FEED_APPLIED)) << r2.message;
    EXPECT_EQ(r2.upserts, size_t(n / 100));
    EXPECT_EQ(r2.deletes, size_t(n / 100));
    EXPECT_EQ(r2.lines_parsed, size_t(2 * n / 100)) << "only the changed lines were parsed";
    EXPECT_EQ(run_syn("172.16.0.0"), XDP_DROP);
    EXPECT_EQ(run_syn("11.0.0.1"), XDP_PASS) << "line 0 was replaced";
    EXPECT_EQ(run_syn("11.0.2.1"), XDP_DROP);
}

} // namespace
