// `relayguard rate`, `relayguard bans` and `relayguard top`.
#include "commands.hpp"
#include "common.hpp"
#include "log.hpp"
#include "maps.hpp"
#include "rate.hpp"
#include "stats.hpp"
#include "watch_state.hpp"

#include <algorithm>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>
#include <thread>

using nlohmann::json;

namespace rg::cli {

namespace {

uint64_t seconds_ceil(uint64_t ns)
{
    return (ns + 999999999) / 1000000000;
}

json rate_json(const RateSettings &s, const Maps &maps)
{
    json j = {{"enabled", s.enabled},
              {"prefix4", s.prefix4},
              {"prefix6", s.prefix6},
              {"tracked_sources", rate_sources(maps).size()},
              {"rate_table_size", RG_RATE_MAX_ENTRIES}};
    if (!s.enabled)
        return j;
    j["rate"] = format_rate(s.interval_ns);
    j["rate_per_second"] = 1e9 / double(s.interval_ns);
    j["interval_ns"] = s.interval_ns;
    j["burst"] = s.burst;
    j["bans"] = {{"enabled", s.ban_ttl.count() > 0},
                 {"after", s.ban_after},
                 {"ttl", format_duration(s.ban_ttl)},
                 {"ttl_seconds", s.ban_ttl.count() / 1000.0}};
    j["escalation"] = {{"enabled", s.escalate_after > 0},
                       {"after", s.escalate_after},
                       {"window", format_duration(s.escalate_window)},
                       {"window_seconds", s.escalate_window.count() / 1000.0},
                       {"prefix4", s.escalate_prefix4},
                       {"prefix6", s.escalate_prefix6}};
    return j;
}

void print_rate_text(const RateSettings &s)
{
    if (!s.enabled) {
        std::cout << "rate limiting: off\n";
        return;
    }
    std::cout << "rate limiting: " << format_rate(s.interval_ns) << " per source, burst " << s.burst
              << ", sources aggregated to /" << int(s.prefix4) << " (IPv4) and /" << int(s.prefix6) << " (IPv6)\n";
    if (s.ban_ttl.count())
        std::cout << "bans:          after more than " << s.ban_after << " SYNs over budget, for "
                  << format_duration(s.ban_ttl) << "\n";
    else
        std::cout << "bans:          off\n";
    if (s.escalate_after)
        std::cout << "escalation:    " << s.escalate_after << " bans within " << format_duration(s.escalate_window)
                  << " inside one /" << int(s.escalate_prefix4) << " or /" << int(s.escalate_prefix6)
                  << " ban that prefix\n";
}

int cmd_rate_set(Options &o)
{
    RateSettings s{.enabled = true,
                   .interval_ns = parse_rate(o.rate),
                   .burst = o.burst,
                   .prefix4 = uint8_t(o.prefix4),
                   .prefix6 = uint8_t(o.prefix6),
                   .ban_after = o.ban_after,
                   .ban_ttl = o.ban_ttl.empty() ? Duration{0} : parse_duration(o.ban_ttl),
                   .escalate_after = o.escalate_after,
                   .escalate_window = o.escalate_window.empty() ? Duration{0} : parse_duration(o.escalate_window),
                   .escalate_prefix4 = uint8_t(o.escalate_prefix4),
                   .escalate_prefix6 = uint8_t(o.escalate_prefix6)};
    validate_rate(s);
    auto lock = lock_pin_dir(o.pin_dir);
    Maps maps = Maps::open(o.pin_dir);
    apply_rate(maps, s);
    print_rate_text(s);
    return 0;
}

int cmd_rate_off(Options &o)
{
    auto lock = lock_pin_dir(o.pin_dir);
    Maps maps = Maps::open(o.pin_dir);
    RateSettings s = rate_settings(maps);
    s.enabled = false;
    apply_rate(maps, s);
    size_t live = live_bans(maps);
    std::cout << "rate limiting: off";
    if (live)
        std::cout << " (" << live << " existing bans stay until they expire; `relayguard bans flush` lifts them)";
    std::cout << "\n";
    return 0;
}

int cmd_rate_show(Options &o)
{
    Maps maps = Maps::open(o.pin_dir);
    RateSettings s = rate_settings(maps);
    if (o.json) {
        print_json(rate_json(s, maps));
        return 0;
    }
    print_rate_text(s);
    std::cout << "tracked sources: " << rate_sources(maps).size() << " (table holds " << RG_RATE_MAX_ENTRIES << ")\n";
    return 0;
}

// Why `watch` made the ban: its rule and lines, from its state file; null
// for other bans, and for a watch ban whose explanation is gone.
json watch_json(const Ban &b, const WatchState &w)
{
    auto it = w.bans.find(b.cidr);
    if (b.raw.reason != RG_BAN_WATCH || it == w.bans.end())
        return nullptr;
    const WatchBan &e = it->second;
    return {{"rule", e.rule}, {"matches", e.matches}, {"offence", e.offence}, {"escalation", e.escalation},
            {"lines", e.lines}};
}

int cmd_bans_list(Options &o)
{
    Maps maps = Maps::open(o.pin_dir);
    uint64_t now = boottime_ns();
    std::vector<Ban> bans = list_bans(maps);
    if (!o.all)
        std::erase_if(bans, [&](const Ban &b) { return b.expired(now); });
    WatchState watched = load_watch_state(state_dir(o)).value_or(WatchState{});
    if (o.json) {
        json arr = json::array();
        for (const Ban &b : bans)
            arr.push_back({{"source", b.cidr.str()},
                           {"family", b.cidr.family == 4 ? "ipv4" : "ipv6"},
                           {"reason", ban_reason_name(b.raw.reason)},
                           {"seconds_left", b.expired(now) ? uint64_t(0) : seconds_ceil(b.raw.expires_ns - now)},
                           {"age_seconds", (now - std::min<uint64_t>(now, b.raw.created_ns)) / 1000000000},
                           {"expired", b.expired(now)},
                           {"hits", b.raw.hits},
                           {"watch", watch_json(b, watched)}});
        print_json({{"count", bans.size()}, {"bans", arr}});
        return 0;
    }
    if (bans.empty()) {
        std::cout << "no bans\n";
        return 0;
    }
    std::cout << std::left << std::setw(44) << "SOURCE" << std::setw(12) << "REASON" << std::setw(14)
              << "SECONDS LEFT" << std::setw(10) << "HITS" << "RULE\n";
    for (const Ban &b : bans) {
        json w = watch_json(b, watched);
        std::cout << std::setw(44) << b.cidr.str() << std::setw(12) << ban_reason_name(b.raw.reason) << std::setw(14)
                  << (b.expired(now) ? std::string("expired") : std::to_string(seconds_ceil(b.raw.expires_ns - now)))
                  << std::setw(10) << b.raw.hits << (w.is_null() ? "" : w["rule"].get<std::string>()) << "\n";
    }
    return 0;
}

int cmd_bans_add(Options &o)
{
    std::vector<Cidr> cidrs = parse_cidr_args(o.cidrs);
    Duration ttl = parse_duration(o.ttl);
    auto lock = lock_pin_dir(o.pin_dir);
    Maps maps = Maps::open(o.pin_dir);
    for (const Cidr &c : cidrs) {
        add_ban(maps, c, ttl);
        std::cout << "banned " << c.str() << " for " << format_duration(ttl) << "\n";
    }
    return 0;
}

int cmd_bans_del(Options &o)
{
    std::vector<Cidr> cidrs = parse_cidr_args(o.cidrs);
    auto lock = lock_pin_dir(o.pin_dir);
    Maps maps = Maps::open(o.pin_dir);
    int status = 0;
    for (const Cidr &c : cidrs) {
        if (del_ban(maps, c)) {
            std::cout << "unbanned " << c.str() << "\n";
        } else {
            log(LogLevel::error, c.str() + " is not banned (as exactly that prefix)");
            status = 1;
        }
    }
    return status;
}

int cmd_bans_flush(Options &o)
{
    auto lock = lock_pin_dir(o.pin_dir);
    Maps maps = Maps::open(o.pin_dir);
    std::cout << "removed " << flush_bans(maps) << " bans\n";
    return 0;
}

// Live bans indexed for "is this source inside a ban": one lookup per distinct ban length, not one per ban.
class BanIndex {
public:
    BanIndex(const std::vector<Ban> &bans, uint64_t now)
    {
        for (const Ban &b : bans)
            if (!b.expired(now)) {
                bans_.insert(b.cidr);
                lengths_[b.cidr.family == 4 ? 0 : 1].insert(b.cidr.len);
            }
    }
    bool covers(const Cidr &source) const
    {
        for (uint8_t len : lengths_[source.family == 4 ? 0 : 1]) {
            if (len > source.len)
                break;
            if (bans_.count(masked(source, len)))
                return true;
        }
        return false;
    }

private:
    static Cidr masked(Cidr c, uint8_t len)
    {
        for (unsigned bit = len; bit < c.max_len(); bit++)
            c.addr[bit / 8] &= uint8_t(~(0x80u >> (bit % 8)));
        c.len = len;
        return c;
    }
    std::set<Cidr> bans_;
    std::set<uint8_t> lengths_[2];
};

int cmd_top(Options &o)
{
    if (o.egress_top)
        return egress_top(o);
    Maps maps = Maps::open(o.pin_dir);
    std::vector<SourceState> now_state = rate_sources(maps);
    size_t tracked = now_state.size();
    Duration sample{0};
    if (!o.sample.empty()) {
        sample = parse_duration(o.sample);
        std::map<Cidr, SourceState> before;
        for (const SourceState &s : now_state)
            before[s.source] = s;
        std::this_thread::sleep_for(sample);  // the sampling window itself, not a synchronisation
        now_state = rate_sources(maps);
        tracked = now_state.size();
        for (SourceState &s : now_state)
            if (auto it = before.find(s.source); it != before.end()) {
                s.syns -= std::min<uint64_t>(s.syns, it->second.syns);
                s.limited -= std::min<uint64_t>(s.limited, it->second.limited);
            }
        std::erase_if(now_state, [](const SourceState &s) { return s.syns == 0 && s.limited == 0; });
    }
    std::ranges::sort(now_state, std::greater{}, [](const SourceState &s) { return std::tie(s.limited, s.syns); });
    size_t active = now_state.size();
    if (now_state.size() > o.top_n)
        now_state.resize(o.top_n);
    uint64_t now = boottime_ns();
    BanIndex bans(list_bans(maps), now);
    auto ago = [now](const SourceState &s) { return double(now - std::min<uint64_t>(now, s.last_seen)) / 1e9; };
    RateSettings settings = rate_settings(maps);
    if (o.json) {
        json arr = json::array();
        for (const SourceState &s : now_state)
            arr.push_back({{"source", s.source.str()},
                           {"syn", s.syns},
                           {"over_budget", s.limited},
                           {"last_seen_seconds_ago", ago(s)},
                           {"banned", bans.covers(s.source)}});
        print_json({{"rate_limiting", settings.enabled},
                    {"window", sample.count() ? json(format_duration(sample)) : json("since first seen")},
                    {"tracked_sources", tracked},
                    {"active_sources", active},
                    {"sources", arr}});
        return 0;
    }
    if (!settings.enabled && now_state.empty()) {
        std::cout << "rate limiting is off, so no per-source state is kept (relayguard rate set ...)\n";
        return 0;
    }
    std::cout << std::left << std::setw(44) << "SOURCE" << std::setw(12) << "SYN" << std::setw(12) << "OVER BUDGET"
              << std::setw(12) << "LAST SEEN" << "BANNED\n";
    for (const SourceState &s : now_state) {
        std::ostringstream seen;
        seen << std::fixed << std::setprecision(1) << ago(s) << "s";
        std::cout << std::setw(44) << s.source.str() << std::setw(12) << s.syns << std::setw(12) << s.limited
                  << std::setw(12) << seen.str() << (bans.covers(s.source) ? "yes" : "") << "\n";
    }
    return 0;
}

} // namespace

void add_rate_commands(CLI::App &app, Options &o)
{
    CLI::App *rate = app.add_subcommand("rate", "per-source SYN rate limiting and automatic bans")
                         ->require_subcommand(1);
    CLI::App *set = add_command(*rate, o, "set",
                                "turn on rate limiting with these settings (replaces all rate settings; "
                                "options not given take their defaults)",
                                cmd_rate_set);
    set->add_option("--rate", o.rate, "new connections per source: 2 or 2/s, 30/m, 100/h, 0.5")
        ->required()->check(check_rate(o));
    set->add_option("--burst", o.burst, "connections a source may open back to back")
        ->required()->check(CLI::Range(1, 1000000));
    set->add_option("--prefix4", o.prefix4, "aggregate IPv4 sources to this prefix")
        ->check(CLI::Range(1, 32))->capture_default_str();
    set->add_option("--prefix6", o.prefix6, "aggregate IPv6 sources to this prefix")
        ->check(CLI::Range(1, 128))->capture_default_str();
    CLI::Option *after = set->add_option("--ban-after", o.ban_after,
                                         "ban a source over budget more than N times (since its bucket was last full)")
                             ->check(CLI::Range(0, 1000000));
    CLI::Option *ttl = set->add_option("--ban-ttl", o.ban_ttl,
                                       "turn automatic bans on: ban length, e.g. 30s, 10m, 1h")
                           ->check(check_duration(o));
    after->needs(ttl);  // without a ttl there are no bans (--ban-ttl alone means --ban-after 0)
    CLI::Option *esc = set->add_option("--escalate-after", o.escalate_after,
                                       "ban a whole /24 (/48) when K of its sources were banned within the window")
                           ->check(CLI::Range(1, 65535));
    CLI::Option *win = set->add_option("--escalate-window", o.escalate_window, "escalation window, e.g. 10m")
                           ->check(check_duration(o));
    esc->needs(win)->needs(ttl);
    win->needs(esc);
    set->add_option("--escalate-prefix4", o.escalate_prefix4, "IPv4 escalation prefix")
        ->check(CLI::Range(1, 32))->capture_default_str();
    set->add_option("--escalate-prefix6", o.escalate_prefix6, "IPv6 escalation prefix")
        ->check(CLI::Range(1, 128))->capture_default_str();

    CLI::App *show = add_command(*rate, o, "show", "show the rate-limit settings", cmd_rate_show);
    show->add_flag("--json", o.json, "JSON output");
    add_command(*rate, o, "off", "turn rate limiting off (existing bans stay until they expire)", cmd_rate_off);

    CLI::App *bans = app.add_subcommand("bans", "sources banned for a while (by the rate limiter or by hand)")
                         ->require_subcommand(1);
    CLI::App *ls = add_command(*bans, o, "list", "list live bans", cmd_bans_list);
    ls->add_flag("--json", o.json, "JSON output");
    ls->add_flag("--all", o.all, "include expired entries not yet removed");
    CLI::App *add = bans->add_subcommand("add", "ban prefixes for a while");
    add->add_option("cidr", o.cidrs, "IPv4/IPv6 address or prefix")->required()->check(check_cidr(o));
    add->add_option("--ttl", o.ttl, "ban length, e.g. 30s, 10m, 1h")->required()->check(check_duration(o));
    add->add_flag("--force", o.force, "accept a /0 (every address of a family)");
    add->callback([&o] {
        refuse_whole_family(o, [&o](const std::string &family) {
            return "the ban would drop every " + family + " packet to the protected ports for " + o.ttl;
        });
        o.action = cmd_bans_add;
    });
    CLI::App *del = add_command(*bans, o, "del", "lift bans (exact prefixes)", cmd_bans_del);
    del->add_option("cidr", o.cidrs, "IPv4/IPv6 address or prefix")->required()->check(check_cidr(o));
    add_command(*bans, o, "flush", "lift every ban", cmd_bans_flush);

    CLI::App *top = add_command(app, o, "top", "sources with the most SYNs and rate-limit drops", cmd_top);
    top->add_flag("--json", o.json, "JSON output");
    top->add_flag("--egress", o.egress_top,
                  "outbound instead: local senders and destination prefixes with the most new connections");
    top->add_option("-n", o.top_n, "how many sources")->check(CLI::Range(1u, 1000000u))->capture_default_str();
    top->add_option("--sample", o.sample, "count only what happens during this long, e.g. 1s")
        ->check(check_duration(o));
}

} // namespace rg::cli
