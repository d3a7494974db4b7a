// `relayguard feed add|sync|list|show|del`.
#include "commands.hpp"
#include "common.hpp"

#include "duration.hpp"
#include "error.hpp"
#include "feed_format.hpp"
#include "feed_sync.hpp"
#include "log.hpp"
#include "maps.hpp"
#include "stats.hpp"
#include "text.hpp"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <iostream>

using nlohmann::json;

namespace rg::cli {

namespace {

std::string ago(uint64_t t)
{
    if (!t)
        return "never";
    uint64_t now = uint64_t(time(nullptr));
    uint64_t s = now > t ? now - t : 0;
    return format_duration(std::chrono::seconds(s)) + " ago";
}

// The registry's content hash in hex; "" when there is none.
std::string content_hash_hex(const struct rg_feed &r)
{
    std::string s;
    for (uint8_t b : r.content_hash) {
        s += "0123456789abcdef"[b >> 4];
        s += "0123456789abcdef"[b & 15];
    }
    return s.find_first_not_of('0') == std::string::npos ? std::string() : s;
}

FeedDef def_from_options(const Options &o, const std::string &name, const std::string &source)
{
    FeedDef d{.name = name, .source = source, .format = o.feed_format, .interval = parse_duration(o.feed_interval),
              .shadow = o.shadow, .max_shrink = o.max_shrink, .min_prefix4 = uint8_t(o.min_prefix4),
              .min_prefix6 = uint8_t(o.min_prefix6), .from_config = false};
    bool url = source.find("://") != std::string::npos;
    if (url && !source.starts_with("http://") && !source.starts_with("https://"))
        throw Error("feed " + name + ": \"" + source + "\": unsupported URL scheme (use http:// or https://)");
    if (!url && source != "-") {
        // A relative path would mean something else to the daemon or the next command run from another directory.
        std::error_code ec;
        std::string abs = std::filesystem::absolute(source, ec).lexically_normal().string();
        if (!ec)
            d.source = abs;
    }
    validate_feed_def(d);  // before anything is locked or opened
    return d;
}

// Prints one sync's outcome (a failure as an error message); returns whether the feed is current.
bool print_sync(const SyncReport &r)
{
    for (const std::string &e : r.errors)
        log(LogLevel::warning, e);
    std::string outcome = sync_summary(r);
    if (r.ok())
        std::cout << printable(outcome) << "\n";
    else
        log(LogLevel::error, outcome);
    return r.ok();
}

int sync_named(Options &o, const std::vector<std::string> &names)
{
    Maps maps = Maps::open(o.pin_dir);
    Lists lists(maps, state_dir(o));
    SyncOptions so;
    so.unconditional = o.force;
    so.limits.timeout_s = long(std::chrono::duration_cast<std::chrono::seconds>(parse_duration(o.timeout)).count());
    int status = 0;
    for (const std::string &name : names)
        if (!print_sync(sync_feed(maps, lists, name, so)))
            status = 1;
    return status;
}

int cmd_feed_add(Options &o)
{
    FeedDef d = def_from_options(o, o.feed_name, o.feed_source);
    {
        auto lock = lock_pin_dir(o.pin_dir);
        Maps maps = Maps::open(o.pin_dir);
        Feed f = add_feed(maps, d);
        std::cout << "feed " << d.name << ": added (source bit " << f.bit << (d.shadow ? ", shadow" : "") << ")\n";
    }
    return o.no_sync ? 0 : sync_named(o, {d.name});
}

int cmd_feed_sync(Options &o)
{
    std::vector<std::string> names = o.feed_names;
    if (names.empty()) {
        for (const Feed &f : list_feeds(Maps::open(o.pin_dir)))
            if (!(f.raw.flags & RG_FEED_CROWDSEC))  // kept by the daemon's bouncer, not fetched
                names.push_back(f.name());
        if (names.empty()) {
            std::cout << "no feeds (relayguard feed add NAME SOURCE)\n";
            return 0;
        }
    }
    return sync_named(o, names);
}

int cmd_feed_list(Options &o)
{
    Maps maps = Maps::open(o.pin_dir);
    std::vector<Feed> feeds = list_feeds(maps);
    if (o.json) {
        json arr = json::array();
        auto counters = maps.source_stats();
        for (const Feed &f : feeds)
            arr.push_back(feed_json(f, counters[f.bit]));
        print_json({{"count", feeds.size()}, {"feeds", arr}});
        return 0;
    }
    if (feeds.empty()) {
        std::cout << "no feeds\n";
        return 0;
    }
    std::cout << std::left << std::setw(24) << "NAME" << std::setw(10) << "PREFIXES" << std::setw(14) << "LAST RESULT"
              << std::setw(16) << "LAST SUCCESS" << "SOURCE\n";
    for (const Feed &f : feeds) {
        FeedDef d = f.def();
        std::cout << std::setw(24) << (d.name + (d.shadow ? " (shadow)" : "")) << std::setw(10) << f.raw.prefixes
                  << std::setw(14) << f.result_name() << std::setw(16) << ago(f.raw.last_success)
                  << printable(d.source) << "\n";
    }
    return 0;
}

// The feed named --name, or a CommandError concerning it.
Feed named_feed(const Maps &maps, const Options &o)
{
    std::optional<Feed> f = find_feed(maps, o.feed_name);
    if (!f)
        throw CommandError("no feed named " + o.feed_name + " (relayguard feed list)", {"feed", o.feed_name});
    return *f;
}

int cmd_feed_show(Options &o)
{
    Maps maps = Maps::open(o.pin_dir);
    Feed f = named_feed(maps, o);
    json j = feed_json(f, maps.source_stats()[f.bit]);
    if (o.json)
        print_json(j);
    else
        for (auto &[k, v] : j.items())
            std::cout << std::left << std::setw(18) << (k + ":")
                      << printable(v.is_string() ? v.get<std::string>() : json_text(v)) << "\n";
    return 0;
}

int cmd_feed_del(Options &o)
{
    auto lock = lock_pin_dir(o.pin_dir);
    Maps maps = Maps::open(o.pin_dir);
    Feed f = named_feed(maps, o);
    Lists lists(maps, state_dir(o));
    auto total = [&] {
        ListSize n = lists.size(ListKind::block);
        return n.v4 + n.v6;
    };
    size_t before = total();
    del_feed(maps, lists, o.feed_name);
    size_t after = total();
    std::cout << "feed " << o.feed_name << ": removed; blocklist " << before << " -> " << after
              << " entries (prefixes other sources list stay)\n";
    if (f.raw.flags & RG_FEED_CONFIG)
        log(LogLevel::notice, "note: feed " + o.feed_name +
                                  " is defined in the daemon's config file; a reload of the daemon adds it again");
    return 0;
}

} // namespace

json feed_json(const Feed &f, const struct rg_source_counter &counters)
{
    FeedDef d = f.def();
    const struct rg_feed &r = f.raw;
    return {{"name", d.name},
            {"source", d.source},
            {"format", d.format},
            {"interval", format_duration(d.interval)},
            {"interval_seconds", d.interval.count() / 1000.0},
            {"shadow", d.shadow},
            {"max_shrink", d.max_shrink},
            {"min_prefix4", d.min_prefix4},
            {"min_prefix6", d.min_prefix6},
            {"defined_by", r.flags & RG_FEED_CROWDSEC ? "crowdsec" : d.from_config ? "config" : "cli"},
            {"source_bit", f.bit},
            {"prefixes", r.prefixes},
            {"entries", r.entries},
            {"ipv4_addresses", r.cover4},
            {"ipv6_64s", r.cover6},
            {"last_result", f.result_name()},
            {"message", std::string(r.message, strnlen(r.message, sizeof(r.message)))},
            {"interrupted", bool(r.flags & RG_FEED_SYNCING)},
            {"added_at", r.added_at},
            {"last_attempt", r.last_attempt},
            {"last_success", r.last_success},
            {"last_change", r.last_change},
            {"http_status", r.http_status},
            {"etag", std::string(r.etag, strnlen(r.etag, sizeof(r.etag)))},
            {"last_modified", std::string(r.last_modified, strnlen(r.last_modified, sizeof(r.last_modified)))},
            {"good_lines", r.good_lines},
            {"bad_lines", r.bad_lines},
            {"refused_broad", r.refused_broad},
            {"allow_overlaps", r.allow_overlaps},
            {"bytes", r.bytes},
            {"content_hash", content_hash_hex(r)},
            {"counters", source_counters_json(counters)}};
}

void add_feed_commands(CLI::App &app, Options &o)
{
    CLI::App *feed = app.add_subcommand("feed", "blocklist feeds: lists fetched from files or URLs and kept in sync")
                         ->require_subcommand(1);

    CLI::App *add = add_command(*feed, o, "add", "define a feed and sync it", cmd_feed_add);
    add->add_option("name", o.feed_name, "feed name: 1 to 32 of A-Z a-z 0-9 _ . -")->required();
    add->add_option("source", o.feed_source, "file path, - for stdin, or http(s):// URL")->required();
    std::vector<std::string> formats;
    for (const auto &[f, n] : feed_format_names)
        formats.emplace_back(n);
    add->add_option("--format", o.feed_format, "list format")->check(CLI::IsMember(formats))->capture_default_str();
    add->add_option("--interval", o.feed_interval, "how often the daemon syncs it, e.g. 1h")
        ->check(check_duration(o))->capture_default_str();
    add->add_flag("--shadow", o.shadow, "count what the feed would drop, drop nothing");
    add->add_option("--max-shrink", o.max_shrink, "refuse an update that loses more than PCT% of the prefixes")
        ->check(CLI::Range(0u, 100u))->capture_default_str();
    add->add_option("--min-prefix4", o.min_prefix4, "refuse IPv4 prefixes broader than this length")
        ->check(CLI::Range(0, 32))->capture_default_str();
    add->add_option("--min-prefix6", o.min_prefix6, "refuse IPv6 prefixes broader than this length")
        ->check(CLI::Range(0, 128))->capture_default_str();
    add->add_flag("--no-sync", o.no_sync, "only define it; the next `feed sync` fetches it");
    add->add_option("--timeout", o.timeout, "the most the first fetch may take, e.g. 30s")
        ->check(check_duration(o))->capture_default_str();

    CLI::App *sync = add_command(*feed, o, "sync", "fetch feeds and apply what changed (all feeds by default)",
                                 cmd_feed_sync);
    sync->add_option("name", o.feed_names, "feeds to sync");
    sync->add_flag("--force", o.force,
                   "fetch, parse and compare in full: no If-None-Match/If-Modified-Since, no same-content skip");
    sync->add_option("--timeout", o.timeout, "the most a fetch may take, e.g. 30s (also for a pipe or FIFO)")
        ->check(check_duration(o))->capture_default_str();

    CLI::App *ls = add_command(*feed, o, "list", "feeds and the outcome of their last sync", cmd_feed_list);
    ls->add_flag("--json", o.json, "JSON output");

    CLI::App *show = add_command(*feed, o, "show", "one feed in detail", cmd_feed_show);
    show->add_option("name", o.feed_name, "feed name")->required();
    show->add_flag("--json", o.json, "JSON output");

    CLI::App *del = add_command(*feed, o, "del", "remove a feed and what only it lists", cmd_feed_del);
    del->add_option("name", o.feed_name, "feed name")->required();
}

} // namespace rg::cli
