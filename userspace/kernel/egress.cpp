#include "egress.hpp"

#include "duration.hpp"
#include "error.hpp"
#include "hll.hpp"
#include "ports.hpp"
#include "rate.hpp"

#include <algorithm>
#include <bpf/bpf.h>
#include <cerrno>
#include <cstring>

namespace rg {

namespace {

constexpr uint64_t kMinIntervalNs = 1000000;               // 1,000/s: beyond what a mail host sends
constexpr uint64_t kMaxIntervalNs = 86400ull * 1000000000;  // 1/day
constexpr uint32_t kMaxBurst = 1000000;

struct rg_egress_config read_config(const Maps &maps)
{
    struct rg_egress_config c {};
    maps.lookup(RG_STR(RG_MAP_EGCONFIG), 0, &c);
    return c;
}

// Every entry of one of the LRU tables, key and value.
std::vector<EgressCount> read_counts(const Maps &maps, const char *map_name)
{
    std::vector<EgressCount> out;
    int fd = maps.fd(map_name);
    struct rg_src_key key {}, next {};
    const void *prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
        struct rg_egress_count v {};
        key = next;
        prev = &key;
        if (bpf_map_lookup_elem(fd, &key, &v) != 0)
            continue;  // evicted between the two calls
        EgressCount c;
        c.key.family = key.family;
        c.key.len = key.prefixlen;
        std::memcpy(c.key.addr.data(), key.addr, key.family == 4 ? 4 : 16);
        c.syns = v.syns;
        c.over = v.over;
        c.first_seen = v.first_seen;
        c.last_seen = v.last_seen;
        out.push_back(c);
    }
    std::sort(out.begin(), out.end(), [](const EgressCount &a, const EgressCount &b) {
        return a.syns != b.syns ? a.syns > b.syns : a.key.str() < b.key.str();
    });
    return out;
}

} // namespace

void validate_egress(const EgressSettings &s)
{
    if (s.ports.empty())
        throw Error("egress ports: at least one port is needed");
    if (s.ports.size() > RG_MAX_PORTS)
        throw Error("egress ports: " + std::to_string(s.ports.size()) + " ports, at most " +
                    std::to_string(RG_MAX_PORTS));
    for (uint16_t p : s.ports)
        if (p == 0)
            throw Error("egress ports: 0 is not a port");
    if (s.interval_ns == 0)
        return;
    if (s.interval_ns < kMinIntervalNs || s.interval_ns > kMaxIntervalNs)
        throw Error("egress budget " + format_rate(s.interval_ns) + ": out of range 1/d .. 1000/s");
    if (s.burst < 1 || s.burst > kMaxBurst)
        throw Error("egress burst " + std::to_string(s.burst) + ": out of range 1.." + std::to_string(kMaxBurst));
}

EgressSettings egress_settings(const Maps &maps)
{
    struct rg_egress_config c = read_config(maps);
    EgressSettings s;
    s.ports = ports_from_bitmap(c.port_bitmap);
    s.interval_ns = c.interval_ns;
    s.burst = c.interval_ns ? c.burst : 0;
    return s;
}

void apply_egress(Maps &maps, const EgressSettings &s)
{
    validate_egress(s);
    struct rg_egress_config c {};
    ports_to_bitmap(s.ports, c.port_bitmap);
    c.interval_ns = s.interval_ns;
    c.burst = s.interval_ns ? s.burst : 0;
    c.burst_ns = c.interval_ns * c.burst;
    // Reset the bucket first (full): the new budget is not judged by SYNs
    // charged under the old one.
    struct rg_egress_state st {};
    maps.update(RG_STR(RG_MAP_EGSTATE), 0, &st);
    maps.update(RG_STR(RG_MAP_EGCONFIG), 0, &c);
}

const char *egress_mode_name(uint32_t mode)
{
    switch (mode) {
    case RG_EGRESS_WATCH:
        return "watch";
    case RG_EGRESS_CAP:
        return "cap";
    default:
        return "off";
    }
}

uint32_t parse_egress_mode(const std::string &text, bool allow_off)
{
    if (text == "watch")
        return RG_EGRESS_WATCH;
    if (text == "cap")
        return RG_EGRESS_CAP;
    if (allow_off && text == "off")
        return RG_EGRESS_OFF;
    throw Error("egress mode \"" + text + "\": expected watch or cap" + (allow_off ? " or off" : ""));
}

std::vector<uint8_t> egress_sketch_ranks(const Maps &maps, uint64_t minute)
{
    std::vector<struct rg_egress_hll> cpus(maps.ncpus());
    maps.lookup(RG_STR(RG_MAP_EGHLL), uint32_t(minute & 1), cpus.data());
    const uint32_t tag = uint32_t(minute) & RG_HLL_TAG_MASK;
    std::vector<uint8_t> ranks(RG_HLL_REGS, 0);
    for (const struct rg_egress_hll &h : cpus)
        for (uint32_t i = 0; i < RG_HLL_REGS; i++)
            if (RG_HLL_REG_TAG(h.reg[i]) == tag)
                ranks[i] = std::max(ranks[i], uint8_t(RG_HLL_REG_RANK(h.reg[i])));
    return ranks;
}

EgressSnapshot read_egress_totals(const Maps &maps, std::optional<uint64_t> now_ns)
{
    EgressSnapshot s;
    s.now_ns = now_ns ? *now_ns : boottime_ns();
    std::vector<struct rg_egress_stats> cpus(maps.ncpus());
    maps.lookup(RG_STR(RG_MAP_EGSTATS), 0, cpus.data());
    for (const struct rg_egress_stats &c : cpus) {
        s.syns += c.syns;
        s.capped += c.capped;
        s.would_cap += c.would_cap;
        s.untracked += c.untracked;
    }
    s.minute = s.now_ns / RG_EGRESS_MINUTE_NS;
    s.distinct_current = hll_estimate(egress_sketch_ranks(maps, s.minute));
    if (s.minute > 0)
        s.distinct_previous = hll_estimate(egress_sketch_ranks(maps, s.minute - 1));
    return s;
}

EgressSnapshot read_egress(const Maps &maps, std::optional<uint64_t> now_ns)
{
    EgressSnapshot s = read_egress_totals(maps, now_ns);
    s.sources = egress_sources(maps);
    s.destinations = egress_destinations(maps);
    return s;
}

std::vector<EgressCount> egress_sources(const Maps &maps)
{
    return read_counts(maps, RG_STR(RG_MAP_EGSRC));
}

std::vector<EgressCount> egress_destinations(const Maps &maps)
{
    return read_counts(maps, RG_STR(RG_MAP_EGDST));
}

} // namespace rg
