// The differential packet fuzz: random and mutated frames through the real
// XDP program (BPF_PROG_RUN) and through the reference model
// (tests/model/verdict_model.hpp), round after round of random lists, bans
// and settings (round_spec.hpp), every verdict and reason compared.
//
// Checked for every frame: the XDP action and the one reason whose counter
// moved (by one packet, the frame's bytes and the model's syn count) equal
// the model's; and, whatever the model says, the safety invariants on the
// kernel's own action: nothing to an unprotected port, nothing allowlisted
// and nothing not parsed down to TCP is dropped. Checked for every round:
// the per-reason counters moved by exactly the model's sums, which add up to
// the frames run, and the per-source drop attribution (rg_srcstats) by the
// model's.
//
// A seed determines everything: the lists of round r come from the seed's
// list stream, the frames of round r from stream r, so a failure printed
// with its seed, round, mode and frame (as hex) can be replayed alone
// (replay()). Each round runs half its frames in enforce mode and half in
// monitor mode, switched between them as `relayguard mode` does.
#pragma once

#include "relayguard_abi.h"

#include <array>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace rg::fuzz {

struct DiffOptions {
    uint64_t frames = 100000;
    uint64_t seed = 1;
    size_t max_prefixes = 100000;       // lists of 1 to this many prefixes
    uint64_t frames_per_round = 100000;
    unsigned max_failures = 10;         // stop after this many
    std::ostream *progress = nullptr;   // a line per round, if given
};

struct DiffResult {
    uint64_t frames = 0, rounds = 0;
    uint64_t mismatches = 0;            // verdict or reason differs from the model
    uint64_t invariant_violations = 0;  // a drop the invariants forbid
    uint64_t counter_mismatches = 0;    // rounds whose counters or attribution differ
    std::array<uint64_t, RG_REASON_MAX> by_reason{};  // frames per reason (the kernel's)
    size_t largest_list = 0;            // prefixes given in one round
    double seconds = 0, write_seconds = 0;
    std::vector<std::string> failures;  // reports, each replayable
    bool ok() const { return !mismatches && !invariant_violations && !counter_mismatches; }
};

DiffResult run_packet_diff(const DiffOptions &o);

// Runs one frame against round `round` of a seed's lists (as run_packet_diff
// made them with the same max_prefixes), in monitor mode or not, and says
// what the model and the kernel made of it. Returns whether they agree.
bool replay(uint64_t seed, size_t max_prefixes, uint64_t round, bool monitor, const std::vector<uint8_t> &frame,
            std::ostream &out);

std::string hex(const std::vector<uint8_t> &bytes);
std::optional<std::vector<uint8_t>> parse_hex(const std::string &text);

} // namespace rg::fuzz
