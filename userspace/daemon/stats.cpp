#include "stats.hpp"

#include "rate.hpp"

#include <algorithm>
#include <sstream>

namespace rg {

namespace {

struct Aggregate {
    const char *name;
    uint32_t all_of;   // reason must have all of these RG_RF_* bits
    uint32_t none_of;  // and none of these
};

// Derived from the reason flags, so a new reason lands in the right totals.
constexpr Aggregate kAggregates[] = {
    {"packets", 0, 0},
    {"protected", RG_RF_PROTECTED, 0},
    {"passed", 0, RG_RF_DROP},
    {"dropped", RG_RF_DROP, 0},
    {"would_drop", RG_RF_MONITOR, 0},
};

struct rg_counter sum(const ReasonCounters &c, const Aggregate &a)
{
    struct rg_counter s {};
    for (uint32_t r = 0; r < RG_REASON_MAX; r++) {
        uint32_t f = rg_reason_info[r].flags;
        if ((f & a.all_of) == a.all_of && !(f & a.none_of)) {
            s.packets += c[r].packets;
            s.bytes += c[r].bytes;
            s.syn += c[r].syn;
        }
    }
    return s;
}

} // namespace

nlohmann::json counters_json(const ReasonCounters &counters)
{
    nlohmann::json j = nlohmann::json::object();
    for (const Aggregate &a : kAggregates) {
        struct rg_counter s = sum(counters, a);
        std::string name = a.name;
        j[name] = s.packets;
        j[name == "packets" ? "bytes" : name + "_bytes"] = s.bytes;
        if (name == "protected")
            j["syn"] = s.syn;
    }
    for (uint32_t r = 0; r < RG_REASON_MAX; r++) {
        std::string name = rg_reason_info[r].name;
        j[name] = counters[r].packets;
        j[name + "_bytes"] = counters[r].bytes;
        if (rg_reason_info[r].flags & RG_RF_PROTECTED)
            j[name + "_syn"] = counters[r].syn;
    }
    return j;
}

nlohmann::json source_counters_json(const struct rg_source_counter &c)
{
    return {{"dropped", c.dropped}, {"dropped_syn", c.dropped_syn}, {"would_drop", c.would_drop},
            {"would_drop_syn", c.would_drop_syn}};
}

nlohmann::json sources_json(const std::array<struct rg_source_counter, RG_MAX_SOURCES> &counters,
                            const std::vector<Feed> &feeds, uint64_t shadow_sources)
{
    uint64_t show = (uint64_t(1) << RG_SOURCE_MANUAL) | (uint64_t(1) << RG_SOURCE_CONFIG);
    for (const Feed &f : feeds)
        show |= uint64_t(1) << f.bit;
    nlohmann::json arr = nlohmann::json::array();
    for (unsigned b = 0; b < RG_MAX_SOURCES; b++) {
        const struct rg_source_counter &c = counters[b];
        if (!(show >> b & 1) && !(c.dropped | c.would_drop))
            continue;
        auto feed = std::ranges::find(feeds, b, &Feed::bit);
        const char *kind = b == RG_SOURCE_MANUAL                                               ? "manual"
                           : b == RG_SOURCE_CONFIG                                             ? "config"
                           : feed != feeds.end() && (feed->raw.flags & RG_FEED_CROWDSEC) ? "crowdsec"
                                                                                              : "feed";
        arr.push_back({{"name", source_name(feeds, b)},
                       {"bit", b},
                       {"kind", kind},
                       {"shadow", bool(shadow_sources >> b & 1)},
                       {"counters", source_counters_json(c)}});
    }
    return arr;
}

size_t live_bans(const Maps &maps)
{
    uint64_t now = boottime_ns();
    size_t n = 0;
    for (const Ban &b : list_bans(maps))
        n += !b.expired(now);
    return n;
}

std::string counters_text(const ReasonCounters &counters, const std::string &indent)
{
    std::ostringstream out;
    auto row = [&](const std::string &name, const struct rg_counter &c, bool syn) {
        out << indent << name << std::string(name.size() < 24 ? 24 - name.size() : 1, ' ')
            << c.packets << " pkts  " << c.bytes << " bytes";
        if (syn)
            out << "  " << c.syn << " syn";
        out << "\n";
    };
    for (const Aggregate &a : kAggregates)
        row(a.name, sum(counters, a), std::string(a.name) == "protected");
    for (uint32_t r = 0; r < RG_REASON_MAX; r++)
        if (counters[r].packets)
            row(rg_reason_info[r].name, counters[r], rg_reason_info[r].flags & RG_RF_PROTECTED);
    return out.str();
}

} // namespace rg
