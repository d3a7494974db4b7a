// `relayguard egress show|set` and `relayguard top --egress`: outbound
// connection attempts to the watched ports (docs/egress.md).
#include "attach.hpp"
#include "commands.hpp"
#include "common.hpp"
#include "duration.hpp"
#include "egress.hpp"
#include "hll.hpp"
#include "ports.hpp"
#include "rate.hpp"
#include "log.hpp"
#include "text.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>
#include <tuple>

using nlohmann::json;

namespace rg::cli {

namespace {

json settings_json(const EgressSettings &s)
{
    json j = {{"ports", s.ports}, {"budget", format_rate(s.interval_ns)}, {"burst", s.burst}};
    j["budget_per_minute"] = s.interval_ns ? 60e9 / double(s.interval_ns) : 0.0;
    j["interval_ns"] = s.interval_ns;
    return j;
}

double seconds_ago(uint64_t now, uint64_t then)
{
    return double(now - std::min(now, then)) / 1e9;
}

// A source is one address (shown without /32, /128); a destination a prefix.
std::string address_of(const EgressCount &c)
{
    std::string s = c.key.str();
    return c.key.len == c.key.max_len() ? s.substr(0, s.find('/')) : s;
}

json counts_json(const std::vector<EgressCount> &rows, const char *key, uint64_t now, size_t n)
{
    json arr = json::array();
    for (size_t i = 0; i < rows.size() && i < n; i++)
        arr.push_back({{key, address_of(rows[i])},
                       {"syns", rows[i].syns},
                       {"over_budget", rows[i].over},
                       {"last_seen_seconds_ago", seconds_ago(now, rows[i].last_seen)}});
    return arr;
}

// Interfaces with the egress program, by name: mode, program id, attached now.
json interfaces_json(const Maps &maps)
{
    json j = json::object();
    for (const IfaceEntry &e : maps.ifaces())
        if (e.raw.egress_mode != RG_EGRESS_OFF)
            j[e.name()] = {{"mode", egress_mode_name(e.raw.egress_mode)},
                           {"prog_id", e.raw.egress_prog_id},
                           {"attached", query_live(e).egress_attached}};
    return j;
}

long rounded(double v)
{
    return std::lround(v);
}

int cmd_egress_show(Options &o)
{
    Maps maps = Maps::open(o.pin_dir);
    EgressSettings s = egress_settings(maps);
    EgressSnapshot snap = read_egress(maps);
    json ifaces = interfaces_json(maps);
    if (o.json) {
        json j = settings_json(s);
        j["interfaces"] = ifaces;
        j["syns"] = snap.syns;
        j["capped"] = snap.capped;
        j["would_cap"] = snap.would_cap;
        j["untracked"] = snap.untracked;
        j["distinct_destinations"] = {{"prefix4", RG_EGRESS_PREFIX4},
                                      {"prefix6", RG_EGRESS_PREFIX6},
                                      {"current_minute", rounded(snap.distinct_current)},
                                      {"previous_minute", rounded(snap.distinct_previous)},
                                      {"relative_standard_error", kHllStandardError}};
        j["sources"] = counts_json(snap.sources, "source", snap.now_ns, o.top_n);
        j["destinations"] = counts_json(snap.destinations, "prefix", snap.now_ns, o.top_n);
        print_json(j);
        return 0;
    }
    std::ostringstream ports;
    for (size_t i = 0; i < s.ports.size(); i++)
        ports << (i ? "," : "") << s.ports[i];
    std::cout << "watched ports: " << ports.str() << "\n"
              << "budget: "
              << (s.interval_ns ? format_rate(s.interval_ns) + ", burst " + std::to_string(s.burst) : "off") << "\n";
    if (ifaces.empty())
        std::cout << "interfaces: none (relayguard attach IFACE --egress watch|cap)\n";
    for (auto &[name, i] : ifaces.items())
        std::cout << "interface " << printable(name) << ": " << i["mode"].get<std::string>()
                  << (i["attached"].get<bool>() ? "" : "  NOT ATTACHED (program or interface gone)") << "\n";
    std::cout << "new connections: " << snap.syns << "  capped: " << snap.capped
              << "  would cap: " << snap.would_cap << "\n"
              << "distinct destination /" << RG_EGRESS_PREFIX4 << " and /" << RG_EGRESS_PREFIX6
              << " prefixes: " << rounded(snap.distinct_current) << " this minute, "
              << rounded(snap.distinct_previous) << " the minute before (estimates, +-"
              << std::setprecision(2) << 100 * kHllStandardError << "%)\n";
    return 0;
}

int cmd_egress_set(Options &o)
{
    auto lock = lock_pin_dir(o.pin_dir);
    Maps maps = Maps::open(o.pin_dir);
    EgressSettings s = egress_settings(maps);
    if (!o.ports.empty())
        s.ports = parse_ports(o.ports);
    if (o.egress_budget == "off") {
        s.interval_ns = 0;
        s.burst = 0;
    } else if (!o.egress_budget.empty()) {
        s.interval_ns = parse_rate(o.egress_budget);
    }
    if (o.burst)
        s.burst = o.burst;
    if (s.interval_ns && !s.burst)
        throw CommandError("egress set: a budget needs --burst N (connections allowed back to back)",
                           {"argument", "--burst"});
    bool capping = false;
    for (const IfaceEntry &e : maps.ifaces())
        capping |= e.raw.egress_mode == RG_EGRESS_CAP;
    if (!s.interval_ns && capping)
        log(LogLevel::warning, "egress budget off: interfaces in cap mode drop nothing until a budget is set");
    apply_egress(maps, s);
    std::cout << "egress: ports ";
    for (size_t i = 0; i < s.ports.size(); i++)
        std::cout << (i ? "," : "") << s.ports[i];
    std::cout << ", budget "
              << (s.interval_ns ? format_rate(s.interval_ns) + " burst " + std::to_string(s.burst) : "off") << "\n";
    return 0;
}

// Counts since the snapshot `before`, by key; keys with nothing new dropped.
void subtract(std::vector<EgressCount> &now, const std::vector<EgressCount> &before)
{
    std::map<Cidr, EgressCount> old;
    for (const EgressCount &c : before)
        old[c.key] = c;
    for (EgressCount &c : now)
        if (auto it = old.find(c.key); it != old.end() && it->second.first_seen == c.first_seen) {
            c.syns -= std::min(c.syns, it->second.syns);
            c.over -= std::min(c.over, it->second.over);
        }
    std::erase_if(now, [](const EgressCount &c) { return c.syns == 0; });
    std::ranges::sort(now, std::greater{}, [](const EgressCount &c) { return std::tie(c.syns, c.over); });
}

void print_rows(const char *title, const std::vector<EgressCount> &rows, uint64_t now, size_t n)
{
    std::cout << std::left << std::setw(44) << title << std::setw(12) << "SYN" << std::setw(14) << "OVER BUDGET"
              << "LAST SEEN\n";
    for (size_t i = 0; i < rows.size() && i < n; i++) {
        std::ostringstream seen;
        seen << std::fixed << std::setprecision(1) << seconds_ago(now, rows[i].last_seen) << "s";
        std::cout << std::setw(44) << address_of(rows[i]) << std::setw(12) << rows[i].syns << std::setw(14)
                  << rows[i].over << seen.str() << "\n";
    }
}

} // namespace

int egress_top(Options &o)
{
    Maps maps = Maps::open(o.pin_dir);
    EgressSnapshot snap = read_egress(maps);
    Duration sample{0};
    if (!o.sample.empty()) {
        sample = parse_duration(o.sample);
        EgressSnapshot before = snap;
        std::this_thread::sleep_for(sample);  // the sampling window itself, not a synchronisation
        snap = read_egress(maps);
        subtract(snap.sources, before.sources);
        subtract(snap.destinations, before.destinations);
    }
    if (o.json) {
        json j = {{"window", sample.count() ? json(format_duration(sample)) : json("since first seen")},
                  {"sources", counts_json(snap.sources, "source", snap.now_ns, o.top_n)},
                  {"destinations", counts_json(snap.destinations, "prefix", snap.now_ns, o.top_n)}};
        print_json(j);
        return 0;
    }
    print_rows("LOCAL SENDER", snap.sources, snap.now_ns, o.top_n);
    std::cout << "\n";
    print_rows("DESTINATION PREFIX", snap.destinations, snap.now_ns, o.top_n);
    return 0;
}

void add_egress_commands(CLI::App &app, Options &o)
{
    CLI::App *eg = app.add_subcommand("egress", "outbound connections to the watched ports (is this host relaying?)")
                       ->require_subcommand(1);
    CLI::App *show = add_command(*eg, o, "show", "egress settings, counters and the top senders", cmd_egress_show);
    show->add_flag("--json", o.json, "JSON output");
    show->add_option("-n", o.top_n, "how many senders and prefixes (JSON)")
        ->check(CLI::Range(1u, 1000000u))->capture_default_str();
    CLI::App *set = eg->add_subcommand("set", "change the watched ports or the budget (for all interfaces)");
    set->add_option("--ports", o.ports, "watched destination ports (default 25), e.g. 25,465,587")
        ->delimiter(',')->check(check_ports(o));
    set->add_option("--budget", o.egress_budget,
                    "new outbound connections of the host over which cap mode drops SYNs: 30/m, 2/s, 100/h, or off")
        ->check(CLI::Validator([&o](std::string &s) {
            return s == "off" ? std::string() : check_rate(o)(s);
        }, "RATE|off"));
    set->add_option("--burst", o.burst, "connections allowed back to back")->check(CLI::Range(1, 1000000));
    set->callback([&o] {
        check_port_list(o);
        o.action = cmd_egress_set;
    });
}

} // namespace rg::cli
