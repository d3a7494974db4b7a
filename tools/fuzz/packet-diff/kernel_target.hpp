// The system under test of the packet fuzz: the real XDP object loaded on a
// private bpffs, its state set only through the controller's own API (the
// lists' one write path, Maps, add_ban), as the CLI and daemon set it, and
// its frames run with BPF_PROG_RUN. The program runs on the test clock, so
// which bans have expired is exact.
#pragma once

#include "prog_run.hpp"
#include "round_spec.hpp"

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace rg::fuzz {

struct RoundApplied {
    size_t v4 = 0, v6 = 0;   // prefixes in the kernel after collapsing
    double write_s = 0;      // the lists' write
};

class KernelTarget {
public:
    KernelTarget();

    // Replaces lists, bans and settings with the round's.
    RoundApplied apply(const RoundSpec &round);

    void set_monitor(bool on) { rg_.maps().set_monitor(on); }

    // Runs one frame; returns the XDP action.
    int run(std::span<const uint8_t> frame);
    // The slot's counters per reason, summed over CPUs (one syscall).
    std::array<struct rg_counter, RG_REASON_MAX> counters();
    std::array<struct rg_source_counter, RG_MAX_SOURCES> source_stats() { return rg_.maps().source_stats(); }

private:
    rg::bench::Relayguard rg_;  // on a private bpffs, the program loaded for slot kSlot
    unsigned ncpus_;
    std::vector<struct rg_counter> buf_;  // counters of every CPU
};

} // namespace rg::fuzz
