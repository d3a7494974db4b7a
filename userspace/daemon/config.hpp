// The daemon's configuration file (`relayguard run --config FILE`).
//
// Format: lines of `key = value`, `#` starts a comment (at line start or
// after whitespace), `[section]` headers. Sections: [filter], [rate],
// [daemon], one [feed NAME] per blocklist feed, [watch] (log lines into
// bans), one [watch-rule NAME] per log rule changed or added, [metrics]
// (the Prometheus endpoint), [alerts] (thresholds; alert_checks.hpp), [events] (the
// kernel's drop and ban events), [crowdsec] (relayguard as a CrowdSec bouncer) and
// [egress] (outbound SYNs: watched ports, the cap's budget; its surge_* keys
// are the outbound_surge alert's). Keys listed as
// repeatable append; any other key given twice is an error. Unknown sections
// and keys are errors (a typo must not silently disable protection).
// Every error is reported as "FILE:LINE: [section] key: reason".
// The commented example in dist/relayguard.conf documents every key.
#pragma once

#include "alert_checks.hpp"
#include "attach.hpp"
#include "bouncer.hpp"
#include "cidr.hpp"
#include "duration.hpp"
#include "egress.hpp"
#include "event_ring.hpp"
#include "rate.hpp"
#include "watcher.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rg {

struct FeedConfig {
    std::string name;
    std::string source;              // path, "-", or http(s):// URL
    std::string format = "auto";     // auto|plain|spamhaus|netset|ipset|json|range
    Duration interval{std::chrono::hours(1)};
    bool shadow = false;
    unsigned max_shrink = 50;        // percent
    uint8_t min_prefix4 = 8;         // broader prefixes are refused
    uint8_t min_prefix6 = 19;
    int line = 0;                    // where the section starts
    bool operator==(const FeedConfig &) const = default;
};

struct Config {
    std::string path;

    // [filter]
    std::vector<std::string> interfaces;  // required, at least one
    XdpMode xdp_mode = XdpMode::native;
    std::vector<uint16_t> ports{25};
    bool monitor = false;
    uint32_t egress_mode = RG_EGRESS_OFF;  // egress = off|watch|cap: the egress program on every interface
    std::vector<Cidr> allow;  // `allow` entries and `allow_file` contents: sorted, unique
    std::vector<Cidr> block;  // likewise

    // [rate]
    RateSettings rate;

    // [daemon]
    std::string pin_dir = "/sys/fs/bpf/relayguard";
    // Holds daemon.lock (one daemon per pin directory); absolute. Default:
    // default_state_dir(pin_dir) (state_dir.hpp).
    std::string state_dir = "/var/lib/relayguard";
    Duration stats_interval{std::chrono::seconds(60)};  // 0: no periodic counters
    std::string stats_output = "-";                     // "-" is stdout
    bool keep_on_exit = false;                          // on_exit = keep|detach

    // [feed NAME] sections, in file order
    std::vector<FeedConfig> feeds;

    // [watch] and [watch-rule NAME]: the built-in rules as the file changed
    // them, then its own rules in file order; escalation as in [rate].
    WatchConfig watch;

    // [metrics]: "ADDRESS:PORT" to serve GET /metrics on; empty (no
    // section or no listen key): no server.
    std::string metrics_listen;

    // [alerts]: its defaults when the section is absent.
    AlertsConfig alerts;
    // [events]: how often the kernel writes drop and ban events.
    EventSettings events;
    // [crowdsec]: the Local API whose decisions the daemon enforces; no
    // section: none.
    CrowdsecConfig crowdsec;
    // [egress]: the watched ports and the host's budget (egress.hpp), shared
    // by every interface with the egress program.
    EgressSettings egress;
};

// Reads and validates a config file. Throws rg::Error "FILE:LINE: ..." on the
// first problem (or "FILE: ..." for a file-level one such as a missing
// [filter] interfaces key or an unreadable file).
Config load_config(const std::string &path);
// Refuses (rg::Error "PATH: mode 0644: ...") a config file that others may
// read or write, or its group write: it decides what is dropped and may hold
// feed URLs with credentials. The daemon checks it before each load.
void check_config_mode(const std::string &path);
// The same on text already in memory; `path` is used in messages and to
// resolve relative allow_file/block_file paths (relative to its directory).
Config parse_config(std::string_view text, const std::string &path);

} // namespace rg
