// One instance of one of the object's programs, bound to a pinned map set:
// the XDP filter (ingress) or the egress program (TC, bpf/egress.h); it
// counts into interface slot `ifslot`. Only the chosen program is loaded.
#pragma once

#include "maps.hpp"

#include <cstdint>

struct relayguard;
struct bpf_object;

namespace rg {

enum class ProgramKind { xdp, egress };

class Program {
public:
    // test_clock: time comes from set_test_now() instead of CLOCK_BOOTTIME
    // (tests only; the code path is otherwise the production one).
    Program(const Maps &maps, uint32_t ifslot, bool test_clock = false, ProgramKind kind = ProgramKind::xdp);
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
    // Egress only, before load(): drop over-budget SYNs (cap) or count them
    // as would-drop (watch).
    void set_egress_cap(bool cap);

    static constexpr const char *kProgName = "relayguard_xdp";

private:
    struct relayguard *skel_ = nullptr;
    ProgramKind kind_;
};

} // namespace rg
