// `relayguard watch --log FILE | --journal | -`: Postfix log lines into
// kernel bans, standalone (the daemon runs the same Watcher from [watch]).
// Decisions go to stdout, one line each (--json: one JSON object); the
// counters and bans are kept in STATE_DIR/watch.json for `bans list` and
// `stats`.
#include "common.hpp"
#include "config.hpp"
#include "error.hpp"
#include "log.hpp"
#include "log_watch.hpp"
#include "rate.hpp"
#include "text.hpp"
#include "watch_state.hpp"

#include <csignal>
#include <ctime>
#include <iostream>
#include <poll.h>
#include <sys/signalfd.h>

using nlohmann::json;

namespace rg::cli {

namespace {

// SIGINT and SIGTERM, read from a signalfd so the state is saved on the way out.
Fd stop_signals()
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    Fd fd(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (fd.get() < 0)
        throw_errno("signalfd", errno);
    return fd;
}

int cmd_watch(Options &o)
{
    WatchConfig w;
    if (!o.config.empty()) {
        check_config_mode(o.config);
        w = load_config(o.config).watch;
    }
    w.dry_run = w.dry_run || o.dry_run;
    if (!w.dry_run && o.config.empty()) {  // escalate as the kernel's rate limiter does
        RateSettings r = rate_settings(Maps::open(o.pin_dir));
        w.policy.escalate_after = r.escalate_after;
        w.policy.escalate_window = r.escalate_window;
        w.policy.escalate_prefix4 = r.escalate_prefix4;
        w.policy.escalate_prefix6 = r.escalate_prefix6;
    } else if (!w.dry_run) {
        Maps::open(o.pin_dir);  // not attached: say so before reading anything
    }
    StartAt start = o.once || o.from_start ? StartAt::beginning : StartAt::end;
    std::unique_ptr<LogSource> source;
    if (o.watch_source == "-")
        source = open_stdin_source();
    else if (o.watch_journal)
        source = open_journal_source(start);
    else if (!o.watch_log.empty())
        source = open_log_file(o.watch_log, start);
    else if (w.enabled())
        source = open_configured_source(w, start);
    else
        throw Error("nothing to watch: give --log FILE, --journal or - (standard input), "
                    "or a --config whose [watch] section names log or journal");

    auto report = [&o](const json &e) { std::cout << (o.json ? e.dump() : describe_decision(e)) << std::endl; };
    LogWatch watch(w, o.pin_dir, state_dir(o), std::move(source), report);
    Fd signals = stop_signals();
    log(LogLevel::info, "watching " + watch.source().name() + (w.dry_run ? " (dry run: nothing is banned)" : ""));
    // What is there now first: it raises no event.
    while (watch.read() && !o.once) {
        bool unsaved = watch.save(std::chrono::seconds(1));
        struct pollfd fds[2] = {{watch.fd(), POLLIN, 0}, {signals.get(), POLLIN, 0}};
        if (poll(fds, 2, unsaved ? 1000 : -1) < 0 && errno != EINTR)
            throw_errno("poll", errno);
        if (fds[1].revents)
            break;
    }
    watch.save();
    WatchState s = watch.state();
    uint64_t matched = 0, bans = 0;
    for (const auto &[name, c] : s.rules)
        matched += c.matches, bans += c.bans;
    log(LogLevel::notice, "watch: " + std::to_string(s.lines) + " lines read from " + printable(s.source) + ", " +
                              std::to_string(matched) + " matched a rule, " + std::to_string(bans) +
                              (w.dry_run ? " bans (dry run: none made)" : " bans"));
    return 0;
}

} // namespace

void add_watch_command(CLI::App &app, Options &o)
{
    CLI::App *watch = add_command(app, o, "watch",
                                  "ban sources in the kernel from Postfix log lines (relay attempts, SASL "
                                  "failures, postscreen); rules in README \"Log rules\"",
                                  cmd_watch);
    CLI::Option *log = watch->add_option("--log", o.watch_log, "a log file to follow (across rotation)");
    CLI::Option *journal = watch->add_flag("--journal", o.watch_journal, "the systemd journal (mail facility)");
    CLI::Option *in = watch->add_option("source", o.watch_source, "- to read standard input")
                          ->check(CLI::IsMember({"-"}));
    log->excludes(journal)->excludes(in);
    journal->excludes(in);
    watch->add_option("-c,--config", o.config, "take rules, thresholds and the source from this config's [watch]")
        ->check(CLI::ExistingFile);
    watch->add_flag("--dry-run", o.dry_run, "decide and report, but ban nothing (needs no privileges)");
    watch->add_flag("--once", o.once, "read what the source holds now, then exit");
    watch->add_flag("--from-start", o.from_start, "read a followed file or the journal from its start, not its end");
    watch->add_flag("--json", o.json, "one JSON object per decision");
}

} // namespace rg::cli
