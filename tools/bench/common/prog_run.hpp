// What the BPF_PROG_RUN benchmarks (rg-perpacket, rg-ratecost) share:
// relayguard on a private bpffs, set up through the controller's public API
// only (Maps, the lists' write path, apply_rate, add_ban, Program), so the
// benchmarks keep working whatever lookup structure the maps use; the test
// SYN; timed BPF_PROG_RUN calls; and the JSON fields that say what a row
// measured and whether it is valid.
//
// A row is valid only if every timed call gave the expected verdict and, for
// relayguard, every measured packet was counted under the expected reason, so
// a row cannot look fast by taking another path. Timings are recorded, never
// asserted.
#pragma once

#include "event_ring.hpp"
#include "lab.hpp"
#include "lists.hpp"
#include "maps.hpp"
#include "program.hpp"
#include "rate.hpp"
#include "relayguard_abi.h"

#include <linux/bpf.h>  // XDP_* verdicts
#include <nlohmann/json.hpp>

namespace CLI {
class App;
}

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace rg::bench {

using json = nlohmann::json;
using Bytes = std::vector<uint8_t>;

// The interface slot the benchmarks' program counts into.
constexpr uint32_t kSlot = 1;

// A TCP SYN from src (an IPv4 or IPv6 address) to port 25 of the
// benchmarks' mail host (203.0.113.25 or 2001:db8:25::25).
Bytes syn(const std::string &src);

const char *verdict_name(int verdict);
std::string fmt_ns(double ns);

// A rate limit of one new connection per interval_ns, `burst` back to back.
rg::RateSettings limiter(uint64_t interval_ns, uint32_t burst);

struct RelayguardSetup {
    std::string name = "bench";         // the slot's interface name (for people)
    std::vector<std::string> allow{};   // allowlisted prefixes
    bool test_spoof = false;            // rg_test_spoof (bpf/rate.h): each run from the next source
    bool test_clock = false;            // the program's time from prog().set_test_now()
};

// relayguard on a private bpffs, with the real program loaded for slot kSlot
// and registered in it (so stats() reports the slot). Everything it made,
// pins and state directory, goes with it.
class Relayguard {
public:
    explicit Relayguard(const RelayguardSetup &setup = {});
    ~Relayguard();
    Relayguard(const Relayguard &) = delete;
    Relayguard &operator=(const Relayguard &) = delete;

    rg::Maps &maps() { return maps_; }
    rg::Lists &lists() { return lists_; }
    rg::Program &prog() { return prog_; }
    int prog_fd() const { return prog_.prog_fd(); }

    // Replaces the blocklist; returns the prefixes listed afterwards.
    size_t set_blocklist(const std::vector<rg::Cidr> &list);
    uint64_t count(rg_reason r);
    void lookup_cache(bool on) { maps_.set_lookup_cache(on); }
    void rate(const rg::RateSettings &s) { rg::apply_rate(maps_, s); }
    // Drop events on (the defaults of new maps) or off.
    void events(bool on) { rg::apply_events(maps_, on ? rg::EventSettings{} : rg::EventSettings{.enabled = false}); }

private:
    static rg::Maps create(const rg::lab::TempBpffs &fs);

    rg::lab::TempBpffs fs_;
    rg::Maps maps_;
    rg::Lists lists_;
    rg::Program prog_;
};

// Runs pkt `repeat` times in one BPF_PROG_RUN call; returns the verdict and,
// if asked, the kernel's duration (average ns per run).
int run_once(int prog_fd, const Bytes &pkt, uint32_t repeat, uint32_t *duration);

// Timed BPF_PROG_RUN calls of `repeat` runs each.
struct Timing {
    uint32_t repeat = 0;
    std::vector<double> ns;     // kernel duration per call (ns per run)
    std::vector<int> verdicts;  // per call (of its last run)
    uint64_t packets() const { return uint64_t(repeat) * ns.size(); }
    double median() const;
    void add(const Timing &other);  // the calls of another CPU, say
};

// One warm-up call (caches, the rate limiter's first, in-budget SYN), then
// after_warmup (e.g. reading counters), then `calls` timed calls, each after
// before_each if given.
Timing measure(int prog_fd, const Bytes &pkt, uint32_t repeat, unsigned calls,
               const std::function<void()> &after_warmup = {}, const std::function<void()> &before_each = {});

// Packets counted under one reason while a row was timed.
struct Counted {
    rg_reason reason;
    uint64_t packets;
};

// The fields every timed row has: repeat, calls, samples_ns, ns_median/min/max,
// verdict and expected_verdict, with relayguard's count reason and counted,
// then valid and, if not, why_invalid.
json timing_fields(const Timing &t, int expected_verdict, std::optional<Counted> counted);

// The options every BPF_PROG_RUN benchmark takes.
struct RunOptions {
    RunOptions(uint32_t repeat_, unsigned calls_) : repeat(repeat_), calls(calls_) {}
    uint32_t repeat;  // runs per BPF_PROG_RUN call
    unsigned calls;   // timed calls per row
    std::string out;  // the JSON results file
    bool quick = false;
};
// Adds --quick (quick_help says what it does), --repeat (1 to max_repeat),
// --calls and --out.
void add_run_options(CLI::App &app, RunOptions &o, const std::string &quick_help, uint32_t max_repeat);
// After parsing, under --quick: these repeat and calls unless given.
void quick_runs(const CLI::App &app, RunOptions &o, uint32_t repeat, unsigned calls);

// What the main of rg-<section> does once its options are parsed: runs the
// benchmark, adds to its results the section's name (as tools/bench/run
// knows it), `quick` and the seconds it took, prints them, writes them as
// JSON to --out if given. Returns the exit status: 0 when every row is valid,
// 1 when one is not or on an error (said on stderr).
int run_bench(const std::string &section, const RunOptions &o, const std::function<json()> &bench,
              const std::function<void(const json &)> &print);

} // namespace rg::bench
