// The relayguard command line: subcommands over the controller library.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rg::cli {

// What an error concerns, for the JSON error object (docs/json-schema.md): type "argument" (a value given on the
// command line), "interface", "pin_dir" or "feed"; value is that argument, name or path.
struct Concern {
    std::string type, value;
};

// Everything the command line can set; filled by parsing, read by handlers.
struct Options {
    std::string pin_dir;
    std::string state_dir;  // empty: default_state_dir(pin_dir)
    int verbose = 0;
    bool json = false;
    bool prometheus = false;  // stats --prometheus
    std::string iface;
    std::vector<std::string> ifaces;  // upgrade
    std::string mode = "native";
    std::vector<std::string> ports;
    bool monitor = false;
    bool keep_maps = false;
    std::vector<std::string> cidrs;
    std::string filter_mode;  // enforce|monitor

    // rate set
    std::string rate;
    uint32_t burst = 0;
    int prefix4 = 32, prefix6 = 64;
    uint32_t ban_after = 0;
    std::string ban_ttl;
    uint32_t escalate_after = 0;
    std::string escalate_window;
    int escalate_prefix4 = 24, escalate_prefix6 = 48;
    // attach --egress, egress set, top --egress
    std::string egress_mode;  // watch|cap; empty: no egress program
    std::string egress_budget;
    bool egress_top = false;
    // bans, top
    std::string ttl;
    bool all = false;
    unsigned top_n = 20;
    std::string sample;
    // feed
    std::string feed_name, feed_source;
    std::vector<std::string> feed_names;
    std::string feed_format = "auto";
    std::string feed_interval = "1h";
    bool shadow = false;
    unsigned max_shrink = 50;
    int min_prefix4 = 8, min_prefix6 = 19;
    bool no_sync = false;
    bool force = false;
    std::string timeout = "120s";
    bool all_sources = false;  // block|allow list --all
    // probe
    std::string probe_target, probe_from, probe_to = "relaytest@example.com", probe_helo, probe_timeout = "10s";
    bool probe_starttls = false, probe_tls_verify = false;
    // watch
    std::string watch_log, watch_source;
    bool watch_journal = false, dry_run = false, once = false, from_start = false;
    // events
    bool follow = false;
    std::string event_interval = "1m";
    uint32_t events_per_second = 100;
    // run, watch
    std::string config;
    bool keep_enforcing = false;
    std::function<int(Options &)> action;  // the selected subcommand
    std::optional<Concern> refused;        // set by a validator that refused a value
};

// Builds the parser. Values (CIDRs, ports, interfaces, modes) are checked while parsing: handlers see checked input.
std::unique_ptr<CLI::App> make_app(Options &opts);

// Parses and runs; returns the process exit status (0 ok, 1 error, 2 usage). Errors go to stderr (rg::log); with
// --json among the arguments, an error is also printed on stdout as {"error": {"message", "exit_code", and "concerns"
// where known}}.
int run(int argc, char **argv);

// Adds a subcommand that, when given, selects action as the handler.
CLI::App *add_command(CLI::App &parent, Options &o, const std::string &name, const std::string &desc,
                      std::function<int(Options &)> action);

// Subcommand groups defined in their own files.
void add_rate_commands(CLI::App &app, Options &opts);  // rate, bans, top
void add_feed_commands(CLI::App &app, Options &opts);  // feed
void add_probe_command(CLI::App &app, Options &opts);  // probe
void add_watch_command(CLI::App &app, Options &opts);  // watch
void add_events_command(CLI::App &app, Options &opts); // events
void add_crowdsec_commands(CLI::App &app, Options &opts);  // crowdsec
void add_egress_commands(CLI::App &app, Options &opts);  // egress
// `top --egress`: local senders and destination prefixes with the most new outbound connections.
int egress_top(Options &opts);

// The demo: a netns lab with an SMTP listener, a clean client and a blocklisted one, then the JSON counters.
int demo(Options &opts);

} // namespace rg::cli
