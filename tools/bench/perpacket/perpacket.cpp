// rg-perpacket: the per-packet cost of relayguard's XDP program, next to a
// bare XDP_DROP program (the floor) and a plain LPM-trie lookup (the
// reference), measured with BPF_PROG_RUN.
//
// Each row runs one frame `repeat` times per BPF_PROG_RUN call, `calls`
// times, and reports the median of the kernel's per-call `duration` (the
// average ns per run of the program over that call's repeats). A row is
// valid only if the program gave the expected verdict and, for relayguard,
// counted every measured packet under the expected reason, so a row cannot
// look fast by taking another path.
//
// Blocklists come from tools/bench/gen-prefixes.py (a seeded, feed-like mix)
// with the target prefixes listed first; the list of N prefixes for the
// smaller N is a prefix of the longer ones, so growing the list is a diff.
// A list of one prefix holds just the prefix the row needs.
//
// Everything is set up through the controller's public API (Maps,
// the lists' write path, apply_rate, Program), so the benchmark keeps
// working whatever lookup structure the maps use.
#include "perpacket.skel.h"
#include "perpacket_abi.h"

#include "cidr.hpp"
#include "error.hpp"
#include "lab.hpp"
#include "lists.hpp"
#include "maps.hpp"
#include "program.hpp"
#include "state_dir.hpp"
#include "packet_builder.hpp"
#include "rate.hpp"
#include "relayguard_abi.h"

#include <CLI/CLI.hpp>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <set>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#ifndef RG_GEN_PREFIXES
#define RG_GEN_PREFIXES "tools/bench/gen-prefixes.py"
#endif

namespace {

using json = nlohmann::json;
using Bytes = std::vector<uint8_t>;
namespace tf = rg::test::tcp_flags;

constexpr uint32_t kSlot = 1;
constexpr const char *kDst4 = "203.0.113.25";
constexpr const char *kDst6 = "2001:db8:25::25";

enum class Kind { clean, allowlisted, block, ratelimited };

// One kind of packet, with what relayguard must do with it.
struct Case {
    std::string id;       // short name: row names and ratio keys use it
    std::string label;    // for people
    Kind kind;
    int family;
    std::string src;      // the SYN's source address
    std::string target;   // the blocklist prefix it hits ("" for none)
    int verdict;          // expected XDP verdict
    rg_reason reason;     // expected relayguard reason
    bool reference;       // also run through the LPM reference
    bool cached = false;  // rg_lcache on: the same source again (the other
                          // rows bypass it, so they time the full lookup)
};

// Sources in the benchmark ranges, which gen-prefixes.py never draws, so
// "clean" sources are on no list and each hit has exactly one target.
const std::vector<Case> &cases()
{
    static const std::vector<Case> c = {
        {"clean-v4", "clean SYN, IPv4", Kind::clean, 4, "198.51.100.9", "", XDP_PASS, RG_PASS_CLEAN, true},
        {"clean-v6", "clean SYN, IPv6 (its /32 holds listed prefixes)", Kind::clean, 6, "2001:db8:ffff::9", "",
         XDP_PASS, RG_PASS_CLEAN, true},
        // 2001:2::/48 is the IPv6 benchmarking range (RFC 5180): nothing is
        // listed in its /32, the common case for a legitimate IPv6 sender.
        {"clean-v6-unlisted32", "clean SYN, IPv6, nothing listed in its /32", Kind::clean, 6, "2001:2::9", "",
         XDP_PASS, RG_PASS_CLEAN, true},
        {"allowlisted-v4", "allowlisted SYN (inside a blocked /24)", Kind::allowlisted, 4, "198.18.7.10",
         "198.18.7.0/24", XDP_PASS, RG_PASS_ALLOWLIST, false},
        {"block-v4-32", "blocklisted SYN, IPv4 /32 entry", Kind::block, 4, "198.18.0.1", "198.18.0.1/32",
         XDP_DROP, RG_DROP_BLOCKLIST, true},
        {"block-v4-24", "blocklisted SYN, IPv4 /24 entry", Kind::block, 4, "198.18.7.9", "198.18.7.0/24",
         XDP_DROP, RG_DROP_BLOCKLIST, true},
        {"block-v6-128", "blocklisted SYN, IPv6 /128 entry", Kind::block, 6, "2001:db8::1", "2001:db8::1/128",
         XDP_DROP, RG_DROP_BLOCKLIST, true},
        {"block-v6-48", "blocklisted SYN, IPv6 /48 entry", Kind::block, 6, "2001:db8:7::9", "2001:db8:7::/48",
         XDP_DROP, RG_DROP_BLOCKLIST, true},
        // A flood repeats its sources: the second packet of a listed source
        // whose lookup needed a probe is answered by rg_lcache.
        {"block-v4-32-cached", "blocklisted SYN, IPv4 /32 entry, source seen before", Kind::block, 4, "198.18.0.1",
         "198.18.0.1/32", XDP_DROP, RG_DROP_BLOCKLIST, false, true},
        {"block-v6-128-cached", "blocklisted SYN, IPv6 /128 entry, source seen before", Kind::block, 6,
         "2001:db8::1", "2001:db8::1/128", XDP_DROP, RG_DROP_BLOCKLIST, false, true},
        {"block-v6-48-cached", "blocklisted SYN, IPv6 /48 entry, source seen before", Kind::block, 6,
         "2001:db8:7::9", "2001:db8:7::/48", XDP_DROP, RG_DROP_BLOCKLIST, false, true},
        {"ratelimited-v4", "rate-limited SYN (same source, over budget)", Kind::ratelimited, 4, "203.0.113.9", "",
         XDP_DROP, RG_DROP_RATELIMIT, false},
    };
    return c;
}

constexpr const char *kAllowed = "198.18.7.10/32";

Bytes syn(const Case &c)
{
    rg::test::PacketBuilder b;
    b.eth();
    c.family == 6 ? b.ipv6(c.src, kDst6) : b.ipv4(c.src, kDst4);
    return b.tcp(40000, 25).flags(tf::SYN).build();
}

const char *verdict_name(int v)
{
    switch (v) {
    case XDP_ABORTED: return "XDP_ABORTED";
    case XDP_DROP: return "XDP_DROP";
    case XDP_PASS: return "XDP_PASS";
    case XDP_TX: return "XDP_TX";
    case XDP_REDIRECT: return "XDP_REDIRECT";
    default: return "?";
    }
}

struct Options {
    std::vector<size_t> sizes{1, 1000, 100000, 1000000};
    uint32_t repeat = 1000000;
    unsigned calls = 10;
    std::string out;
    std::string gen = RG_GEN_PREFIXES;
    unsigned seed = 1;
};

// One timed measurement: `calls` BPF_PROG_RUN calls of `repeat` runs.
struct Timing {
    std::vector<double> ns;  // kernel duration per call (ns per run)
    int verdict = -1;        // of the last call
    double median() const
    {
        std::vector<double> s = ns;
        std::sort(s.begin(), s.end());
        size_t n = s.size();
        return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }
};

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

// One warm-up call (caches, the rate limiter's first, in-budget SYN), then
// after_warmup (e.g. reading counters), then the timed calls.
Timing measure(int prog_fd, const Bytes &pkt, const Options &opt, const std::function<void()> &after_warmup = {})
{
    Timing t;
    run_once(prog_fd, pkt, std::min<uint32_t>(opt.repeat, 10000), nullptr);
    if (after_warmup)
        after_warmup();
    for (unsigned i = 0; i < opt.calls; i++) {
        uint32_t d = 0;
        t.verdict = run_once(prog_fd, pkt, opt.repeat, &d);
        t.ns.push_back(d);
    }
    return t;
}

// Runs gen-prefixes.py and parses its lines.
std::vector<rg::Cidr> generate(const Options &opt, size_t count, const std::string &include)
{
    std::string cmd = "python3 '" + opt.gen + "' --count " + std::to_string(count) + " --seed " +
                      std::to_string(opt.seed);
    if (!include.empty())
        cmd += " --include '" + include + "'";
    std::unique_ptr<FILE, int (*)(FILE *)> p(popen(cmd.c_str(), "r"), pclose);
    if (!p)
        rg::throw_errno("popen " + cmd, errno);
    std::vector<rg::Cidr> out;
    out.reserve(count);
    char line[128];
    while (fgets(line, sizeof line, p.get())) {
        std::string_view s(line);
        while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
            s.remove_suffix(1);
        if (!s.empty())
            out.push_back(rg::parse_cidr(s).cidr);
    }
    int status = pclose(p.release());
    if (status != 0 || out.size() != count)
        throw rg::Error("gen-prefixes.py gave " + std::to_string(out.size()) + " of " +
                        std::to_string(count) + " prefixes (" + cmd + ")");
    return out;
}

// The reference programs and their two tries; reloaded for every list size
// so each size starts from empty tries.
class Reference {
public:
    Reference()
    {
        skel_ = perpacket__open_and_load();
        if (!skel_)
            rg::throw_errno("loading the reference programs", errno);
    }
    ~Reference() { perpacket__destroy(skel_); }
    Reference(const Reference &) = delete;
    Reference &operator=(const Reference &) = delete;

    int drop_fd() const { return bpf_program__fd(skel_->progs.rgb_drop); }
    int lpm_fd() const { return bpf_program__fd(skel_->progs.rgb_lpm); }

    void add(const rg::Cidr &c)
    {
        uint64_t one = 1;
        int err;
        if (c.family == 4) {
            struct rgb_lpm4_key k {};
            k.prefixlen = c.len;
            std::memcpy(k.addr, c.addr.data(), 4);
            err = bpf_map_update_elem(bpf_map__fd(skel_->maps.rgb_lpm4), &k, &one, BPF_ANY);
        } else {
            struct rgb_lpm6_key k {};
            k.prefixlen = c.len;
            std::memcpy(k.addr, c.addr.data(), 16);
            err = bpf_map_update_elem(bpf_map__fd(skel_->maps.rgb_lpm6), &k, &one, BPF_ANY);
        }
        if (err)
            rg::throw_errno("reference trie: adding " + c.str(), errno);
        entries_++;
    }
    void del(const rg::Cidr &c)
    {
        int err;
        if (c.family == 4) {
            struct rgb_lpm4_key k {};
            k.prefixlen = c.len;
            std::memcpy(k.addr, c.addr.data(), 4);
            err = bpf_map_delete_elem(bpf_map__fd(skel_->maps.rgb_lpm4), &k);
        } else {
            struct rgb_lpm6_key k {};
            k.prefixlen = c.len;
            std::memcpy(k.addr, c.addr.data(), 16);
            err = bpf_map_delete_elem(bpf_map__fd(skel_->maps.rgb_lpm6), &k);
        }
        if (err)
            rg::throw_errno("reference trie: deleting " + c.str(), errno);
        entries_--;
    }
    size_t entries() const { return entries_; }

private:
    struct perpacket *skel_ = nullptr;
    size_t entries_ = 0;
};

// relayguard on a private bpffs, with the real program for slot kSlot.
class Relayguard {
public:
    Relayguard()
        : maps_(create(fs_)), lists_(maps_, rg::StateDir(rg::default_state_dir(fs_.pin_dir()))),
          prog_(maps_, kSlot, false)
    {
        struct rg_iface entry {};
        entry.flags = RG_IFACE_USED;
        std::strncpy(entry.name, "perpacket", sizeof(entry.name) - 1);
        maps_.put_iface(kSlot, entry);
        lists_.replace(rg::ListKind::allow, RG_SOURCE_MANUAL, rg::to_prefix_set({rg::parse_cidr(kAllowed).cidr}));
        prog_.load();
    }
    ~Relayguard()
    {
        try {
            maps_.remove_pins();
        } catch (const std::exception &) {
            // the bpffs is unmounted next anyway
        }
    }

    rg::Maps &maps() { return maps_; }
    int prog_fd() const { return prog_.prog_fd(); }

    // Returns the prefixes listed afterwards.
    size_t set_blocklist(const std::vector<rg::Cidr> &list)
    {
        lists_.replace(rg::ListKind::block, RG_SOURCE_MANUAL, rg::collapse(rg::to_prefix_set(list)));
        rg::ListSize n = lists_.size(rg::ListKind::block);
        return n.v4 + n.v6;
    }
    uint64_t count(rg_reason r) { return maps_.stats().slots.at(kSlot)[r].packets; }
    void lookup_cache(bool on) { maps_.set_lookup_cache(on); }

    void rate_limit(bool on)
    {
        rg::RateSettings s;
        if (on) {
            s.enabled = true;
            s.interval_ns = 86400ull * 1000000000ull;  // 1 per day, burst 1: all but the first SYN drop
            s.burst = 1;
        }
        rg::apply_rate(maps_, s);
    }

private:
    static rg::Maps create(const rg::lab::TempBpffs &fs)
    {
        if (::mkdir(fs.pin_dir().c_str(), 0700) != 0)
            rg::throw_errno("mkdir " + fs.pin_dir(), errno);
        return rg::Maps::open_or_create(fs.pin_dir());
    }

    rg::lab::TempBpffs fs_;
    rg::Maps maps_;
    rg::Lists lists_;
    rg::Program prog_;
};

std::string fmt_ns(double ns)
{
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", ns);
    return b;
}

std::string fmt_size(size_t n)
{
    if (n >= 1000000 && n % 1000000 == 0)
        return std::to_string(n / 1000000) + "M";
    if (n >= 1000 && n % 1000 == 0)
        return std::to_string(n / 1000) + "k";
    return std::to_string(n);
}

class Bench {
public:
    explicit Bench(const Options &opt) : opt_(opt) {}

    json run()
    {
        auto t0 = std::chrono::steady_clock::now();
        {
            Reference ref;
            Case drop{"drop", "bare XDP_DROP", Kind::clean, 4, "198.51.100.9", "", XDP_DROP, RG_PASS_CLEAN, false};
            add_row("bare-drop", drop, 0, 0, measure(ref.drop_fd(), syn(drop), opt_), std::nullopt);
        }
        write_include();
        for (size_t n : opt_.sizes)
            run_size(n);
        json out;
        out["section"] = "perpacket";
        out["repeat"] = opt_.repeat;
        out["calls"] = opt_.calls;
        out["sizes"] = opt_.sizes;
        out["rows"] = rows_;
        out["ratios"] = ratios();
        out["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        ::unlink(include_.c_str());
        return out;
    }

private:
    void write_include()
    {
        char tmpl[] = "/tmp/rg-perpacket-include.XXXXXX";
        int fd = mkstemp(tmpl);
        if (fd < 0)
            rg::throw_errno("mkstemp", errno);
        ::close(fd);
        include_ = tmpl;
        std::ofstream f(include_);
        std::set<std::string> seen;  // cached rows share their target
        for (const Case &c : cases())
            if (!c.target.empty() && c.kind == Kind::block && seen.insert(c.target).second) {
                f << c.target << "\n";
                targets_++;
            }
    }

    void run_size(size_t n)
    {
        std::cerr << "perpacket: " << fmt_size(n) << " prefixes\n";
        Relayguard rg;
        Reference ref;
        std::vector<rg::Cidr> list;
        if (n >= targets_) {
            list = generate(opt_, n, include_);
            size_t entries = rg.set_blocklist(list);
            for (const rg::Cidr &c : list)
                ref.add(c);
            for (const Case &c : cases())
                run_case(rg, ref, c, n, entries);
            return;
        }
        // Too small to hold every target: each row gets its own list of n,
        // its target first (or a generated prefix for rows that need none).
        std::vector<rg::Cidr> filler = generate(opt_, n, "");
        for (const Case &c : cases()) {
            list = filler;
            if (!c.target.empty())
                list.back() = rg::parse_cidr(c.target).cidr;
            size_t entries = rg.set_blocklist(list);
            for (const rg::Cidr &p : list)
                ref.add(p);
            run_case(rg, ref, c, n, entries);
            for (const rg::Cidr &p : list)
                ref.del(p);
        }
    }

    void run_case(Relayguard &rg, Reference &ref, const Case &c, size_t n, size_t entries)
    {
        Bytes pkt = syn(c);
        rg.lookup_cache(c.cached);
        if (c.kind == Kind::ratelimited)
            rg.rate_limit(true);
        // Count from just before the timed calls, after the warm-up.
        uint64_t before = 0;
        Timing t = measure(rg.prog_fd(), pkt, opt_, [&] { before = rg.count(c.reason); });
        uint64_t counted = rg.count(c.reason) - before;
        if (c.kind == Kind::ratelimited)
            rg.rate_limit(false);
        add_row("relayguard", c, n, entries, t, counted);
        if (c.reference) {
            Timing r = measure(ref.lpm_fd(), pkt, opt_);
            add_row("lpm-reference", c, n, ref.entries(), r, std::nullopt);
        }
    }

    void add_row(const std::string &program, const Case &c, size_t n, size_t entries, const Timing &t,
                 std::optional<uint64_t> counted)
    {
        json row;
        row["program"] = program;
        row["case"] = program == "bare-drop" ? "drop" : c.id;
        row["name"] = program == "bare-drop" ? "bare XDP_DROP" : program + ": " + c.label;
        row["family"] = c.family;
        row["prefixes"] = n;
        row["entries"] = entries;
        row["repeat"] = opt_.repeat;
        row["calls"] = opt_.calls;
        row["samples_ns"] = t.ns;
        row["ns_median"] = t.median();
        row["ns_min"] = *std::min_element(t.ns.begin(), t.ns.end());
        row["ns_max"] = *std::max_element(t.ns.begin(), t.ns.end());
        row["verdict"] = verdict_name(t.verdict);
        // The reference drops on any hit, as relayguard's blocklist does.
        int expected = c.verdict;
        if (program == "lpm-reference")
            expected = c.kind == Kind::block ? XDP_DROP : XDP_PASS;
        row["expected_verdict"] = verdict_name(expected);
        std::string why;
        if (t.verdict != expected)
            why = std::string("verdict ") + verdict_name(t.verdict) + ", expected " + verdict_name(expected);
        uint64_t want = uint64_t(opt_.repeat) * opt_.calls;
        if (counted) {
            row["reason"] = rg_reason_info[c.reason].name;
            row["counted"] = *counted;
            if (*counted != want && why.empty())
                why = std::to_string(*counted) + " of " + std::to_string(want) + " packets counted as " +
                      rg_reason_info[c.reason].name;
        }
        row["valid"] = why.empty();
        if (!why.empty())
            row["why_invalid"] = why;
        std::cerr << "  " << row["name"].get<std::string>() << " @" << fmt_size(n) << ": "
                  << fmt_ns(t.median()) << " ns" << (why.empty() ? "" : "  INVALID: " + why) << "\n";
        rows_.push_back(row);
    }

    const json *find(const std::string &program, const std::string &id, size_t n) const
    {
        for (const json &r : rows_)
            if (r["program"] == program && r["case"] == id && r["prefixes"] == n)
                return &r;
        return nullptr;
    }

    // The issue's targets, computed for every blocklist hit at the largest
    // size. Recorded, never asserted.
    json ratios() const
    {
        json out = json::array();
        const json *drop = find("bare-drop", "drop", 0);
        size_t big = opt_.sizes.back(), small = opt_.sizes.front();
        for (const Case &c : cases()) {
            if (c.kind != Kind::block)
                continue;
            const json *hit = find("relayguard", c.id, big);
            if (!hit || !drop)
                continue;
            double v = (*hit)["ns_median"].get<double>();
            auto add = [&](const std::string &what, double value, const std::string &target, bool met) {
                out.push_back({{"case", c.id}, {"ratio", what}, {"value", value}, {"target", target},
                               {"met", met}, {"prefixes", big}});
            };
            double vs_drop = v / (*drop)["ns_median"].get<double>();
            add("hit vs bare drop", vs_drop, "<= 3", vs_drop <= 3);
            if (const json *ref = find("lpm-reference", c.id, big)) {
                double r = (*ref)["ns_median"].get<double>() / v;
                add("LPM reference / hit", r, ">= 4", r >= 4);
            }
            if (const json *one = find("relayguard", c.id, small); one && small != big) {
                double r = v / (*one)["ns_median"].get<double>();
                add("hit at " + fmt_size(big) + " vs " + fmt_size(small), r, "<= 1.5", r <= 1.5);
            }
        }
        return out;
    }

    Options opt_;
    std::string include_;
    size_t targets_ = 0;
    json rows_ = json::array();
};

void print_table(const json &res)
{
    std::map<std::string, std::map<size_t, double>> table;  // name -> size -> ns
    std::vector<std::string> order;
    for (const json &r : res["rows"]) {
        std::string name = r["name"];
        if (!table.count(name))
            order.push_back(name);
        table[name][r["prefixes"].get<size_t>()] = r["ns_median"];
    }
    std::printf("%-62s", "ns per packet (median)");
    for (size_t n : res["sizes"])
        std::printf(" %9s", fmt_size(n).c_str());
    std::printf("\n");
    for (const std::string &name : order) {
        std::printf("%-62s", name.c_str());
        if (table[name].count(0)) {
            std::printf(" %9s\n", fmt_ns(table[name][0]).c_str());
            continue;
        }
        for (size_t n : res["sizes"]) {
            auto it = table[name].find(n);
            std::printf(" %9s", it == table[name].end() ? "-" : fmt_ns(it->second).c_str());
        }
        std::printf("\n");
    }
    std::printf("\ntargets (recorded, not asserted):\n");
    for (const json &r : res["ratios"])
        std::printf("  %-14s %-28s %6.2f  (target %s: %s)\n", r["case"].get<std::string>().c_str(),
                    r["ratio"].get<std::string>().c_str(), r["value"].get<double>(),
                    r["target"].get<std::string>().c_str(), r["met"].get<bool>() ? "met" : "not met");
}

} // namespace

int main(int argc, char **argv)
{
    CLI::App app{"Per-packet cost of relayguard vs a bare XDP_DROP and a plain LPM-trie lookup (BPF_PROG_RUN)"};
    Options opt;
    bool quick = false;
    app.add_flag("--quick", quick, "small lists and few repeats (CI: checks the harness, not the numbers)");
    app.add_option("--sizes", opt.sizes, "blocklist sizes in prefixes")->delimiter(',');
    app.add_option("--repeat", opt.repeat, "runs per BPF_PROG_RUN call")->check(CLI::Range(1u, 100000000u));
    app.add_option("--calls", opt.calls, "timed calls per row (the median is reported)")->check(CLI::Range(1u, 1000u));
    app.add_option("--out", opt.out, "write the results as JSON to this file");
    app.add_option("--gen-prefixes", opt.gen, "path of gen-prefixes.py");
    app.add_option("--seed", opt.seed, "seed of the generated lists");
    CLI11_PARSE(app, argc, argv);
    if (quick) {
        if (app.count("--sizes") == 0)
            opt.sizes = {1, 1000, 10000};
        if (app.count("--repeat") == 0)
            opt.repeat = 100000;
        if (app.count("--calls") == 0)
            opt.calls = 3;
    }
    std::sort(opt.sizes.begin(), opt.sizes.end());
    opt.sizes.erase(std::unique(opt.sizes.begin(), opt.sizes.end()), opt.sizes.end());
    if (opt.sizes.empty() || opt.sizes.front() == 0) {
        std::cerr << "rg-perpacket: --sizes must be positive\n";
        return 2;
    }
    try {
        json res = Bench(opt).run();
        res["quick"] = quick;
        print_table(res);
        if (!opt.out.empty()) {
            std::ofstream f(opt.out);
            f << res.dump(2) << "\n";
            if (!f)
                throw rg::Error("cannot write " + opt.out);
        }
        bool ok = true;
        for (const json &r : res["rows"])
            ok = ok && r["valid"].get<bool>();
        return ok ? 0 : 1;
    } catch (const std::exception &e) {
        std::cerr << "rg-perpacket: " << e.what() << "\n";
        return 1;
    }
}
