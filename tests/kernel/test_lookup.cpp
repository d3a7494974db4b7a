// The compiled list lookup (rg_tbl24, rg_pfx4/6, rg_slots6, rg_classes)
// against a longest-prefix reference computed here: random nested lists in
// both families, written through the lists' one write path, every verdict
// checked through BPF_PROG_RUN, then again after updates, writers in other
// processes, a stale or damaged copy in the state directory, and the repair
// of tables an update left half-way.
#include "lists.hpp"
#include "list_tables.hpp"
#include "packet_builder.hpp"
#include "privileged.hpp"
#include "prog_fixture.hpp"

#include <gtest/gtest.h>

#include <bpf/bpf.h>
#include <filesystem>
#include <fstream>
#include <random>

using rg::test::Filter;
using rg::test::PacketBuilder;
using rg::U128;
namespace tf = rg::test::tcp_flags;

namespace {

// What the lists should hold: block sources by bit, and the manual allowlist.
struct Model {
    std::vector<std::pair<unsigned, std::vector<rg::Cidr>>> block;  // sources 0, 2, 3
    std::vector<rg::Cidr> allow;
};

rg::PrefixSet collapsed(const std::vector<rg::Cidr> &c) { return rg::collapse(rg::to_prefix_set(c)); }

rg::Cidr make(uint8_t family, U128 v, unsigned len)
{
    return family == 4 ? rg::to_cidr(rg::Prefix4{uint32_t(v >> 96) & rg::prefix_mask<uint32_t>(len), uint8_t(len)})
                       : rg::to_cidr(rg::Prefix6{v & rg::prefix_mask<U128>(len), uint8_t(len)});
}

bool contains(const rg::Cidr &outer, const rg::Cidr &inner) { return outer.contains(inner); }

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
        U128 r = U128(rng_()) << 96 | U128(rng_()) << 64 | U128(rng_()) << 32 | rng_();
        std::uniform_int_distribution<unsigned> pick(0, 99);
        rg::Cidr c;
        if (!pool.empty() && pick(rng_) < 60) {
            const rg::Cidr parent = pool[rng_() % pool.size()];
            if (parent.len < max) {
                unsigned len = parent.len + 1 + rng_() % (max - parent.len);
                c = make(parent.family, rg::u128_from_bytes(parent.addr) | (r & ~rg::prefix_mask<U128>(parent.len)), len);
            } else {
                c = parent;
            }
        } else if (!v6) {
            unsigned len = pick(rng_) < 5 ? 12 + rng_() % 8 : 20 + rng_() % 13;
            c = make(4, rg::u128_from_bytes(rg::parse_cidr("198.0.0.0").cidr.addr) | (r & ~rg::prefix_mask<U128>(8)), len);
        } else {
            unsigned len = pick(rng_) < 5 ? 32 + rng_() % 16 : 48 + rng_() % 81;
            c = make(6, rg::u128_from_bytes(rg::parse_cidr("2001:db8::").cidr.addr) | (r & ~rg::prefix_mask<U128>(32)),
                     len);
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
    std::vector<rg::Cidr> probes(const Model &l)
    {
        std::vector<rg::Cidr> out;
        auto around = [&](const rg::Cidr &c) {
            // As 128-bit values an address of either family fills the top bits.
            unsigned max = c.family == 4 ? 32 : 128;
            auto unit = [](unsigned len) { return len == 0 ? U128(0) : U128(1) << (128 - len); };
            U128 one = unit(max), size = unit(c.len), lo = rg::u128_from_bytes(c.addr);
            U128 r = U128(rng_()) << 96 | U128(rng_()) << 64 | U128(rng_()) << 32 | rng_();
            for (U128 v : {lo, lo + size - one, lo + (r & (size - 1) & ~(one - 1)), lo - one, lo + size})
                out.push_back(make(c.family, v, max));
        };
        for (const auto &s : l.block)
            for (const rg::Cidr &c : s.second)
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
    static Verdict expect(const Model &l, const rg::Cidr &addr)
    {
        for (const rg::Cidr &c : l.allow)
            if (contains(c, addr))
                return {RG_PASS_ALLOWLIST, 0};
        Verdict v{RG_PASS_CLEAN, 0};
        for (const auto &s : l.block)
            for (const rg::Cidr &c : s.second)
                if (contains(c, addr))
                    v = {RG_DROP_BLOCKLIST, v.sources | uint64_t(1) << s.first};
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

    // Every source of the model in one write (sources 0, 2, 3 and the
    // manual allowlist; a source the model lacks is emptied).
    static void apply(rg::Lists &lists, const Model &l)
    {
        std::vector<rg::PrefixSet> sets;
        std::vector<rg::SourceUpdate> u;
        sets.reserve(4);
        for (unsigned bit : {0u, 2u, 3u}) {
            std::vector<rg::Cidr> c;
            for (const auto &s : l.block)
                if (s.first == bit)
                    c = s.second;
            sets.push_back(collapsed(c));
            u.push_back({rg::ListKind::block, bit, sets.back()});
        }
        sets.push_back(collapsed(l.allow));
        u.push_back({rg::ListKind::allow, RG_SOURCE_MANUAL, sets.back()});
        lists.replace(u);
    }
    void apply(const Model &l) { apply(f_->lists(), l); }

    void check_all(const Model &l, const std::vector<rg::Cidr> &addrs)
    {
        size_t wrong = 0;
        for (const rg::Cidr &a : addrs) {
            Verdict want = expect(l, a), got = verdict(a);
            if (got != want && wrong++ < 10)
                ADD_FAILURE() << a.str() << ": got reason " << got.reason << " sources " << got.sources
                              << ", want " << want.reason << " sources " << want.sources;
        }
        EXPECT_EQ(wrong, 0u) << "of " << addrs.size() << " addresses";
        // Each source's list reads back from the tables, from this writer's
        // copy and from another process's reading.
        rg::Maps other_maps = rg::Maps::open(f_->maps().pin_dir());
        rg::Lists other(other_maps, rg::StateDir(f_->lists().state().path() + "-other"));
        // So do which sources list anything and what each list covers (the
        // writer's carried over from its earlier writes where they could not
        // change).
        uint64_t block_sources = 0;
        std::vector<rg::Cidr> all_block;
        for (const auto &s : l.block) {
            block_sources |= s.second.empty() ? 0 : uint64_t(1) << s.first;
            all_block.insert(all_block.end(), s.second.begin(), s.second.end());
        }
        for (rg::Lists *lists : {&f_->lists(), &other}) {
            for (const auto &s : l.block)
                EXPECT_EQ(lists->source_list(rg::ListKind::block, s.first), collapsed(s.second)) << s.first;
            EXPECT_EQ(lists->source_list(rg::ListKind::allow, RG_SOURCE_MANUAL), collapsed(l.allow));
            EXPECT_EQ(lists->sources_listed().block, block_sources);
            EXPECT_EQ(lists->sources_listed().allow, l.allow.empty() ? 0 : uint64_t(1) << RG_SOURCE_MANUAL);
            EXPECT_EQ(lists->listed(rg::ListKind::block), collapsed(all_block));
            EXPECT_EQ(lists->listed(rg::ListKind::allow), collapsed(l.allow));
        }
        rg::StateDir(f_->lists().state().path() + "-other").remove_all();
    }

    std::mt19937 rng_{20261123};
    std::vector<rg::Cidr> pool4_, pool6_;
    std::optional<Filter> f_;
};

TEST_F(LookupTest, RandomNestedListsMatchLongestPrefixAndFollowUpdates)
{
    Model l;
    l.block = {{0, random_list(300)}, {2, random_list(300)}, {3, random_list(300)}};
    l.allow = random_list(40);
    apply(l);
    std::vector<rg::Cidr> addrs = probes(l);
    check_all(l, addrs);

    // One source replaced, the others kept.
    Model changed = l;
    changed.block[1].second = random_list(300);
    f_->lists().replace(rg::ListKind::block, 2, collapsed(changed.block[1].second));
    std::vector<rg::Cidr> more = probes(changed);
    addrs.insert(addrs.end(), more.begin(), more.end());
    check_all(changed, addrs);

    // Another process writes (its own copy of the tables, read back).
    {
        rg::Maps other_maps = rg::Maps::open(f_->maps().pin_dir());
        rg::Lists other(other_maps, f_->lists().state());
        changed.block[2].second = random_list(300);
        other.replace(rg::ListKind::block, 3, collapsed(changed.block[2].second));
    }
    more = probes(changed);
    addrs.insert(addrs.end(), more.begin(), more.end());
    check_all(changed, addrs);

    // The allowlist shrinks: what it no longer covers is blocked again.
    changed.allow.resize(10);
    f_->lists().replace(rg::ListKind::allow, RG_SOURCE_MANUAL, collapsed(changed.allow));
    check_all(changed, addrs);

    // A source emptied: what only it listed goes, shared entries lose its bit.
    changed.block[0].second.clear();
    f_->lists().replace(rg::ListKind::block, 0, {});
    check_all(changed, addrs);

    // Everything removed: every address is clean.
    apply(Model{});
    for (size_t i = 0; i < addrs.size(); i += 7)
        EXPECT_EQ(verdict(addrs[i]).reason, RG_PASS_CLEAN) << addrs[i].str();
    EXPECT_EQ(f_->lists().size(rg::ListKind::block).v4 + f_->lists().size(rg::ListKind::block).v6, 0u);
}

// More than 65,536 changes of length <= 24 take the write's one walk over
// all of rg_tbl24 (a feed's first load): every /24 gets the class of its
// longest prefix, nested prefixes of another source included.
TEST_F(LookupTest, FullTbl24RepaintMatchesLongestPrefix)
{
    Model l;
    std::vector<rg::Cidr> many;
    for (uint32_t i = 0; i < 70000; i++)
        many.push_back(rg::to_cidr(rg::Prefix4{(198u << 24) + (i << 9), 24}));  // no siblings: none merge
    l.block = {{0, {rg::parse_cidr("198.0.0.0/12").cidr, rg::parse_cidr("199.1.2.128/25").cidr}}, {2, many}};
    l.allow = {rg::parse_cidr("198.5.5.0/24").cidr};
    apply(Model{{{0, l.block[0].second}}, l.allow});
    f_->lists().replace(rg::ListKind::block, 2, collapsed(many));
    std::vector<rg::Cidr> addrs;
    for (uint32_t i = 0; i < 300; i++) {
        uint32_t a = (198u << 24) + rng_() % (3u << 24);  // 198.0.0.0 - 200.255.255.255
        addrs.push_back(rg::to_cidr(rg::Prefix4{a, 32}));
    }
    for (const char *a : {"198.0.0.1", "198.0.1.1", "198.17.17.1", "199.1.2.129", "199.1.2.1", "198.5.5.5", "200.34.0.1"})
        addrs.push_back(rg::parse_cidr(a).cidr);
    check_all(l, addrs);

    // Emptied again the same way: only source 0 is left.
    f_->lists().replace(rg::ListKind::block, 2, {});
    l.block.pop_back();
    check_all(l, addrs);
}

// The copy of the tables a writer keeps in the state directory is used
// only while it is of this generation of these maps and checks out: a
// writer that does not keep one (the daemon), or a damaged copy, makes the
// next writer read the tables, and nothing it writes is wrong. Each
// generation's copy replaces the one before (only one is left).
TEST_F(LookupTest, AStaleOrDamagedCopyInTheStateDirectoryIsNotUsed)
{
    Model l;
    l.block = {{0, random_list(200)}, {2, random_list(200)}};
    const rg::StateDir &state = f_->lists().state();
    auto copies = [&] {
        std::vector<std::string> names;
        for (const auto &e : std::filesystem::directory_iterator(state.path()))
            if (e.path().extension() == ".cache")
                names.push_back(e.path().filename());
        return names;
    };
    apply(l);
    std::string cache = state.file(rg::tables_cache_name(f_->maps().lists_gen()));
    ASSERT_TRUE(std::ifstream(cache).good()) << "a CLI writer keeps a copy";
    EXPECT_EQ(copies(), std::vector<std::string>{rg::tables_cache_name(f_->maps().lists_gen())});
    {
        // A writer that keeps no copy changes the lists: the copy is stale.
        rg::Maps m = rg::Maps::open(f_->maps().pin_dir());
        rg::Lists daemon(m, f_->lists().state(), false);
        l.block[1].second = random_list(200);
        daemon.replace(rg::ListKind::block, 2, collapsed(l.block[1].second));
    }
    auto next_writer = [&](unsigned bit, std::vector<rg::Cidr> list) {
        rg::Maps m = rg::Maps::open(f_->maps().pin_dir());
        rg::Lists cli(m, f_->lists().state());
        cli.replace(rg::ListKind::block, bit, collapsed(list));
    };
    l.block[0].second = random_list(200);
    next_writer(0, l.block[0].second);
    std::vector<rg::Cidr> addrs = probes(l);
    check_all(l, addrs);
    cache = state.file(rg::tables_cache_name(f_->maps().lists_gen()));
    EXPECT_EQ(copies(), std::vector<std::string>{rg::tables_cache_name(f_->maps().lists_gen())})
        << "the copies of older generations are removed";
    // A damaged copy of the current generation.
    {
        std::fstream f(cache, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(200);
        f.put('\x5a');
    }
    l.block[1].second = random_list(200);
    next_writer(2, l.block[1].second);
    check_all(l, probes(l));
}

// rg_slots6 after each update holds, for every slot, the length and filter
// bits of the IPv6 entries whose /32s hash to it -- as computed here from the
// list alone -- whether the update rewrote every slot (a change with a
// prefix broader than /16) or only those of the /32s it changed. The
// prefixes spread over the 4,096 /32s of 3fff::/20 (RFC 9637), so slots
// other than the changed ones exist to be left alone.
TEST_F(LookupTest, Ipv6SlotsAfterEachUpdateAreWhatTheEntriesGive)
{
    auto random_v6 = [&](bool broad) {
        U128 r = U128(rng_()) << 96 | U128(rng_()) << 64 | U128(rng_()) << 32 | rng_();
        U128 base = rg::u128_from_bytes(rg::parse_cidr("3fff::").cidr.addr) | (r & ~rg::prefix_mask<U128>(20));
        unsigned len = broad ? 12 + rng_() % 4 : rng_() % 10 == 0 ? 24 + rng_() % 8 : 32 + rng_() % 97;
        return make(6, base, len);
    };
    auto want_slots = [](const rg::PrefixSet &list) {
        std::vector<struct rg_slot6> want(RG_SLOTS6);
        auto set_len = [](struct rg_slot6 &s, unsigned len) {
            if (len > 64)
                s.w[0] |= uint64_t(1) << (128 - len);
            else
                s.w[1] |= uint64_t(1) << (64 - len);
        };
        for (const rg::Prefix6 &p : list.v6) {
            uint64_t hi = uint64_t(p.addr >> 64);
            if (p.len < 16) {
                for (struct rg_slot6 &s : want) {
                    set_len(s, p.len);
                    s.filter = ~0u;
                }
                continue;
            }
            for (uint64_t i = 0; i < (p.len >= 32 ? 1 : uint64_t(1) << (32 - p.len)); i++) {
                struct rg_slot6 &s = want[rg_slot6_index(hi + (i << 32))];
                set_len(s, p.len);
                s.filter |= rg_slot6_filter(hi + (i << 32));
            }
        }
        return want;
    };
    int fd = f_->maps().fd(RG_STR(RG_MAP_SLOTS6));
    std::vector<rg::Cidr> list;
    for (int round = 0; round < 24; round++) {
        // Half the list stays, half is new (some of it /24-/31, each in
        // several slots); one round in four adds a prefix broader than /16
        // (every slot is rewritten then, and in the round after it, which
        // removes it).
        std::vector<rg::Cidr> next;
        for (const rg::Cidr &c : list)
            if (rng_() % 2 && c.len >= 16)
                next.push_back(c);
        while (next.size() < 200)
            next.push_back(random_v6(false));
        if (round % 4 == 3)
            next.push_back(random_v6(true));
        list = next;
        rg::PrefixSet set = collapsed(list);
        f_->lists().replace(rg::ListKind::block, 2, set);
        std::vector<struct rg_slot6> want = want_slots(set);
        size_t wrong = 0;
        for (uint32_t k = 0; k < RG_SLOTS6; k++) {
            struct rg_slot6 got {};
            ASSERT_EQ(bpf_map_lookup_elem(fd, &k, &got), 0);
            if ((got.w[0] != want[k].w[0] || got.w[1] != want[k].w[1] || got.filter != want[k].filter) &&
                wrong++ < 5)
                ADD_FAILURE() << "round " << round << ", slot " << k << ": got " << std::hex << got.w[0] << " "
                              << got.w[1] << " " << got.filter << ", want " << want[k].w[0] << " " << want[k].w[1]
                              << " " << want[k].filter;
        }
        ASSERT_EQ(wrong, 0u) << "round " << round;
    }
}

// Several sources in one write: one generation, and what the write removes
// for orphan sources goes with it.
TEST_F(LookupTest, SeveralSourcesInOneWrite)
{
    Model l;
    l.block = {{0, random_list(100)}, {2, random_list(100)}, {3, random_list(100)}};
    apply(l);
    uint64_t gen = f_->maps().lists_gen();
    l.block[0].second = random_list(100);
    l.block[2].second.clear();
    rg::PrefixSet a = collapsed(l.block[0].second);
    rg::SourceUpdate u[] = {{rg::ListKind::block, 0, a}, {rg::ListKind::block, 3, {}}};
    f_->lists().replace(u);
    EXPECT_EQ(f_->maps().lists_gen(), gen + 2) << "one write";
    check_all(l, probes(l));
}

TEST_F(LookupTest, UpdateAfterOneThatDiedRepairsTheDerivedTables)
{
    rg::Maps &m = f_->maps();
    f_->edit(rg::ListKind::block, {"198.18.5.0/24", "198.18.9.77/32"}, true);
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
    f_->edit(rg::ListKind::block, {"192.0.2.0/24"}, true);
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
        f_->edit(rg::ListKind::block, {addr}, true);
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

