// Pieces every subcommand file uses: validators, locking, JSON output.
#pragma once

#include "bpffs.hpp"
#include "cidr.hpp"
#include "commands.hpp"
#include "error.hpp"
#include "feed_registry.hpp"
#include "lists.hpp"
#include "maps.hpp"
#include "state_dir.hpp"

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace rg::cli {

// Validators for option values; a refused value is recorded in o.refused
// (what the error concerns).
CLI::Validator check_cidr(Options &o);
CLI::Validator check_ports(Options &o);
CLI::Validator check_existing_iface(Options &o);
CLI::Validator check_duration(Options &o);
CLI::Validator check_rate(Options &o);
CLI::Validator check_probe_target(Options &o);
CLI::Validator check_address(Options &o);  // user@domain
// check_ports checks each value; the limit on their number needs the whole
// list: this checks o.ports once all are in (a CLI::ValidationError).
void check_port_list(Options &o);

// An error of a handler that knows what it concerns (a feed, an interface).
class CommandError : public Error {
public:
    CommandError(const std::string &msg, Concern c) : Error(msg), concern(std::move(c)) {}
    Concern concern;
};

// Mutating commands hold the pin-directory lock for their whole run.
// Throws NotAttached when the directory does not exist.
std::unique_ptr<DirLock> lock_pin_dir(const std::string &dir);

void print_json(const nlohmann::json &j);

// The state directory of the command's pin directory (--state-dir).
StateDir state_dir(const Options &o);

// A feed's definition and status (docs/json-schema.md, feed list/show).
nlohmann::json feed_json(const Feed &f, const struct rg_source_counter &counters);

// Refuses a /0 among o.cidrs unless --force was given: a CLI::ValidationError
// (exit status 2) saying what it covers and, from effect(family), what it
// would do.
void refuse_whole_family(Options &o, const std::function<std::string(const std::string &family)> &effect);

// Parses validated CIDR arguments, with a note (rg::log) for cleared host bits
// and for IPv4-mapped addresses taken as IPv4.
std::vector<Cidr> parse_cidr_args(const std::vector<std::string> &args);

} // namespace rg::cli
