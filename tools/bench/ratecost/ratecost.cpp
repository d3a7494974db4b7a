// rg-ratecost: what the rate limiter and the ban lookup cost a clean SYN, in
// ns per packet with BPF_PROG_RUN:
//  - clean SYN: the limiter off and on, from one source and from a different
//    (spoofed) source per packet, on one CPU and on two at once;
//  - ban lookup: a spoofed clean IPv4 SYN, limiter off, with N live bans of
//    random IPv4 /32s (none inside 198.18.0.0/15, so none matches).
//
// Each row runs one frame `repeat` times per BPF_PROG_RUN call, `calls`
// times after one warm-up call, and reports the median of the kernel's
// per-call duration (the average ns per run over that call's repeats). Every
// row gets its own relayguard (tools/bench/common/prog_run.hpp) and uses the
// production clock. The "spoofed" rows load the program with the
// rg_test_spoof knob (bpf/rate.h): each run then comes from the next source
// of a per-CPU sequence, 198.18.0.0/15 for IPv4 and the /64s of
// 2001:db8::/32 for IPv6.
//
// A row is valid only if every call gave the expected verdict and every
// timed packet was counted under the expected reason (and, for the ban rows,
// the tries hold the N bans). No timing is asserted.
//
// This was tests/kernel/test_rate_cost.cpp (RateCost.DISABLED_CleanSyn and
// DISABLED_BanLookup); --calls and --repeat are its RG_BENCH_RUNS and
// RG_BENCH_REPEAT.
#include "error.hpp"
#include "prog_run.hpp"

#include <CLI/CLI.hpp>
#include <pthread.h>
#include <sched.h>

#include <barrier>
#include <chrono>
#include <cstdio>
#include <exception>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using rg::bench::Bytes;
using rg::bench::json;
using rg::bench::Timing;
using namespace std::chrono_literals;

// The within-budget row's limiter: 1,000,000 SYNs/s with a burst of
// 1,000,000, so a call of up to that many repeats stays within budget when
// the bucket has refilled before it.
constexpr uint64_t kWithinInterval = 1000;
constexpr uint32_t kMaxRepeat = 1000000;

enum class Limit {
    off,
    within,  // limiter on, one source within budget: refilled before each call
    over,    // limiter on, 1/h burst 1: every timed SYN is over budget
    spoof,   // limiter on, 1/s burst 1000, spoofed sources
};

struct Case {
    std::string id;    // short, stable name
    std::string name;  // for people (the old test's row names)
    std::string src;   // the SYN's source; with spoofing only its family counts
    bool spoof;
    Limit limit;
    unsigned cpus = 1;
};

const std::vector<Case> &clean_syn_cases()
{
    static const std::vector<Case> c = {
        {"v4-off-one", "IPv4, limiter off, one source", "192.0.2.7", false, Limit::off},
        {"v4-off-spoofed", "IPv4, limiter off, spoofed sources", "192.0.2.7", true, Limit::off},
        {"v6-off-spoofed", "IPv6, limiter off, spoofed sources", "2001:db8:7::7", true, Limit::off},
        {"v4-on-one-within", "IPv4, limiter on, one source (within budget)", "192.0.2.7", false, Limit::within},
        {"v4-on-one-over", "IPv4, limiter on, one source (over budget: dropped)", "192.0.2.7", false, Limit::over},
        // An IPv4 source comes back after 131,071 others; a burst of 1000
        // keeps it within budget whether or not the table still knows it.
        {"v4-on-spoofed", "IPv4, limiter on, spoofed sources", "192.0.2.7", true, Limit::spoof},
        {"v6-on-spoofed", "IPv6, limiter on, spoofed sources", "2001:db8:7::7", true, Limit::spoof},
        {"v4-off-spoofed-2cpu", "IPv4, limiter off, spoofed sources, 2 CPUs at once (per CPU)", "192.0.2.7", true,
         Limit::off, 2},
        {"v4-on-spoofed-2cpu", "IPv4, limiter on, spoofed sources, 2 CPUs at once (per CPU)", "192.0.2.7", true,
         Limit::spoof, 2},
    };
    return c;
}

// The limiter's settings, as the rows record them.
const char *limit_name(Limit l)
{
    switch (l) {
    case Limit::off: return "off";
    case Limit::within: return "1000000/s, burst 1000000";
    case Limit::over: return "1/h, burst 1";
    case Limit::spoof: return "1/s, burst 1000";
    }
    return "?";
}

struct Options : rg::bench::RunOptions {
    Options() : RunOptions(kMaxRepeat, 11) {}
    std::vector<uint32_t> bans{0, 1, 1000, 65536};
};

// The CPUs this process may run on, in order.
std::vector<int> usable_cpus()
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        rg::throw_errno("sched_getaffinity", errno);
    std::vector<int> out;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            out.push_back(c);
    return out;
}

void pin_to_cpu(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (int err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set); err)
        rg::throw_errno("pinning a thread to CPU " + std::to_string(cpu), err);
}

// The row on several CPUs at once, one thread pinned to each, the threads'
// calls started together: all their calls. after_warmup runs once, when
// every thread has warmed up.
Timing measure_cpus(int prog_fd, const Bytes &pkt, const Options &opt, const std::vector<int> &cpus,
                    const std::function<void()> &after_warmup)
{
    std::vector<Timing> per(cpus.size());
    std::vector<std::exception_ptr> errors(cpus.size());
    std::barrier sync(std::ptrdiff_t(cpus.size()));
    auto worker = [&](size_t i) {
        try {
            pin_to_cpu(cpus[i]);
            auto warmed = [&] {
                sync.arrive_and_wait();
                if (i == 0)
                    after_warmup();
                sync.arrive_and_wait();
            };
            per[i] = rg::bench::measure(prog_fd, pkt, opt.repeat, opt.calls, warmed, [&] { sync.arrive_and_wait(); });
        } catch (...) {
            errors[i] = std::current_exception();
            sync.arrive_and_drop();  // the others go on without this one
        }
    };
    std::vector<std::thread> threads;
    for (size_t i = 0; i < cpus.size(); i++)
        threads.emplace_back(worker, i);
    for (std::thread &t : threads)
        t.join();
    for (const std::exception_ptr &e : errors)
        if (e)
            std::rethrow_exception(e);
    Timing all = per[0];
    for (size_t i = 1; i < per.size(); i++)
        all.add(per[i]);
    return all;
}

class Bench {
public:
    explicit Bench(const Options &opt) : opt_(opt), cpus_(usable_cpus()) {}

    json run()
    {
        std::cerr << "ratecost: clean SYN\n";
        for (const Case &c : clean_syn_cases()) {
            if (c.cpus > cpus_.size()) {
                std::cerr << "  " << c.name << ": skipped, " << cpus_.size() << " CPU(s) usable\n";
                skipped_.push_back({{"case", c.id}, {"why", std::to_string(cpus_.size()) + " CPU(s) usable"}});
                continue;
            }
            clean_syn(c);
        }
        std::cerr << "ratecost: ban lookup\n";
        for (uint32_t n : opt_.bans)
            ban_lookup(n);
        return {{"repeat", opt_.repeat}, {"calls", opt_.calls}, {"bans", opt_.bans}, {"rows", rows_},
                {"skipped", skipped_}};
    }

private:
    void clean_syn(const Case &c)
    {
        rg::bench::Relayguard rg({.name = "ratecost", .test_spoof = c.spoof});
        std::function<void()> before_each;
        switch (c.limit) {
        case Limit::off:
            break;
        case Limit::within:
            rg.rate(rg::bench::limiter(kWithinInterval, kMaxRepeat));
            // Wait for the bucket to refill what the last call (or the
            // warm-up) took, and 5% more.
            before_each = [this] {
                std::this_thread::sleep_for(std::chrono::nanoseconds(opt_.repeat * kWithinInterval * 105 / 100));
            };
            break;
        case Limit::over:
            rg.rate(rg::bench::limiter(3600ull * 1000000000ull, 1));  // 1/h: no refill during the row
            break;
        case Limit::spoof:
            rg.rate(rg::bench::limiter(1000000000ull, 1000));
            break;
        }
        bool dropped = c.limit == Limit::over;
        rg_reason reason = dropped ? RG_DROP_RATELIMIT : RG_PASS_CLEAN;
        Bytes pkt = rg::bench::syn(c.src);
        // Count from just before the timed calls, after the warm-up.
        uint64_t before = 0;
        auto after_warmup = [&] { before = rg.count(reason); };
        Timing t = c.cpus == 1
                       ? rg::bench::measure(rg.prog_fd(), pkt, opt_.repeat, opt_.calls, after_warmup, before_each)
                       : measure_cpus(rg.prog_fd(), pkt, opt_,
                                      std::vector<int>(cpus_.begin(), cpus_.begin() + c.cpus), after_warmup);
        json row = rg::bench::timing_fields(t, dropped ? XDP_DROP : XDP_PASS,
                                            rg::bench::Counted{reason, rg.count(reason) - before});
        row["group"] = "clean-syn";
        row["case"] = c.id;
        row["limiter"] = limit_name(c.limit);
        row["bans"] = 0;
        add_row(c, row);
    }

    void ban_lookup(uint32_t n)
    {
        Case c{"v4-off-spoofed-bans-" + std::to_string(n),
               "IPv4, limiter off, spoofed sources, " + std::to_string(n) + (n == 1 ? " ban" : " bans"), "192.0.2.7",
               true, Limit::off};
        rg::bench::Relayguard rg({.name = "ratecost", .test_spoof = true});
        std::mt19937 rnd(n);
        std::set<uint32_t> seen;
        while (seen.size() < n) {
            uint32_t a = rnd();
            if ((a >> 17) == ((198u << 24 | 18u << 16) >> 17) || !seen.insert(a).second)
                continue;  // inside 198.18.0.0/15, where the spoofed sources are, or a repeat
            rg::Cidr cidr;
            cidr.family = 4;
            cidr.len = 32;
            for (int i = 0; i < 4; i++)
                cidr.addr[i] = uint8_t(a >> (24 - 8 * i));
            rg::add_ban(rg.maps(), cidr, 1h);
        }
        size_t listed = rg::list_bans(rg.maps()).size();
        bool flagged = rg::bans_flagged(rg.maps());
        uint64_t before = 0;
        Timing t = rg::bench::measure(rg.prog_fd(), rg::bench::syn(c.src), opt_.repeat, opt_.calls,
                                      [&] { before = rg.count(RG_PASS_CLEAN); });
        json row = rg::bench::timing_fields(t, XDP_PASS,
                                            rg::bench::Counted{RG_PASS_CLEAN, rg.count(RG_PASS_CLEAN) - before});
        row["group"] = "ban-lookup";
        row["case"] = c.id;
        row["limiter"] = limit_name(c.limit);
        row["bans"] = listed;
        std::string why;
        if (listed != n)
            why = std::to_string(listed) + " of " + std::to_string(n) + " bans in the tries";
        else if (flagged != (n > 0))
            why = flagged ? "bans flagged with none in the tries" : "bans in the tries but not flagged";
        if (row["valid"].get<bool>() && !why.empty()) {
            row["valid"] = false;
            row["why_invalid"] = why;
        }
        add_row(c, row);
    }

    void add_row(const Case &c, json &row)
    {
        row["name"] = c.name;
        row["family"] = c.src.find(':') != std::string::npos ? 6 : 4;
        row["sources"] = c.spoof ? "spoofed" : "one";
        row["cpus"] = c.cpus;
        std::cerr << "  " << c.name << ": " << rg::bench::fmt_ns(row["ns_median"].get<double>()) << " ns"
                  << (row["valid"].get<bool>() ? "" : "  INVALID: " + row["why_invalid"].get<std::string>()) << "\n";
        rows_.push_back(row);
    }

    Options opt_;
    std::vector<int> cpus_;
    json rows_ = json::array();
    json skipped_ = json::array();
};

void print_table(const json &res)
{
    std::printf("| case | ns/packet (median of %u x %u) | valid |\n|---|---:|---|\n", res["calls"].get<unsigned>(),
                res["repeat"].get<unsigned>());
    for (const json &r : res["rows"])
        std::printf("| %s | %s | %s |\n", r["name"].get<std::string>().c_str(),
                    rg::bench::fmt_ns(r["ns_median"].get<double>()).c_str(),
                    r["valid"].get<bool>() ? "yes" : ("NO: " + r["why_invalid"].get<std::string>()).c_str());
    for (const json &s : res["skipped"])
        std::printf("not run: %s (%s)\n", s["case"].get<std::string>().c_str(), s["why"].get<std::string>().c_str());
}

} // namespace

int main(int argc, char **argv)
{
    CLI::App app{"What the rate limiter and the ban lookup cost a clean SYN, in ns per packet (BPF_PROG_RUN)"};
    Options opt;
    // --repeat: at most the within-budget row's burst.
    rg::bench::add_run_options(app, opt, "few repeats and calls (CI: checks the harness, not the numbers)", kMaxRepeat);
    app.add_option("--bans", opt.bans, "live bans of the ban-lookup rows (default 0,1,1000,65536)")
        ->delimiter(',')
        ->check(CLI::Range(0u, uint32_t(RG_BAN_MAX_ENTRIES)));
    CLI11_PARSE(app, argc, argv);
    rg::bench::quick_runs(app, opt, 20000, 3);
    if (opt.quick && app.count("--bans") == 0)
        opt.bans = {0, 1, 1000};  // 65,536 bans take seconds to add
    return rg::bench::run_bench("ratecost", opt, [&] { return Bench(opt).run(); }, print_table);
}
