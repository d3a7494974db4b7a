#include "prog_run.hpp"

#include "error.hpp"
#include "packet_builder.hpp"
#include "state_dir.hpp"

#include <CLI/CLI.hpp>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

namespace rg::bench {

Bytes syn(const std::string &src)
{
    rg::test::PacketBuilder b;
    b.eth();
    src.find(':') != std::string::npos ? b.ipv6(src, "2001:db8:25::25") : b.ipv4(src, "203.0.113.25");
    return b.tcp(40000, 25).flags(rg::test::tcp_flags::SYN).build();
}

const char *verdict_name(int verdict)
{
    switch (verdict) {
    case XDP_ABORTED: return "XDP_ABORTED";
    case XDP_DROP: return "XDP_DROP";
    case XDP_PASS: return "XDP_PASS";
    case XDP_TX: return "XDP_TX";
    case XDP_REDIRECT: return "XDP_REDIRECT";
    default: return "?";
    }
}

std::string fmt_ns(double ns)
{
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", ns);
    return b;
}

rg::RateSettings limiter(uint64_t interval_ns, uint32_t burst)
{
    rg::RateSettings s;
    s.enabled = true;
    s.interval_ns = interval_ns;
    s.burst = burst;
    return s;
}

Relayguard::Relayguard(const RelayguardSetup &setup)
    : maps_(create(fs_)), lists_(maps_, rg::StateDir(rg::default_state_dir(fs_.pin_dir()))),
      prog_(maps_, kSlot, setup.test_clock)
{
    struct rg_iface entry {};
    entry.flags = RG_IFACE_USED;
    std::strncpy(entry.name, setup.name.c_str(), sizeof(entry.name) - 1);
    maps_.put_iface(kSlot, entry);
    if (!setup.allow.empty()) {
        std::vector<rg::Cidr> allow;
        for (const std::string &c : setup.allow)
            allow.push_back(rg::parse_cidr(c).cidr);
        lists_.replace(rg::ListKind::allow, RG_SOURCE_MANUAL, rg::collapse(rg::to_prefix_set(allow)));
    }
    prog_.set_test_spoof(setup.test_spoof);
    prog_.load();
}

Relayguard::~Relayguard()
{
    try {
        maps_.remove_pins();
    } catch (const std::exception &) {
        // the bpffs is unmounted next anyway
    }
}

rg::Maps Relayguard::create(const rg::lab::TempBpffs &fs)
{
    if (::mkdir(fs.pin_dir().c_str(), 0700) != 0)
        rg::throw_errno("mkdir " + fs.pin_dir(), errno);
    return rg::Maps::open_or_create(fs.pin_dir());
}

size_t Relayguard::set_blocklist(const std::vector<rg::Cidr> &list)
{
    lists_.replace(rg::ListKind::block, RG_SOURCE_MANUAL, rg::collapse(rg::to_prefix_set(list)));
    rg::ListSize n = lists_.size(rg::ListKind::block);
    return n.v4 + n.v6;
}

uint64_t Relayguard::count(rg_reason r)
{
    return maps_.stats().slots.at(kSlot)[r].packets;
}

int run_once(int prog_fd, const Bytes &pkt, uint32_t repeat, uint32_t *duration)
{
    Bytes in = pkt;
    LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in.data(), .data_size_in = uint32_t(in.size()),
                .repeat = int(repeat));
    int err = bpf_prog_test_run_opts(prog_fd, &o);
    if (err)
        rg::throw_errno("BPF_PROG_RUN", -err);
    if (duration)
        *duration = o.duration;
    return int(o.retval);
}

double Timing::median() const
{
    std::vector<double> s = ns;
    std::sort(s.begin(), s.end());
    size_t n = s.size();
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

void Timing::add(const Timing &other)
{
    ns.insert(ns.end(), other.ns.begin(), other.ns.end());
    verdicts.insert(verdicts.end(), other.verdicts.begin(), other.verdicts.end());
}

Timing measure(int prog_fd, const Bytes &pkt, uint32_t repeat, unsigned calls,
               const std::function<void()> &after_warmup, const std::function<void()> &before_each)
{
    Timing t;
    t.repeat = repeat;
    run_once(prog_fd, pkt, std::min<uint32_t>(repeat, 10000), nullptr);
    if (after_warmup)
        after_warmup();
    for (unsigned i = 0; i < calls; i++) {
        if (before_each)
            before_each();
        uint32_t d = 0;
        t.verdicts.push_back(run_once(prog_fd, pkt, repeat, &d));
        t.ns.push_back(d);
    }
    return t;
}

json timing_fields(const Timing &t, int expected_verdict, std::optional<Counted> counted)
{
    json row;
    row["repeat"] = t.repeat;
    row["calls"] = t.ns.size();
    row["samples_ns"] = t.ns;
    row["ns_median"] = t.median();
    row["ns_min"] = *std::min_element(t.ns.begin(), t.ns.end());
    row["ns_max"] = *std::max_element(t.ns.begin(), t.ns.end());
    row["verdict"] = verdict_name(t.verdicts.back());
    row["expected_verdict"] = verdict_name(expected_verdict);
    std::string why;
    auto other = [&](int v) { return v != expected_verdict; };
    if (auto bad = std::find_if(t.verdicts.begin(), t.verdicts.end(), other); bad != t.verdicts.end()) {
        size_t wrong = std::count_if(bad, t.verdicts.end(), other);
        why = std::string("verdict ") + verdict_name(*bad) + ", expected " + verdict_name(expected_verdict);
        if (wrong < t.verdicts.size())
            why += " (in " + std::to_string(wrong) + " of " + std::to_string(t.verdicts.size()) + " calls)";
    }
    if (counted) {
        const char *reason = rg_reason_info[counted->reason].name;
        row["reason"] = reason;
        row["counted"] = counted->packets;
        if (counted->packets != t.packets() && why.empty())
            why = std::to_string(counted->packets) + " of " + std::to_string(t.packets()) + " packets counted as " +
                  reason;
    }
    row["valid"] = why.empty();
    if (!why.empty())
        row["why_invalid"] = why;
    return row;
}

void add_run_options(CLI::App &app, RunOptions &o, const std::string &quick_help, uint32_t max_repeat)
{
    app.add_flag("--quick", o.quick, quick_help);
    app.add_option("--repeat", o.repeat, "runs per BPF_PROG_RUN call")->check(CLI::Range(1u, max_repeat));
    app.add_option("--calls", o.calls, "timed calls per row (the median is reported)")->check(CLI::Range(1u, 1000u));
    app.add_option("--out", o.out, "write the results as JSON to this file");
}

void quick_runs(const CLI::App &app, RunOptions &o, uint32_t repeat, unsigned calls)
{
    if (!o.quick)
        return;
    if (app.count("--repeat") == 0)
        o.repeat = repeat;
    if (app.count("--calls") == 0)
        o.calls = calls;
}

int run_bench(const std::string &section, const RunOptions &o, const std::function<json()> &bench,
              const std::function<void(const json &)> &print)
{
    try {
        auto t0 = std::chrono::steady_clock::now();
        json res = bench();
        res["section"] = section;
        res["quick"] = o.quick;
        res["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        print(res);
        if (!o.out.empty()) {
            std::ofstream f(o.out);
            f << res.dump(2) << "\n";
            if (!f)
                throw rg::Error("cannot write " + o.out);
        }
        for (const json &r : res["rows"])
            if (!r["valid"].get<bool>())
                return 1;
        return 0;
    } catch (const std::exception &e) {
        std::cerr << "rg-" << section << ": " << e.what() << "\n";
        return 1;
    }
}

} // namespace rg::bench
