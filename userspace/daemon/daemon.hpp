// `relayguard run`: the filter as a service, driven by a config file.
//
// Invariants:
//  - one daemon per pin directory: it holds an exclusive flock on
//    STATE_DIR/daemon.lock ([daemon] state_dir) for its whole life; a second
//    one is refused, naming the pin directory and the holder's pid, having
//    changed nothing;
//  - nothing is enforced from a config that failed to parse or validate: at
//    start the daemon refuses to run, on reload the running config stays;
//  - a start or reload that fails while applying leaves the shared state as
//    it found it: interfaces it attached are detached (adopted ones stay),
//    ports, mode, rate settings, the config's lists and the feed registry
//    are put back, maps it created are removed. Feeds a config no longer
//    lists are removed only once everything else succeeded;
//  - changes are applied as a diff, additions before removals, and the maps
//    are filled before any program is attached, so no listed prefix is ever
//    missing from the kernel while both old and new configs list it;
//  - READY=1 means the filter is attached and the config's lists, ports,
//    mode and rate are in force; feeds follow;
//  - [feed NAME] sections are feeds owned by the config (RG_FEED_CONFIG).
//    A section named like a feed added with `relayguard feed add` is
//    refused (start: exit 1; reload: refused), so a hand-added feed is never
//    taken over nor removed. Each config feed is synced right after READY=1
//    (from the event loop, one feed per turn, so signals are seen in
//    between), then every interval (one timerfd armed for the earliest due
//    feed), and again at once when a reload adds it or changes its source,
//    format or prefix limits; a reload that drops a section removes the
//    feed and what only it lists. Every sync writes a
//    {"event":"feed_sync",...} line to the stats output;
//  - every 30 s and before a reload applies, it checks that its maps and
//    attachments are still there; when they went away (`relayguard
//    detach`, pins removed by hand) it says so, recreates the maps, applies
//    the running config again and attaches again;
//  - every second it checks the [alerts] conditions (alerts.hpp) and reports
//    each alert that fires or resolves: log, stats line, metrics, command;
//  - on SIGTERM/SIGINT it detaches from the interfaces it manages, unless
//    told to leave the filter enforcing (on_exit = keep, --keep-enforcing);
//    its last message says what stays enforcing, as the kernel has it.
//
// Messages go through rg::log: errors (a failed start or reload), warnings
// (a feed sync that failed or was refused, what could not be undone), and
// lifecycle events as notices.
//
// Signals: blocked and read from a signalfd from the daemon's first moment,
// so none is fatal while it starts; one that arrives during a step (a slow
// feed download) is handled when that step ends. SIGHUP reloads the config
// (and reopens the stats file, for log rotation); SIGTERM and SIGINT stop,
// also during the start (then without READY=1). With $NOTIFY_SOCKET set
// (systemd Type=notify), it reports READY=1, RELOADING=1 and STOPPING=1, and
// a STATUS= line after every reload, so callers can wait for these events.
#pragma once

#include <string>

namespace rg {

struct DaemonOptions {
    std::string config_path;
    bool keep_enforcing = false;  // overrides on_exit = detach
};

// Runs until SIGTERM/SIGINT. Returns the process exit status: 0 after a
// stop, 1 when the config cannot be loaded or applied at start (the reason
// logged as an error).
int run_daemon(const DaemonOptions &opts);

} // namespace rg
