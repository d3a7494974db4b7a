#include "metrics.hpp"

#include "bouncer.hpp"
#include "lists.hpp"
#include "rate.hpp"
#include "stats.hpp"
#include "watch_state.hpp"

#include <sstream>
#include <utility>

namespace rg {

using nlohmann::json;

std::string prometheus_label_value(std::string_view v)
{
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

namespace {

using Labels = std::vector<std::pair<const char *, std::string>>;

// One family: its HELP and TYPE lines, then its samples, never interleaved
// with another family's (the format requires a family's lines together).
class Family {
public:
    Family(std::ostringstream &out, const char *name, const char *type, const char *help) : out_(out), name_(name)
    {
        // Help texts are constants here without backslashes or newlines.
        out_ << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
    }
    void sample(const Labels &labels, uint64_t value)
    {
        out_ << name_;
        if (!labels.empty()) {
            out_ << "{";
            for (size_t i = 0; i < labels.size(); i++)
                out_ << (i ? "," : "") << labels[i].first << "=\"" << prometheus_label_value(labels[i].second) << "\"";
            out_ << "}";
        }
        out_ << " " << value << "\n";
    }

private:
    std::ostringstream &out_;
    const char *name_;
};

uint64_t u64(const json &j, const char *key)
{
    auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<uint64_t>() : 0;
}

// The CrowdSec bouncer's, once one ran on this state directory (its
// counters restart with it, as the watch's do).
void crowdsec_families(std::ostringstream &out, const json &cs)
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

} // namespace

MetricsSnapshot read_metrics(Maps &maps, const StateDir &state)
{
    MetricsSnapshot s;
    s.version = RELAYGUARD_VERSION;
    s.monitor = maps.monitor();
    StatsSnapshot stats = maps.stats();
    for (const IfaceEntry &e : maps.ifaces())
        s.interfaces.push_back({e.name(), stats.slots.at(e.slot)});
    s.sources = sources_json(maps.source_stats(), list_feeds(maps), maps.shadow_sources());
    for (uint32_t r = 0; r < sizeof(rg_ban_reason_name) / sizeof(rg_ban_reason_name[0]); r++)
        s.bans[rg_ban_reason_name[r]] = 0;
    uint64_t now = boottime_ns();
    for (const Ban &b : list_bans(maps))
        if (!b.expired(now))
            s.bans[ban_reason_name(b.raw.reason)]++;
    s.watch = watch_stats_json(state);
    s.crowdsec = crowdsec_status_json(state);
    Lists lists(maps, state);
    s.allowlist = lists.size(ListKind::allow);
    s.blocklist = lists.size(ListKind::block);
    return s;
}

std::string prometheus_text(const MetricsSnapshot &s)
{
    std::ostringstream out;
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

    // Attribution of blocklist verdicts to the sources listing the address
    // (all interfaces together), one family per counter of sources_json().
    struct SourceFamily {
        const char *name, *key, *help;
    };
    for (const SourceFamily &f : {
             SourceFamily{"relayguard_source_dropped_packets_total", "dropped",
                          "Packets dropped by the blocklist, per source listing the address."},
             SourceFamily{"relayguard_source_dropped_syn_packets_total", "dropped_syn",
                          "SYNs dropped by the blocklist, per source listing the address."},
             SourceFamily{"relayguard_source_would_drop_packets_total", "would_drop",
                          "Packets the blocklist would drop (monitor mode or shadow source), per source."},
             SourceFamily{"relayguard_source_would_drop_syn_packets_total", "would_drop_syn",
                          "SYNs the blocklist would drop (monitor mode or shadow source), per source."},
         }) {
        Family fam(out, f.name, "counter", f.help);
        for (const json &src : s.sources)
            fam.sample({{"source", src.value("name", "")}, {"kind", src.value("kind", "")}},
                       u64(src["counters"], f.key));
    }
    Family shadow(out, "relayguard_source_shadow", "gauge",
                  "1 when the source is in shadow mode (counted as would-drop, not dropped).");
    for (const json &src : s.sources)
        shadow.sample({{"source", src.value("name", "")}, {"kind", src.value("kind", "")}},
                      src.value("shadow", false));

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
    crowdsec_families(out, s.crowdsec);
    return out.str();
}

} // namespace rg
