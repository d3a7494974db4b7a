#include "daemon.hpp"

#include "attach.hpp"
#include "bpffs.hpp"
#include "config.hpp"
#include "error.hpp"
#include "filter.hpp"
#include "rate.hpp"
#include "stats.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <net/if.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <set>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

using nlohmann::json;

namespace rg {

namespace {

constexpr int kBanGcSeconds = 30;

void log(const std::string &msg)
{
    std::cerr << "relayguard: " << msg << std::endl;
}

// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET.
void notify(const std::string &state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return;
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    size_t len = strlen(path);
    if (len >= sizeof(addr.sun_path) || (path[0] != '/' && path[0] != '@'))
        return;
    memcpy(addr.sun_path, path, len);
    if (path[0] == '@')
        addr.sun_path[0] = '\0';  // abstract namespace
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<struct sockaddr *>(&addr),
           socklen_t(offsetof(struct sockaddr_un, sun_path) + len));
    close(fd);
}

Fd make_timer(Duration period)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (fd < 0)
        throw_errno("timerfd_create", errno);
    struct itimerspec its {};
    its.it_interval.tv_sec = period.count() / 1000;
    its.it_interval.tv_nsec = (period.count() % 1000) * 1000000;
    its.it_value = its.it_interval;
    if (timerfd_settime(fd, 0, &its, nullptr) != 0)
        throw_errno("timerfd_settime", errno);
    return Fd(fd);
}

void drain(int fd)
{
    uint64_t buf;
    while (read(fd, &buf, sizeof(buf)) > 0) {
    }
}

// Entries this source lists, compared with what the config wants: additions
// first, then removals, so an entry in both is never absent.
struct ListChange {
    size_t added = 0, removed = 0;
};

ListChange sync_list(Maps &maps, ListKind kind, const std::vector<Cidr> &want)
{
    std::set<Cidr> have;
    for (const Rule &r : maps.rules(kind))
        if (r.sources >> RG_SOURCE_CONFIG & 1)
            have.insert(r.cidr);
    std::set<Cidr> wanted(want.begin(), want.end());
    ListChange ch;
    for (const Cidr &c : wanted)
        if (!have.count(c))
            ch.added += maps.add_rule(kind, c, RG_SOURCE_CONFIG);
    for (const Cidr &c : have)
        if (!wanted.count(c))
            ch.removed += maps.del_rule(kind, c, RG_SOURCE_CONFIG);
    return ch;
}

class Daemon {
public:
    explicit Daemon(const DaemonOptions &opts) : opts_(opts) {}

    void start();
    void loop();

private:
    void check(const Config &next, const Config *prev) const;
    std::string apply_shared(const Config &next);
    std::vector<std::string> attach_missing(const Config &next);
    void reload();
    void stop();
    void write_stats();
    void open_stats_output();
    void gc_bans();

    DaemonOptions opts_;
    Config cfg_;
    unsigned generation_ = 0;
    std::set<std::string> managed_;  // interfaces this daemon attached or adopted
    bool maps_created_ = false;      // this daemon made the pinned maps
    std::ofstream stats_file_;
    std::ostream *stats_out_ = &std::cout;
    Fd sigfd_, stats_timer_, gc_timer_;
};

// Everything that can be checked before changing anything.
void Daemon::check(const Config &next, const Config *prev) const
{
    for (const std::string &name : next.interfaces)
        if (if_nametoindex(name.c_str()) == 0)
            throw Error(next.path + ": [filter] interfaces: \"" + name +
                        "\": no such interface in this network namespace");
    validate_rate(next.rate);
    if (!prev)
        return;
    if (next.pin_dir != prev->pin_dir)
        throw Error(next.path + ": [daemon] pin_dir: cannot change while running (restart the daemon)");
    if (next.xdp_mode != prev->xdp_mode)
        throw Error(next.path + ": [filter] xdp_mode: cannot change while running (restart the daemon)");
}

// Ports, mode, rate and lists, in one locked step. Returns a summary.
std::string Daemon::apply_shared(const Config &next)
{
    ensure_bpffs_dir(next.pin_dir);
    DirLock lock(next.pin_dir);
    bool created = false;
    Maps maps = Maps::open_or_create(next.pin_dir, &created);
    maps_created_ |= created;
    // Lists first: when ports or mode tighten, the rules are already there.
    ListChange allow = sync_list(maps, ListKind::allow, next.allow);
    ListChange block = sync_list(maps, ListKind::block, next.block);
    maps.set_ports(next.ports);
    maps.set_monitor(next.monitor);
    RateSettings old_rate = rate_settings(maps);
    apply_rate(maps, next.rate);
    return "allowlist +" + std::to_string(allow.added) + " -" + std::to_string(allow.removed) + ", blocklist +" +
           std::to_string(block.added) + " -" + std::to_string(block.removed) +
           (old_rate == next.rate ? "" : ", rate settings changed") + (created ? ", maps created" : "");
}

// Attaches to the configured interfaces not yet managed; returns the ones it
// attached (not the adopted ones).
std::vector<std::string> Daemon::attach_missing(const Config &next)
{
    std::vector<std::string> attached;
    for (const std::string &name : next.interfaces) {
        if (managed_.count(name))
            continue;
        if (is_bpffs(next.pin_dir)) {
            Maps maps = Maps::open(next.pin_dir);
            if (auto e = maps.find_iface(name); e && query_live(*e).attached) {
                managed_.insert(name);
                log("interface " + name + ": already attached (program id " + std::to_string(e->raw.prog_id) +
                    "), adopting it");
                continue;
            }
        }
        AttachOptions a;
        a.ifname = name;
        a.mode = next.xdp_mode;
        AttachResult r = attach(next.pin_dir, a);
        managed_.insert(name);
        attached.push_back(name);
        log("interface " + name + ": attached (program id " + std::to_string(r.prog_id) + ", " +
            (next.xdp_mode == XdpMode::native ? "native" : "skb") + " mode" +
            (r.legacy ? ", without the libxdp dispatcher" : "") + ")");
    }
    return attached;
}

void Daemon::open_stats_output()
{
    if (cfg_.stats_output == "-") {
        stats_file_.close();
        stats_out_ = &std::cout;
        return;
    }
    std::ofstream f(cfg_.stats_output, std::ios::app);
    if (!f)
        throw Error(cfg_.path + ": [daemon] stats_output: cannot open " + cfg_.stats_output + ": " +
                    strerror(errno));
    stats_file_ = std::move(f);
    stats_out_ = &stats_file_;
}

void Daemon::start()
{
    cfg_ = load_config(opts_.config_path);
    check(cfg_, nullptr);
    bool had_maps = is_bpffs(cfg_.pin_dir) && Maps::open(cfg_.pin_dir).ifaces().size() > 0;
    try {
        open_stats_output();
        log("config " + cfg_.path + ": " + apply_shared(cfg_));
        attach_missing(cfg_);
    } catch (...) {
        // Leave nothing half-started behind: detach what we attached, and
        // remove the maps if this start made them.
        for (const std::string &name : managed_)
            try {
                detach(cfg_.pin_dir, name, had_maps);
            } catch (...) {
            }
        try {
            if (maps_created_ && is_bpffs(cfg_.pin_dir)) {
                DirLock lock(cfg_.pin_dir);
                Maps maps = Maps::open(cfg_.pin_dir);
                if (maps.ifaces().empty())
                    maps.remove_pins();
            }
        } catch (...) {
        }
        throw;
    }
    generation_ = 1;

    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGHUP, SIGTERM, SIGINT})
        sigaddset(&set, sig);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        throw_errno("signalfd", errno);
    sigfd_ = Fd(sfd);
    if (cfg_.stats_interval.count() > 0)
        stats_timer_ = make_timer(cfg_.stats_interval);
    gc_timer_ = make_timer(std::chrono::seconds(kBanGcSeconds));
    notify("READY=1\nSTATUS=running, config generation 1");
    log("running on " + std::to_string(managed_.size()) + " interfaces, " + (cfg_.monitor ? "monitor" : "enforce") +
        " mode, rate limiting " + (cfg_.rate.enabled ? "on" : "off"));
}

void Daemon::reload()
{
    notify("RELOADING=1");
    try {
        Config next = load_config(opts_.config_path);
        check(next, &cfg_);
        std::string summary;
        std::vector<std::string> attached;
        try {
            summary = apply_shared(next);
            attached = attach_missing(next);
        } catch (...) {
            // Roll back to the running config: detach what this reload
            // attached, re-apply the running lists, ports, mode and rate.
            for (const std::string &name : attached) {
                try {
                    detach(next.pin_dir, name, true);
                } catch (const std::exception &e) {
                    log("rollback: interface " + name + ": " + e.what());
                }
                managed_.erase(name);
            }
            try {
                apply_shared(cfg_);
            } catch (const std::exception &e) {
                log(std::string("rollback failed, the kernel may hold part of the new config: ") + e.what());
            }
            throw;
        }
        // Interfaces no longer configured are detached last (keeping the
        // maps); a failure there is reported but does not undo the reload.
        for (auto it = managed_.begin(); it != managed_.end();) {
            if (std::find(next.interfaces.begin(), next.interfaces.end(), *it) != next.interfaces.end()) {
                ++it;
                continue;
            }
            try {
                detach(next.pin_dir, *it, true);
                log("interface " + *it + ": detached (no longer in the config)");
                it = managed_.erase(it);
            } catch (const std::exception &e) {
                log("interface " + *it + ": cannot detach: " + e.what());
                ++it;
            }
        }
        bool timer_changed = next.stats_interval != cfg_.stats_interval;
        cfg_ = std::move(next);
        if (timer_changed)
            stats_timer_ = cfg_.stats_interval.count() > 0 ? make_timer(cfg_.stats_interval) : Fd();
        generation_++;
        log("reloaded " + cfg_.path + ": " + summary);
        notify("READY=1\nSTATUS=running, config generation " + std::to_string(generation_));
    } catch (const std::exception &e) {
        log(std::string("reload failed, the running configuration stays in force: ") + e.what());
        notify("READY=1\nSTATUS=reload failed, running config generation " + std::to_string(generation_) + ": " +
               e.what());
    }
    // Reopen the stats file either way (log rotation sends SIGHUP too).
    try {
        open_stats_output();
    } catch (const std::exception &e) {
        log(e.what());
    }
}

void Daemon::write_stats()
{
    try {
        Maps maps = Maps::open(cfg_.pin_dir);
        StatsSnapshot snap = maps.stats();
        json ifaces = json::array();
        for (const IfaceEntry &e : maps.ifaces())
            ifaces.push_back({{"name", e.name()}, {"counters", counters_json(snap.slots.at(e.slot))}});
        uint64_t now = boottime_ns();
        size_t bans = 0;
        for (const Ban &b : list_bans(maps))
            bans += !b.expired(now);
        json line = {{"time", uint64_t(time(nullptr))},
                     {"event", "stats"},
                     {"generation", generation_},
                     {"mode", maps.monitor() ? "monitor" : "enforce"},
                     {"counters", counters_json(snap.total)},
                     {"interfaces", ifaces},
                     {"bans", bans}};
        *stats_out_ << line.dump() << std::endl;
    } catch (const std::exception &e) {
        log(std::string("cannot write counters: ") + e.what());
    }
}

void Daemon::gc_bans()
{
    try {
        DirLock lock(cfg_.pin_dir);
        Maps maps = Maps::open(cfg_.pin_dir);
        expire_bans(maps, boottime_ns());
    } catch (const std::exception &e) {
        log(std::string("cannot remove expired bans: ") + e.what());
    }
}

void Daemon::stop()
{
    notify("STOPPING=1");
    bool keep = opts_.keep_enforcing || cfg_.keep_on_exit;
    if (keep) {
        log("stopping; the filter stays attached and enforcing on " + std::to_string(managed_.size()) +
            " interfaces");
        return;
    }
    for (const std::string &name : managed_) {
        try {
            DetachResult r = detach(cfg_.pin_dir, name, false);
            log("interface " + name + ": detached" + (r.pins_removed ? "; pinned maps removed" : ""));
        } catch (const std::exception &e) {
            log("interface " + name + ": " + e.what());
        }
    }
}

void Daemon::loop()
{
    for (;;) {
        struct pollfd fds[3] = {{sigfd_.get(), POLLIN, 0}, {stats_timer_.get(), POLLIN, 0}, {gc_timer_.get(), POLLIN, 0}};
        if (poll(fds, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            throw_errno("poll", errno);
        }
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sigfd_.get(), &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGHUP) {
                    reload();
                } else {
                    log(std::string("received ") + strsignal(int(si.ssi_signo)));
                    stop();
                    return;
                }
            }
        }
        if (fds[1].revents & POLLIN) {
            drain(stats_timer_.get());
            write_stats();
        }
        if (fds[2].revents & POLLIN) {
            drain(gc_timer_.get());
            gc_bans();
        }
    }
}

} // namespace

int run_daemon(const DaemonOptions &opts)
{
    Daemon d(opts);
    d.start();
    d.loop();
    return 0;
}

} // namespace rg
