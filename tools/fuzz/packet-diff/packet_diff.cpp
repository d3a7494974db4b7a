#include "packet_diff.hpp"

#include "frame_gen.hpp"
#include "kernel_target.hpp"
#include "round_spec.hpp"
#include "verdict_model.hpp"

#include <arpa/inet.h>
#include <linux/bpf.h>

#include <chrono>
#include <sstream>

namespace rg::fuzz {

namespace {

constexpr uint64_t kListStream = ~uint64_t(0);  // frames use streams 0, 1, ... (the round)

const char *action_name(int a) { return a == XDP_PASS ? "XDP_PASS" : a == XDP_DROP ? "XDP_DROP" : "other XDP action"; }
const char *reason_name(int r) { return r >= 0 && r < RG_REASON_MAX ? rg_reason_info[r].name : "(none)"; }

std::string address(const model::ParsedFrame &p)
{
    char text[INET6_ADDRSTRLEN] = "?";
    inet_ntop(p.family == 4 ? AF_INET : AF_INET6, p.saddr.data(), text, sizeof text);
    return text;
}

// What the kernel did with one frame: its action and the reasons whose
// counters moved.
struct Observed {
    int action = -1;
    int reason = -1;       // the one reason that moved; -1 none
    bool several = false;  // more than one moved
    struct rg_counter delta {};
};

// The model's whole view of one round.
struct RoundModel {
    model::PrefixLists lists;
    model::BanTable bans;
    model::Policy policy;
    explicit RoundModel(const RoundSpec &r) : lists(r.lists()), bans(r.ban_table()), policy(r.policy()) {}
};

// A drop the invariants forbid, whatever the model's reason: "" if none.
std::string invariant_broken(const Observed &k, const model::Verdict &v, const RoundModel &m)
{
    if (k.action != XDP_DROP)
        return "";
    const model::ParsedFrame &p = v.parsed;
    if (p.status != model::Parse::tcp)
        return std::string("dropped a frame not parsed down to TCP (") + model::parse_name(p.status) + ")";
    if (!m.policy.ports[p.dport])
        return "dropped TCP to unprotected port " + std::to_string(p.dport);
    if (m.lists.lookup(p.family, model::address_of(p.family, p.saddr)).allow)
        return "dropped an allowlisted source";
    if (m.policy.monitor)
        return "dropped in monitor mode";
    return "";
}

bool agrees(const Observed &k, const model::Verdict &v, size_t len)
{
    return k.action == (v.drop ? XDP_DROP : XDP_PASS) && !k.several && k.reason == int(v.reason) &&
           k.delta.packets == 1 && k.delta.bytes == len && k.delta.syn == uint64_t(v.syn);
}

std::string report(const std::string &what, uint64_t seed, uint64_t round, uint64_t index, const DiffOptions &o,
                   const Bytes &f, const Observed &k, const model::Verdict &v, const RoundModel &m)
{
    std::ostringstream s;
    const model::ParsedFrame &p = v.parsed;
    s << "packet-diff " << what << ": seed " << seed << ", round " << round << ", frame " << index << "\n"
      << "  replay: rg-packet-diff --seed " << seed << " --prefixes " << o.max_prefixes << " --round " << round
      << " --monitor " << (m.policy.monitor ? "on" : "off") << " --frame " << hex(f) << "\n"
      << "  model:  " << model::parse_name(p.status);
    if (p.status == model::Parse::tcp)
        s << " IPv" << p.family << " from " << address(p) << " to port " << p.dport << (p.syn ? " SYN" : "")
          << (m.policy.ports[p.dport] ? " (protected)" : " (unprotected)");
    s << " -> " << action_name(v.drop ? XDP_DROP : XDP_PASS) << ", " << reason_name(v.reason)
      << (v.syn ? " +syn" : "") << "\n"
      << "  kernel: " << action_name(k.action) << ", "
      << (k.several ? "several reasons counted" : reason_name(k.reason)) << " +" << k.delta.packets << " pkt +"
      << k.delta.bytes << " B +" << k.delta.syn << " syn\n"
      << "  settings: monitor " << m.policy.monitor << ", shadow sources 0x" << std::hex << m.policy.shadow
      << std::dec << "\n";
    if (p.family) {
        model::U128 a = model::address_of(p.family, p.saddr);
        for (const model::ListedPrefix &lp : m.lists.containing(p.family, a))
            s << "  listed: " << lp.prefix.str() << " " << (lp.list == model::List::allow ? "allow" : "block")
              << " source " << lp.bit << "\n";
        for (const model::ModelBan &b : m.bans.bans())
            if (b.prefix.family == p.family && b.prefix.contains(a))
                s << "  ban: " << b.prefix.str() << (m.policy.now_ns < b.expires_ns ? " live" : " expired") << "\n";
    }
    return s.str();
}

Observed observe(KernelTarget &t, const Bytes &f, std::array<struct rg_counter, RG_REASON_MAX> &last)
{
    Observed k;
    k.action = t.run(f);
    auto now = t.counters();
    for (int r = 0; r < RG_REASON_MAX; r++) {
        struct rg_counter d = {now[r].packets - last[r].packets, now[r].bytes - last[r].bytes,
                               now[r].syn - last[r].syn};
        if (!d.packets && !d.bytes && !d.syn)
            continue;
        k.several = k.reason >= 0;
        k.reason = r;
        k.delta = d;
    }
    last = now;
    return k;
}

// The rounds' lists of a seed, in order (each may change the one before).
class Rounds {
public:
    Rounds(uint64_t seed, size_t max_prefixes) : rng_(Rng::stream(seed, kListStream)), max_(max_prefixes) {}
    const RoundSpec &next()
    {
        RoundSpec r = random_round(rng_, max_, have_ ? &cur_ : nullptr);
        cur_ = std::move(r);
        have_ = true;
        return cur_;
    }

private:
    Rng rng_;
    size_t max_;
    RoundSpec cur_;
    bool have_ = false;
};

// The round's totals against the model's: every reason's counters, and the
// drop attribution of every source.
std::string round_totals_differ(const std::array<struct rg_counter, RG_REASON_MAX> &before,
                                const std::array<struct rg_counter, RG_REASON_MAX> &after,
                                const std::array<struct rg_counter, RG_REASON_MAX> &expect,
                                const std::array<struct rg_source_counter, RG_MAX_SOURCES> &src_before,
                                const std::array<struct rg_source_counter, RG_MAX_SOURCES> &src_after,
                                const std::array<struct rg_source_counter, RG_MAX_SOURCES> &src_expect, uint64_t frames)
{
    std::ostringstream s;
    uint64_t sum = 0;
    for (int r = 0; r < RG_REASON_MAX; r++) {
        uint64_t p = after[r].packets - before[r].packets, b = after[r].bytes - before[r].bytes,
                 y = after[r].syn - before[r].syn;
        sum += p;
        if (p != expect[r].packets || b != expect[r].bytes || y != expect[r].syn)
            s << "  " << reason_name(r) << ": kernel " << p << " pkt " << b << " B " << y << " syn, model "
              << expect[r].packets << " pkt " << expect[r].bytes << " B " << expect[r].syn << " syn\n";
    }
    if (sum != frames)
        s << "  the reasons' packets add up to " << sum << ", " << frames << " frames were run\n";
    for (int i = 0; i < RG_MAX_SOURCES; i++) {
        const auto &a = src_after[i], &b = src_before[i], &e = src_expect[i];
        if (a.dropped - b.dropped != e.dropped || a.dropped_syn - b.dropped_syn != e.dropped_syn ||
            a.would_drop - b.would_drop != e.would_drop || a.would_drop_syn - b.would_drop_syn != e.would_drop_syn)
            s << "  source " << i << ": kernel dropped " << a.dropped - b.dropped << "/" << a.dropped_syn - b.dropped_syn
              << " syn, would_drop " << a.would_drop - b.would_drop << "/" << a.would_drop_syn - b.would_drop_syn
              << " syn; model " << e.dropped << "/" << e.dropped_syn << ", " << e.would_drop << "/"
              << e.would_drop_syn << "\n";
    }
    return s.str();
}

void attribute(std::array<struct rg_source_counter, RG_MAX_SOURCES> &src, const model::Verdict &v)
{
    for (int i = 0; i < RG_MAX_SOURCES; i++) {
        if (!((v.block_sources >> i) & 1))
            continue;
        if ((v.sources_dropped >> i) & 1) {
            src[i].dropped++;
            src[i].dropped_syn += v.syn;
        } else {
            src[i].would_drop++;
            src[i].would_drop_syn += v.syn;
        }
    }
}

} // namespace

DiffResult run_packet_diff(const DiffOptions &o)
{
    DiffResult res;
    auto start = std::chrono::steady_clock::now();
    KernelTarget target;
    Rounds rounds(o.seed, o.max_prefixes);
    for (uint64_t round = 0; res.frames < o.frames && res.failures.size() < o.max_failures; round++) {
        const RoundSpec &spec = rounds.next();
        RoundApplied applied = target.apply(spec);
        RoundModel m(spec);
        FrameGen gen(Rng::stream(o.seed, round), spec);
        res.rounds++;
        res.write_seconds += applied.write_s;
        res.largest_list = std::max(res.largest_list, spec.prefixes.size());

        auto before = target.counters(), last = before;
        auto src_before = target.source_stats();
        std::array<struct rg_counter, RG_REASON_MAX> expect{};
        std::array<struct rg_source_counter, RG_MAX_SOURCES> src_expect{};
        uint64_t n = std::min(o.frames_per_round, o.frames - res.frames);
        size_t failures = res.failures.size();
        for (uint64_t i = 0; i < n && res.failures.size() < o.max_failures; i++) {
            if (i == n / 2) {  // the other mode for the second half, without a reload
                m.policy.monitor = !m.policy.monitor;
                target.set_monitor(m.policy.monitor);
            }
            Bytes f = gen.next();
            model::Verdict v = model::verdict(f, m.lists, m.bans, m.policy);
            Observed k = observe(target, f, last);
            res.frames++;
            if (k.reason >= 0 && !k.several)
                res.by_reason[size_t(k.reason)]++;
            expect[v.reason].packets++;
            expect[v.reason].bytes += f.size();
            expect[v.reason].syn += v.syn;
            attribute(src_expect, v);
            std::string broken = invariant_broken(k, v, m);
            if (!broken.empty()) {
                res.invariant_violations++;
                res.failures.push_back(report("INVARIANT BROKEN: " + broken, o.seed, round, i, o, f, k, v, m));
            } else if (!agrees(k, v, f.size())) {
                res.mismatches++;
                res.failures.push_back(report("MISMATCH", o.seed, round, i, o, f, k, v, m));
            }
        }
        if (res.failures.size() == failures) {  // else the frames' reports say more
            std::string differ = round_totals_differ(before, last, expect, src_before, target.source_stats(),
                                                     src_expect, n);
            if (!differ.empty()) {
                res.counter_mismatches++;
                res.failures.push_back("packet-diff COUNTERS: seed " + std::to_string(o.seed) + ", round " +
                                       std::to_string(round) + "\n" + differ);
            }
        }
        if (o.progress)
            *o.progress << "round " << round << ": " << spec.prefixes.size() << " prefixes (" << applied.v4 << " IPv4 + "
                        << applied.v6 << " IPv6 in the kernel, written in " << applied.write_s << " s), "
                        << spec.bans.size() << " bans, " << spec.ports.size() << " ports"
                        << (spec.monitor ? ", monitor then enforce" : ", enforce then monitor") << "; " << res.frames
                        << " frames, "
                        << res.failures.size() << " failures" << std::endl;
    }
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return res;
}

bool replay(uint64_t seed, size_t max_prefixes, uint64_t round, bool monitor, const std::vector<uint8_t> &frame,
            std::ostream &out)
{
    Rounds rounds(seed, max_prefixes);
    for (uint64_t r = 0; r < round; r++)
        rounds.next();
    const RoundSpec &spec = rounds.next();
    KernelTarget target;
    target.apply(spec);
    target.set_monitor(monitor);
    RoundModel m(spec);
    m.policy.monitor = monitor;
    auto last = target.counters();
    model::Verdict v = model::verdict(frame, m.lists, m.bans, m.policy);
    Observed k = observe(target, frame, last);
    std::string broken = invariant_broken(k, v, m);
    bool ok = broken.empty() && agrees(k, v, frame.size());
    DiffOptions o;
    o.max_prefixes = max_prefixes;
    out << report(!broken.empty() ? "INVARIANT BROKEN: " + broken : ok ? "agree" : "MISMATCH", seed, round, 0, o, frame,
                  k, v, m);
    return ok;
}

std::string hex(const std::vector<uint8_t> &bytes)
{
    static const char digits[] = "0123456789abcdef";
    std::string s;
    for (uint8_t b : bytes) {
        s += digits[b >> 4];
        s += digits[b & 15];
    }
    return s;
}

std::optional<std::vector<uint8_t>> parse_hex(const std::string &text)
{
    std::vector<uint8_t> out;
    int hi = -1;
    for (char c : text) {
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -2;
        if (d == -2) {
            if (c == ' ' || c == ':')
                continue;
            return std::nullopt;
        }
        if (hi < 0) {
            hi = d;
        } else {
            out.push_back(uint8_t(hi << 4 | d));
            hi = -1;
        }
    }
    if (hi >= 0)
        return std::nullopt;
    return out;
}

} // namespace rg::fuzz
