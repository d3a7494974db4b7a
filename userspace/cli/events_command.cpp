// `relayguard events [--follow] [--json]`, `events set`, `events off`: the
// kernel's drop and ban events (daemon/events.hpp says who reads the ring).
#include "commands.hpp"
#include "common.hpp"
#include "event_ring.hpp"
#include "events.hpp"
#include "log.hpp"
#include "text.hpp"

#include <cerrno>
#include <ctime>
#include <iostream>
#include <poll.h>

using nlohmann::json;

namespace rg::cli {

namespace {

void print_event(const Options &o, const json &e)
{
    if (o.json) {
        std::cout << json_text(e) << std::endl;  // JSON Lines: one object a line, flushed for --follow
        return;
    }
    time_t t = time_t(e.value("time", 0.0));
    struct tm tm;
    char when[32] = "?";
    if (localtime_r(&t, &tm))
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
    std::cout << when << "  " << printable(describe_event(e)) << std::endl;
}

// Waits for fd to be readable; throws on a poll error.
void wait_readable(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    while (poll(&p, 1, -1) < 0)
        if (errno != EINTR)
            throw_errno("poll", errno);
}

int cmd_events(Options &o)
{
    Maps maps = Maps::open(o.pin_dir);
    StateDir dir = state_dir(o);
    bool live = false;  // events read from now on are printed as they come
    long holder = 0;
    auto consumer = EventConsumer::try_open(maps, dir, [&](const json &e) {
        if (live)
            print_event(o, e);
    }, &holder);
    if (consumer) {
        // No daemon: this command reads the ring, into the event file first.
        consumer->drain();
        for (const json &e : EventFile(dir).read_all())
            print_event(o, e);
        if (!o.follow)
            return 0;
        live = true;
        for (;;) {
            wait_readable(consumer->fd());
            consumer->drain();
        }
    }
    // The daemon (or another `events`) reads the ring: show its file.
    if (!o.follow) {
        for (const json &e : EventFile(dir).read_all())
            print_event(o, e);
        return 0;
    }
    log(LogLevel::info, "following " + dir.file(kEventFile) + ", which pid " + std::to_string(holder) + " writes");
    for (const json &e : EventFile(dir).read(kEventFileOld))
        print_event(o, e);
    EventTail tail(dir, true);
    for (;;) {
        for (const json &e : tail.read())
            print_event(o, e);
        wait_readable(tail.fd());
    }
}

int cmd_events_set(Options &o, bool enabled)
{
    EventSettings s{.enabled = enabled, .interval = parse_duration(o.event_interval), .per_second = o.events_per_second};
    auto lock = lock_pin_dir(o.pin_dir);
    Maps maps = Maps::open(o.pin_dir);
    apply_events(maps, s);
    if (!enabled)
        std::cout << "events: off\n";
    else
        std::cout << "events: a source's first drop per " << format_duration(s.interval) << ", at most "
                  << s.per_second << " events per second\n";
    return 0;
}

} // namespace

void add_events_command(CLI::App &app, Options &o)
{
    CLI::App *ev = app.add_subcommand("events", "drop and ban events of the kernel (a source's first drop per "
                                                "interval, rate-limit bans)");
    ev->add_flag("-f,--follow", o.follow, "keep printing events as they come");
    ev->add_flag("--json", o.json, "one JSON object a line (docs/json-schema.md)");
    ev->callback([&o] {
        if (!o.action)  // not `events set` or `events off`
            o.action = cmd_events;
    });
    CLI::App *set = add_command(*ev, o, "set", "how often events come (for all interfaces)",
                                [](Options &op) { return cmd_events_set(op, true); });
    set->add_option("--interval", o.event_interval, "one drop event per source per this long, e.g. 1m")
        ->check(check_duration(o))
        ->capture_default_str();
    set->add_option("--per-second", o.events_per_second, "at most this many events per second, all together")
        ->check(CLI::Range(1, 1000000))
        ->capture_default_str();
    add_command(*ev, o, "off", "no events", [](Options &op) { return cmd_events_set(op, false); });
}

} // namespace rg::cli
