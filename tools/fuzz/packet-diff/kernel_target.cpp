#include "kernel_target.hpp"

#include "error.hpp"
#include "prefix_set.hpp"
#include "rate.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <chrono>
#include <cstring>

namespace rg::fuzz {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

rg::Cidr to_cidr(const model::ModelPrefix &p)
{
    return p.family == 4 ? rg::to_cidr(rg::Prefix4{uint32_t(p.addr >> 96), uint8_t(p.len)})
                         : rg::to_cidr(rg::Prefix6{p.addr, uint8_t(p.len)});
}

} // namespace

KernelTarget::KernelTarget()
    : rg_(rg::bench::RelayguardSetup{.name = "packet-diff", .test_clock = true}),
      ncpus_(unsigned(libbpf_num_possible_cpus()))
{
    rg::apply_rate(rg_.maps(), rg::RateSettings{});  // the limiter off: see verdict_model.hpp
    buf_.resize(size_t(RG_REASON_MAX) * ncpus_);
}

RoundApplied KernelTarget::apply(const RoundSpec &round)
{
    RoundApplied out;
    // Every source's list, collapsed as every writer hands it in; sources
    // the round does not use are emptied.
    std::vector<rg::PrefixSet> sets(kAllowSources + kBlockSources);
    std::vector<rg::SourceUpdate> updates;
    for (const model::ListedPrefix &p : round.prefixes) {
        rg::PrefixSet &s = sets[p.list == model::List::allow ? p.bit : kAllowSources + p.bit];
        if (p.prefix.family == 4)
            s.v4.push_back({uint32_t(p.prefix.addr >> 96), uint8_t(p.prefix.len)});
        else
            s.v6.push_back({p.prefix.addr, uint8_t(p.prefix.len)});
    }
    for (size_t i = 0; i < sets.size(); i++) {
        rg::sort_prefixes(sets[i]);
        sets[i] = rg::collapse(sets[i]);
        out.v4 += sets[i].v4.size();
        out.v6 += sets[i].v6.size();
        bool allow = i < kAllowSources;
        updates.push_back({allow ? rg::ListKind::allow : rg::ListKind::block,
                           unsigned(allow ? i : i - kAllowSources), sets[i]});
    }
    auto t = std::chrono::steady_clock::now();
    rg_.lists().replace(updates);
    out.write_s = seconds_since(t);

    rg::Maps &maps = rg_.maps();
    maps.set_ports(round.ports);
    maps.set_monitor(round.monitor);
    for (unsigned bit = 0; bit < kBlockSources; bit++)
        maps.set_shadow_source(bit, (round.shadow >> bit) & 1);

    // Bans: each expires ttl after it was added; the frames run at
    // now_s + 0.5 s after the last was added, so no ban is within a quarter
    // second of its end.
    rg::flush_bans(maps);
    uint64_t t0 = rg::boottime_ns();
    for (const RoundBan &b : round.bans)
        rg::add_ban(maps, to_cidr(b.prefix), std::chrono::seconds(b.ttl_s));
    uint64_t t1 = rg::boottime_ns();
    if (t1 - t0 > 250000000)
        throw rg::Error("packet-diff: adding " + std::to_string(round.bans.size()) + " bans took " +
                        std::to_string((t1 - t0) / 1000000) + " ms: ban expiry would be ambiguous");
    rg_.prog().set_test_now(t1 + round.now_ns());
    return out;
}

int KernelTarget::run(std::span<const uint8_t> frame)
{
    LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame.data(), .data_size_in = uint32_t(frame.size()), .repeat = 1);
    int err = bpf_prog_test_run_opts(rg_.prog_fd(), &o);
    if (err)
        rg::throw_errno("BPF_PROG_RUN of a " + std::to_string(frame.size()) + "-byte frame", -err);
    return int(o.retval);
}

std::array<struct rg_counter, RG_REASON_MAX> KernelTarget::counters()
{
    // Keys kSlot * RG_REASON_STRIDE + reason, in one batch starting after
    // the key before them.
    uint32_t in = rg::bench::kSlot * RG_REASON_STRIDE - 1, out = 0, count = RG_REASON_MAX;
    std::vector<uint32_t> keys(RG_REASON_MAX);
    int err = bpf_map_lookup_batch(rg_.maps().fd(RG_STR(RG_MAP_STATS)), &in, &out, keys.data(), buf_.data(), &count,
                                   nullptr);
    if (err && errno != ENOENT)
        rg::throw_errno("reading " RG_STR(RG_MAP_STATS), errno);
    if (count != RG_REASON_MAX || keys[0] != rg::bench::kSlot * RG_REASON_STRIDE)
        throw rg::Error("reading " RG_STR(RG_MAP_STATS) ": got " + std::to_string(count) + " counters from key " +
                        std::to_string(keys[0]));
    std::array<struct rg_counter, RG_REASON_MAX> sum{};
    for (size_t r = 0; r < RG_REASON_MAX; r++)
        for (unsigned c = 0; c < ncpus_; c++) {
            const struct rg_counter &v = buf_[r * ncpus_ + c];
            sum[r].packets += v.packets;
            sum[r].bytes += v.bytes;
            sum[r].syn += v.syn;
        }
    return sum;
}

} // namespace rg::fuzz
