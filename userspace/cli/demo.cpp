// `relayguard demo`: the filter on a lab made of network namespaces, so it
// can be seen working without touching a real interface.
//
//   server ns  [rgdS<pid>] 192.0.2.1, 2001:db8:25::1
//              the lab's Postfix (tools/lab/postfix-lab.sh): closed relay for
//              lab.example on 25, submission with SASL on 587, its maillog
//              followed by relayguard watch (in this process);
//              or, where Postfix or swaks is missing, a built-in SMTP
//              listener on 25 and 2525
//        |  veth, relayguard attached here (protects 25 and 587)
//   client ns  [rgdC<pid>] 192.0.2.10                    clean (swaks, smtp-source)
//                          192.0.2.66 / 2001:db8:25::66  blocklisted as /27 and /120
//                          192.0.2.30                    tries to relay: banned by watch
//                          192.0.2.40                    hammers port 25: rate limited, banned
//                          2001:db8:25::10               allowlisted
// The clean address is added first, so it is the one smtp-source (which
// cannot choose its source address) sends from.
#include "attach.hpp"
#include "commands.hpp"
#include "error.hpp"
#include "hand_list.hpp"
#include "lab.hpp"
#include "log.hpp"
#include "log_source.hpp"
#include "log_watch.hpp"
#include "rate.hpp"
#include "cidr.hpp"
#include "duration.hpp"
#include "stats.hpp"
#include "text.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <optional>
#include <poll.h>
#include <pthread.h>
#include <iostream>
#include <random>
#include <regex>
#include <sstream>
#include <unistd.h>

namespace rg::cli {

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char *kServer4 = "192.0.2.1", *kServer6 = "2001:db8:25::1";
constexpr const char *kClean = "192.0.2.10", *kBlocked = "192.0.2.66", *kRelayer = "192.0.2.30",
                     *kHammer = "192.0.2.40", *kAllowed6 = "2001:db8:25::10", *kBlocked6 = "2001:db8:25::66";

// Polls fd until `done` holds or the timeout passes; `pump` reads what
// arrived. Returns whether `done` held. Waits on the descriptor, not on time.
bool await(int fd, const std::function<void()> &pump, const std::function<bool()> &done,
           std::chrono::milliseconds timeout)
{
    Clock::time_point deadline = Clock::now() + timeout;
    for (;;) {
        pump();  // data already there raises no event: read before the first poll
        if (done())
            return true;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0)
            return false;
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, int(left)) < 0 && errno != EINTR)
            throw_errno("poll", errno);
    }
}

// Postfix's maillog as it grows (followed as `relayguard watch` follows it).
class MailLog {
public:
    explicit MailLog(const std::string &path) : source_(open_log_file(path, StartAt::end)) {}
    size_t count(const std::string &needle)
    {
        drain();
        size_t n = 0;
        for (const std::string &l : lines_)
            n += l.find(needle) != std::string::npos;
        return n;
    }
    // The first line holding every needle, waited for up to the timeout.
    std::optional<std::string> wait_line(const std::vector<std::string> &needles, std::chrono::milliseconds timeout)
    {
        auto holds = [&](const std::string &l) {
            for (const std::string &n : needles)
                if (l.find(n) == std::string::npos)
                    return false;
            return true;
        };
        std::optional<std::string> found;
        await(source_->fd(), [&] { drain(); },
              [&] {
                  for (const std::string &l : lines_)
                      if (holds(l))
                          found = l;
                  return found.has_value();
              },
              timeout);
        return found;
    }
    // Waits until `needle` is in at least n lines; returns how many it is in.
    size_t wait_count(const std::string &needle, size_t n, std::chrono::milliseconds timeout)
    {
        size_t c = 0;
        await(source_->fd(), [&] { drain(); }, [&] { return (c = count(needle)) >= n; }, timeout);
        return c;
    }

private:
    void drain()
    {
        source_->read_lines([&](std::string_view l) { lines_.emplace_back(l); });
    }
    std::unique_ptr<LogSource> source_;
    std::vector<std::string> lines_;
};

// The server's reply line of a swaks transcript that contains `needle`
// (e.g. "queued as"), without swaks's arrow; empty if none.
std::string swaks_reply(const std::string &transcript, const std::string &needle)
{
    std::istringstream in(transcript);
    for (std::string line; std::getline(in, line);) {
        if (line.find(needle) == std::string::npos)
            continue;
        size_t start = line.find_first_not_of(" <-~*");
        return start == std::string::npos ? "" : line.substr(start);
    }
    return "";
}

// The part of a maillog line from "status=" on, shortened to its reason.
std::string delivery_status(const std::string &line)
{
    size_t at = line.find("status=");
    return at == std::string::npos ? line : line.substr(at);
}

std::string signed_delta(uint64_t before, uint64_t after)
{
    return "+" + std::to_string(after - before);
}

} // namespace

int demo(Options &o)
{
    if (geteuid() != 0)
        throw Error("the demo creates network namespaces and attaches XDP: run it as root");
    // The lab must be removed whatever happens: hold off Ctrl-C, SIGTERM and
    // SIGHUP until cleanup is done (a pending one is delivered then), and let
    // a closed stdout fail writes instead of killing the process. Children
    // (Postfix, swaks) start with a clean signal state (lab::spawn).
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
    const std::string missing = lab::postfix_lab_missing();
    const bool with_postfix = missing.empty();
    if (!with_postfix)
        log(LogLevel::notice,
            "note: demo: " + missing + "; running it with its built-in SMTP listener instead of Postfix");
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
    int failures = 0;
    auto step = [&](bool ok, const std::string &what) {
        failures += !ok;
        say(std::string(ok ? "  ok   " : "  FAIL ") + what);
    };

    lab::cleanup_stale("rgdS");
    lab::cleanup_stale("rgdC");
    lab::Netns server("rgdS" + pid), client("rgdC" + pid);
    const std::string srv_if = ("rgdS" + pid).substr(0, 15), cli_if = ("rgdC" + pid).substr(0, 15);
    lab::make_veth(server, srv_if, {"192.0.2.1/24", "2001:db8:25::1/64"}, client, cli_if,
                   {"192.0.2.10/24", "192.0.2.66/24", "192.0.2.30/24", "192.0.2.40/24", "2001:db8:25::10/64",
                    "2001:db8:25::66/64"});
    // Declared after the namespaces: stopped before they go.
    std::optional<lab::SmtpSink> sink;
    std::optional<lab::PostfixLab> postfix;
    const std::string password = "demo-" + pid + "-" + std::to_string(std::random_device{}());
    std::vector<uint16_t> ports;
    if (with_postfix) {
        postfix.emplace(server, std::string(kServer4) + "," + kServer6, "closed",
                        std::vector<std::string>{"submission", "checks"},
                        std::vector<std::string>{"LAB_SASL_PASSWORD=" + password});
        ports = {25, 587};
        std::string version = lab::run({"postconf", "-d", "-h", "mail_version"}).output;
        while (!version.empty() && version.back() == '\n')
            version.pop_back();
        say("lab: namespaces " + server.name() + " (Postfix " + version +
            ": closed relay for lab.example on 25, submission with SASL on 587; config, queue and maillog in " +
            postfix->dir() + ") and " + client.name() + " (clients), veth " + srv_if);
    } else {
        sink.emplace(server, std::vector<uint16_t>{25, 2525});
        ports = {25};
        say("lab: namespaces " + server.name() + " (SMTP listener on 25 and 2525) and " + client.name() +
            " (clients), veth " + srv_if);
    }

    bool attached = false;
    auto cleanup = [&] {
        if (attached)
            server.run([&] { detach(pin_dir, srv_if, false); });
        attached = false;
    };
    try {
        AttachResult res;
        server.run([&] {
            AttachOptions a;
            a.ifname = srv_if;
            a.ports = ports;
            res = attach(pin_dir, a);
        });
        attached = true;
        Maps maps = Maps::open(pin_dir);
        const StateDir state(default_state_dir(pin_dir));
        Lists lists(maps, state);
        HandList(lists, ListKind::block, RG_SOURCE_MANUAL)
            .add({parse_cidr("192.0.2.64/27").cidr, parse_cidr("2001:db8:25::/120").cidr});
        HandList(lists, ListKind::allow, RG_SOURCE_MANUAL).add({parse_cidr("2001:db8:25::10/128").cidr});
        say("relayguard: attached to " + srv_if + " (native XDP, " +
            (res.legacy ? "alone: this kernel refused libxdp's multi-program dispatcher"
                        : "through libxdp's multi-program dispatcher") +
            "), " + (with_postfix ? "ports 25 and 587" : "port 25") +
            " protected, blocklist 192.0.2.64/27 and 2001:db8:25::/120, allowlist 2001:db8:25::10");
        // SYNs counted under a verdict reason, all interfaces.
        auto syns = [&](uint32_t reason) { return maps.stats().total[reason].syn; };
        // Connection attempts that must die in XDP: timed out, the counter
        // risen, and (with Postfix) no trace of the source in the maillog.
        std::optional<MailLog> maillog;
        auto dropped = [&](const std::string &label, const std::string &src, const std::string &dst,
                           const std::vector<uint16_t> &to, uint32_t reason) {
            uint64_t before = syns(reason);
            size_t seen = maillog ? maillog->count("[" + src + "]") : 0;
            bool ok = true;
            std::string result, port_list;
            for (uint16_t port : to) {
                auto r = lab::connect_tcp(client, src, dst, port, 1500);
                ok &= r == lab::ConnectResult::timed_out;
                result = lab::connect_result_name(r);
                port_list += (port_list.empty() ? "" : ", ") + std::to_string(port);
            }
            uint64_t after = syns(reason);
            ok &= after > before;
            std::string evidence =
                std::string("reasons.") + rg_reason_info[reason].name + ".syns " + signed_delta(before, after);
            if (maillog) {
                size_t now = maillog->count("[" + src + "]");
                ok &= now == seen;
                if (now != seen)
                    evidence += ", but Postfix's maillog has " + std::to_string(now - seen) + " new line(s) of it";
                else if (seen)
                    evidence += ", no new line of it in Postfix's maillog (" + std::to_string(seen) + " before)";
                else
                    evidence += ", no line of it in Postfix's maillog";
            }
            step(ok, label + src + " -> port" + (to.size() > 1 ? "s " : " ") + port_list + ": " + result + " (" +
                         evidence + ")");
        };

        if (with_postfix) {
            maillog.emplace(postfix->maillog());
            // relayguard watch, in this process: follows the maillog as
            // `relayguard watch --log` does, with the built-in rules.
            std::vector<nlohmann::json> decisions;
            LogWatch watch(WatchConfig{}, pin_dir, state, open_log_file(postfix->maillog(), StartAt::end),
                           [&](const nlohmann::json &e) { decisions.push_back(e); });
            auto swaks = [&](const std::string &src, const std::string &rcpt, std::vector<std::string> extra) {
                std::vector<std::string> argv{"swaks", "--server", kServer4, "--local-interface", src,
                                              "--from", "sender@example.org", "--to", rcpt,
                                              "--helo", "client.example.org", "--timeout", "5"};
                argv.insert(argv.end(), extra.begin(), extra.end());
                return client.exec(argv).output;
            };
            // A clean mail, accepted and then delivered: Postfix's own word for it.
            auto deliver = [&](const std::string &how, std::vector<std::string> extra) {
                std::string out = swaks(kClean, "alice@lab.example", extra);
                std::string queued = swaks_reply(out, "queued as");
                std::smatch m;
                std::optional<std::string> sent;
                if (std::regex_search(queued, m, std::regex("queued as ([0-9A-Za-z]+)")))
                    sent = maillog->wait_line({m[1].str() + ": to=<alice@lab.example>", "status=sent"},
                                              std::chrono::seconds(10));
                step(sent.has_value(),
                     std::string("clean client     ") + kClean + " -> " + how + ": " +
                         (queued.empty() ? "not queued" : "\"" + queued + "\"") +
                         (sent ? ", maillog: " + delivery_status(*sent) : ", no status=sent in the maillog"));
            };
            deliver("port 25 (swaks)", {"--port", "25"});
            deliver("port 587 (swaks, SASL as alice@lab.example)",
                    {"--port", "587", "--auth", "LOGIN", "--auth-user", "alice@lab.example", "--auth-password",
                     password});
            size_t sent_before = maillog->count("status=sent");
            lab::CmdResult src = client.exec({"smtp-source", "-m", "3", "-s", "3", "-f", "sender@example.org", "-t",
                                              "alice@lab.example", "-M", "client.example.org",
                                              std::string(kServer4) + ":25"});
            size_t sent = maillog->wait_count("status=sent", sent_before + 3, std::chrono::seconds(10)) - sent_before;
            step(src.status == 0 && sent == 3,
                 std::string("clean client     ") + kClean + " -> port 25 (smtp-source): 3 mails in 3 sessions" +
                     (src.status == 0 ? "" : ", smtp-source failed: " + src.output) + ", maillog: " +
                     std::to_string(sent) + " more status=sent");

            dropped("blocklisted      ", kBlocked, kServer4, {25, 587}, RG_DROP_BLOCKLIST);
            std::string greeting;
            auto r = lab::connect_tcp(client, kAllowed6, kServer6, 25, 1500, &greeting);
            while (!greeting.empty() && (greeting.back() == '\n' || greeting.back() == '\r'))
                greeting.pop_back();
            step(r == lab::ConnectResult::connected && greeting.rfind("220 ", 0) == 0,
                 std::string("allowlisted (v6) ") + kAllowed6 + " -> port 25: " + lab::connect_result_name(r) +
                     (greeting.empty() ? "" : " (\"" + greeting + "\")"));
            dropped("blocklisted (v6) ", kBlocked6, kServer6, {25}, RG_DROP_BLOCKLIST);

            // An abuser tries to relay through the closed relay; Postfix
            // refuses, watch reads the refusals and bans it in the kernel.
            unsigned refused = 0;
            std::string refusal;
            for (int i = 1; i <= 3; i++) {
                std::string reply =
                    swaks_reply(swaks(kRelayer, "victim" + std::to_string(i) + "@example.net", {"--port", "25"}),
                                "Relay access denied");
                refused += !reply.empty();
                if (!reply.empty())
                    refusal = reply;
            }
            step(refused == 3, std::string("relaying client  ") + kRelayer + " -> port 25 (swaks): " +
                                   std::to_string(refused) + " of 3 relay attempts refused by Postfix" +
                                   (refusal.empty() ? "" : " (\"" + refusal + "\")"));
            bool banned_by_watch = await(watch.fd(), [&] { watch.read(); }, [&] { return !decisions.empty(); },
                                         std::chrono::seconds(10));
            bool in_kernel = false;
            for (const Ban &b : list_bans(maps))
                in_kernel |= b.cidr.str() == std::string(kRelayer) + "/32" && b.raw.reason == RG_BAN_WATCH;
            step(banned_by_watch && in_kernel,
                 "relayguard watch on the maillog: " +
                     (banned_by_watch ? describe_decision(decisions.front()) : std::string("no ban within 10 s")) +
                     (in_kernel ? " (bans list: " + std::string(kRelayer) + "/32, watch)" : " (not in the kernel)"));
            dropped("banned client    ", kRelayer, kServer4, {25}, RG_DROP_BANNED);
        } else {
            struct Attempt {
                const char *label;
                const char *src;
                const char *dst;
                uint16_t port;
                lab::ConnectResult expect;
            };
            const Attempt attempts[] = {
                {"clean client     ", kClean, kServer4, 25, lab::ConnectResult::connected},
                {"blocklisted      ", kBlocked, kServer4, 25, lab::ConnectResult::timed_out},
                {"blocklisted      ", kBlocked, kServer4, 2525, lab::ConnectResult::connected},
                {"allowlisted (v6) ", kAllowed6, kServer6, 25, lab::ConnectResult::connected},
                {"blocklisted (v6) ", kBlocked6, kServer6, 25, lab::ConnectResult::timed_out},
            };
            for (const Attempt &t : attempts) {
                std::string greeting;
                auto r = lab::connect_tcp(client, t.src, t.dst, t.port, 1500, &greeting);
                while (!greeting.empty() && (greeting.back() == '\n' || greeting.back() == '\r'))
                    greeting.pop_back();
                step(r == t.expect, std::string(t.label) + t.src + " -> port " + std::to_string(t.port) + ": " +
                                        lab::connect_result_name(r) +
                                        (greeting.empty() ? "" : " (\"" + greeting + "\")"));
            }
        }

        // Rate limiting: a client hammers port 25.
        RateSettings rs;
        rs.enabled = true;
        rs.interval_ns = parse_rate("1/s");
        rs.burst = 3;
        rs.ban_after = 2;
        rs.ban_ttl = std::chrono::minutes(10);
        apply_rate(maps, rs);
        say("relayguard: rate limit 1/s per source, burst 3; more than 2 SYNs over budget ban the source for 10m");
        lab::PacedResult burst =
            lab::connect_paced(client, kHammer, kServer4, 25, 10, std::chrono::milliseconds(20));
        step(burst.connected == 3, std::string("hammering client ") + kHammer + " -> port 25: " +
                                       std::to_string(burst.attempts) + " connections in " +
                                       std::to_string(int(burst.span_seconds * 1000)) + " ms, " +
                                       std::to_string(burst.connected) + " accepted (the burst), the rest dropped");
        bool banned = false;
        for (const Ban &b : list_bans(maps))
            banned |= b.cidr.str() == std::string(kHammer) + "/32" && b.raw.reason == RG_BAN_RATELIMIT;
        auto after = lab::connect_tcp(client, kHammer, kServer4, 25, 1500);
        step(banned && after == lab::ConnectResult::timed_out,
             std::string("banned client    ") + kHammer + " -> port 25: " + lab::connect_result_name(after) +
                 (banned ? " (bans list: " + std::string(kHammer) + "/32, ratelimit)" : " (no ban)"));

        say("counters (relayguard stats --json):");
        std::cout << json_text(stats_json(read_stats(maps, state)), 2) << std::endl;
    } catch (...) {
        cleanup();
        throw;
    }
    cleanup();
    say(failures ? "demo: " + std::to_string(failures) + " unexpected result(s)"
                 : "demo: everything behaved as expected; lab removed");
    return failures ? 1 : 0;
}

} // namespace rg::cli
