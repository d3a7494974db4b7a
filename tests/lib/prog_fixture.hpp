// A fresh filter for BPF_PROG_RUN tests: private bpffs, pinned maps made by
// the controller, the real program loaded for one registered slot.
#pragma once

#include "hand_list.hpp"
#include "lists.hpp"
#include "maps.hpp"
#include "privileged.hpp"
#include "program.hpp"
#include "state_dir.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstring>
#include <optional>
#include <pthread.h>
#include <sched.h>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace rg::test {

using Bytes = std::vector<uint8_t>;

// Pins the calling thread to one CPU (tests that run the program on two CPUs
// at once).
inline void pin_to_cpu(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

constexpr uint32_t kSlot = 1;

struct Setup {
    std::vector<std::string> block{};
    std::vector<std::string> allow{};
    std::optional<std::vector<uint16_t>> ports{};  // unset: the default, port 25
    bool monitor = false;
    bool test_spoof = false;  // rg_test_spoof (bpf/rate.h): each run from the next source
    bool operator==(const Setup &) const = default;
};

// Slot 1 is registered, so stats() reports it. With test_clock, the program's
// time is what prog().set_test_now() says.
class Filter {
public:
    explicit Filter(const Setup &setup = Setup{}, bool test_clock = false)
        : maps_(create_maps(fs_)), lists_(maps_, rg::StateDir(rg::default_state_dir(fs_.pin_dir()))),
          prog_(maps_, kSlot, test_clock)
    {
        struct rg_iface entry {};
        entry.flags = RG_IFACE_USED;
        std::strncpy(entry.name, "prog_run", sizeof(entry.name) - 1);
        maps_.put_iface(kSlot, entry);
        apply(setup);
        prog_.set_test_spoof(setup.test_spoof);
        prog_.load();
    }

    void apply(const Setup &setup)
    {
        edit(rg::ListKind::block, setup.block, true);
        edit(rg::ListKind::allow, setup.allow, true);
        if (setup.ports)
            maps_.set_ports(*setup.ports);
        if (setup.monitor)
            maps_.set_monitor(true);
    }

    // Adds or removes prefixes of a hand-written source's list, as `block
    // add` does (the lists' one write path); one flag per prefix.
    std::vector<bool> edit(rg::ListKind kind, const std::vector<std::string> &cidrs, bool add,
                           unsigned bit = RG_SOURCE_MANUAL)
    {
        std::vector<rg::Cidr> parsed;
        for (const std::string &c : cidrs)
            parsed.push_back(rg::parse_cidr(c).cidr);
        if (parsed.empty())
            return {};
        rg::HandList list(lists_, kind, bit);
        return add ? list.add(parsed) : list.del(parsed);
    }

    rg::Maps &maps() { return maps_; }
    rg::Lists &lists() { return lists_; }
    rg::Program &prog() { return prog_; }

    struct Run {
        int verdict;  // of the last repeat
        uint32_t ns;  // per repeat, as the kernel measured it
    };
    // Runs the packet `repeat` times through prog.
    static Run run_timed(rg::Program &prog, const Bytes &pkt, uint32_t repeat)
    {
        Bytes in = pkt;
        LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in.data(), .data_size_in = uint32_t(in.size()),
                    .repeat = int(repeat));
        int err = bpf_prog_test_run_opts(prog.prog_fd(), &o);
        if (err)
            throw std::runtime_error(std::string("BPF_PROG_RUN: ") + std::strerror(-err));
        return {int(o.retval), o.duration};
    }
    static int run(rg::Program &prog, const Bytes &pkt, uint32_t repeat = 1)
    {
        return run_timed(prog, pkt, repeat).verdict;
    }
    uint32_t run_ns(const Bytes &pkt, uint32_t repeat) { return run_timed(prog_, pkt, repeat).ns; }
    uint64_t count(enum rg_reason r) { return maps_.stats().slots.at(kSlot)[r].packets; }
    int run(const Bytes &pkt, uint32_t repeat = 1) { return run(prog_, pkt, repeat); }

private:
    static rg::Maps create_maps(const rg::test::PrivateBpffs &fs)
    {
        if (::mkdir(fs.pin_dir().c_str(), 0700) != 0)
            throw std::runtime_error("mkdir " + fs.pin_dir() + ": " + std::strerror(errno));
        return rg::Maps::open_or_create(fs.pin_dir());
    }

    rg::test::PrivateBpffs fs_;
    rg::Maps maps_;
    rg::Lists lists_;
    rg::Program prog_;
};


} // namespace rg::test
