// `relayguard run`: the filter as a service, driven by a config file.
//
// Invariants:
//  - nothing is enforced from a config that failed to parse or validate: at
//    start the daemon refuses to run, on reload the running config stays;
//  - changes are applied as a diff, additions before removals, and the maps
//    are filled before any program is attached, so no listed prefix is ever
//    missing from the kernel while both old and new configs list it;
//  - on SIGTERM/SIGINT it detaches from the interfaces it manages, unless
//    told to leave the filter enforcing (on_exit = keep, --keep-enforcing).
//
// Signals: SIGHUP reloads the config (and reopens the stats file, for log
// rotation); SIGTERM and SIGINT stop. With $NOTIFY_SOCKET set (systemd
// Type=notify), it reports READY=1, RELOADING=1 and STOPPING=1, and a STATUS=
// line after every reload, so callers can wait for these events.
#pragma once

#include <string>

namespace rg {

struct DaemonOptions {
    std::string config_path;
    bool keep_enforcing = false;  // overrides on_exit = detach
};

// Runs until SIGTERM/SIGINT. Returns the process exit status; throws
// rg::Error when the initial config cannot be loaded or applied.
int run_daemon(const DaemonOptions &opts);

} // namespace rg
