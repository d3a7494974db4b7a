#include "commands.hpp"
#include "common.hpp"

#include "attach.hpp"
#include "egress.hpp"
#include "bpffs.hpp"
#include "cidr.hpp"
#include "daemon.hpp"
#include "duration.hpp"
#include "error.hpp"
#include "events.hpp"
#include "feed_registry.hpp"
#include "hand_list.hpp"
#include "log.hpp"
#include "maps.hpp"
#include "metrics.hpp"
#include "ports.hpp"
#include "rate.hpp"
#include "relay_probe.hpp"
#include "stats.hpp"
#include "text.hpp"
#include "watch_state.hpp"

#include <algorithm>
#include <cerrno>
#include <iostream>
#include <net/if.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <tuple>

using nlohmann::json;

namespace rg::cli {

namespace {

// A validator that runs parse: its rg::Error message refuses the value, which is recorded in o.refused as `type`.
template <typename Parse>
CLI::Validator parser_check(Options &o, Parse parse, const std::string &desc, const std::string &name,
                            const char *type = "argument")
{
    return CLI::Validator(
        [&o, parse, type](std::string &s) -> std::string {
            try {
                parse(s);
            } catch (const Error &e) {
                o.refused = Concern{type, s};
                return e.what();
            }
            return {};
        },
        desc, name);
}

} // namespace

CLI::Validator check_cidr(Options &o)
{
    // try_parse_cidr: the handler's parse_cidr_args gives the notes, once.
    auto parse = [](const std::string &s) {
        ParsedCidr p;
        std::string why;
        if (!try_parse_cidr(s, p, why))
            throw Error("\"" + s + "\": " + why);
    };
    return parser_check(o, parse, "CIDR", "CIDR");
}

CLI::Validator check_ports(Options &o)
{
    return parser_check(o, [](const std::string &s) { parse_ports({s}); }, "PORT[,PORT...]", "PORTS");
}

CLI::Validator check_duration(Options &o)
{
    return parser_check(o, [](const std::string &s) { parse_duration(s); }, "DURATION", "DURATION");
}

CLI::Validator check_probe_target(Options &o)
{
    return parser_check(o, [](const std::string &s) { ProbeOptions p; parse_probe_target(s, p); }, "HOST[:PORT]",
                        "TARGET");
}

CLI::Validator check_address(Options &o)
{
    return parser_check(o, [](const std::string &s) { std::string u, d; split_address(s, u, d); }, "USER@DOMAIN",
                        "ADDRESS");
}

CLI::Validator check_rate(Options &o)
{
    return parser_check(o, [](const std::string &s) { parse_rate(s); }, "RATE", "RATE");
}

CLI::Validator check_existing_iface(Options &o)
{
    auto parse = [](const std::string &s) {
        if (s.empty() || s.size() >= IF_NAMESIZE)
            throw Error("interface \"" + s + "\": not a valid interface name");
        if (if_nametoindex(s.c_str()) == 0)
            throw Error("interface \"" + s + "\": no such interface in this network namespace");
    };
    return parser_check(o, parse, "IFACE", "IFACE", "interface");
}

CLI::App *add_command(CLI::App &parent, Options &o, const std::string &name, const std::string &desc,
                      std::function<int(Options &)> action)
{
    CLI::App *sub = parent.add_subcommand(name, desc);
    sub->callback([&o, action] { o.action = action; });
    return sub;
}

std::unique_ptr<DirLock> lock_pin_dir(const std::string &dir)
{
    struct stat st;
    bool exists = stat(dir.c_str(), &st) == 0;
    if (!exists && errno != ENOENT)
        throw_errno("cannot access " + dir, errno);  // e.g. EACCES: say so, not "not attached"
    if (!exists || !S_ISDIR(st.st_mode))
        throw NotAttached("relayguard is not attached: no maps pinned in " + dir +
                          " (run: relayguard attach IFACE)");
    return std::make_unique<DirLock>(dir);
}

void print_json(const json &j)
{
    std::cout << json_text(j, 2) << "\n";
}

StateDir state_dir(const Options &o)
{
    return StateDir(o.state_dir.empty() ? default_state_dir(o.pin_dir) : o.state_dir);
}

std::vector<Cidr> parse_cidr_args(const std::vector<std::string> &args)
{
    std::vector<Cidr> cidrs;
    for (const std::string &text : args) {
        ParsedCidr p = parse_cidr(text);
        if (p.host_bits_cleared)
            log(LogLevel::notice, "note: \"" + text + "\" has host bits set; using " + p.cidr.str());
        cidrs.push_back(p.cidr);
    }
    return cidrs;
}

void refuse_whole_family(Options &o, const std::function<std::string(const std::string &family)> &effect)
{
    if (o.force)
        return;
    for (const std::string &text : o.cidrs) {
        ParsedCidr p;
        std::string why;
        if (!try_parse_cidr(text, p, why) || p.cidr.len != 0)
            continue;  // a bad value was refused by check_cidr already
        std::string family = p.cidr.family == 4 ? "IPv4" : "IPv6";
        o.refused = Concern{"argument", text};
        throw CLI::ValidationError("cidr", "\"" + text + "\" covers every " + family + " address: " +
                                               effect(family) + "; give --force if that is what you want");
    }
}

namespace {

json iface_json(const IfaceEntry &e)
{
    LiveState live = query_live(e);
    return {{"name", e.name()},
            {"ifindex", e.raw.ifindex},
            {"slot", e.slot},
            {"prog_id", e.raw.prog_id},
            {"xdp_mode", xdp_mode_name(e.raw.attach_mode)},
            {"dispatcher", !(e.raw.flags & RG_IFACE_LEGACY)},
            {"attached", live.attached},
            {"programs_on_interface", live.programs},
            {"attached_at", e.raw.attached_at},
            {"egress", {{"mode", egress_mode_name(e.raw.egress_mode)},
                        {"prog_id", e.raw.egress_prog_id},
                        {"attached", live.egress_attached}}}};
}

int cmd_attach(Options &o)
{
    AttachOptions a{.ifname = o.iface,
                    .mode = o.mode == "skb" ? XdpMode::skb : XdpMode::native,
                    .ports = o.ports.empty() ? std::nullopt : std::optional(parse_ports(o.ports)),
                    .monitor = o.monitor ? std::optional(true) : std::nullopt,
                    .egress = o.egress_mode.empty() ? uint32_t(RG_EGRESS_OFF) : parse_egress_mode(o.egress_mode, false)};
    AttachResult r = attach(o.pin_dir, a);
    if (r.maps_created)
        state_dir(o).remove_all();  // what is left belongs to maps that are gone
    Maps maps = Maps::open(o.pin_dir);
    std::cout << "attached to " << printable(o.iface) << " (ifindex " << r.ifindex << ", program id " << r.prog_id
              << ", " << o.mode << " mode, " << (r.legacy ? "without" : "via") << " the libxdp dispatcher)\n";
    if (r.egress_prog_id) {
        std::cout << "egress: " << o.egress_mode << " outbound SYNs on " << printable(o.iface) << " (program id "
                  << r.egress_prog_id << ")\n";
        if (o.egress_mode == "cap" && egress_settings(maps).interval_ns == 0)
            log(LogLevel::warning, "egress cap: no budget yet, so nothing is dropped until one is set "
                                   "(relayguard egress set --budget RATE --burst N)");
    }
    if (r.legacy)
        log(LogLevel::warning, legacy_attach_note(o.iface));
    size_t others = maps.ifaces().size() - 1;
    if (others && (a.ports || a.monitor))
        log(LogLevel::notice, "note: ports and mode are shared: they now apply to all " + std::to_string(others + 1) +
                                  " attached interfaces");
    return 0;
}

int cmd_detach(Options &o)
{
    DetachResult r = detach(o.pin_dir, o.iface, o.keep_maps);
    if (r.pins_removed)
        state_dir(o).remove_all();
    std::cout << "detached from " << printable(o.iface) << (r.was_live ? "" : " (the program was already gone)")
              << (r.egress_was_live ? "; egress program removed" : "")
              << (r.pins_removed ? "; last interface, pinned maps removed" : "") << "\n";
    return 0;
}

// Puts this build's program in place of the running one on each interface (all attached ones by default).
int cmd_upgrade(Options &o)
{
    std::vector<std::string> names = o.ifaces;
    if (names.empty()) {
        if (!is_bpffs(o.pin_dir))
            throw NotAttached("relayguard is not attached: no maps pinned in " + o.pin_dir);
        for (const IfaceEntry &e : Maps::open(o.pin_dir).ifaces())
            names.push_back(e.name());
        if (names.empty())
            throw NotAttached("relayguard is not attached to any interface (pin directory " + o.pin_dir + ")");
    }
    for (const std::string &name : names) {
        ReplaceResult r;
        try {
            r = replace(o.pin_dir, name);
        } catch (const Error &e) {
            throw CommandError(e.what(), {"interface", name});
        }
        std::cout << "upgraded " << printable(name) << ": program id " << r.old_prog_id << " -> " << r.new_prog_id
                  << " (" << (r.legacy ? "replaced in one step" : "via the libxdp dispatcher");
        if (r.new_egress_prog_id)
            std::cout << "; egress program id " << r.old_egress_prog_id << " -> " << r.new_egress_prog_id;
        std::cout << "; rules, bans and counters kept)\n";
    }
    return 0;
}

// Adds or removes every CIDR in one write of the manual list, or none: a failed write changes nothing.
int cmd_rules(Options &o, ListKind kind, bool add)
{
    std::vector<Cidr> cidrs = parse_cidr_args(o.cidrs);
    auto lock = lock_pin_dir(o.pin_dir);
    Maps maps = Maps::open(o.pin_dir);
    Lists lists(maps, state_dir(o));
    HandList list(lists, kind, RG_SOURCE_MANUAL);
    std::vector<bool> changed = add ? list.add(cidrs) : list.del(cidrs);
    for (size_t i = 0; i < cidrs.size(); i++) {
        std::cout << list_name(kind) << ": " << cidrs[i].str() << " ";
        if (!changed[i])
            std::cout << (add ? "already listed" : "not listed (as such; `list` shows what was added)");
        else if (!add)
            std::cout << "removed";
        else if (std::optional<Cidr> in = list.covering(cidrs[i]))
            std::cout << "added (inside " << in->str() << ", also listed)";
        else
            std::cout << "added";
        std::cout << "\n";
    }
    return 0;
}

// What the hand-written sources (manual, config) list, as added; with --all, also every feed's list as the kernel
// holds it. A prefix several sources list is one entry naming all of them.
int cmd_list(Options &o, ListKind kind)
{
    Maps maps = Maps::open(o.pin_dir);
    Lists lists(maps, state_dir(o));
    std::vector<Feed> feeds = list_feeds(maps);
    std::vector<std::pair<Cidr, std::string>> rows;
    for (unsigned bit : {RG_SOURCE_MANUAL, RG_SOURCE_CONFIG})
        for (const Cidr &c : HandList(lists, kind, bit).prefixes())
            rows.push_back({c, source_name(feeds, bit)});
    uint64_t listed = o.all_sources ? lists.sources_listed().of(kind) : 0;  // feeds too with --all
    for (unsigned bit = RG_FIRST_FEED_SOURCE; bit < RG_MAX_SOURCES; bit++)
        if (listed >> bit & 1)
            for (const Cidr &c : to_cidrs(lists.source_list(kind, bit)))
                rows.push_back({c, source_name(feeds, bit)});
    // By family, address, then length: a prefix comes before the prefixes it contains.
    std::ranges::stable_sort(rows, {}, [](auto &r) { return std::tie(r.first.family, r.first.addr, r.first.len); });
    std::vector<std::pair<Cidr, std::vector<std::string>>> entries;
    for (auto &[c, src] : rows) {
        if (entries.empty() || entries.back().first != c)
            entries.push_back({c, {}});
        entries.back().second.push_back(src);
    }
    if (o.json) {
        json arr = json::array();
        for (const auto &[c, src] : entries)
            arr.push_back({{"cidr", c.str()}, {"family", c.family == 4 ? "ipv4" : "ipv6"}, {"sources", src}});
        print_json({{"list", list_name(kind)}, {"count", entries.size()}, {"entries", arr}});
        return 0;
    }
    for (const auto &[c, src] : entries) {
        std::string names;
        for (const std::string &s : src)
            names += (names.empty() ? "" : ",") + s;
        std::cout << c.str() << "\t" << names << "\n";
    }
    return 0;
}

int cmd_ports_set(Options &o)
{
    std::vector<uint16_t> ports = parse_ports(o.ports);
    auto lock = lock_pin_dir(o.pin_dir);
    Maps maps = Maps::open(o.pin_dir);
    maps.set_ports(ports);
    std::cout << "protected ports:";
    for (uint16_t p : ports)
        std::cout << " " << p;
    std::cout << "\n";
    return 0;
}

int cmd_mode(Options &o)
{
    auto lock = lock_pin_dir(o.pin_dir);
    Maps maps = Maps::open(o.pin_dir);
    maps.set_monitor(o.filter_mode == "monitor");
    std::cout << "mode: " << o.filter_mode << "\n";
    return 0;
}

int cmd_status(Options &o)
{
    std::optional<Maps> maps;
    try {
        maps.emplace(Maps::open(o.pin_dir));
    } catch (const NotAttached &e) {
        if (o.json)
            print_json({{"attached", false}, {"pin_dir", o.pin_dir}, {"interfaces", json::array()}});
        else
            std::cout << printable(e.what()) << "\n";
        return 0;
    }
    Lists lists(*maps, state_dir(o));
    auto list_sizes = [&](ListKind kind) {
        ListSize n = lists.size(kind);
        return json{{"ipv4", n.v4}, {"ipv6", n.v6}, {"total", n.v4 + n.v6}};
    };
    json ifaces = json::array();
    for (const IfaceEntry &e : maps->ifaces())
        ifaces.push_back(iface_json(e));
    RateSettings rate = rate_settings(*maps);
    json j = {{"attached", !ifaces.empty()},
              {"pin_dir", o.pin_dir},
              {"abi_version", RG_ABI_VERSION},
              {"mode", maps->monitor() ? "monitor" : "enforce"},
              {"ports", maps->ports()},
              {"allowlist", list_sizes(ListKind::allow)},
              {"blocklist", list_sizes(ListKind::block)},
              {"interfaces", ifaces},
              {"rate_limiting", {{"enabled", rate.enabled}}},
              {"bans", live_bans(*maps)}};
    if (rate.enabled) {
        j["rate_limiting"]["rate"] = format_rate(rate.interval_ns);
        j["rate_limiting"]["burst"] = rate.burst;
    }
    if (o.json) {
        print_json(j);
        return 0;
    }
    std::cout << "pin dir:    " << printable(o.pin_dir) << "\n"
              << "mode:       " << j["mode"].get<std::string>() << "\n"
              << "ports:      ";
    for (auto &p : j["ports"])
        std::cout << p.get<int>() << " ";
    std::cout << "\nallowlist:  " << j["allowlist"]["ipv4"] << " IPv4, " << j["allowlist"]["ipv6"] << " IPv6\n"
              << "blocklist:  " << j["blocklist"]["ipv4"] << " IPv4, " << j["blocklist"]["ipv6"] << " IPv6\n"
              << "rate limit: "
              << (rate.enabled ? format_rate(rate.interval_ns) + " per source, burst " + std::to_string(rate.burst)
                               : std::string("off"))
              << "\nbans:       " << j["bans"] << "\n"
              << "interfaces:\n";
    for (auto &i : ifaces)
        std::cout << "  " << printable(i["name"].get<std::string>()) << "  ifindex " << i["ifindex"] << "  prog "
                  << i["prog_id"] << "  " << i["xdp_mode"].get<std::string>()
                  << (i["dispatcher"].get<bool>() ? "  dispatcher" : "  legacy (no dispatcher)")
                  << (i["attached"].get<bool>() ? "" : "  NOT ATTACHED (program or interface gone)") << "\n";
    return 0;
}

int cmd_stats(Options &o)
{
    Maps maps = Maps::open(o.pin_dir);
    if (o.prometheus) {
        MetricsSnapshot m = read_metrics(maps, state_dir(o));
        if (!o.iface.empty()) {
            std::erase_if(m.interfaces, [&](const auto &i) { return i.name != o.iface; });
            if (m.interfaces.empty())
                throw CommandError("interface \"" + o.iface + "\": relayguard is not attached to it",
                                   {"interface", o.iface});
        }
        std::cout << prometheus_text(m);
        return 0;
    }
    StatsReport report = read_stats(maps, state_dir(o));
    if (!o.iface.empty() && !report.narrow(o.iface))
        throw CommandError("interface \"" + o.iface + "\": relayguard is not attached to it", {"interface", o.iface});
    json j = stats_json(report);
    if (o.json) {
        print_json(j);
        return 0;
    }
    std::cout << (o.iface.empty() ? "all interfaces" : printable(o.iface)) << ":\n" << counters_text(report.counters);
    if (o.iface.empty())
        for (const StatsReport::Interface &i : report.interfaces)
            std::cout << printable(i.name) << ":\n" << counters_text(i.counters);
    // Attribution is kept for all interfaces together.
    bool header = false;
    for (const auto &[name, src] : j["sources"].items()) {
        const json &d = src["dropped"], &w = src["would_drop"];
        if (d["packets"] == 0 && w["packets"] == 0)
            continue;
        if (!header)
            std::cout << "blocklist hits by source (all interfaces):\n";
        header = true;
        std::cout << "  " << printable(name) << (src["shadow"].get<bool>() ? " (shadow)" : "") << ": " << d["packets"]
                  << " dropped (" << d["syns"] << " syn), " << w["packets"] << " would drop (" << w["syns"]
                  << " syn)\n";
    }
    const json &ev = j["events"];
    if (ev["emitted"] != 0 || ev["capped"] != 0 || ev["lost"] != 0)
        std::cout << "events: " << ev["emitted"] << " written, " << ev["capped"] << " over the per-second cap, "
                  << ev["lost"] << " lost (ring full)\n";
    const json &w = j["watch"];
    if (w["lines"] == 0)
        return 0;
    std::cout << "watch (" << printable(w["source"].get<std::string>()) << (w["active"].get<bool>() ? "" : ", stopped")
              << "): " << w["lines"] << " lines\n";
    for (const auto &[name, c] : w["rules"].items())
        if (c["matches"] != 0)
            std::cout << "  " << name << ": " << c["matches"] << " matches, " << c["bans"] << " bans, " << c["exempt"]
                      << " exempt\n";
    return 0;
}

} // namespace

// check_ports checks each value; the limit on their number needs the whole list, so it is checked once all are in.
void check_port_list(Options &o)
{
    if (o.ports.empty())
        return;
    try {
        parse_ports(o.ports);
    } catch (const Error &e) {
        std::string list;
        for (const std::string &p : o.ports)
            list += (list.empty() ? "" : ",") + p;
        o.refused = Concern{"argument", list};
        throw CLI::ValidationError("ports", e.what());
    }
}

namespace {

void add_rule_commands(CLI::App &app, Options &o, const char *name, ListKind kind, const char *what)
{
    CLI::App *list = app.add_subcommand(name, std::string("manage the ") + what)->require_subcommand(1);
    CLI::App *add = list->add_subcommand("add", std::string("add CIDRs to the ") + what);
    add->add_option("cidr", o.cidrs, "IPv4/IPv6 address or prefix")->required()->check(check_cidr(o));
    add->add_flag("--force", o.force, "accept a /0 (every address of a family)");
    add->callback([&o, kind] {
        refuse_whole_family(o, [kind](const std::string &family) {
            return kind == ListKind::block
                       ? "blocklisting it would drop every " + family + " packet to the protected ports"
                       : "allowlisting it would turn filtering off for " + family +
                             " (the allowlist wins over the blocklist, bans and the rate limit)";
        });
        o.action = [kind](Options &op) { return cmd_rules(op, kind, true); };
    });
    CLI::App *del = add_command(*list, o, "del", std::string("remove CIDRs from the ") + what,
                                [kind](Options &op) { return cmd_rules(op, kind, false); });
    del->add_option("cidr", o.cidrs, "IPv4/IPv6 address or prefix")->required()->check(check_cidr(o));
    CLI::App *ls = add_command(*list, o, "list", std::string("show the ") + what + " as added (manual and config)",
                               [kind](Options &op) { return cmd_list(op, kind); });
    ls->add_flag("--json", o.json, "JSON output");
    ls->add_flag("--all", o.all_sources, "also every feed's prefixes");
}

// Whether --json is among the arguments (before "--"): a usage error is JSON also if parsing stopped before it.
bool json_requested(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        std::string_view a = argv[i];
        if (a == "--")
            break;
        if (a == "--json" || a.starts_with("--json="))
            return true;
    }
    return false;
}

// Reports an error: the message on stderr, with --json also the error object on stdout (docs/json-schema.md).
int report_error(bool as_json, const std::string &message, const std::optional<Concern> &concern, int exit_code)
{
    log(LogLevel::error, message);
    if (exit_code == 2)
        log(LogLevel::notice, "Run with --help for usage.");
    if (as_json) {
        json e = {{"message", message}, {"exit_code", exit_code}};
        if (concern)
            e["concerns"] = {{"type", concern->type}, {"value", concern->value}};
        print_json({{"error", e}});
    }
    return exit_code;
}

} // namespace

std::unique_ptr<CLI::App> make_app(Options &o)
{
    auto app = std::make_unique<CLI::App>(
        "relayguard: an XDP filter against mail-relay abuse.\n"
        "Drops TCP packets to protected mail ports from blocklisted or banned sources and SYNs over a\n"
        "per-source rate budget; the allowlist always wins.",
        "relayguard");
    app->require_subcommand(1);
    app->fallthrough();  // global options may also follow the subcommand
    app->set_version_flag("--version", "relayguard " RELAYGUARD_VERSION " (ABI " + std::to_string(RG_ABI_VERSION) + ")");
    o.pin_dir = kDefaultPinDir;
    app->add_option("--pin-dir", o.pin_dir, "where the shared maps are pinned (a bpffs directory)")
        ->capture_default_str();
    app->add_option("--state-dir", o.state_dir,
                    "where relayguard keeps what the maps do not hold, for this pin directory "
                    "(default: below /var/lib/relayguard, named after the pin directory)");
    app->add_flag("-v,--verbose", o.verbose, "more output; -vv shows libbpf/libxdp debug messages");

    CLI::App *attach = app->add_subcommand("attach", "attach the filter to an interface");
    attach->add_option("iface", o.iface, "network interface")->required()->check(check_existing_iface(o));
    attach->add_option("--mode", o.mode, "XDP mode")->check(CLI::IsMember({"native", "skb"}))->capture_default_str();
    attach->add_option("--ports", o.ports, "protected TCP ports for all interfaces (default 25)")
        ->delimiter(',')->check(check_ports(o));
    attach->add_flag("--monitor", o.monitor, "count would-be drops, drop nothing (applies to all interfaces)");
    attach->add_option("--egress", o.egress_mode,
                       "also watch outbound SYNs to the egress ports on this interface (watch), "
                       "and drop those over the egress budget (cap)")
        ->check(CLI::IsMember({"watch", "cap"}));
    attach->callback([&o] {
        check_port_list(o);
        o.action = cmd_attach;
    });

    CLI::App *detach = add_command(*app, o, "detach", "detach the filter from an interface", cmd_detach);
    detach->add_option("iface", o.iface, "network interface")->required();
    detach->add_flag("--keep-maps", o.keep_maps, "keep the pinned rules even if this was the last interface");

    CLI::App *upgrade = add_command(*app, o, "upgrade",
                                    "replace the running XDP program with this build's, without a gap, keeping "
                                    "rules, bans and counters",
                                    cmd_upgrade);
    upgrade->add_option("iface", o.ifaces, "attached interfaces (default: all)");

    add_rule_commands(*app, o, "block", ListKind::block, "blocklist");
    add_rule_commands(*app, o, "allow", ListKind::allow, "allowlist (always wins over the blocklist)");

    CLI::App *ports = app->add_subcommand("ports", "protected destination ports")->require_subcommand(1);
    CLI::App *pset = ports->add_subcommand("set", "replace the protected ports (at most 16)");
    pset->add_option("port", o.ports, "TCP port(s), e.g. 25 465 587 or 25,465,587")->required()->check(check_ports(o));
    pset->callback([&o] {
        check_port_list(o);
        o.action = cmd_ports_set;
    });

    CLI::App *mode = add_command(*app, o, "mode", "enforce (drop) or monitor (count only)", cmd_mode);
    mode->add_option("mode", o.filter_mode, "enforce|monitor")->required()->check(CLI::IsMember({"enforce", "monitor"}));

    CLI::App *status = add_command(*app, o, "status", "attached interfaces, mode, ports and list sizes", cmd_status);
    status->add_flag("--json", o.json, "JSON output");

    CLI::App *stats = add_command(*app, o, "stats", "packet counters per verdict reason", cmd_stats);
    CLI::Option *stats_json = stats->add_flag("--json", o.json, "JSON output");
    stats->add_flag("--prometheus", o.prometheus, "Prometheus text exposition format (0.0.4)")->excludes(stats_json);
    stats->add_option("--iface", o.iface, "only this interface");

    add_rate_commands(*app, o);
    add_feed_commands(*app, o);
    add_probe_command(*app, o);
    add_watch_command(*app, o);
    add_events_command(*app, o);
    add_crowdsec_commands(*app, o);
    add_egress_commands(*app, o);

    CLI::App *run_cmd = add_command(
        *app, o, "run", "run as a service: apply a config file, reload it on SIGHUP, log counters, detach on SIGTERM",
        [](Options &op) { return run_daemon({op.config, op.keep_enforcing}); });
    run_cmd->add_option("-c,--config", o.config, "config file (see dist/relayguard.conf)")
        ->required()->check(CLI::ExistingFile);
    run_cmd->add_flag("--keep-enforcing", o.keep_enforcing,
                      "on SIGTERM leave the filter attached (as on_exit = keep)");

    CLI::App *demo_cmd = add_command(*app, o, "demo", "run a self-contained demo in network namespaces", demo);
    demo_cmd->add_flag("--json", o.json, "print only the final counters as JSON");
    return app;
}

int run(int argc, char **argv)
{
    Options o;
    std::unique_ptr<CLI::App> app = make_app(o);
    const bool json_args = json_requested(argc, argv);
    try {
        app->parse(argc, argv);
    } catch (const CLI::Success &e) {  // help or version asked for
        return app->exit(e);
    } catch (const CLI::ParseError &e) {
        return report_error(json_args || o.json, e.what(), o.refused, 2);
    }
    set_library_verbosity(o.verbose >= 2 ? 2 : o.verbose);
    const bool as_json = json_args || o.json;
    try {
        return o.action(o);
    } catch (const NotAttached &e) {
        return report_error(as_json, e.what(), Concern{"pin_dir", o.pin_dir}, 1);
    } catch (const CommandError &e) {
        return report_error(as_json, e.what(), e.concern, 1);
    } catch (const std::exception &e) {
        return report_error(as_json, e.what(), std::nullopt, 1);
    }
}

} // namespace rg::cli
