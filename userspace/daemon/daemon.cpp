#include "daemon.hpp"

#include "alerts.hpp"
#include "attach.hpp"
#include "egress.hpp"
#include "bpffs.hpp"
#include "config.hpp"
#include "daemon_metrics.hpp"
#include "crowdsec_source.hpp"
#include "error.hpp"
#include "event_ring.hpp"
#include "events.hpp"
#include "feed_registry.hpp"
#include "feed_sync.hpp"
#include "hand_list.hpp"
#include "kernel_bans.hpp"
#include "link_watch.hpp"
#include "log.hpp"
#include "log_watch.hpp"
#include "maps.hpp"
#include "metrics.hpp"
#include "rate.hpp"
#include "stats.hpp"
#include "text.hpp"

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <httplib.h>
#include <iostream>
#include <map>
#include <net/if.h>
#include <nlohmann/json.hpp>
#include <optional>
#include <poll.h>
#include <set>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

using nlohmann::json;

namespace rg {

namespace {

// How often bans are expired and the maps and attachments checked (and repaired).
constexpr int kHousekeepingSeconds = 30;

void log_error(const std::string &msg) { log(LogLevel::error, msg); }
void log_warning(const std::string &msg) { log(LogLevel::warning, msg); }
void log_notice(const std::string &msg) { log(LogLevel::notice, msg); }

std::string join(const std::vector<std::string> &items, const char *sep = ", ")
{
    std::string out;
    for (const std::string &s : items)
        out += (out.empty() ? "" : sep) + s;
    return out;
}

std::string count_of(size_t n, const char *what)
{
    return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET.
void notify(const std::string &state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return;
    struct sockaddr_un addr = {.sun_family = AF_UNIX, .sun_path = {}};
    size_t len = strlen(path);
    if (len >= sizeof(addr.sun_path) || (path[0] != '/' && path[0] != '@'))
        return;
    memcpy(addr.sun_path, path, len);
    if (path[0] == '@')
        addr.sun_path[0] = '\0';  // abstract namespace
    Fd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0)
        return;
    sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<struct sockaddr *>(&addr),
           socklen_t(offsetof(struct sockaddr_un, sun_path) + len));
}

// A timer that fires every period; a period of 0 leaves it disarmed.
Fd make_timer(Duration period)
{
    Fd fd(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    if (fd.get() < 0)
        throw_errno("timerfd_create", errno);
    timespec every = {.tv_sec = period.count() / 1000, .tv_nsec = (period.count() % 1000) * 1000000};
    struct itimerspec its = {.it_interval = every, .it_value = every};
    if (timerfd_settime(fd.get(), 0, &its, nullptr) != 0)
        throw_errno("timerfd_settime", errno);
    return fd;
}

// Whether the timerfd polled in p fired; reads its expirations if so.
bool fired(const pollfd &p)
{
    if (!(p.revents & POLLIN))
        return false;
    uint64_t expirations;
    while (read(p.fd, &expirations, sizeof(expirations)) > 0) {
    }
    return true;
}

// The daemon's signals, blocked and read from a signalfd: taken first, so
// that no signal is fatal while the daemon starts.
Fd block_signals()
{
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGHUP, SIGTERM, SIGINT})
        sigaddset(&set, sig);
    if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0)
        throw_errno("sigprocmask", errno);
    int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0)
        throw_errno("signalfd", errno);
    return Fd(fd);
}

// Whether SIGTERM or SIGINT is waiting to be read.
bool stop_pending()
{
    sigset_t pending;
    return sigpending(&pending) == 0 && (sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT));
}

// Creates dir and its missing parents, 0700 each (existing ones stay as
// they are).
void make_private_dirs(const std::string &dir)
{
    std::filesystem::path path;
    for (const auto &part : std::filesystem::path(dir)) {
        path /= part;
        if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
            throw_errno("cannot create state directory " + dir + " (at " + path.string() + ")", errno);
    }
}

// One daemon per pin directory: an exclusive flock on STATE_DIR/daemon.lock,
// held as long as the returned fd is open. The file holds the holder's pid,
// for the message the next one gets; it is never removed (removing a lock
// file races with the next locker).
Fd lock_daemon(const Config &cfg)
{
    make_private_dirs(cfg.state_dir);
    std::string path = cfg.state_dir + "/daemon.lock";
    Fd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd.get() < 0)
        throw_errno("cannot open " + path, errno);
    if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        if (err != EWOULDBLOCK)
            throw_errno("cannot lock " + path, err);
        char buf[32] = {};
        ssize_t n = pread(fd.get(), buf, sizeof(buf) - 1, 0);
        long pid = n > 0 ? strtol(buf, nullptr, 10) : 0;
        throw Error("pin directory " + cfg.pin_dir + ": another relayguard daemon" +
                    (pid > 0 ? " (pid " + std::to_string(pid) + ")" : "") + " is running on it (it holds " + path +
                    "); stop it first, or give this config another [daemon] pin_dir");
    }
    std::string pid = std::to_string(getpid()) + "\n";
    if (ftruncate(fd.get(), 0) != 0 || pwrite(fd.get(), pid.data(), pid.size(), 0) != ssize_t(pid.size()))
        log_warning("cannot write the pid into " + path + ": " + strerror(errno));
    return fd;
}

// The config file's list of one kind, the source RG_SOURCE_CONFIG: as
// added, and replaced as one change (lists.hpp), what both versions list
// staying in force.
WriteResult sync_list(Lists &lists, ListKind kind, const std::vector<Cidr> &want)
{
    return HandList(lists, kind, RG_SOURCE_CONFIG).set(want);
}

FeedDef feed_def(const FeedConfig &f)
{
    return {.name = f.name, .source = f.source, .format = f.format, .interval = f.interval, .shadow = f.shadow,
            .max_shrink = f.max_shrink, .min_prefix4 = f.min_prefix4, .min_prefix6 = f.min_prefix6,
            .from_config = true};
}

// A feed of the config's (RG_FEED_CONFIG) that next no longer lists.
bool dropped_by(const Config &next, const Feed &f)
{
    return (f.raw.flags & RG_FEED_CONFIG) &&
           std::ranges::none_of(next.feeds, [&](const FeedConfig &c) { return c.name == f.name(); });
}

// A [feed NAME] section must not take over a feed added with `relayguard
// feed add`: refused, with where and how to resolve it.
void check_feed_names(const Maps &maps, const Config &next)
{
    for (const FeedConfig &c : next.feeds) {
        std::optional<Feed> have = find_feed(maps, c.name);
        if (!have || have->def().from_config)
            continue;
        throw Error(next.path + ":" + std::to_string(c.line) + ": [feed " + c.name + "]: a feed named " + c.name +
                    " was added with `relayguard feed add` (source " + have->def().source +
                    "); the config does not take it over: rename this section, or remove that feed first "
                    "with `relayguard feed del " + c.name + "`");
    }
}

// Adds the config's new feeds and updates its changed ones; removing the
// ones it no longer lists is left to remove_dropped_feeds (after every
// other step succeeded: a removed feed's prefixes cannot be put back).
// Returns the names that need a sync now (new or refetch-worthy changes).
std::vector<std::string> reconcile_feeds(Maps &maps, const Config &next, std::string &summary)
{
    check_feed_names(maps, next);
    std::vector<std::string> due;
    size_t added = 0, changed = 0;
    size_t dropped = std::ranges::count_if(list_feeds(maps), [&](const Feed &f) { return dropped_by(next, f); });
    for (const FeedConfig &c : next.feeds) {
        FeedDef d = feed_def(c);
        std::optional<Feed> have = find_feed(maps, c.name);
        if (!have) {
            add_feed(maps, d);
            added++;
            due.push_back(c.name);
            continue;
        }
        FeedDef old = have->def();
        if (old == d)
            continue;
        update_feed(maps, d);
        changed++;
        if (old.source != d.source || old.format != d.format || old.min_prefix4 != d.min_prefix4 ||
            old.min_prefix6 != d.min_prefix6)
            due.push_back(c.name);
    }
    if (added || changed || dropped)
        summary = ", feeds +" + std::to_string(added) + " ~" + std::to_string(changed) + " -" + std::to_string(dropped);
    return due;
}

// What applying a config may change in the shared maps, taken just before,
// to put back when a later step fails.
struct SharedState {
    bool had_maps = false;  // else the maps were created by the apply (or it failed before looking)
    std::vector<uint16_t> ports;
    bool monitor = false;
    struct rg_rate_config rate {};
    struct rg_event_config events {};
    EgressSettings egress;
    std::vector<Cidr> allow, block;  // the config's lists (RG_SOURCE_CONFIG)
    std::vector<Feed> feeds;
};

SharedState capture(const Maps &maps, Lists &lists)
{
    return {.had_maps = true,
            .ports = maps.ports(),
            .monitor = maps.monitor(),
            .rate = maps.config().rate,
            .events = maps.config().events,
            .egress = egress_settings(maps),
            .allow = HandList(lists, ListKind::allow, RG_SOURCE_CONFIG).prefixes(),
            .block = HandList(lists, ListKind::block, RG_SOURCE_CONFIG).prefixes(),
            .feeds = list_feeds(maps)};
}

// Puts back what capture() took. Feeds added since go (they list nothing
// yet: syncs come later); feeds changed since get their entry back.
void restore(const Config &cfg, const SharedState &s)
{
    DirLock lock(cfg.pin_dir);
    Maps maps = Maps::open(cfg.pin_dir);
    Lists lists(maps, StateDir(cfg.state_dir));
    sync_list(lists, ListKind::allow, s.allow);
    sync_list(lists, ListKind::block, s.block);
    maps.set_ports(s.ports);
    maps.set_monitor(s.monitor);
    maps.set_rate(s.rate);
    maps.set_events(s.events);
    apply_egress(maps, s.egress);
    for (const Feed &f : list_feeds(maps)) {
        auto old = std::ranges::find(s.feeds, f.name(), &Feed::name);
        if (old == s.feeds.end()) {
            if (!is_crowdsec_source(f))  // the bouncer's, kept by its thread
                del_feed(maps, lists, f.name());
        } else if (!(old->def() == f.def())) {
            if (old->def().shadow != f.def().shadow)
                maps.set_shadow_source(old->bit, old->def().shadow);
            put_feed(maps, *old);
        }
    }
}

// [metrics]: GET /metrics with prometheus_text(), from a thread of its own
// (httplib's, with the daemon's signals blocked as in every thread it
// makes), so a slow scraper never holds up the event loop. Each request
// reads the pinned maps anew through its own descriptors; of the daemon's
// state it shares only what `more` returns: the families of its memory
// (DaemonMetrics, thread-safe), appended.
class MetricsServer {
public:
    // Binds at once: throws rg::Error when the address cannot be had.
    MetricsServer(const std::string &listen, std::string pin_dir, std::string state_dir,
                  std::function<std::string()> more)
        : listen_(listen)
    {
        size_t colon = listen.rfind(':');
        std::string host = listen.substr(0, colon);
        if (host.starts_with('['))
            host = host.substr(1, host.size() - 2);
        int port = std::stoi(listen.substr(colon + 1));
        server_.Get("/metrics", [pin_dir, state_dir, more](const httplib::Request &, httplib::Response &res) {
            try {
                Maps maps = Maps::open(pin_dir);
                res.set_content(prometheus_text(read_metrics(maps, StateDir(state_dir))) + more(),
                                kPrometheusContentType);
            } catch (const std::exception &e) {
                res.status = 503;
                res.set_content(std::string("relayguard: ") + e.what() + "\n", "text/plain; charset=utf-8");
            }
        });
        if (!server_.bind_to_port(host.c_str(), port))
            throw Error("metrics: cannot listen on " + listen + ": " + std::strerror(errno));
        thread_ = std::thread([this] { server_.listen_after_bind(); });
    }
    ~MetricsServer()
    {
        server_.stop();
        thread_.join();
    }
    MetricsServer(const MetricsServer &) = delete;
    MetricsServer &operator=(const MetricsServer &) = delete;
    const std::string &listen() const { return listen_; }

private:
    std::string listen_;
    httplib::Server server_;
    std::thread thread_;
};

class Daemon {
public:
    // Blocks the daemon's signals first: none is fatal from here on.
    explicit Daemon(const DaemonOptions &opts) : opts_(opts), sigfd_(block_signals()) {}

    void start();
    void loop();

private:
    struct Applied {
        std::string summary;
        std::vector<std::string> due;  // feeds to sync now
    };

    void check(const Config &next, const Config *prev) const;
    Applied apply_shared(const Config &next, SharedState *before);
    void attach_missing(const Config &next, std::vector<std::string> *attached = nullptr);
    uint32_t adopt_program(const std::string &pin_dir, const std::string &name, uint32_t prog_id);
    void remove_dropped_feeds(const Config &next);
    void undo_start(const SharedState &before, const std::vector<std::string> &attached);
    void repair(const char *when);
    // The pins gone while the maps this daemon filled live on: pins them
    // again (nothing is lost, the program is not replaced); false if not.
    bool pin_again(const char *when);
    void remember_maps();
    void reload();
    void stop();
    void write_stats();
    void open_stats_output();
    void housekeeping();
    // Feeds are synced after start, when their definition changes, and every
    // interval: one timerfd, armed for the earliest due; one per loop turn.
    void schedule_feeds(const std::vector<std::string> &due_now);
    // [watch]: started with the daemon, again when a reload changes it.
    void start_watch();
    void read_watch();
    void sync_due_feed();
    void arm_feed_timer();
    // The kernel's events: read from the ring (when no `relayguard events`
    // holds it) and logged; taken again when the maps are new or the holder
    // went away (at start, repair, reload and housekeeping).
    void open_events();
    void read_events();
    // A configured interface deleted and created again: attached at once
    // (link_watch.hpp); the periodic check stays the fallback.
    void read_links();

    DaemonOptions opts_;
    Fd sigfd_;
    Config cfg_;
    Fd lock_;  // lock_daemon()
    unsigned generation_ = 0;
    std::set<std::string> managed_;             // interfaces this daemon attached or adopted
    std::map<std::string, uint32_t> prog_ids_;  // their programs, as last seen
    bool maps_created_ = false;                 // this daemon made the pinned maps
    // The maps the daemon applied its config to, so that maps made anew by
    // another command (after a detach) are told from its own.
    std::optional<Maps> maps_;
    std::ofstream stats_file_;
    std::ostream *stats_out_ = &std::cout;
    std::string stats_error_;  // the last one logged, not repeated
    Fd stats_timer_, gc_timer_, feed_timer_;
    using Clock = std::chrono::steady_clock;
    using FeedDue = std::map<std::string, Clock::time_point>;  // feed -> when its next sync is due
    FeedDue feed_due_;
    // The maps and lists the feed syncs write through, kept between syncs:
    // the tables stay mapped, and what they hold is not read back while
    // nobody else writes them. Let go before the daemon detaches, and by
    // housekeeping when the pins name other maps or none, so that the maps
    // do not outlive their pins for long because of it.
    struct FeedWriter {
        Maps maps;
        Lists lists;
        FeedWriter(Maps m, const std::string &dir) : maps(std::move(m)), lists(maps, StateDir(dir), false) {}
    };
    std::unique_ptr<FeedWriter> feed_writer_;
    // The feeds' memos and sync buffers, kept across reloads and repairs;
    // the memos are saved to the state directory when the daemon stops.
    SyncMemory sync_memory_;
    std::unique_ptr<LogWatch> watch_;
    bool watch_unsaved_ = false;  // its state file is behind: save within a second
    // [metrics] listen: (re)started by start and reload, stopped by stop.
    // It shows daemon_metrics_ (durations measured since the start).
    void start_metrics();
    DaemonMetrics daemon_metrics_;
    std::unique_ptr<MetricsServer> metrics_;
    // [alerts]: checked every second (alert_timer_), from start to stop.
    std::shared_ptr<Alerts> alerts_;
    Fd alert_timer_;
    std::unique_ptr<EventConsumer> events_;
    long events_holder_ = -1;  // the pid last told about, not told again
    // [crowdsec]: (re)started by start and reload when its section changed,
    // stopped by stop; without the section its source is removed.
    void start_crowdsec();
    void share_kernel_bans();
    std::unique_ptr<Bouncer> bouncer_;
    // push = ratelimit: the rate limiter's bans already shared.
    std::optional<KernelBans> kernel_bans_;
    std::unique_ptr<LinkWatch> links_;
    std::set<std::string> links_gone_;  // configured interfaces deleted, not back yet
};

// Everything that can be checked before changing anything.
void Daemon::check(const Config &next, const Config *prev) const
{
    for (const std::string &name : next.interfaces)
        if (if_nametoindex(name.c_str()) == 0)
            throw Error(next.path + ": [filter] interfaces: \"" + name +
                        "\": no such interface in this network namespace");
    validate_rate(next.rate);
    validate_egress(next.egress);
    if (prev) {
        if (next.pin_dir != prev->pin_dir)
            throw Error(next.path + ": [daemon] pin_dir: cannot change while running (restart the daemon)");
        if (next.state_dir != prev->state_dir)
            throw Error(next.path + ": [daemon] state_dir: cannot change while running (restart the daemon)");
        if (next.xdp_mode != prev->xdp_mode)
            throw Error(next.path + ": [filter] xdp_mode: cannot change while running (restart the daemon)");
        if (next.egress_mode != prev->egress_mode)
            throw Error(next.path + ": [filter] egress: cannot change while running (restart the daemon)");
    }
    if (!is_bpffs(next.pin_dir))
        return;
    try {
        Maps maps = Maps::open(next.pin_dir);
        check_feed_names(maps, next);
        if (std::optional<Feed> f = find_feed(maps, kCrowdsecSource);
            next.crowdsec.enabled() && f && !is_crowdsec_source(*f))
            crowdsec_source(maps, next.crowdsec.lapi_url, next.crowdsec.poll_interval);  // throws, saying why
    } catch (const NotAttached &) {
        // no maps yet: no feeds either
    }
}

// Lists, ports, mode, rate and the feed registry, in one locked step; what
// was there before goes into *before (if given) first. Creates the maps
// when there are none.
Daemon::Applied Daemon::apply_shared(const Config &next, SharedState *before)
{
    ensure_bpffs_dir(next.pin_dir);
    DirLock lock(next.pin_dir);
    bool created = false;
    Maps maps = Maps::open_or_create(next.pin_dir, &created);
    maps_created_ |= created;
    if (created)
        StateDir(next.state_dir).remove_all();  // what is left belongs to maps that are gone
    Lists lists(maps, StateDir(next.state_dir));
    if (before)
        *before = created ? SharedState{} : capture(maps, lists);
    // Lists first: when ports or mode tighten, the rules are already there.
    auto write_list = [&](ListKind kind, const std::vector<Cidr> &want) {
        auto t0 = std::chrono::steady_clock::now();
        WriteResult w = sync_list(lists, kind, want);
        if (w.upserts || w.deletes)
            daemon_metrics_.list_written(
                "config", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        return w;
    };
    WriteResult allow = write_list(ListKind::allow, next.allow);
    WriteResult block = write_list(ListKind::block, next.block);
    maps.set_ports(next.ports);
    maps.set_monitor(next.monitor);
    RateSettings old_rate = rate_settings(maps);
    apply_rate(maps, next.rate);
    bool events_changed = !(event_settings(maps) == next.events);
    apply_events(maps, next.events);
    bool egress_changed = !(egress_settings(maps) == next.egress);
    if (egress_changed)  // unchanged: the budget's bucket is kept
        apply_egress(maps, next.egress);
    Applied a;
    std::string feeds;
    a.due = reconcile_feeds(maps, next, feeds);
    a.summary = "allowlist +" + std::to_string(allow.added) + " -" + std::to_string(allow.removed) +
                ", blocklist +" + std::to_string(block.added) + " -" + std::to_string(block.removed) +
                (old_rate == next.rate ? "" : ", rate settings changed") +
                (events_changed ? ", event settings changed" : "") +
                (egress_changed ? ", egress settings changed" : "") + feeds + (created ? ", maps created" : "");
    return a;
}

// The config feeds the config no longer lists, with what only they list.
void Daemon::remove_dropped_feeds(const Config &next)
{
    DirLock lock(next.pin_dir);
    Maps maps = Maps::open(next.pin_dir);
    for (const Feed &f : list_feeds(maps)) {
        if (!dropped_by(next, f))
            continue;
        Lists lists(maps, StateDir(next.state_dir));
        del_feed(maps, lists, f.name());
        daemon_metrics_.forget(f.name());
        log_notice("feed " + f.name() + ": removed (no longer in " + next.path + ")");
    }
}

// Makes the filter run on every interface of the config: adopts those where
// it is attached already, attaches the others. One of the daemon's own that
// is not attached any more (detached by hand, pins removed) is attached
// again, its old program taken off first if it still runs on maps nobody can
// reach. Interfaces newly attached (not adopted or re-attached) go into
// *attached as it goes, so that the caller can undo them when one fails.
void Daemon::attach_missing(const Config &next, std::vector<std::string> *attached)
{
    for (const std::string &name : next.interfaces) {
        std::optional<IfaceEntry> e = Maps::open(next.pin_dir).find_iface(name);
        if (e && query_live(*e).attached) {
            uint32_t id = e->raw.prog_id;
            if (managed_.insert(name).second) {
                log_notice("interface " + name + ": already attached (program id " + std::to_string(id) +
                           "), adopting it");
                if (e->raw.egress_mode != next.egress_mode)
                    log_warning("interface " + name + ": adopted with egress " +
                                egress_mode_name(e->raw.egress_mode) + ", the config says " +
                                egress_mode_name(next.egress_mode) +
                                " (detach it for the config's to apply)");
                id = adopt_program(next.pin_dir, name, id);
            }
            prog_ids_[name] = id;
            continue;
        }
        bool ours = managed_.count(name) > 0;
        if (auto old = prog_ids_.find(name); ours && old != prog_ids_.end() && detach_program(name, old->second))
            log_notice("interface " + name + ": took off the filter's old program (id " +
                       std::to_string(old->second) + "), which ran on maps no longer pinned");
        AttachOptions a;
        a.ifname = name;
        a.mode = next.xdp_mode;
        a.egress = next.egress_mode;
        AttachResult r = attach(next.pin_dir, a);
        managed_.insert(name);
        prog_ids_[name] = r.prog_id;
        if (!ours && attached)
            attached->push_back(name);
        log_notice("interface " + name + ": attached" + (ours ? " again" : "") + " (program id " +
                   std::to_string(r.prog_id) + ", " + (next.xdp_mode == XdpMode::native ? "native" : "skb") +
                   " mode" + (r.legacy ? ", without the libxdp dispatcher" : "") +
                   (r.egress_prog_id ? std::string(", egress ") + egress_mode_name(next.egress_mode) : "") + ")");
        if (r.legacy)
            log_warning(legacy_attach_note(name));
    }
}

// An adopted attachment may run another build's program (a restart after an
// upgrade, with on_exit = keep): this build's takes its place, atomically,
// on the same maps. If it cannot, the old one keeps enforcing.
uint32_t Daemon::adopt_program(const std::string &pin_dir, const std::string &name, uint32_t prog_id)
{
    try {
        ReplaceResult r = replace(pin_dir, name);
        log_notice("interface " + name + ": upgraded to this build's program (id " + std::to_string(prog_id) +
                   " -> " + std::to_string(r.new_prog_id) + "; rules, bans and counters kept)");
        return r.new_prog_id;
    } catch (const std::exception &e) {
        log_warning("interface " + name + ": cannot put this build's program in place, the adopted one (id " +
                    std::to_string(prog_id) + ") keeps running: " + e.what());
        return prog_id;
    }
}

void Daemon::remember_maps()
{
    try {
        maps_.emplace(Maps::open(cfg_.pin_dir));
    } catch (const std::exception &) {
        maps_.reset();
    }
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

// A failed start leaves everything as it found it: what it attached is
// detached (adopted interfaces stay), and the maps it created are removed,
// or, when they were there, what it changed in them is put back.
void Daemon::undo_start(const SharedState &before, const std::vector<std::string> &attached)
{
    for (const std::string &name : attached) {
        try {
            detach(cfg_.pin_dir, name, true);
            log_notice("interface " + name + ": detached again");
        } catch (const std::exception &e) {
            log_warning("interface " + name + ": cannot detach again: " + e.what());
        }
    }
    try {
        if (before.had_maps) {
            restore(cfg_, before);
            log_notice("start failed: ports, mode, rate settings, the config's lists and the feed registry "
                       "are as they were" +
                       (managed_.size() > attached.size() ? std::string(", adopted interfaces stay attached") : ""));
        } else if (maps_created_ && is_bpffs(cfg_.pin_dir)) {
            DirLock lock(cfg_.pin_dir);
            Maps maps = Maps::open(cfg_.pin_dir);
            if (maps.ifaces().empty()) {
                maps.remove_pins();
                log_notice("start failed: the maps it created are removed");
            }
        }
    } catch (const std::exception &e) {
        log_error(std::string("cannot put back what the failed start changed: ") + e.what());
    }
}

void Daemon::start()
{
    check_config_mode(opts_.config_path);
    cfg_ = load_config(opts_.config_path);
    lock_ = lock_daemon(cfg_);
    StateDir(cfg_.state_dir).remove_stale_temps();
    log_notice("starting: config " + cfg_.path + ", pin directory " + cfg_.pin_dir);
    check(cfg_, nullptr);
    open_stats_output();
    SharedState before;
    std::vector<std::string> attached;
    try {
        Applied a = apply_shared(cfg_, &before);
        log_notice("config " + cfg_.path + ": " + a.summary);
        attach_missing(cfg_, &attached);
        remove_dropped_feeds(cfg_);
    } catch (...) {
        undo_start(before, attached);
        throw;
    }
    remember_maps();
    open_events();
    start_watch();
    alerts_ = std::make_shared<Alerts>(cfg_.alerts, [this](const json &line) {
        *stats_out_ << json_text(line) << std::endl;
    });
    start_metrics();
    start_crowdsec();
    generation_ = 1;
    feed_timer_ = make_timer(Duration(0));  // disarmed; arm_feed_timer() sets it
    // Every config feed is synced once right after start (none is scheduled
    // yet: all are due now; a restart must not wait an interval to notice a
    // changed list), from the event loop: a slow feed server delays neither
    // READY=1 nor signals.
    schedule_feeds({});
    stats_timer_ = make_timer(cfg_.stats_interval);
    gc_timer_ = make_timer(std::chrono::seconds(kHousekeepingSeconds));
    alert_timer_ = make_timer(std::chrono::seconds(1));
    alerts_->tick(cfg_.pin_dir, cfg_.interfaces);  // the alerts' state is known once ready
    try {
        links_ = std::make_unique<LinkWatch>();
    } catch (const std::exception &e) {
        log_warning(std::string(e.what()) + "; an interface that comes back is attached again at the periodic check (" +
                    std::to_string(kHousekeepingSeconds) + " s)");
    }
    if (stop_pending())
        return;  // not ready: the loop stops at once
    notify("READY=1\nSTATUS=running, config generation 1");
    log_notice("running on " + count_of(managed_.size(), "interface") + ", " + (cfg_.monitor ? "monitor" : "enforce") +
               " mode, rate limiting " + (cfg_.rate.enabled ? "on" : "off") +
               (cfg_.feeds.empty() ? "" : ", " + count_of(cfg_.feeds.size(), "feed") + " to sync") +
               (watch_ ? ", watching " + watch_->source().name() : ""));
}

// A metrics endpoint that cannot listen is logged, not fatal: the filter
// matters more than its counters.
void Daemon::start_metrics()
{
    if (metrics_ && metrics_->listen() == cfg_.metrics_listen)
        return;
    metrics_.reset();
    if (cfg_.metrics_listen.empty())
        return;
    try {
        metrics_ = std::make_unique<MetricsServer>(cfg_.metrics_listen, cfg_.pin_dir, cfg_.state_dir,
                                                   [this, alerts = alerts_] {
                                                       return daemon_metrics_.text() + alerts->prometheus_text();
                                                   });
        log_notice("metrics: serving GET /metrics on " + cfg_.metrics_listen);
    } catch (const std::exception &e) {
        log_error(std::string("no metrics endpoint: ") + e.what());
    }
}

void Daemon::start_crowdsec()
{
    if (bouncer_ && bouncer_->config() == cfg_.crowdsec)
        return;
    bouncer_.reset();
    kernel_bans_.reset();
    if (cfg_.crowdsec.enabled()) {
        bouncer_ = std::make_unique<Bouncer>(cfg_.crowdsec, cfg_.pin_dir, StateDir(cfg_.state_dir));
        share_kernel_bans();  // takes the bans there now as shared
        return;
    }
    try {
        DirLock lock(cfg_.pin_dir);
        Maps maps = Maps::open(cfg_.pin_dir);
        Lists lists(maps, StateDir(cfg_.state_dir));
        if (remove_crowdsec_source(maps, lists))
            log_notice(std::string("crowdsec: source removed with what only it listed (no [crowdsec] in ") +
                       cfg_.path + ")");
    } catch (const std::exception &e) {
        log_warning(std::string("crowdsec: cannot remove its source: ") + e.what());
    }
}

// [crowdsec] push = ratelimit: the rate limiter's new bans to the LAPI.
void Daemon::share_kernel_bans()
{
    if (!bouncer_ || !cfg_.crowdsec.push_ratelimit)
        return;
    try {
        Maps maps = Maps::open(cfg_.pin_dir);
        std::vector<Ban> bans = list_bans(maps);
        uint64_t now = boottime_ns();
        if (!kernel_bans_) {
            kernel_bans_.emplace(bans, now);
            return;
        }
        for (const SharedBan &b : kernel_bans_->fresh(bans, now)) {
            log_notice("crowdsec: sharing the rate limiter's ban of " + b.prefix.str() + " (" + b.rule + ", " +
                       std::to_string(b.bantime.count()) + "s)");
            bouncer_->share(b);
        }
    } catch (const std::exception &e) {
        log_warning(std::string("crowdsec: cannot read the rate limiter's bans: ") + e.what());
    }
}

void Daemon::start_watch()
{
    if (!cfg_.watch.enabled())
        return;
    auto report = [this](const json &e) {
        log_notice("watch: " + describe_decision(e));
        if (bouncer_)
            bouncer_->share(e);  // [crowdsec] push = watch
        json line = e;
        line["time"] = uint64_t(time(nullptr));
        *stats_out_ << json_text(line) << std::endl;
    };
    // From the end: what was logged before the daemon started was judged
    // by the run before (its offenders are in the state file).
    watch_ = std::make_unique<LogWatch>(cfg_.watch, cfg_.pin_dir, StateDir(cfg_.state_dir),
                                        open_configured_source(cfg_.watch, StartAt::end), report);
    read_watch();  // what came since it opened raises no event
}

void Daemon::open_events()
{
    try {
        Maps maps = Maps::open(cfg_.pin_dir);
        if (events_ && events_->reads(maps))
            return;
        events_.reset();
        long holder = 0;
        events_ = EventConsumer::try_open(maps, StateDir(cfg_.state_dir), [](const json &e) {
            log(LogLevel::notice, "event: " + describe_event(e), event_fields(e));
        }, &holder);
        if (!events_ && holder != events_holder_)
            log_notice("events: pid " + std::to_string(holder) + " reads the kernel's events (`relayguard events "
                       "--follow`?); the daemon logs them once it is gone");
        events_holder_ = events_ ? -1 : holder;
        if (events_)
            read_events();  // what waited while nobody read
    } catch (const std::exception &e) {
        events_.reset();
        log_warning(std::string("events: cannot read the kernel's events: ") + e.what());
    }
}

void Daemon::read_events()
{
    try {
        events_->drain();
    } catch (const std::exception &e) {
        log_warning(std::string("events: ") + e.what());
    }
}

void Daemon::read_watch()
{
    try {
        watch_->read();
        watch_unsaved_ = watch_->save(std::chrono::seconds(1));
    } catch (const std::exception &e) {
        log_warning(std::string("watch: ") + e.what());
    }
}

// The running config in force again when the maps or attachments went away
// under the daemon: `relayguard detach` (which removes the maps with the
// last interface), pins removed by hand, maps made anew by another command.
void Daemon::repair(const char *when)
{
    std::vector<std::string> missing;
    bool reapply = false;
    try {
        Maps maps = Maps::open(cfg_.pin_dir);
        if (maps_ && !maps_->same_maps(maps)) {
            missing.push_back("the maps pinned in " + cfg_.pin_dir + " are not the ones this daemon filled");
            reapply = true;
        }
        for (const std::string &name : managed_) {
            std::optional<IfaceEntry> e = maps.find_iface(name);
            if (!e || !query_live(*e).attached)
                missing.push_back("interface " + name + ": the filter is not attached any more");
        }
    } catch (const NotAttached &) {
        if (pin_again(when))
            return repair(when);  // the interfaces next
        missing.push_back("the pinned maps in " + cfg_.pin_dir + " are gone");
        reapply = true;
    } catch (const std::exception &e) {
        log_error(std::string("cannot check the pinned maps: ") + e.what());
        return;
    }
    if (missing.empty())
        return;
    log_warning(join(missing, "; ") + " (`relayguard detach`, or pins removed by hand?); repairing " + when);
    feed_writer_.reset();
    try {
        std::string what;
        if (reapply) {
            Applied a = apply_shared(cfg_, nullptr);
            what = "config " + cfg_.path + " applied again (" + a.summary + ")";
            schedule_feeds(a.due);
        }
        attach_missing(cfg_);
        remember_maps();
        open_events();
        log_notice("repaired: " + (what.empty() ? std::string() : what + "; ") + "filter attached to " +
                   join(std::vector<std::string>(managed_.begin(), managed_.end())));
    } catch (const std::exception &e) {
        log_error(std::string("cannot repair (trying again at the next check): ") + e.what());
    }
}

// The pins removed by hand, by `relayguard detach`, or with the BPF
// filesystem unmounted: the maps live on while a program or this daemon
// holds them, with the lists, feeds, bans and counters in them. Pinned
// again, they stay in force as they are; new maps would start empty (the
// feeds' lists missing until synced again, `block add` entries and bans
// lost).
bool Daemon::pin_again(const char *when)
{
    if (!maps_)
        return false;
    try {
        maps_->pin_again();
        log_warning("the pinned maps in " + cfg_.pin_dir + " were gone (removed, or the BPF filesystem unmounted); " +
                    "pinned again " + when + " the maps the filter runs on, with everything they hold");
        return true;
    } catch (const std::exception &e) {
        log_error("the pinned maps in " + cfg_.pin_dir + " are gone and cannot be pinned again (" + e.what() +
                  "); the config is applied to new maps");
        return false;
    }
}

void Daemon::reload()
{
    notify("RELOADING=1");
    feed_writer_.reset();
    try {
        check_config_mode(opts_.config_path);
        Config next = load_config(opts_.config_path);
        check(next, &cfg_);
        repair("before the reload");
        SharedState before;
        std::vector<std::string> attached;
        Applied a;
        try {
            a = apply_shared(next, &before);
            attach_missing(next, &attached);
        } catch (...) {
            // Back to the running config: detach what this reload attached,
            // put back what it changed in the maps.
            for (const std::string &name : attached) {
                try {
                    detach(next.pin_dir, name, true);
                } catch (const std::exception &e) {
                    log_warning("rollback: interface " + name + ": " + e.what());
                }
                managed_.erase(name);
                prog_ids_.erase(name);
            }
            try {
                if (before.had_maps)
                    restore(next, before);
            } catch (const std::exception &e) {
                log_error(std::string("rollback failed, the kernel may hold part of the new config: ") + e.what());
            }
            throw;
        }
        // Feeds and interfaces no longer configured go last; a failure
        // there is reported but does not undo the reload.
        try {
            remove_dropped_feeds(next);
        } catch (const std::exception &e) {
            log_error(std::string("cannot remove the feeds no longer in the config: ") + e.what());
        }
        for (const std::string &name : std::set(managed_)) {  // a copy: detached ones leave managed_
            if (std::ranges::count(next.interfaces, name))
                continue;
            try {
                detach(next.pin_dir, name, true);
                log_notice("interface " + name + ": detached (no longer in the config)");
                prog_ids_.erase(name);
                managed_.erase(name);
            } catch (const std::exception &e) {
                log_warning("interface " + name + ": cannot detach: " + e.what());
            }
        }
        bool timer_changed = next.stats_interval != cfg_.stats_interval;
        bool watch_changed = !(next.watch == cfg_.watch);
        if (watch_changed)
            watch_.reset();
        cfg_ = std::move(next);
        if (watch_changed) {
            try {
                start_watch();
            } catch (const std::exception &e) {
                log_error(std::string("watch: cannot start, so no log is watched until the next reload: ") + e.what());
            }
        }
        schedule_feeds(a.due);
        remember_maps();
        alerts_->configure(cfg_.alerts);
        alerts_->tick(cfg_.pin_dir, cfg_.interfaces);
        open_events();
        start_metrics();
        start_crowdsec();
        if (timer_changed)
            stats_timer_ = make_timer(cfg_.stats_interval);
        generation_++;
        log_notice("reloaded " + cfg_.path + ": " + a.summary);
        notify("READY=1\nSTATUS=running, config generation " + std::to_string(generation_));
    } catch (const std::exception &e) {
        log_error(std::string("reload failed, the running configuration stays in force: ") + e.what());
        notify("READY=1\nSTATUS=reload failed, running config generation " + std::to_string(generation_) + ": " +
               e.what());
    }
    // Reopen the stats file either way (log rotation sends SIGHUP too).
    try {
        open_stats_output();
    } catch (const std::exception &e) {
        log_error(e.what());
    }
}

void Daemon::write_stats()
{
    try {
        Maps maps = Maps::open(cfg_.pin_dir);
        // The document of `stats --json`, marked as a stats line.
        json line = stats_json(read_stats(maps, StateDir(cfg_.state_dir)));
        line["event"] = "stats";
        line["generation"] = generation_;
        *stats_out_ << json_text(line) << std::endl;
        stats_error_.clear();
    } catch (const std::exception &e) {
        // Once per cause: the housekeeping check says what happened.
        if (stats_error_ != e.what())
            log_warning(std::string("cannot write counters: ") + e.what());
        stats_error_ = e.what();
    }
}

void Daemon::housekeeping()
{
    repair("at the periodic check");
    open_events();
    try {
        DirLock lock(cfg_.pin_dir);
        Maps maps = Maps::open(cfg_.pin_dir);
        expire_bans(maps, boottime_ns());
        // The maps the feed syncs keep, let go once the pins name others (a
        // detach and attach by hand): they would otherwise live on until
        // the next sync.
        if (feed_writer_ && !feed_writer_->maps.same_maps(maps))
            feed_writer_.reset();
    } catch (const std::exception &e) {
        feed_writer_.reset();  // no maps pinned any more, most likely
        log_warning(std::string("cannot remove expired bans: ") + e.what());
    }
}

void Daemon::read_links()
{
    bool lost = false;
    bool back = false;
    for (const LinkEvent &e : links_->read(lost)) {
        if (!std::ranges::count(cfg_.interfaces, e.name))
            continue;
        if (e.gone) {
            log_warning("interface " + e.name + " was deleted; the filter is attached again when it comes back");
            links_gone_.insert(e.name);
        } else if (links_gone_.erase(e.name)) {
            back = true;  // other changes (an XDP program taken off) are the periodic check's
        }
    }
    if (back || lost)
        repair(lost ? "(interface events were lost)" : "now that the interface is back");
}

void Daemon::schedule_feeds(const std::vector<std::string> &due_now)
{
    auto now = Clock::now();
    FeedDue next;
    for (const FeedConfig &f : cfg_.feeds) {
        auto it = feed_due_.find(f.name);
        bool now_due = std::ranges::count(due_now, f.name) > 0;
        next[f.name] = (now_due || it == feed_due_.end()) ? now : std::min(it->second, now + f.interval);
    }
    feed_due_ = std::move(next);
    arm_feed_timer();
}

// Syncs the feed that is due first, if one is, and arms the timer for the
// next: one per turn of the event loop, so that a signal that came during
// a sync is handled before the next one starts.
void Daemon::sync_due_feed()
{
    auto first = std::ranges::min_element(feed_due_, {}, &FeedDue::value_type::second);
    auto f = first == feed_due_.end() || first->second > Clock::now()
                 ? cfg_.feeds.end()
                 : std::ranges::find(cfg_.feeds, first->first, &FeedConfig::name);
    if (f != cfg_.feeds.end()) {
        try {
            Maps pinned = Maps::open(cfg_.pin_dir);
            if (!feed_writer_ || !feed_writer_->maps.same_maps(pinned))
                feed_writer_ = std::make_unique<FeedWriter>(std::move(pinned), cfg_.state_dir);
            SyncOptions so{.limits = {.cancelled = stop_pending},  // SIGTERM gives a download up
                           .memory = &sync_memory_};
            SyncReport r = sync_feed(feed_writer_->maps, feed_writer_->lists, f->name, so);
            daemon_metrics_.feed_synced(f->name, r.seconds);
            if (r.upserts || r.deletes)
                daemon_metrics_.list_written(f->name, r.write_seconds);
            for (const std::string &e : r.errors)
                log_warning(e);
            log(r.ok() ? LogLevel::notice : LogLevel::warning, sync_summary(r));
            json line = {{"time", uint64_t(time(nullptr))}, {"event", "feed_sync"}, {"feed", f->name},
                         {"result", rg_feed_result_name[r.result]}, {"message", r.message},
                         {"prefixes", r.prefixes}, {"upserts", r.upserts}, {"deletes", r.deletes},
                         {"seconds", r.seconds}, {"lines_parsed", r.lines_parsed}};
            *stats_out_ << json_text(line) << std::endl;
        } catch (const std::exception &e) {
            feed_writer_.reset();  // maybe no longer pinned (detached meanwhile)
            log_warning("feed " + f->name + ": sync failed: " + e.what());
        }
        // The next attempt one interval after this one ended, failed or not.
        feed_due_[f->name] = Clock::now() + f->interval;
    }
    arm_feed_timer();
}

void Daemon::arm_feed_timer()
{
    if (feed_timer_.get() < 0)
        return;
    struct itimerspec its {};
    if (!feed_due_.empty()) {
        auto first = std::ranges::min_element(feed_due_, {}, &FeedDue::value_type::second)->second;
        auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(first - Clock::now());
        long long ns = std::max<long long>(wait.count(), 1);  // 0 would disarm
        its.it_value = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    }
    if (timerfd_settime(feed_timer_.get(), 0, &its, nullptr) != 0)
        log_error(std::string("cannot arm the feed timer: ") + strerror(errno));
}

void Daemon::stop()
{
    notify("STOPPING=1");
    if (!sync_memory_.memos.empty()) {
        try {
            save_memos(Maps::open(cfg_.pin_dir), StateDir(cfg_.state_dir), sync_memory_);
        } catch (const std::exception &e) {
            log_warning(std::string("cannot keep the feeds' versions for an incremental next sync: ") + e.what());
        }
    }
    watch_.reset();  // saves its state
    metrics_.reset();  // stops its thread
    if (events_)
        read_events();  // the last ones, into the log
    events_.reset();
    bouncer_.reset();  // likewise; what it wrote stays with the maps
    feed_writer_.reset();
    maps_.reset();
    if (opts_.keep_enforcing || cfg_.keep_on_exit) {
        // What stays enforcing, as the kernel has it now.
        std::vector<std::string> live, gone;
        std::string mode;
        try {
            Maps maps = Maps::open(cfg_.pin_dir);
            mode = maps.monitor() ? " (monitor mode: counting, not dropping)" : "";
            for (const std::string &name : managed_) {
                std::optional<IfaceEntry> e = maps.find_iface(name);
                (e && query_live(*e).attached ? live : gone).push_back(name);
            }
        } catch (const NotAttached &) {
            log_warning("stopping; nothing stays enforcing: the pinned maps in " + cfg_.pin_dir + " are gone");
            return;
        } catch (const std::exception &e) {
            log_warning(std::string("stopping; nothing stays enforcing: ") + e.what());
            return;
        }
        if (live.empty())
            log_warning("stopping; nothing stays enforcing: the filter is not attached to " + join(gone) +
                        " any more");
        else
            log_notice("stopping; the filter stays attached and enforcing on " + join(live) + mode +
                       (gone.empty() ? "" : "; not attached any more: " + join(gone)));
        return;
    }
    for (const std::string &name : managed_) {
        try {
            DetachResult r = detach(cfg_.pin_dir, name, false);
            if (r.pins_removed)
                StateDir(cfg_.state_dir).remove_all();  // what it held belonged to those maps
            log_notice("interface " + name + ": " + (r.was_live ? "detached" : "was not attached any more") +
                       (r.pins_removed ? "; pinned maps removed" : ""));
        } catch (const std::exception &e) {
            log_warning("interface " + name + ": nothing to detach: " + e.what());
        }
    }
}

void Daemon::loop()
{
    for (;;) {
        struct pollfd fds[8] = {{sigfd_.get(), POLLIN, 0},
                                {stats_timer_.get(), POLLIN, 0},
                                {gc_timer_.get(), POLLIN, 0},
                                {feed_timer_.get(), POLLIN, 0},
                                {watch_ ? watch_->fd() : -1, POLLIN, 0},  // poll skips -1
                                {alert_timer_.get(), POLLIN, 0},
                                {events_ ? events_->fd() : -1, POLLIN, 0},
                                {links_ ? links_->fd() : -1, POLLIN, 0}};
        if (poll(fds, 8, watch_unsaved_ ? 1000 : -1) < 0) {
            if (errno == EINTR)
                continue;
            throw_errno("poll", errno);
        }
        if (fds[0].revents & POLLIN) {
            // All that came, then one reload for any number of SIGHUPs;
            // a stop wins.
            bool hup = false;
            struct signalfd_siginfo si;
            while (read(sigfd_.get(), &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo != SIGHUP) {
                    log_notice(std::string("received ") + strsignal(int(si.ssi_signo)));
                    stop();
                    return;
                }
                hup = true;
            }
            if (hup)
                reload();
            continue;  // timers next turn: a reload may have changed them
        }
        if (fired(fds[1]))
            write_stats();
        if (fired(fds[2]))
            housekeeping();
        if (fired(fds[3]))
            sync_due_feed();
        if (watch_ && (fds[4].revents || watch_unsaved_))
            read_watch();
        if (fired(fds[5])) {
            alerts_->tick(cfg_.pin_dir, cfg_.interfaces);
            share_kernel_bans();
        }
        if (events_ && fds[6].revents)
            read_events();
        if (links_ && fds[7].revents)
            read_links();
    }
}

} // namespace

int run_daemon(const DaemonOptions &opts)
{
    try {
        Daemon d(opts);
        d.start();
        d.loop();
        return 0;
    } catch (const std::exception &e) {
        log(LogLevel::error, e.what());
        return 1;
    }
}

} // namespace rg
