// `relayguard demo`: the filter on a lab made of network namespaces, so it
// can be seen working without touching a real interface.
//
//   server ns  [rgdS<pid>] 192.0.2.1, 2001:db8:25::1   SMTP listener on 25 and 2525
//        |  veth, relayguard attached here (protects port 25)
//   client ns  [rgdC<pid>] 192.0.2.10 / 2001:db8:25::10 (clean; later rate limited and banned)
//                          192.0.2.66 / 2001:db8:25::66 (blocklisted as /27 and /120)
#include "attach.hpp"
#include "commands.hpp"
#include "error.hpp"
#include "hand_list.hpp"
#include "lab.hpp"
#include "rate.hpp"
#include "cidr.hpp"
#include "duration.hpp"
#include "stats.hpp"
#include "text.hpp"

#include <csignal>
#include <cstdlib>
#include <pthread.h>
#include <iostream>
#include <unistd.h>

namespace rg::cli {

int demo(Options &o)
{
    if (geteuid() != 0)
        throw Error("the demo creates network namespaces and attaches XDP: run it as root");
    // The lab must be removed whatever happens: hold off Ctrl-C, SIGTERM and
    // SIGHUP until cleanup is done (a pending one is delivered then), and let
    // a closed stdout fail writes instead of killing the process.
    struct SignalDefer {
        sigset_t old;
        SignalDefer()
        {
            sigset_t set;
            sigemptyset(&set);
            for (int sig : {SIGINT, SIGTERM, SIGHUP})
                sigaddset(&set, sig);
            pthread_sigmask(SIG_BLOCK, &set, &old);
            signal(SIGPIPE, SIG_IGN);
        }
        ~SignalDefer() { pthread_sigmask(SIG_SETMASK, &old, nullptr); }
    } defer;
    const std::string pid = std::to_string(getpid());
    // A private bpffs for the demo's pins and libxdp's state: a filter
    // already running on this host is not touched, and nothing is left behind.
    lab::TempBpffs bpffs;
    const std::string pin_dir = bpffs.pin_dir();
    setenv("LIBXDP_BPFFS", bpffs.root().c_str(), 1);
    const bool quiet = o.json;
    auto say = [&](const std::string &line) {
        if (!quiet)
            std::cout << line << std::endl;
    };

    lab::cleanup_stale("rgdS");
    lab::cleanup_stale("rgdC");
    lab::Netns server("rgdS" + pid), client("rgdC" + pid);
    const std::string srv_if = ("rgdS" + pid).substr(0, 15), cli_if = ("rgdC" + pid).substr(0, 15);
    lab::make_veth(server, srv_if, {"192.0.2.1/24", "2001:db8:25::1/64"}, client, cli_if,
                   {"192.0.2.10/24", "192.0.2.66/24", "2001:db8:25::10/64", "2001:db8:25::66/64"});
    lab::SmtpSink sink(server, {25, 2525});
    say("lab: namespaces " + server.name() + " (SMTP server) and " + client.name() + " (clients), veth " + srv_if);

    bool attached = false;
    auto cleanup = [&] {
        if (attached)
            server.run([&] { detach(pin_dir, srv_if, false); });
        attached = false;
    };
    int failures = 0;
    try {
        AttachResult res;
        server.run([&] {
            AttachOptions a;
            a.ifname = srv_if;
            a.ports = std::vector<uint16_t>{25};
            res = attach(pin_dir, a);
        });
        attached = true;
        Maps maps = Maps::open(pin_dir);
        Lists lists(maps, StateDir(default_state_dir(pin_dir)));
        HandList(lists, ListKind::block, RG_SOURCE_MANUAL)
            .add({parse_cidr("192.0.2.64/27").cidr, parse_cidr("2001:db8:25::/120").cidr});
        HandList(lists, ListKind::allow, RG_SOURCE_MANUAL).add({parse_cidr("2001:db8:25::10/128").cidr});
        say("relayguard: attached to " + srv_if + " (native XDP, " +
            (res.legacy ? "alone: this kernel refused libxdp's multi-program dispatcher"
                        : "through libxdp's multi-program dispatcher") +
            "), port 25 protected, blocklist 192.0.2.64/27 and 2001:db8:25::/120, "
            "allowlist 2001:db8:25::10");

        struct Attempt {
            const char *label;
            const char *src;
            const char *dst;
            uint16_t port;
            lab::ConnectResult expect;
        };
        const Attempt attempts[] = {
            {"clean client     ", "192.0.2.10", "192.0.2.1", 25, lab::ConnectResult::connected},
            {"blocklisted      ", "192.0.2.66", "192.0.2.1", 25, lab::ConnectResult::timed_out},
            {"blocklisted      ", "192.0.2.66", "192.0.2.1", 2525, lab::ConnectResult::connected},
            {"allowlisted (v6) ", "2001:db8:25::10", "2001:db8:25::1", 25, lab::ConnectResult::connected},
            {"blocklisted (v6) ", "2001:db8:25::66", "2001:db8:25::1", 25, lab::ConnectResult::timed_out},
        };
        for (const Attempt &t : attempts) {
            std::string greeting;
            auto r = lab::connect_tcp(client, t.src, t.dst, t.port, 1500, &greeting);
            while (!greeting.empty() && (greeting.back() == '\n' || greeting.back() == '\r'))
                greeting.pop_back();
            bool ok = r == t.expect;
            failures += !ok;
            say(std::string(ok ? "  ok   " : "  FAIL ") + t.label + t.src + " -> port " +
                std::to_string(t.port) + ": " + lab::connect_result_name(r) +
                (greeting.empty() ? "" : " (\"" + greeting + "\")"));
        }

        // Rate limiting: the clean client hammers port 25.
        RateSettings rs;
        rs.enabled = true;
        rs.interval_ns = parse_rate("1/s");
        rs.burst = 3;
        rs.ban_after = 2;
        rs.ban_ttl = std::chrono::minutes(10);
        apply_rate(maps, rs);
        say("relayguard: rate limit 1/s per source, burst 3; more than 2 SYNs over budget ban the source for 10m");
        lab::PacedResult burst =
            lab::connect_paced(client, "192.0.2.10", "192.0.2.1", 25, 10, std::chrono::milliseconds(20));
        bool burst_ok = burst.connected == 3;
        failures += !burst_ok;
        say(std::string(burst_ok ? "  ok   " : "  FAIL ") + "hammering client 192.0.2.10 -> port 25: " +
            std::to_string(burst.attempts) + " connections in " + std::to_string(int(burst.span_seconds * 1000)) +
            " ms, " + std::to_string(burst.connected) + " accepted (the burst), the rest dropped");
        bool banned = false;
        for (const Ban &b : list_bans(maps))
            banned |= b.cidr.str() == "192.0.2.10/32" && b.raw.reason == RG_BAN_RATELIMIT;
        auto after = lab::connect_tcp(client, "192.0.2.10", "192.0.2.1", 25, 1500);
        bool ban_ok = banned && after == lab::ConnectResult::timed_out;
        failures += !ban_ok;
        say(std::string(ban_ok ? "  ok   " : "  FAIL ") + "banned client    192.0.2.10 -> port 25: " +
            lab::connect_result_name(after) + (banned ? " (relayguard bans list: 192.0.2.10/32, ratelimit)" : " (no ban)"));

        nlohmann::json j = counters_json(maps.stats().total);
        say("counters (relayguard stats --json):");
        std::cout << json_text(nlohmann::json({{"counters", j}}), 2) << std::endl;
    } catch (...) {
        cleanup();
        throw;
    }
    cleanup();
    say(failures ? "demo: " + std::to_string(failures) + " unexpected result(s)"
                 : "demo: all connections behaved as expected; lab removed");
    return failures ? 1 : 0;
}

} // namespace rg::cli
