// rg-packet-diff: the differential packet fuzz of the XDP data path (see
// packet_diff.hpp and docs/packet-fuzz.md). Needs root (BPF_PROG_RUN, a
// private bpffs); touches no interface.
//
//   rg-packet-diff --frames 10000000 --seed 1 --prefixes 100000
//   rg-packet-diff --seed 1 --prefixes 100000 --round 7 --monitor off --frame 0200...  (replay one frame)
#include "packet_diff.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

int main(int argc, char **argv)
{
    CLI::App app{"Differential packet fuzz: random frames through the real XDP program (BPF_PROG_RUN) and the "
                 "reference model, every verdict and reason compared"};
    rg::fuzz::DiffOptions o;
    bool quiet = false;
    std::optional<uint64_t> round;
    std::string frame, monitor = "off";
    app.add_option("--frames", o.frames, "frames to run")->capture_default_str()->check(CLI::Range(uint64_t(1), uint64_t(1) << 40));
    app.add_option("--seed", o.seed, "seed of the lists and frames")->capture_default_str();
    app.add_option("--prefixes", o.max_prefixes, "lists of 1 to this many prefixes per round")
        ->capture_default_str()->check(CLI::Range(size_t(1), size_t(200000)));
    app.add_option("--frames-per-round", o.frames_per_round, "frames run against one round's lists")
        ->capture_default_str()->check(CLI::Range(uint64_t(1), uint64_t(1) << 40));
    app.add_option("--max-failures", o.max_failures, "stop after this many failures")->capture_default_str()
        ->check(CLI::Range(1u, 1000000u));
    app.add_flag("--quiet", quiet, "no line per round");
    auto *r = app.add_option("--round", round, "replay: the round whose lists the frame runs against");
    app.add_option("--frame", frame, "replay: one frame, as hex")->needs(r);
    app.add_option("--monitor", monitor, "replay: the mode the frame runs in")->capture_default_str()
        ->check(CLI::IsMember({"on", "off"}))->needs(r);
    r->needs("--frame");
    CLI11_PARSE(app, argc, argv);

    try {
        if (round) {
            auto bytes = rg::fuzz::parse_hex(frame);
            if (!bytes || bytes->size() < 14) {
                std::cerr << "rg-packet-diff: --frame: not a frame of at least 14 bytes in hex\n";
                return 2;
            }
            return rg::fuzz::replay(o.seed, o.max_prefixes, *round, monitor == "on", *bytes, std::cout) ? 0 : 1;
        }
        if (!quiet)
            o.progress = &std::cerr;
        rg::fuzz::DiffResult res = rg::fuzz::run_packet_diff(o);
        for (const std::string &f : res.failures)
            std::cout << f;
        std::printf("frames %llu, rounds %llu, largest list %zu prefixes, %.1f s (%.0f frames/s; list writes %.1f s)\n",
                    (unsigned long long)res.frames, (unsigned long long)res.rounds, res.largest_list, res.seconds,
                    double(res.frames) / res.seconds, res.write_seconds);
        for (int i = 0; i < RG_REASON_MAX; i++)
            std::printf("  %-24s %llu\n", rg_reason_info[i].name, (unsigned long long)res.by_reason[size_t(i)]);
        std::printf("mismatches %llu, invariant violations %llu, rounds with counter mismatches %llu: %s\n",
                    (unsigned long long)res.mismatches, (unsigned long long)res.invariant_violations,
                    (unsigned long long)res.counter_mismatches, res.ok() ? "PASS" : "FAIL");
        return res.ok() ? 0 : 1;
    } catch (const std::exception &e) {
        std::cerr << "rg-packet-diff: " << e.what() << "\n";
        return 2;
    }
}
