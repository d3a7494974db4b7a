// rg::feed_delta against the full path: on random feeds with random edits
// (lines replaced, inserted, deleted, moved, duplicated), the counts and the
// sorted prefixes it gives must be what parse_feed gives for the whole
// download; and it must decline where the full path has to report
// something (bad lines, refused prefixes) or the format changes. The memo
// round trip through the state directory is tested too.
#include "collapse_delta.hpp"
#include "feed_delta.hpp"
#include "feed_memo.hpp"

#include <algorithm>
#include <filesystem>
#include <iterator>

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <unistd.h>
#include <string>
#include <vector>

namespace {

using rg::FeedFormat;

rg::FeedParseResult full(const std::string &text, FeedFormat fmt = FeedFormat::automatic)
{
    return rg::parse_feed(text, fmt, "t");
}

// A memo of a download held in memory (its text and parse outlive it).
struct Memo {
    std::string text;
    rg::FeedParseResult parsed;
    rg::FeedMemo memo;
    explicit Memo(std::string t) : text(std::move(t)), parsed(full(text))
    {
        EXPECT_EQ(parsed.bad_lines, 0u) << "a memo is only made of a download without bad lines";
        memo.format = parsed.format;
        memo.good_lines = parsed.good_lines;
        memo.comment_lines = parsed.comment_lines;
        memo.host_bits_cleared = parsed.host_bits_cleared;
        memo.body = text;
        memo.prefixes = parsed.prefixes;
    }
};

std::vector<std::string> strs(const rg::PrefixSet &s)
{
    std::vector<std::string> out;
    for (const rg::Cidr &c : rg::to_cidrs(s))
        out.push_back(c.str());
    return out;
}

class Lines {
public:
    explicit Lines(uint32_t seed) : rng_(seed) {}

    // A plain-format line: mostly addresses and prefixes from a small space
    // (so they nest, touch and repeat), some ranges, IPv6, comments, blanks.
    std::string line()
    {
        uint32_t v = rng_();
        unsigned a = 198, b = 51 + v % 2, c = (v >> 1) % 8, d = (v >> 4) % 256;
        switch ((v >> 12) % 12) {
        case 0:
            return "# comment " + std::to_string(v % 1000);
        case 1:
            return "";
        case 2:
            return q(a, b, c, 0) + "/" + std::to_string(21 + (v >> 16) % 4);
        case 3:
            return q(a, b, c, d & ~15u) + "/28 ; SBL" + std::to_string(v % 99);
        case 4:
            return q(a, b, c, d) + "-" + q(a, b, c, std::min(255u, d + (v >> 20) % 40));
        case 5: {
            char buf[64];
            std::snprintf(buf, sizeof(buf), "2001:db8:%x:%x::/%u", (v >> 16) % 4, (v >> 20) % 8, 47 + (v >> 24) % 20);
            return buf;
        }
        case 6:
            return q(a, b, c, d) + "\r";
        case 7:
            return "  " + q(a, b, c, d) + "  # trailing";
        default:
            return q(a, b, c, d);
        }
    }

    std::vector<std::string> lines(size_t n)
    {
        std::vector<std::string> out;
        for (size_t i = 0; i < n; i++)
            out.push_back(line());
        return out;
    }

    // A few edits of the kinds a feed sees between two downloads.
    void edit(std::vector<std::string> &l)
    {
        size_t edits = 1 + rng_() % 6;
        for (size_t e = 0; e < edits && !l.empty(); e++) {
            size_t at = rng_() % l.size(), run = 1 + rng_() % 12;
            switch (rng_() % 5) {
            case 0:  // replace
                l[at] = line();
                break;
            case 1:  // insert a run
                for (size_t k = 0; k < run; k++)
                    l.insert(l.begin() + long(at), line());
                break;
            case 2:  // delete a run
                l.erase(l.begin() + long(at), l.begin() + long(std::min(l.size(), at + run)));
                break;
            case 3: {  // move a run elsewhere
                size_t end = std::min(l.size(), at + run);
                std::vector<std::string> block(l.begin() + long(at), l.begin() + long(end));
                l.erase(l.begin() + long(at), l.begin() + long(end));
                size_t to = l.empty() ? 0 : rng_() % (l.size() + 1);
                l.insert(l.begin() + long(to), block.begin(), block.end());
                break;
            }
            default:  // duplicate a line
                l.insert(l.begin() + long(rng_() % (l.size() + 1)), l[at]);
            }
        }
    }

    static std::string text(const std::vector<std::string> &l, bool last_newline = true)
    {
        std::string t;
        for (size_t i = 0; i < l.size(); i++)
            t += l[i] + (i + 1 < l.size() || last_newline ? "\n" : "");
        return t;
    }

    std::mt19937 &rng() { return rng_; }

private:
    static std::string q(unsigned a, unsigned b, unsigned c, unsigned d)
    {
        return std::to_string(a) + "." + std::to_string(b) + "." + std::to_string(c) + "." + std::to_string(d);
    }

    std::mt19937 rng_;
};

} // namespace

TEST(FeedDelta, RandomEditsGiveWhatTheFullPathGives)
{
    Lines gen(20261123);
    size_t used = 0, cases = 400;
    for (size_t i = 0; i < cases; i++) {
        SCOPED_TRACE("case " + std::to_string(i));
        std::vector<std::string> base = gen.lines(300 + gen.rng()() % 300);
        std::vector<std::string> next = base;
        gen.edit(next);
        bool newline_before = gen.rng()() % 4 != 0, newline = gen.rng()() % 4 != 0;
        std::string before = Lines::text(base, newline_before), after = Lines::text(next, newline);
        Memo memo(before);
        std::optional<rg::FeedDelta> d = rg::feed_delta(memo.memo, after, FeedFormat::automatic, 0, 0, "t");
        rg::FeedParseResult want = full(after);
        ASSERT_EQ(want.bad_lines, 0u);
        if (!d)
            continue;  // declined (too many lines changed): the full path runs
        used++;
        EXPECT_EQ(d->parsed.good_lines, want.good_lines);
        EXPECT_EQ(d->parsed.comment_lines, want.comment_lines);
        EXPECT_EQ(d->parsed.host_bits_cleared, want.host_bits_cleared);
        EXPECT_EQ(d->parsed.bad_lines, 0u);
        EXPECT_EQ(d->parsed.format, want.format);
        EXPECT_EQ(strs(d->parsed.prefixes), strs(want.prefixes));
        EXPECT_LT(d->lines_parsed, next.size() / 5 + 64) << "it parsed about everything";
        // The memo's prefixes and the result differ only in prefixes of
        // d->changed, so collapse_delta gives the whole collapse.
        std::vector<rg::Prefix4> only;
        std::set_symmetric_difference(memo.memo.prefixes.v4.begin(), memo.memo.prefixes.v4.end(),
                                      d->parsed.prefixes.v4.begin(), d->parsed.prefixes.v4.end(),
                                      std::back_inserter(only), rg::prefix_less<uint32_t>);
        for (const rg::Prefix4 &p : only)
            EXPECT_TRUE(std::binary_search(d->changed.v4.begin(), d->changed.v4.end(), p, rg::prefix_less<uint32_t>))
                << rg::to_cidr(p).str() << " changed but is not in FeedDelta::changed";
        rg::CollapseDelta cd;
        rg::collapse_delta(d->parsed.prefixes, rg::collapse(memo.memo.prefixes), d->changed, cd);
        EXPECT_EQ(strs(cd.list), strs(rg::collapse(want.prefixes)));
        if (HasFailure())
            break;
    }
    EXPECT_GT(used, cases / 2) << "the delta declined most cases: the test checks little";
}

TEST(FeedDelta, UnchangedDownloadParsesNothing)
{
    std::string text = "192.0.2.0/24\n198.51.100.7\n# c\n2001:db8::/48\n";
    Memo memo(text);
    auto d = rg::feed_delta(memo.memo, text, FeedFormat::automatic, 0, 0, "t");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->lines_parsed, 0u);
    EXPECT_EQ(strs(d->parsed.prefixes), strs(full(text).prefixes));
    EXPECT_EQ(d->parsed.prefixes.size(), 3u);
}

// A memo of an empty body (a saved memo whose body file is empty is mapped
// as a null view): memrchr got a null pointer, undefined behaviour that
// UBSan reports in the sanitizer build (found by
// tests/fuzz/fuzz_state_files.cpp).
TEST(FeedDelta, MemoOfAnEmptyBody)
{
    rg::FeedMemo memo;
    memo.format = FeedFormat::plain;
    memo.body = std::string_view();
    for (std::string next : {std::string(), std::string("192.0.2.1\n")}) {
        std::optional<rg::FeedDelta> d = rg::feed_delta(memo, next, FeedFormat::plain, 0, 0, "t");
        if (d) {
            EXPECT_EQ(strs(d->parsed.prefixes), strs(full(next, FeedFormat::plain).prefixes));
        }
    }
}

TEST(FeedDelta, ReorderedLinesAreNoChange)
{
    std::string before = "192.0.2.0/24\n198.51.100.7\n203.0.113.9\n2001:db8::/48\n";
    std::string after = "2001:db8::/48\n203.0.113.9\n198.51.100.7\n192.0.2.0/24\n";
    Memo memo(before);
    auto d = rg::feed_delta(memo.memo, after, FeedFormat::automatic, 0, 0, "t");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->lines_parsed, 0u);
    EXPECT_EQ(strs(d->parsed.prefixes), strs(full(after).prefixes));
}

TEST(FeedDelta, DeclinesWhereTheFullPathMustReport)
{
    std::string base;
    for (int i = 0; i < 200; i++)
        base += "198.51.100." + std::to_string(i) + "\n";
    Memo held(base);
    const rg::FeedMemo &memo = held.memo;
    auto with_line = [&](const std::string &line) {
        std::string t = base;
        t.insert(t.find("198.51.100.100\n"), line + "\n");
        return t;
    };
    EXPECT_TRUE(rg::feed_delta(memo, with_line("203.0.113.0/24"), FeedFormat::automatic, 8, 19, "t"));
    EXPECT_FALSE(rg::feed_delta(memo, with_line("not-an-address"), FeedFormat::automatic, 8, 19, "t"))
        << "a bad line must be reported with its line number";
    EXPECT_FALSE(rg::feed_delta(memo, with_line("10.0.0.0/7"), FeedFormat::automatic, 8, 19, "t"))
        << "a prefix broader than the limit must be refused and reported";
    EXPECT_FALSE(rg::feed_delta(memo, "[\"192.0.2.1\"]", FeedFormat::automatic, 8, 19, "t")) << "JSON";
    EXPECT_FALSE(rg::feed_delta(memo, "add bad 192.0.2.0/24\n" + base, FeedFormat::automatic, 8, 19, "t"))
        << "now detected as ipset";
    std::string half;
    for (int i = 0; i < 200; i++)
        half += "203.0.113." + std::to_string(i) + "\n";
    EXPECT_FALSE(rg::feed_delta(memo, half, FeedFormat::automatic, 8, 19, "t")) << "everything changed";
    EXPECT_FALSE(rg::feed_delta(memo, "\xEF\xBB\xBF" + base, FeedFormat::automatic, 8, 19, "t")) << "a BOM";
}

// A memo saved to the state directory reads back as it was; one whose body
// was changed, or whose file was damaged, is not used.
TEST(FeedMemo, SavedAndLoadedBackOrRefusedWhenItDoesNotCheckOut)
{
    char tmpl[] = "/tmp/relayguard-memo.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    std::string dir = tmpl;
    rg::StateDir state(dir);
    const std::string text = "192.0.2.0/24\n198.51.100.7\n# c\n2001:db8::/48\n192.0.2.9\n";
    rg::FeedParseResult parsed = full(text);
    auto save = [&] {
        rg::save_feed_memo(state, "x", rg::make_feed_memo(text, parsed));
    };
    save();
    {
        std::optional<rg::FeedMemo> m = rg::load_feed_memo(state, "x");
        ASSERT_TRUE(m);
        EXPECT_EQ(m->body, text);
        EXPECT_EQ(m->format, parsed.format);
        EXPECT_EQ(m->good_lines, parsed.good_lines);
        EXPECT_EQ(m->comment_lines, parsed.comment_lines);
        rg::PrefixSet back{{m->prefixes.v4.begin(), m->prefixes.v4.end()}, {m->prefixes.v6.begin(), m->prefixes.v6.end()}};
        EXPECT_EQ(back, parsed.prefixes);
    }
    // A body that is not the one the memo was made of.
    std::string body = state.file("feed-x.body");
    { std::ofstream(body, std::ios::app) << "203.0.113.1\n"; }
    EXPECT_FALSE(rg::load_feed_memo(state, "x"));
    // A damaged memo file.
    save();
    ASSERT_TRUE(rg::load_feed_memo(state, "x"));
    {
        std::fstream f(state.file("feed-x.memo"), std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(40);
        f.put('\x55');
    }
    EXPECT_FALSE(rg::load_feed_memo(state, "x"));
    std::filesystem::remove_all(dir);
}
