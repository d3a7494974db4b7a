// Pieces every subcommand file uses: validators, locking, JSON output.
#pragma once

#include "bpffs.hpp"
#include "cidr.hpp"
#include "feed_registry.hpp"
#include "lists.hpp"
#include "maps.hpp"
#include "state_dir.hpp"

#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace rg::cli {

extern const CLI::Validator kCidr;
extern const CLI::Validator kPorts;
extern const CLI::Validator kExistingIface;
extern const CLI::Validator kDuration;
extern const CLI::Validator kRate;

// Mutating commands hold the pin-directory lock for their whole run.
// Throws NotAttached when the directory does not exist.
std::unique_ptr<DirLock> lock_pin_dir(const std::string &dir);

void print_json(const nlohmann::json &j);

struct Options;
// The state directory of the command's pin directory (--state-dir).
StateDir state_dir(const Options &o);

// A feed's definition and status (docs/json-schema.md, feed list/show).
nlohmann::json feed_json(const Feed &f, const struct rg_source_counter &counters);

// Parses validated CIDR arguments, noting normalised host bits on stderr.
std::vector<Cidr> parse_cidr_args(const std::vector<std::string> &args);

} // namespace rg::cli
