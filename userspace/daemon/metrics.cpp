#include "metrics.hpp"

#include "attach.hpp"
#include "bouncer.hpp"
#include "lists.hpp"
#include "rate.hpp"
#include "stats.hpp"
#include "watch_state.hpp"

#include <cmath>
#include <utility>

namespace rg {

using nlohmann::json;

namespace {

using Family = MetricFamily;

uint64_t u64(const json &j, const char *key)
{
    auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<uint64_t>() : 0;
}

// Per feed: its list size, schedule, the outcome and times of its last
// sync from the registry, and its sync counts from the state directory.
void feed_families(std::string &out, const std::vector<MetricsSnapshot::FeedState> &feeds)
{
    Family prefixes(out, "relayguard_feed_prefixes", "gauge", "Prefixes the feed has in force (collapsed).");
    for (const auto &f : feeds)
        prefixes.sample({{"feed", f.feed.name()}}, f.feed.raw.prefixes);
    Family interval(out, "relayguard_feed_interval_seconds", "gauge", "The feed's sync interval (the daemon's schedule).");
    for (const auto &f : feeds)
        interval.sample_float({{"feed", f.feed.name()}}, double(f.feed.raw.interval_ms) / 1000);
    Family attempt(out, "relayguard_feed_last_attempt_timestamp_seconds", "gauge",
                   "Unix time of the feed's last sync attempt; 0: never.");
    for (const auto &f : feeds)
        attempt.sample({{"feed", f.feed.name()}}, f.feed.raw.last_attempt);
    Family success(out, "relayguard_feed_last_success_timestamp_seconds", "gauge",
                   "Unix time of the feed's last sync that left it current; 0: never.");
    for (const auto &f : feeds)
        success.sample({{"feed", f.feed.name()}}, f.feed.raw.last_success);
    Family result(out, "relayguard_feed_last_result", "gauge",
                  "1 for the result of the feed's last sync, 0 for the other results.");
    for (const auto &f : feeds)
        for (uint32_t r = 0; r < RG_FEED_RESULT_MAX; r++)
            result.sample({{"feed", f.feed.name()}, {"result", rg_feed_result_name[r]}}, f.feed.raw.last_result == r);
    Family syncs(out, "relayguard_feed_syncs_total", "counter", "Sync attempts of the feed, whatever their result.");
    for (const auto &f : feeds)
        syncs.sample({{"feed", f.feed.name()}}, f.stats.total());
    Family errors(out, "relayguard_feed_sync_errors_total", "counter",
                  "Syncs that failed or were refused by the safety checks (the version in force stayed), per result.");
    for (const auto &f : feeds)
        for (uint32_t r = 0; r < RG_FEED_RESULT_MAX; r++)
            if (r != RG_FEED_NEVER && !feed_result_ok(r))
                errors.sample({{"feed", f.feed.name()}, {"result", rg_feed_result_name[r]}}, f.stats.syncs[r]);
    Family took(out, "relayguard_feed_last_sync_duration_seconds", "gauge", "Wall time of the feed's last sync.");
    for (const auto &f : feeds)
        took.sample_float({{"feed", f.feed.name()}}, f.stats.last_seconds);
}

// The CrowdSec bouncer's, once one ran on this state directory (its
// counters restart with it, as the watch's do).
void crowdsec_families(std::string &out, const json &cs)
{
    if (!cs.contains("lapi_url"))
        return;
    Family(out, "relayguard_crowdsec_up", "gauge",
           "1 while the CrowdSec bouncer runs and its last poll of the Local API succeeded.")
        .sample({}, cs.value("active", false) && cs.value("connected", false));
    Family(out, "relayguard_crowdsec_decisions", "gauge", "CrowdSec decisions in force.")
        .sample({}, u64(cs, "decisions"));
    Family(out, "relayguard_crowdsec_prefixes", "gauge", "Prefixes the CrowdSec decisions put on the blocklist.")
        .sample({}, u64(cs, "prefixes"));
    Family(out, "relayguard_crowdsec_polls_total", "counter", "Polls of the Local API's decision stream.")
        .sample({}, u64(cs, "polls"));
    Family(out, "relayguard_crowdsec_poll_errors_total", "counter", "Polls that failed (enforcement kept).")
        .sample({}, u64(cs, "poll_errors"));
    Family(out, "relayguard_crowdsec_last_success_timestamp_seconds", "gauge",
           "Unix time of the last successful poll.")
        .sample({}, u64(cs, "last_success"));
    Family events(out, "relayguard_crowdsec_decisions_total", "counter",
                  "Decisions the stream brought, per event (added, deleted, expired here, refused, ignored).");
    for (const char *e : {"added", "deleted", "expired", "refused", "ignored"})
        events.sample({{"event", e}}, u64(cs, ("decisions_" + std::string(e)).c_str()));
}

// The egress program's (docs/egress.md). Senders are the host's own
// addresses, a handful: one series each is cheap; destinations are not
// exported (`top --egress` shows them).
void egress_families(std::string &out, const MetricsSnapshot &s)
{
    const EgressSnapshot &e = s.egress;
    Family(out, "relayguard_egress_syn_packets_total", "counter",
           "New outbound connections (SYN without ACK) to the watched ports, all interfaces.")
        .sample({}, e.syns);
    Family(out, "relayguard_egress_capped_syn_packets_total", "counter",
           "Outbound SYNs to the watched ports dropped over the egress budget (cap mode).")
        .sample({}, e.capped);
    Family(out, "relayguard_egress_would_cap_syn_packets_total", "counter",
           "Outbound SYNs to the watched ports over the egress budget, passed (watch or monitor mode).")
        .sample({}, e.would_cap);
    Family(out, "relayguard_egress_destination_prefixes", "gauge",
           "Distinct destination prefixes (/24, /48) of outbound SYNs in the last complete minute (estimate, 1.6%).")
        .sample({}, uint64_t(std::llround(e.distinct_previous)));
    Family senders(out, "relayguard_egress_sender_syn_packets_total", "counter",
                   "New outbound connections to the watched ports per local source address.");
    for (const EgressCount &c : e.sources) {
        std::string a = c.key.str();
        senders.sample({{"source", a.substr(0, a.find('/'))}}, c.syns);
    }
    Family mode(out, "relayguard_egress_mode", "gauge",
                "1 for the egress mode (watch, cap) of each interface with the egress program attached.");
    for (const auto &i : s.interfaces)
        if (i.egress_mode != RG_EGRESS_OFF && i.egress_attached)
            mode.sample({{"interface", i.name}, {"mode", egress_mode_name(i.egress_mode)}}, 1);
}

} // namespace

MetricsSnapshot read_metrics(Maps &maps, const StateDir &state)
{
    MetricsSnapshot s;
    s.version = RELAYGUARD_VERSION;
    s.monitor = maps.monitor();
    StatsSnapshot stats = maps.stats();
    for (const IfaceEntry &e : maps.ifaces()) {
        LiveState live = query_live(e);
        s.interfaces.push_back({e.name(), stats.slots.at(e.slot), live.attached, e.raw.egress_mode,
                                live.egress_attached});
    }
    s.egress = read_egress_totals(maps);
    s.egress.sources = egress_sources(maps);
    s.sources = sources_json(maps.source_stats(), list_feeds(maps), maps.shadow_sources());
    s.bans = live_bans_by_reason(maps);
    s.watch = watch_stats_json(state);
    s.crowdsec = crowdsec_status_json(state);
    Lists lists(maps, state);
    s.allowlist = lists.size(ListKind::allow);
    s.blocklist = lists.size(ListKind::block);
    for (Feed &f : list_feeds(maps)) {
        FeedStats fs = load_feed_stats(state, f.name());
        s.feeds.push_back({std::move(f), fs});
    }
    return s;
}

std::string prometheus_text(const MetricsSnapshot &s)
{
    std::string out;
    Family(out, "relayguard_build_info", "gauge", "Always 1; the version of relayguard that wrote the metrics.")
        .sample({{"version", s.version}}, 1);
    Family(out, "relayguard_monitor_mode", "gauge",
           "1 in monitor mode (would-drop verdicts, nothing dropped), 0 when enforcing.")
        .sample({}, s.monitor);

    Family packets(out, "relayguard_packets_total", "counter", "Packets per verdict reason and attached interface.");
    for (const auto &i : s.interfaces)
        for (uint32_t r = 0; r < RG_REASON_MAX; r++)
            packets.sample({{"reason", rg_reason_info[r].name}, {"interface", i.name}}, i.counters[r].packets);
    Family bytes(out, "relayguard_bytes_total", "counter", "Bytes per verdict reason and attached interface.");
    for (const auto &i : s.interfaces)
        for (uint32_t r = 0; r < RG_REASON_MAX; r++)
            bytes.sample({{"reason", rg_reason_info[r].name}, {"interface", i.name}}, i.counters[r].bytes);
    Family syn(out, "relayguard_syn_packets_total", "counter",
               "TCP SYNs to a protected port per verdict reason and attached interface.");
    for (const auto &i : s.interfaces)
        for (uint32_t r = 0; r < RG_REASON_MAX; r++)
            if (rg_reason_info[r].flags & RG_RF_PROTECTED)
                syn.sample({{"reason", rg_reason_info[r].name}, {"interface", i.name}}, i.counters[r].syn);

    Family attached(out, "relayguard_interface_attached", "gauge",
                    "1 while the filter's program is in the interface's XDP chain, 0 when it was taken off.");
    for (const auto &i : s.interfaces)
        attached.sample({{"interface", i.name}}, i.attached);

    // Attribution of blocklist verdicts to the sources listing the address
    // (all interfaces together), one family per count of sources_json()
    // (keys are JSON pointers into a source's object).
    struct SourceFamily {
        const char *name, *key, *help;
    };
    for (const SourceFamily &f : {
             SourceFamily{"relayguard_source_dropped_packets_total", "/dropped/packets",
                          "Packets dropped by the blocklist, per source listing the address."},
             SourceFamily{"relayguard_source_dropped_syn_packets_total", "/dropped/syns",
                          "SYNs dropped by the blocklist, per source listing the address."},
             SourceFamily{"relayguard_source_would_drop_packets_total", "/would_drop/packets",
                          "Packets the blocklist would drop (monitor mode or shadow source), per source."},
             SourceFamily{"relayguard_source_would_drop_syn_packets_total", "/would_drop/syns",
                          "SYNs the blocklist would drop (monitor mode or shadow source), per source."},
         }) {
        Family fam(out, f.name, "counter", f.help);
        for (const auto &[name, src] : s.sources.items())
            fam.sample({{"source", name}, {"kind", src.value("kind", "")}},
                       src.value(json::json_pointer(f.key), uint64_t(0)));
    }
    Family shadow(out, "relayguard_source_shadow", "gauge",
                  "1 when the source is in shadow mode (counted as would-drop, not dropped).");
    for (const auto &[name, src] : s.sources.items())
        shadow.sample({{"source", name}, {"kind", src.value("kind", "")}}, src.value("shadow", false));

    Family bans(out, "relayguard_bans", "gauge", "Bans in force, per ban reason.");
    for (const auto &[reason, n] : s.bans)
        bans.sample({{"reason", reason}}, n);

    if (s.allowlist && s.blocklist) {
        Family lists(out, "relayguard_list_prefixes", "gauge",
                     "Prefixes listed by the allowlist or blocklist (all sources), per address family.");
        for (const auto &[name, size] : {std::pair{"allowlist", *s.allowlist}, std::pair{"blocklist", *s.blocklist}}) {
            lists.sample({{"list", name}, {"family", "ipv4"}}, size.v4);
            lists.sample({{"list", name}, {"family", "ipv6"}}, size.v6);
        }
    }

    Family(out, "relayguard_watch_active", "gauge", "1 while a watch of the mail log runs on this state directory.")
        .sample({}, s.watch.value("active", false));
    Family(out, "relayguard_watch_lines_total", "counter", "Mail log lines the watch read.")
        .sample({}, u64(s.watch, "lines"));
    const json rules = s.watch.contains("rules") && s.watch["rules"].is_object() ? s.watch["rules"] : json::object();
    for (const SourceFamily &f : {
             SourceFamily{"relayguard_watch_matches_total", "matches", "Mail log lines each watch rule matched."},
             SourceFamily{"relayguard_watch_bans_total", "bans", "Bans each watch rule caused (in a dry run: would have)."},
             SourceFamily{"relayguard_watch_exempt_total", "exempt",
                          "Bans a watch rule did not make: the source was allowlisted, ignored or local."},
         }) {
        Family fam(out, f.name, "counter", f.help);
        for (const auto &[rule, c] : rules.items())
            fam.sample({{"rule", rule}}, u64(c, f.key));
    }
    feed_families(out, s.feeds);
    crowdsec_families(out, s.crowdsec);
    egress_families(out, s);
    return out;
}

} // namespace rg
