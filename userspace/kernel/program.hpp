// One instance of the XDP program, bound to a pinned map set: it counts
// into interface slot `ifslot`.
#pragma once

#include "maps.hpp"

#include <cstdint>

struct relayguard;
struct bpf_object;

namespace rg {

class Program {
public:
    // test_clock: time comes from set_test_now() instead of CLOCK_BOOTTIME
    // (tests only; the code path is otherwise the production one).
    Program(const Maps &maps, uint32_t ifslot, bool test_clock = false);
    ~Program();
    Program(const Program &) = delete;
    Program &operator=(const Program &) = delete;

    bpf_object *object();
    // Loads into the kernel without attaching (BPF_PROG_RUN, tests).
    void load();
    int prog_fd() const;
    void set_test_now(uint64_t ns);  // after load(), with test_clock
    // Tests and benchmarks only, before load(): every packet gets a new
    // source address (see rg_test_spoof in bpf/rate.h).
    void set_test_spoof(bool on);

    static constexpr const char *kProgName = "relayguard_xdp";

private:
    struct relayguard *skel_ = nullptr;
};

} // namespace rg
