// rg-egresscost: what the egress program (bpf/egress.h) costs.
//
//  rg-egresscost perpacket [--quick] [--repeat N] [--calls N] [--out FILE]
//    ns per packet with BPF_PROG_RUN on the TC program, one row per case
//    below; each row gets its own relayguard (tools/bench/common) with the
//    egress program of its slot. A row is valid only if every call gave the
//    expected TC verdict and the egress counters moved by exactly the timed
//    packets (syns; capped for the capped row; nothing for the rows the
//    program leaves alone).
//
//  rg-egresscost flood --seconds S [--destinations N]
//    The sender of tools/bench/egress/egress: from the namespace it runs in,
//    sends TCP SYNs to port 25 through a raw IPv4 socket (so they take the
//    IP output path: netfilter's output hook, then the interface's TC
//    egress) as fast as one thread can for S seconds, to N destinations in
//    198.18.0.0/15 (one /24 each, cycled). Prints {"sent", "seconds"}.
#include "egress.hpp"
#include "error.hpp"
#include "packet_builder.hpp"
#include "prog_run.hpp"

#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace {

using rg::bench::Bytes;
using rg::bench::json;
using rg::bench::Timing;
using rg::test::PacketBuilder;
namespace tf = rg::test::tcp_flags;

constexpr const char *kSender4 = "198.51.100.25", *kSender6 = "2001:db8:25::25";

enum class Counts { syn, capped, none };

struct Case {
    std::string id, name;
    Bytes pkt;
    bool spoof = false;  // a new destination per packet (rg_test_spoof)
    bool cap = false;    // cap mode, 1/h burst 1: every timed SYN is over budget
    int verdict = TC_ACT_UNSPEC;
    Counts counts = Counts::syn;
};

Bytes syn_to(const char *src, const char *dst, uint16_t port, uint8_t flags = tf::SYN)
{
    PacketBuilder b;
    b.eth();
    if (std::strchr(src, ':'))
        b.ipv6(src, dst);
    else
        b.ipv4(src, dst);
    return b.tcp(40000, port).flags(flags).build();
}

std::vector<Case> cases()
{
    return {
        {"v4-syn", "IPv4 SYN to port 25, one destination (counted)", syn_to(kSender4, "203.0.113.25", 25)},
        {"v6-syn", "IPv6 SYN to port 25, one destination (counted)", syn_to(kSender6, "2001:db8:ff::25", 25)},
        {"v4-syn-new-dst", "IPv4 SYN to port 25, a new destination each, 512 /24s (counted)",
         syn_to(kSender4, "203.0.113.25", 25), true},
        {"v4-syn-capped", "IPv4 SYN to port 25 over the budget (cap: dropped)", syn_to(kSender4, "203.0.113.25", 25),
         false, true, TC_ACT_SHOT, Counts::capped},
        {"v4-syn-443", "IPv4 SYN to port 443 (not watched)", syn_to(kSender4, "203.0.113.25", 443), false, false,
         TC_ACT_UNSPEC, Counts::none},
        {"v4-ack", "IPv4 ACK to port 25 (not a SYN)", syn_to(kSender4, "203.0.113.25", 25, tf::ACK), false, false,
         TC_ACT_UNSPEC, Counts::none},
    };
}

const char *tc_name(int v)
{
    return v == TC_ACT_UNSPEC ? "TC_ACT_UNSPEC" : v == TC_ACT_SHOT ? "TC_ACT_SHOT" : v == TC_ACT_OK ? "TC_ACT_OK" : "?";
}

json perpacket(const rg::bench::RunOptions &opt)
{
    json rows = json::array();
    for (const Case &c : cases()) {
        rg::bench::Relayguard rg;
        if (c.cap)
            rg::apply_egress(rg.maps(), {.ports = {25}, .interval_ns = 3600ull * 1000000000, .burst = 1});
        rg::Program prog(rg.maps(), rg::bench::kSlot, false, rg::ProgramKind::egress);
        prog.set_egress_cap(c.cap);
        prog.set_test_spoof(c.spoof);
        prog.load();
        rg::EgressSnapshot before;
        Timing t = rg::bench::measure(prog.prog_fd(), c.pkt, opt.repeat, opt.calls,
                                      [&] { before = rg::read_egress_totals(rg.maps()); });
        rg::EgressSnapshot after = rg::read_egress_totals(rg.maps());
        json row = rg::bench::timing_fields(t, c.verdict, std::nullopt);
        row["id"] = c.id;
        row["name"] = c.name;
        row["verdict"] = tc_name(t.verdicts.back());
        row["expected_verdict"] = tc_name(c.verdict);
        const uint64_t syns = after.syns - before.syns, capped = after.capped - before.capped;
        const uint64_t want_syns = c.counts == Counts::none ? 0 : t.packets();
        const uint64_t want_capped = c.counts == Counts::capped ? t.packets() : 0;
        row["counted_syns"] = syns;
        row["counted_capped"] = capped;
        if (row["valid"].get<bool>() && (syns != want_syns || capped != want_capped)) {
            row["valid"] = false;
            row["why_invalid"] = std::to_string(syns) + " syns and " + std::to_string(capped) +
                                 " capped counted, expected " + std::to_string(want_syns) + " and " +
                                 std::to_string(want_capped);
        }
        std::cerr << "rg-egresscost: " << c.name << ": " << rg::bench::fmt_ns(t.median()) << " ns\n";
        rows.push_back(row);
    }
    return {{"rows", rows}};
}

void print_perpacket(const json &res)
{
    std::printf("%-58s %10s\n", "egress program, ns per packet (median)", "ns");
    for (const json &r : res["rows"])
        std::printf("%-58s %10s%s\n", r["name"].get<std::string>().c_str(),
                    rg::bench::fmt_ns(r["ns_median"].get<double>()).c_str(), r["valid"].get<bool>() ? "" : "  INVALID");
}

// The 16-bit ones' complement sum of TCP over IPv4 (with its pseudo-header).
uint16_t tcp_checksum(const uint8_t *ip, const uint8_t *tcp, size_t len)
{
    uint32_t sum = 0;
    auto add = [&](const uint8_t *p, size_t n) {
        for (size_t i = 0; i + 1 < n; i += 2)
            sum += uint32_t(p[i]) << 8 | p[i + 1];
        if (n & 1)
            sum += uint32_t(p[n - 1]) << 8;
    };
    add(ip + 12, 8);  // source and destination
    sum += IPPROTO_TCP + uint32_t(len);
    add(tcp, len);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

int flood(double seconds, unsigned destinations, const std::string &src)
{
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);  // IP_HDRINCL: we write the IPv4 header
    if (fd < 0)
        throw rg::Error(std::string("raw socket: ") + std::strerror(errno));
    constexpr size_t kLen = 40, kBatch = 64;
    std::vector<std::array<uint8_t, kLen>> pkts(destinations);
    std::vector<sockaddr_in> to(destinations);
    in_addr s{};
    if (inet_pton(AF_INET, src.c_str(), &s) != 1)
        throw rg::Error("--source " + src + ": not an IPv4 address");
    for (unsigned i = 0; i < destinations; i++) {
        uint8_t *ip = pkts[i].data(), *tcp = ip + 20;
        std::memset(ip, 0, kLen);
        uint32_t d = htonl((198u << 24 | 18u << 16) + ((i * 263u) % 512u) * 256u + 25u);  // one /24 each
        ip[0] = 0x45;
        ip[8] = 64;
        ip[9] = IPPROTO_TCP;
        std::memcpy(ip + 12, &s, 4);
        std::memcpy(ip + 16, &d, 4);
        uint16_t sport = htons(uint16_t(20000 + i % 40000)), dport = htons(25), cs;
        std::memcpy(tcp, &sport, 2);
        std::memcpy(tcp + 2, &dport, 2);
        tcp[12] = 5 << 4;      // data offset
        tcp[13] = 0x02;        // SYN
        tcp[14] = 0xff;        // window
        cs = htons(tcp_checksum(ip, tcp, 20));
        std::memcpy(tcp + 16, &cs, 2);
        to[i] = sockaddr_in{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {d}, .sin_zero = {}};
    }
    std::vector<mmsghdr> msgs(kBatch);
    std::vector<iovec> iov(kBatch);
    uint64_t sent = 0;
    unsigned next = 0;
    auto t0 = std::chrono::steady_clock::now();
    auto end = t0 + std::chrono::duration<double>(seconds);
    for (;;) {
        for (size_t k = 0; k < kBatch; k++, next = (next + 1) % destinations) {
            iov[k] = {pkts[next].data(), kLen};
            msgs[k] = {};
            msgs[k].msg_hdr.msg_iov = &iov[k];
            msgs[k].msg_hdr.msg_iovlen = 1;
            msgs[k].msg_hdr.msg_name = &to[next];
            msgs[k].msg_hdr.msg_namelen = sizeof(to[next]);
        }
        int n = sendmmsg(fd, msgs.data(), kBatch, 0);
        if (n < 0 && errno != ENOBUFS && errno != EAGAIN)
            throw rg::Error(std::string("sendmmsg: ") + std::strerror(errno));
        if (n > 0)
            sent += uint64_t(n);
        if ((sent & 0x3ff) < kBatch && std::chrono::steady_clock::now() >= end)
            break;
    }
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    close(fd);
    std::cout << json{{"sent", sent}, {"seconds", took}}.dump() << "\n";
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    CLI::App app{"What the egress program costs: per packet (BPF_PROG_RUN) and the sender of an outbound flood"};
    app.require_subcommand(1);
    CLI::App *pp = app.add_subcommand("perpacket", "ns per packet with BPF_PROG_RUN");
    rg::bench::RunOptions opt(1000000, 10);
    rg::bench::add_run_options(*pp, opt, "few repeats and calls (checks the harness, not the numbers)", 1000000);
    CLI::App *fl = app.add_subcommand("flood", "send raw SYNs to port 25 for a while (run inside a namespace)");
    double seconds = 3;
    unsigned destinations = 512;
    std::string source = "198.51.100.1";
    fl->add_option("--seconds", seconds, "how long")->check(CLI::Range(0.1, 600.0))->capture_default_str();
    fl->add_option("--destinations", destinations, "distinct destinations, cycled")
        ->check(CLI::Range(1u, 512u))->capture_default_str();
    fl->add_option("--source", source, "the SYNs' source address (one of the namespace's)")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    if (*pp) {
        rg::bench::quick_runs(*pp, opt, 20000, 3);
        return rg::bench::run_bench("egress-perpacket", opt, [&] { return perpacket(opt); }, print_perpacket);
    }
    try {
        return flood(seconds, destinations, source);
    } catch (const std::exception &e) {
        std::cerr << "rg-egresscost flood: " << e.what() << "\n";
        return 1;
    }
}
