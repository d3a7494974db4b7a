#include "round_spec.hpp"

#include <algorithm>
#include <cmath>

namespace rg::fuzz {

using model::List;
using model::ListedPrefix;
using model::mask;
using model::ModelPrefix;
using model::U128;

namespace {

U128 random128(Rng &rng) { return U128(rng.next()) << 64 | rng.next(); }

unsigned width(int family) { return family == 4 ? 32 : 128; }

ModelPrefix make(int family, U128 addr, unsigned len)
{
    if (family == 4)
        addr &= mask(32);
    return {family, addr & mask(len), len};
}

// Rarely a broad prefix (IPv4 shorter than /8, IPv6 than /16): at most a
// couple per list, or every address would be listed.
unsigned random_len(Rng &rng, int family, size_t n)
{
    bool broad = rng.below(1000000) < std::min<uint64_t>(20000, 2000000 / std::max<size_t>(n, 1));
    unsigned pick = unsigned(rng.below(10));
    if (family == 4) {
        if (broad)
            return unsigned(rng.range(0, 7));
        return pick < 1 ? unsigned(rng.range(8, 15)) : pick < 4 ? unsigned(rng.range(16, 24)) : unsigned(rng.range(24, 32));
    }
    if (broad)
        return unsigned(rng.range(0, 15));
    return pick < 1 ? unsigned(rng.range(16, 31)) : pick < 4 ? unsigned(rng.range(32, 64)) : pick < 6 ? 128
                                                                                  : unsigned(rng.range(48, 128));
}

// A new prefix: mostly in 198.18.0.0/15 or 2001:db8::/32, so prefixes and
// the frames' sources meet, at lengths that leave most of the range
// unlisted; else anywhere, at any length.
ModelPrefix fresh_prefix(Rng &rng, int family, size_t n)
{
    U128 r = random128(rng);
    if (family == 4 && rng.percent(30))
        return make(4, (U128(0xc6120000) << 96) | (r & ~mask(15)), unsigned(rng.range(24, 32)));
    if (family == 6 && rng.percent(70)) {
        unsigned len = rng.percent(40) ? 128 : rng.percent(50) ? unsigned(rng.range(40, 64)) : unsigned(rng.range(48, 128));
        return make(6, (U128(0x20010db8) << 96) | (r & ~mask(32)), len);
    }
    return make(family, r, random_len(rng, family, n));
}

ModelPrefix random_prefix(Rng &rng, int family, const std::vector<ModelPrefix> &pool, size_t n)
{
    unsigned max = width(family);
    unsigned shape = unsigned(rng.below(100));
    if (!pool.empty() && shape < 40) {
        const ModelPrefix &p = pool[rng.below(pool.size())];
        if (shape < 24 && p.len < max)  // a child
            return make(family, p.addr | (random128(rng) & ~mask(p.len)), unsigned(rng.range(p.len + 1, max)));
        if (shape < 33 && p.len > 0)  // its sibling: collapse merges the two
            return make(family, p.addr ^ (U128(1) << (128 - p.len)), p.len);
        unsigned floor = family == 4 ? 8 : 16;  // parents stay out of the broad lengths
        if (shape < 35 && p.len > floor)  // a parent, a few bits shorter
            return make(family, p.addr, unsigned(rng.range(std::max(floor, p.len - 4), p.len - 1)));
        return p;  // the same prefix again, maybe from another source
    }
    return fresh_prefix(rng, family, n);
}

ListedPrefix random_listed(Rng &rng, const std::vector<ModelPrefix> *pools, size_t n)
{
    int family = rng.percent(60) ? 4 : 6;
    ListedPrefix lp;
    lp.prefix = random_prefix(rng, family, pools[family == 6], n);
    if (rng.percent(15)) {
        lp.list = List::allow;
        lp.bit = unsigned(rng.below(kAllowSources));
    } else {
        lp.list = List::block;
        lp.bit = unsigned(rng.below(kBlockSources));
    }
    return lp;
}

void random_lists(Rng &rng, RoundSpec &r, size_t max_prefixes, const RoundSpec *previous)
{
    std::vector<ModelPrefix> pools[2];
    size_t add;
    if (previous && !previous->prefixes.empty() && rng.percent(50)) {
        for (const ListedPrefix &p : previous->prefixes)
            if (!rng.percent(10))
                r.prefixes.push_back(p);
        add = rng.range(1, std::max<size_t>(1, 2 * (previous->prefixes.size() - r.prefixes.size())));
    } else if (rng.percent(15)) {
        add = max_prefixes;
    } else {
        double logn = std::log(double(max_prefixes)) * double(rng.below(1000001)) / 1e6;
        add = std::clamp<size_t>(size_t(std::exp(logn)), 1, max_prefixes);
    }
    for (const ListedPrefix &p : r.prefixes)
        pools[p.prefix.family == 6].push_back(p.prefix);
    size_t n = r.prefixes.size() + add;
    while (r.prefixes.size() < n && r.prefixes.size() < max_prefixes) {
        ListedPrefix p = random_listed(rng, pools, n);
        pools[p.prefix.family == 6].push_back(p.prefix);
        r.prefixes.push_back(p);
    }
}

// Nested bans around one address (some expired, so the kernel looks past
// them), or single ones, often where the lists are.
void random_bans(Rng &rng, RoundSpec &r)
{
    if (rng.percent(50))
        return;
    size_t groups = rng.range(1, 6);
    for (size_t g = 0; g < groups; g++) {
        int family = rng.percent(60) ? 4 : 6;
        U128 addr = fresh_prefix(rng, family, 1).addr | (random128(rng) & ~mask(family == 4 ? 24 : 64));
        for (const ListedPrefix &p : r.prefixes)
            if (p.prefix.family == family && rng.percent(2)) {
                addr = p.prefix.addr | (random128(rng) & ~mask(p.prefix.len));
                break;
            }
        unsigned len = width(family) - unsigned(rng.below(family == 4 ? 8 : 40));
        size_t chain = rng.percent(60) ? rng.range(2, 8) : 1;
        for (size_t i = 0; i < chain; i++) {
            r.bans.push_back({make(family, addr, len), unsigned(rng.range(1, 20))});
            unsigned step = unsigned(rng.range(1, 4));
            if (len < (family == 4 ? 8 : 24) + step)
                break;
            len -= step;
        }
    }
    r.now_s = unsigned(rng.range(0, 20));
}

void random_settings(Rng &rng, RoundSpec &r)
{
    static const uint16_t kPorts[] = {465, 587, 2525, 0, 65535, 26};
    if (!rng.percent(3)) {
        if (rng.percent(90))
            r.ports.push_back(25);
        for (uint64_t i = rng.below(4); i > 0; i--)
            r.ports.push_back(rng.percent(70) ? kPorts[rng.below(6)] : uint16_t(rng.next()));
        if (r.ports.empty())
            r.ports.push_back(587);
    }
    r.monitor = rng.percent(50);
    for (unsigned bit = 2; bit < kBlockSources; bit++)
        if (rng.percent(25))
            r.shadow |= uint64_t(1) << bit;
}

} // namespace

model::Policy RoundSpec::policy() const
{
    model::Policy p;
    for (uint16_t port : ports)
        p.ports.set(port);
    p.monitor = monitor;
    p.shadow = shadow;
    p.now_ns = now_ns();
    return p;
}

model::PrefixLists RoundSpec::lists() const
{
    model::PrefixLists l;
    for (const ListedPrefix &p : prefixes)
        l.add(p);
    return l;
}

model::BanTable RoundSpec::ban_table() const
{
    model::BanTable t;
    for (const RoundBan &b : bans)
        t.put({b.prefix, uint64_t(b.ttl_s) * 1000000000});
    return t;
}

RoundSpec random_round(Rng &rng, size_t max_prefixes, const RoundSpec *previous)
{
    RoundSpec r;
    random_lists(rng, r, std::max<size_t>(max_prefixes, 1), previous);
    random_bans(rng, r);
    random_settings(rng, r);
    return r;
}

} // namespace rg::fuzz
