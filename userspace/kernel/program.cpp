#include "program.hpp"

#include "error.hpp"
#include "relayguard.skel.h"

#include <bpf/libbpf.h>
#include <cerrno>
#include <cstdint>
#include <ctime>

namespace rg {

Program::Program(const Maps &maps, uint32_t ifslot, bool test_clock, ProgramKind kind) : kind_(kind)
{
    skel_ = relayguard__open();
    if (!skel_)
        throw_errno("cannot open the embedded BPF object", errno);
    bpf_program__set_autoload(skel_->progs.relayguard_xdp, kind == ProgramKind::xdp);
    bpf_program__set_autoload(skel_->progs.relayguard_egress, kind == ProgramKind::egress);
    skel_->rodata->rg_ifslot = ifslot;
    skel_->rodata->rg_test_clock = test_clock;
    // The tick of the events' coarse clock (bpf/clock.h): jiffies times this.
    if (struct timespec tick; clock_getres(CLOCK_MONOTONIC_COARSE, &tick) == 0 && tick.tv_sec == 0)
        skel_->rodata->rg_tick_ns = uint64_t(tick.tv_nsec);
    try {
        maps.bind(skel_->obj);
    } catch (...) {
        relayguard__destroy(skel_);
        throw;
    }
}

Program::~Program()
{
    relayguard__destroy(skel_);
}

bpf_object *Program::object()
{
    return skel_->obj;
}

void Program::load()
{
    if (int err = relayguard__load(skel_); err)
        throw_errno(kind_ == ProgramKind::xdp ? "cannot load the XDP program into the kernel"
                                              : "cannot load the egress program into the kernel",
                    err);
}

void Program::set_test_now(uint64_t ns)
{
    // .bss is memory-mapped once loaded: the program sees this store at once.
    __atomic_store_n(&skel_->bss->rg_test_now, ns, __ATOMIC_RELEASE);
}

void Program::set_test_spoof(bool on)
{
    skel_->rodata->rg_test_spoof = on;
}

void Program::set_egress_cap(bool cap)
{
    skel_->rodata->rg_egress_cap = cap;
}

int Program::prog_fd() const
{
    return bpf_program__fd(kind_ == ProgramKind::xdp ? skel_->progs.relayguard_xdp : skel_->progs.relayguard_egress);
}

} // namespace rg
