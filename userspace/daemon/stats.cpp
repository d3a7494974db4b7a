#include "stats.hpp"

#include "event_ring.hpp"

#include "feed_sync.hpp"
#include "lists.hpp"
#include "rate.hpp"
#include "watch_state.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <sstream>

namespace rg {

using nlohmann::json;

namespace {

struct Aggregate {
    const char *name;
    uint32_t all_of;   // reason must have all of these RG_RF_* bits
    uint32_t none_of;  // and none of these
};

// Derived from the reason flags, so a new reason lands in the right totals.
constexpr Aggregate kAggregates[] = {
    {"all", 0, 0},
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

json hits_json(uint64_t packets, uint64_t syns)
{
    return {{"packets", packets}, {"syns", syns}};
}

json size_json(const ListSize &n)
{
    return {{"ipv4", n.v4}, {"ipv6", n.v6}, {"total", n.v4 + n.v6}};
}

json feed_state_json(const Feed &f)
{
    const struct rg_feed &r = f.raw;
    bool failed = r.last_result != RG_FEED_NEVER && !feed_result_ok(r.last_result);
    FeedDef d = f.def();
    return {{"source", d.source},
            {"interval_seconds", d.interval.count() / 1000.0},
            {"last_result", f.result_name()},
            {"last_error", failed ? feed_field(r.message, sizeof(r.message)) : std::string()},
            {"last_attempt", r.last_attempt},
            {"last_success", r.last_success},
            {"last_change", r.last_change},
            {"http_status", r.http_status},
            {"interrupted", bool(r.flags & RG_FEED_SYNCING)}};
}

} // namespace

bool StatsReport::narrow(const std::string &iface)
{
    auto it = std::find_if(interfaces.begin(), interfaces.end(), [&](const Interface &i) { return i.name == iface; });
    if (it == interfaces.end())
        return false;
    scope = iface;
    counters = it->counters;
    interfaces = {*it};
    return true;
}

StatsReport read_stats(Maps &maps, const StateDir &state)
{
    StatsReport r;
    r.time = uint64_t(::time(nullptr));
    r.monitor = maps.monitor();
    StatsSnapshot snap = maps.stats();
    r.counters = snap.total;
    for (const IfaceEntry &e : maps.ifaces())
        r.interfaces.push_back({e.name(), e.raw.ifindex, snap.slots.at(e.slot)});
    r.source_hits = maps.source_stats();
    r.feeds = list_feeds(maps);
    r.shadow_sources = maps.shadow_sources();
    Lists lists(maps, state);
    r.allowlist = lists.size(ListKind::allow);
    r.blocklist = lists.size(ListKind::block);
    r.allow_by_source = lists.size_by_source(ListKind::allow);
    r.block_by_source = lists.size_by_source(ListKind::block);
    r.bans = live_bans_by_reason(maps);
    r.watch = watch_stats_json(state);
    r.events = event_counters(maps);
    r.egress = read_egress_totals(maps);
    return r;
}

json stats_json(const StatsReport &r)
{
    json ifaces = json::object();
    for (const StatsReport::Interface &i : r.interfaces)
        ifaces[i.name] = {
            {"ifindex", i.ifindex}, {"total", totals_json(i.counters)}, {"reasons", reasons_json(i.counters)}};
    json sources = sources_json(r.source_hits, r.feeds, r.shadow_sources);
    for (auto &[name, src] : sources.items()) {
        unsigned bit = src["bit"].get<unsigned>();
        src["listed"] = {{"allowlist", size_json(r.allow_by_source[bit])},
                         {"blocklist", size_json(r.block_by_source[bit])}};
    }
    json feeds = json::object();
    for (const Feed &f : r.feeds)
        feeds[f.name()] = feed_state_json(f);
    uint64_t active = 0;
    for (const auto &[reason, n] : r.bans)
        active += n;
    return {{"schema", kStatsSchema},
            {"time", r.time},
            {"mode", r.monitor ? "monitor" : "enforce"},
            {"scope", r.scope},
            {"total", totals_json(r.counters)},
            {"reasons", reasons_json(r.counters)},
            {"interfaces", ifaces},
            {"lists", {{"allowlist", size_json(r.allowlist)}, {"blocklist", size_json(r.blocklist)}}},
            {"sources", sources},
            {"feeds", feeds},
            {"bans", {{"active", active}, {"reasons", r.bans}}},
            {"watch", r.watch},
            {"events", {{"emitted", r.events.emitted}, {"capped", r.events.capped}, {"lost", r.events.lost}}},
            {"egress", egress_totals_json(r.egress)}};
}

json egress_totals_json(const EgressSnapshot &e)
{
    return {{"syns", e.syns},
            {"capped", e.capped},
            {"would_cap", e.would_cap},
            {"untracked", e.untracked},
            {"distinct_destinations",
             {{"current_minute", std::llround(e.distinct_current)},
              {"previous_minute", std::llround(e.distinct_previous)}}}};
}

json counter_json(const struct rg_counter &c)
{
    return {{"packets", c.packets}, {"bytes", c.bytes}, {"syns", c.syn}};
}

json totals_json(const ReasonCounters &counters)
{
    json j = json::object();
    for (const Aggregate &a : kAggregates)
        j[a.name] = counter_json(sum(counters, a));
    return j;
}

json reasons_json(const ReasonCounters &counters)
{
    json j = json::object();
    for (uint32_t r = 0; r < RG_REASON_MAX; r++)
        j[rg_reason_info[r].name] = counter_json(counters[r]);
    return j;
}

json source_counters_json(const struct rg_source_counter &c)
{
    return {{"dropped", c.dropped}, {"dropped_syn", c.dropped_syn}, {"would_drop", c.would_drop},
            {"would_drop_syn", c.would_drop_syn}};
}

json sources_json(const std::array<struct rg_source_counter, RG_MAX_SOURCES> &counters,
                  const std::vector<Feed> &feeds, uint64_t shadow_sources)
{
    uint64_t show = (uint64_t(1) << RG_SOURCE_MANUAL) | (uint64_t(1) << RG_SOURCE_CONFIG);
    for (const Feed &f : feeds)
        show |= uint64_t(1) << f.bit;
    json out = json::object();
    for (unsigned b = 0; b < RG_MAX_SOURCES; b++) {
        const struct rg_source_counter &c = counters[b];
        if (!(show >> b & 1) && !(c.dropped | c.would_drop))
            continue;
        auto feed = std::ranges::find(feeds, b, &Feed::bit);
        const char *kind = b == RG_SOURCE_MANUAL                                         ? "manual"
                           : b == RG_SOURCE_CONFIG                                       ? "config"
                           : feed != feeds.end() && (feed->raw.flags & RG_FEED_CROWDSEC) ? "crowdsec"
                                                                                         : "feed";
        out[source_name(feeds, b)] = {{"kind", kind},
                                      {"bit", b},
                                      {"shadow", bool(shadow_sources >> b & 1)},
                                      {"dropped", hits_json(c.dropped, c.dropped_syn)},
                                      {"would_drop", hits_json(c.would_drop, c.would_drop_syn)}};
    }
    return out;
}

std::map<std::string, uint64_t> live_bans_by_reason(const Maps &maps)
{
    std::map<std::string, uint64_t> n;
    for (const char *name : rg_ban_reason_name)
        n[name] = 0;
    uint64_t now = boottime_ns();
    for (const Ban &b : list_bans(maps))
        if (!b.expired(now))
            n[ban_reason_name(b.raw.reason)]++;
    return n;
}

size_t live_bans(const Maps &maps)
{
    size_t total = 0;
    for (const auto &[reason, n] : live_bans_by_reason(maps))
        total += n;
    return total;
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
        row(a.name == std::string("all") ? "packets" : a.name, sum(counters, a), std::string(a.name) == "protected");
    for (uint32_t r = 0; r < RG_REASON_MAX; r++)
        if (counters[r].packets)
            row(rg_reason_info[r].name, counters[r], rg_reason_info[r].flags & RG_RF_PROTECTED);
    return out.str();
}

} // namespace rg
