// The compiled list lookup (rg_tbl24, rg_pfx4/6, rg_slots6, rg_classes)
// against a longest-prefix reference computed here: random nested lists in
// both families, every verdict checked through BPF_PROG_RUN, then again after
// incremental updates, and the repair of tables an update left half-way.
#include "cidr_bits.hpp"
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

    // A prefix inside a small region, so that prefixes nest and overlap:
    // IPv4 inside 198.18.0.0/15 (a few broader ones too), IPv6 inside
    // 2001:db8::/32.
    rg::Cidr random_prefix(bool v6)
    {
        std::uniform_int_distribution<unsigned> pick(0, 99);
        if (!v6) {
            unsigned len = pick(rng_) < 3 ? 8 + pick(rng_) % 7 : 15 + pick(rng_) % 18;
            bits::U128 base = bits::from_bytes(rg::parse_cidr("198.18.0.0").cidr.addr);
            bits::U128 v = base | (bits::U128(rng_() & 0x1ffff) << 96);
            return bits::make(4, v, len);
        }
        static const unsigned lens[] = {32, 40, 48, 56, 60, 64, 72, 96, 112, 127, 128};
        unsigned len = lens[pick(rng_) % std::size(lens)];
        bits::U128 base = bits::from_bytes(rg::parse_cidr("2001:db8::").cidr.addr);
        // Few distinct values per level, so longer prefixes land inside shorter ones.
        bits::U128 v = base | (bits::U128(rng_() & 0x3) << 88) | (bits::U128(rng_() & 0x3) << 72) |
                       (bits::U128(rng_() & 0x3) << 64) | (bits::U128(rng_() & 0xf) << 16) | (rng_() & 0x3);
        return bits::make(6, v, len);
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

    // What the lists say for an address: allowlisted, blocked, or neither.
    static enum rg_reason expect(const Lists &l, const rg::Cidr &addr)
    {
        for (const rg::Cidr &c : l.allow)
            if (bits::contains(c, addr))
                return RG_PASS_ALLOWLIST;
        for (const auto &s : l.block)
            for (const rg::Cidr &c : s.prefixes)
                if (bits::contains(c, addr))
                    return RG_DROP_BLOCKLIST;
        return RG_PASS_CLEAN;
    }

    enum rg_reason verdict(const rg::Cidr &addr)
    {
        PacketBuilder b;
        b.eth();
        if (addr.family == 4)
            b.ipv4(addr.str().substr(0, addr.str().find('/')), "203.0.113.25");
        else
            b.ipv6(addr.str().substr(0, addr.str().find('/')), "2001:db8:ffff::25");
        auto before = f_->maps().stats().total;
        f_->run(b.tcp(40000, 25).flags(tf::ACK).build());
        auto after = f_->maps().stats().total;
        for (int r = 0; r < RG_REASON_MAX; r++)
            if (after[r].packets != before[r].packets)
                return rg_reason(r);
        return RG_REASON_MAX;
    }

    void apply(const Lists &l)
    {
        f_->maps().replace_sources(rg::ListKind::block, l.block, 0);
        f_->maps().replace_sources(rg::ListKind::allow, {{RG_SOURCE_MANUAL, l.allow}}, 0);
    }

    void check_all(const Lists &l, const std::vector<rg::Cidr> &addrs)
    {
        size_t wrong = 0;
        for (const rg::Cidr &a : addrs) {
            enum rg_reason want = expect(l, a), got = verdict(a);
            if (got != want && wrong++ < 10)
                ADD_FAILURE() << a.str() << ": got reason " << got << ", want " << want;
        }
        EXPECT_EQ(wrong, 0u) << "of " << addrs.size() << " addresses";
        EXPECT_EQ(f_->maps().read_view(rg::ListKind::block), rg::compile_view(l.block));
        EXPECT_EQ(f_->maps().read_view(rg::ListKind::allow),
                  rg::compile_view({{RG_SOURCE_MANUAL, l.allow}}));
    }

    std::mt19937 rng_{20261123};
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
        EXPECT_EQ(verdict(addrs[i]), RG_PASS_CLEAN) << addrs[i].str();
    EXPECT_TRUE(f_->maps().read_view(rg::ListKind::block).empty());
}

TEST_F(LookupTest, UpdateAfterOneThatDiedRepairsTheDerivedTables)
{
    rg::Maps &m = f_->maps();
    m.add_rule(rg::ListKind::block, rg::parse_cidr("198.18.5.0/24").cidr);
    m.add_rule(rg::ListKind::block, rg::parse_cidr("198.18.9.77/32").cidr);
    ASSERT_EQ(verdict(rg::parse_cidr("198.18.7.1").cidr), RG_PASS_CLEAN);

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
    ASSERT_EQ(verdict(rg::parse_cidr("198.18.7.1").cidr), RG_DROP_BLOCKLIST);

    // An unrelated update repairs it.
    m.add_rule(rg::ListKind::block, rg::parse_cidr("192.0.2.0/24").cidr);
    EXPECT_EQ(verdict(rg::parse_cidr("198.18.7.1").cidr), RG_PASS_CLEAN);
    EXPECT_EQ(verdict(rg::parse_cidr("198.18.5.1").cidr), RG_DROP_BLOCKLIST);
    EXPECT_EQ(verdict(rg::parse_cidr("198.18.9.77").cidr), RG_DROP_BLOCKLIST);
    EXPECT_EQ(verdict(rg::parse_cidr("198.18.9.78").cidr), RG_PASS_CLEAN);
    EXPECT_EQ(m.config().lists_gen % 2, 0u);
}

} // namespace
