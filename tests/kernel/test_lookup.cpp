// The compiled list lookup (rg_tbl24, rg_pfx4/6, rg_slots6, rg_classes)
// against a longest-prefix reference computed here: random nested lists in
// both families, every verdict checked through BPF_PROG_RUN, then again after
// incremental updates, and the repair of tables an update left half-way.
#include "cidr_bits.hpp"
#include "list_sweep.hpp"
#include "list_tables.hpp"
#include "packet_builder.hpp"
#include "privileged.hpp"
#include "prog_fixture.hpp"

#include <gtest/gtest.h>

#include <bpf/bpf.h>
#include <random>

using rg::test::Filter;
using rg::test::PacketBuilder;
namespace tf = rg::test::tcp_flags;
namespace bits = rg::bits;

namespace {

struct Lists {
    std::vector<rg::SourcePrefixes> block;  // sources 0, 2, 3
    std::vector<rg::Cidr> allow;
};

class LookupTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        RG_REQUIRE_PRIVILEGED();
        f_.emplace();
    }

    // A random prefix: often a child of one made before (of any source), so
    // prefixes nest across sources, else a new one in IPv4 198.0.0.0/8 or
    // IPv6 2001:db8::/32 (rarely broad, so most addresses stay unlisted).
    rg::Cidr random_prefix(bool v6)
    {
        std::vector<rg::Cidr> &pool = v6 ? pool6_ : pool4_;
        unsigned max = v6 ? 128 : 32;
        bits::U128 r = bits::U128(rng_()) << 96 | bits::U128(rng_()) << 64 | bits::U128(rng_()) << 32 | rng_();
        std::uniform_int_distribution<unsigned> pick(0, 99);
        rg::Cidr c;
        if (!pool.empty() && pick(rng_) < 60) {
            const rg::Cidr parent = pool[rng_() % pool.size()];
            if (parent.len < max) {
                unsigned len = parent.len + 1 + rng_() % (max - parent.len);
                c = bits::make(parent.family, bits::from_bytes(parent.addr) | (r & ~bits::mask(parent.len)), len);
            } else {
                c = parent;
            }
        } else if (!v6) {
            unsigned len = pick(rng_) < 5 ? 12 + rng_() % 8 : 20 + rng_() % 13;
            c = bits::make(4, bits::from_bytes(rg::parse_cidr("198.0.0.0").cidr.addr) | (r & ~bits::mask(8)), len);
        } else {
            unsigned len = pick(rng_) < 5 ? 32 + rng_() % 16 : 48 + rng_() % 81;
            c = bits::make(6, bits::from_bytes(rg::parse_cidr("2001:db8::").cidr.addr) | (r & ~bits::mask(32)), len);
        }
        pool.push_back(c);
        return c;
    }

    std::vector<rg::Cidr> random_list(size_t n)
    {
        std::vector<rg::Cidr> out;
        for (size_t i = 0; i < n; i++)
            out.push_back(random_prefix(i % 3 == 2));
        return out;
    }

    // Addresses to probe: the first, last and a random address of every
    // prefix, and a few just outside.
    std::vector<rg::Cidr> probes(const Lists &l)
    {
        std::vector<rg::Cidr> out;
        auto around = [&](const rg::Cidr &c) {
            // In bits:: values an address of either family fills the top bits.
            unsigned max = c.family == 4 ? 32 : 128;
            bits::U128 one = bits::unit(max), size = bits::unit(c.len), lo = bits::from_bytes(c.addr);
            bits::U128 r = bits::U128(rng_()) << 96 | bits::U128(rng_()) << 64 | bits::U128(rng_()) << 32 | rng_();
            for (bits::U128 v : {lo, lo + size - one, lo + (r & (size - 1) & ~(one - 1)), lo - one, lo + size})
                out.push_back(bits::make(c.family, v, max));
        };
        for (const auto &s : l.block)
            for (const rg::Cidr &c : s.prefixes)
                around(c);
        for (const rg::Cidr &c : l.allow)
            around(c);
        return out;
    }

    struct Verdict {
        enum rg_reason reason = RG_REASON_MAX;
        uint64_t sources = 0;  // the block sources a drop was attributed to
        bool operator==(const Verdict &) const = default;
    };

    // What the lists say for an address: allowlisted, or blocked by which
    // sources (all that list a prefix containing it), or neither.
    static Verdict expect(const Lists &l, const rg::Cidr &addr)
    {
        for (const rg::Cidr &c : l.allow)
            if (bits::contains(c, addr))
                return {RG_PASS_ALLOWLIST, 0};
        Verdict v{RG_PASS_CLEAN, 0};
        for (const auto &s : l.block)
            for (const rg::Cidr &c : s.prefixes)
                if (bits::contains(c, addr))
                    v = {RG_DROP_BLOCKLIST, v.sources | uint64_t(1) << s.source};
        return v;
    }

    Verdict verdict(const rg::Cidr &addr)
    {
        PacketBuilder b;
        b.eth();
        if (addr.family == 4)
            b.ipv4(addr.str().substr(0, addr.str().find('/')), "203.0.113.25");
        else
            b.ipv6(addr.str().substr(0, addr.str().find('/')), "2001:db8:ffff::25");
        auto before = f_->maps().stats().total;
        auto src_before = f_->maps().source_stats();
        f_->run(b.tcp(40000, 25).flags(tf::ACK).build());
        auto after = f_->maps().stats().total;
        auto src_after = f_->maps().source_stats();
        Verdict v;
        for (int r = 0; r < RG_REASON_MAX; r++)
            if (after[r].packets != before[r].packets)
                v.reason = rg_reason(r);
        for (unsigned i = 0; i < RG_MAX_SOURCES; i++)
            if (src_after[i].dropped != src_before[i].dropped)
                v.sources |= uint64_t(1) << i;
        return v;
    }
    enum rg_reason reason(const char *addr) { return verdict(rg::parse_cidr(addr).cidr).reason; }

    void apply(const Lists &l)
    {
        f_->maps().replace_sources(rg::ListKind::block, l.block, 0);
        f_->maps().replace_sources(rg::ListKind::allow, {{RG_SOURCE_MANUAL, l.allow}}, 0);
    }

    void check_all(const Lists &l, const std::vector<rg::Cidr> &addrs)
    {
        size_t wrong = 0;
        for (const rg::Cidr &a : addrs) {
            Verdict want = expect(l, a), got = verdict(a);
            if (got != want && wrong++ < 10)
                ADD_FAILURE() << a.str() << ": got reason " << got.reason << " sources " << got.sources
                              << ", want " << want.reason << " sources " << want.sources;
        }
        EXPECT_EQ(wrong, 0u) << "of " << addrs.size() << " addresses";
        EXPECT_EQ(f_->maps().read_view(rg::ListKind::block), rg::compile_view(l.block));
        EXPECT_EQ(f_->maps().read_view(rg::ListKind::allow),
                  rg::compile_view({{RG_SOURCE_MANUAL, l.allow}}));
    }

    std::mt19937 rng_{20261123};
    std::vector<rg::Cidr> pool4_, pool6_;
    std::optional<Filter> f_;
};

TEST_F(LookupTest, RandomNestedListsMatchLongestPrefixAndFollowUpdates)
{
    Lists l;
    l.block = {{0, random_list(300)}, {2, random_list(300)}, {3, random_list(300)}};
    l.allow = random_list(40);
    apply(l);
    std::vector<rg::Cidr> addrs = probes(l);
    check_all(l, addrs);

    // An incremental update: one source replaced, the others kept.
    Lists changed = l;
    changed.block[1].prefixes = random_list(300);
    f_->maps().replace_sources(rg::ListKind::block, {changed.block[1]});
    std::vector<rg::Cidr> more = probes(changed);
    addrs.insert(addrs.end(), more.begin(), more.end());
    check_all(changed, addrs);

    // The allowlist shrinks: what it no longer covers is blocked again.
    changed.allow.resize(10);
    f_->maps().replace_sources(rg::ListKind::allow, {{RG_SOURCE_MANUAL, changed.allow}});
    check_all(changed, addrs);

    // Everything removed: every address is clean.
    apply(Lists{});
    for (size_t i = 0; i < addrs.size(); i += 7)
        EXPECT_EQ(verdict(addrs[i]).reason, RG_PASS_CLEAN) << addrs[i].str();
    EXPECT_TRUE(f_->maps().read_view(rg::ListKind::block).empty());
}

// The fast path of a feed sync (Maps::replace_source_list, one pass over
// the merged set): the same verdicts and views as replacing the source the
// general way, from the cached set and from the tables read back.
TEST_F(LookupTest, OneSourceReplacedInOnePassMatchesLongestPrefix)
{
    Lists l;
    l.block = {{0, random_list(300)}, {2, random_list(300)}, {3, random_list(300)}};
    l.allow = random_list(40);
    apply(l);
    std::vector<rg::Cidr> addrs = probes(l);

    // Lists as a feed sync gives them (normalised), so that the view
    // counts compare.
    Lists changed = l;
    changed.block[1].prefixes = rg::normalise_prefixes(random_list(300));
    auto counts = f_->maps().replace_source_list(2, rg::normalise_compact(changed.block[1].prefixes));
    ASSERT_TRUE(counts.has_value());
    rg::ViewDiff d = rg::diff_views(rg::compile_view(rg::split_view(rg::compile_view(l.block))),
                                    rg::compile_view(changed.block));
    EXPECT_EQ(counts->upserts, d.upserts.size());
    EXPECT_EQ(counts->deletes, d.deletes.size());
    std::vector<rg::Cidr> more = probes(changed);
    addrs.insert(addrs.end(), more.begin(), more.end());
    check_all(changed, addrs);

    // Another process (no cached set: the tables are read back).
    {
        rg::Maps other = rg::Maps::open(f_->maps().pin_dir());
        changed.block[2].prefixes = rg::normalise_prefixes(random_list(300));
        ASSERT_TRUE(other.replace_source_list(3, rg::normalise_compact(changed.block[2].prefixes)).has_value());
    }
    more = probes(changed);
    addrs.insert(addrs.end(), more.begin(), more.end());
    check_all(changed, addrs);

    // A source emptied: what only it listed goes, shared entries lose its bit.
    changed.block[0].prefixes.clear();
    ASSERT_TRUE(f_->maps().replace_source_list(0, {}).has_value());
    check_all(changed, addrs);
}

// More than 65,536 changes of length <= 24 take write_change's one walk
// over all of rg_tbl24 (a feed's first load): every /24 gets the class of
// its longest prefix, nested prefixes of another source included.
TEST_F(LookupTest, OnePassFullTbl24RepaintMatchesLongestPrefix)
{
    Lists l;
    std::vector<rg::Cidr> many;
    for (uint32_t i = 0; i < 70000; i++)
        many.push_back(bits::make(4, bits::U128((198u << 24) + (i << 9)) << 96, 24));  // no siblings: none merge
    l.block = {{0, {rg::parse_cidr("198.0.0.0/12").cidr, rg::parse_cidr("199.1.2.128/25").cidr}}, {2, many}};
    l.allow = {rg::parse_cidr("198.5.5.0/24").cidr};
    apply(Lists{{{0, l.block[0].prefixes}}, l.allow});
    ASSERT_TRUE(f_->maps().replace_source_list(2, rg::normalise_compact(many)).has_value());
    std::vector<rg::Cidr> addrs;
    for (uint32_t i = 0; i < 300; i++) {
        uint32_t a = (198u << 24) + rng_() % (3u << 24);  // 198.0.0.0 - 200.255.255.255
        addrs.push_back(bits::make(4, bits::U128(a) << 96, 32));
    }
    for (const char *a : {"198.0.0.1", "198.0.1.1", "198.17.17.1", "199.1.2.129", "199.1.2.1", "198.5.5.5", "200.34.0.1"})
        addrs.push_back(rg::parse_cidr(a).cidr);
    l.block[1].prefixes = rg::normalise_prefixes(many);
    check_all(l, addrs);

    // Emptied again the same way: only source 0 is left.
    ASSERT_TRUE(f_->maps().replace_source_list(2, {}).has_value());
    l.block.pop_back();
    check_all(l, addrs);
}

// Entries of a source outside keep_sources (left by a removal that died)
// are the general path's to remove: the fast path declines, writing nothing.
TEST_F(LookupTest, OnePassDeclinesWhenOrphanSourcesMustGo)
{
    rg::Maps &m = f_->maps();
    m.replace_sources(rg::ListKind::block, {{5, {rg::parse_cidr("198.18.5.0/24").cidr}}});
    uint64_t gen = m.config().lists_gen;
    EXPECT_FALSE(m.replace_source_list(2, rg::normalise_compact({rg::parse_cidr("198.18.6.0/24").cidr}),
                                       uint64_t(1) << 2)
                     .has_value());
    EXPECT_EQ(m.config().lists_gen, gen);
    EXPECT_EQ(reason("198.18.5.1"), RG_DROP_BLOCKLIST);
    EXPECT_EQ(reason("198.18.6.1"), RG_PASS_CLEAN);
}

TEST_F(LookupTest, UpdateAfterOneThatDiedRepairsTheDerivedTables)
{
    rg::Maps &m = f_->maps();
    m.add_rule(rg::ListKind::block, rg::parse_cidr("198.18.5.0/24").cidr);
    m.add_rule(rg::ListKind::block, rg::parse_cidr("198.18.9.77/32").cidr);
    ASSERT_EQ(reason("198.18.7.1"), RG_PASS_CLEAN);

    // What an update killed half-way can leave: rg_tbl24 says 198.18.7.0/24
    // has the class of 198.18.5.0/24, and the generation is odd.
    int t24 = m.fd(RG_STR(RG_MAP_TBL24));
    uint32_t s5 = (198u << 16 | 18u << 8 | 5u), s7 = (198u << 16 | 18u << 8 | 7u);
    struct rg_tbl24_group g5 {}, g7 {};
    uint32_t k5 = s5 / RG_TBL24_PER_GROUP, k7 = s7 / RG_TBL24_PER_GROUP;
    ASSERT_EQ(bpf_map_lookup_elem(t24, &k5, &g5), 0);
    ASSERT_EQ(bpf_map_lookup_elem(t24, &k7, &g7), 0);
    g7.e[s7 % RG_TBL24_PER_GROUP] = g5.e[s5 % RG_TBL24_PER_GROUP];
    ASSERT_EQ(bpf_map_update_elem(t24, &k7, &g7, BPF_ANY), 0);
    struct rg_config cfg = m.config();
    cfg.lists_gen |= 1;
    uint32_t zero = 0;
    ASSERT_EQ(bpf_map_update_elem(m.fd(RG_STR(RG_MAP_CONFIG)), &zero, &cfg, BPF_ANY), 0);
    ASSERT_EQ(reason("198.18.7.1"), RG_DROP_BLOCKLIST);

    // An unrelated update repairs it.
    m.add_rule(rg::ListKind::block, rg::parse_cidr("192.0.2.0/24").cidr);
    EXPECT_EQ(reason("198.18.7.1"), RG_PASS_CLEAN);
    EXPECT_EQ(reason("198.18.5.1"), RG_DROP_BLOCKLIST);
    EXPECT_EQ(reason("198.18.9.77"), RG_DROP_BLOCKLIST);
    EXPECT_EQ(reason("198.18.9.78"), RG_PASS_CLEAN);
    EXPECT_EQ(m.config().lists_gen % 2, 0u);
}

// rg_lcache keeps the class of a listed source found by a probe, for one
// list generation. To see that it answers, the record is removed from the
// prefix table behind the controller's back (no new generation): the cached
// verdict stays; with RG_CFG_NO_LCACHE, or in a new generation, the tables
// answer again.
TEST_F(LookupTest, CacheAnswersUntilTheNextListGeneration)
{
    rg::Maps &m = f_->maps();
    int cfg_fd = m.fd(RG_STR(RG_MAP_CONFIG));
    uint32_t zero = 0;
    auto set_config = [&](auto change) {
        struct rg_config cfg = m.config();
        change(cfg);
        ASSERT_EQ(bpf_map_update_elem(cfg_fd, &zero, &cfg, BPF_ANY), 0);
    };
    for (const char *addr : {"198.18.9.77", "2001:db8:9::77"}) {
        SCOPED_TRACE(addr);
        rg::Cidr c = rg::parse_cidr(addr).cidr;
        m.add_rule(rg::ListKind::block, c);
        ASSERT_EQ(reason(addr), RG_DROP_BLOCKLIST);  // found by a probe, now cached

        for (uint32_t which = 0; which < 2; which++) {
            if (c.family == 4) {
                uint32_t a = uint32_t(c.addr[0]) << 24 | c.addr[1] << 16 | c.addr[2] << 8 | c.addr[3];
                uint32_t b = rg_pfx4_bucket(a, 32, which);
                struct rg_pfx4_bucket empty {};
                ASSERT_EQ(bpf_map_update_elem(m.fd(RG_STR(RG_MAP_PFX4)), &b, &empty, BPF_ANY), 0);
            } else {
                uint64_t hi = 0, lo = 0;
                for (int i = 0; i < 8; i++) {
                    hi = hi << 8 | c.addr[i];
                    lo = lo << 8 | c.addr[8 + i];
                }
                uint32_t b = rg_pfx6_bucket(hi, lo, 128, which);
                struct rg_pfx6_bucket empty {};
                ASSERT_EQ(bpf_map_update_elem(m.fd(RG_STR(RG_MAP_PFX6)), &b, &empty, BPF_ANY), 0);
            }
        }
        EXPECT_EQ(reason(addr), RG_DROP_BLOCKLIST) << "the cache did not answer";
        set_config([](struct rg_config &cfg) { cfg.flags |= RG_CFG_NO_LCACHE; });
        EXPECT_EQ(reason(addr), RG_PASS_CLEAN) << "RG_CFG_NO_LCACHE did not bypass the cache";
        set_config([](struct rg_config &cfg) { cfg.flags &= ~RG_CFG_NO_LCACHE; });
        EXPECT_EQ(reason(addr), RG_DROP_BLOCKLIST);
        set_config([](struct rg_config &cfg) { cfg.lists_gen += 2; });
        EXPECT_EQ(reason(addr), RG_PASS_CLEAN) << "an entry of an older generation answered";
    }
}

} // namespace

namespace {

// A Maps object keeps the lists it wrote last; another writer in between
// (another command, the daemon) must make it read the tables again.
TEST_F(LookupTest, ListsWrittenByAnotherMapsObjectAreSeen)
{
    rg::Maps &m1 = f_->maps();
    m1.add_rule(rg::ListKind::block, rg::parse_cidr("198.18.1.0/24").cidr);
    ASSERT_EQ(m1.read_view(rg::ListKind::block).size(), 1u);
    rg::Maps m2 = rg::Maps::open(m1.pin_dir());
    m2.add_rule(rg::ListKind::block, rg::parse_cidr("198.18.2.0/24").cidr);
    EXPECT_EQ(m1.read_view(rg::ListKind::block).size(), 2u);
    // And m1's next change keeps m2's prefix.
    m1.add_rule(rg::ListKind::block, rg::parse_cidr("198.18.3.0/24").cidr);
    EXPECT_EQ(m2.read_view(rg::ListKind::block).size(), 3u);
    EXPECT_EQ(reason("198.18.2.1"), RG_DROP_BLOCKLIST);
}

} // namespace
