#include "bouncer.hpp"

#include "ban_alert.hpp"
#include "bpffs.hpp"
#include "crowdsec_source.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "lapi_client.hpp"
#include "lists.hpp"
#include "log.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace rg {

using nlohmann::json;

namespace {

constexpr const char *kStatusFile = "crowdsec.json";
constexpr const char *kLockFile = "crowdsec.lock";

uint64_t unix_now() { return uint64_t(time(nullptr)); }

} // namespace

namespace {

// A file of secrets: its text, refused when group or others may read it.
std::string read_private_file(const std::string &path, const std::string &what)
{
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0)
        throw Error(path + ": cannot read the " + what + ": " + std::strerror(errno), errno);
    struct stat st {};
    if (fstat(fd.get(), &st) != 0)
        throw Error(path + ": " + std::strerror(errno), errno);
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        char mode[8];
        snprintf(mode, sizeof(mode), "%04o", unsigned(st.st_mode & 07777));
        throw Error(path + ": mode " + mode + ": the " + what + " file must not be readable by group or others (chmod 600 " +
                    path + ")");
    }
    char buf[4096];
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0)
        throw Error(path + ": cannot read the " + what + ": " + std::strerror(errno), errno);
    return std::string(buf, size_t(n));
}

std::string trimmed(std::string s)
{
    while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t' || s.back() == '"' || s.back() == '\''))
        s.pop_back();
    size_t i = s.find_first_not_of(" \t\"'");
    return i == std::string::npos ? std::string() : s.substr(i);
}

} // namespace

void read_machine_credentials(const std::string &path, CrowdsecConfig &cfg)
{
    std::string text = read_private_file(path, "machine credentials");
    cfg.machine_login.clear();
    cfg.machine_password.clear();
    size_t at = 0;
    while (at < text.size()) {
        size_t nl = text.find('\n', at);
        std::string line = text.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
        at = nl == std::string::npos ? text.size() : nl + 1;
        size_t colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        std::string key = trimmed(line.substr(0, colon)), value = trimmed(line.substr(colon + 1));
        if (key == "login")
            cfg.machine_login = value;
        else if (key == "password")
            cfg.machine_password = value;
    }
    if (cfg.machine_login.empty() || cfg.machine_password.empty())
        throw Error(path + ": no login and password in it (make it with `cscli machines add NAME --auto -f " + path +
                    "`)");
    cfg.machine_credentials = path;
}

std::string CrowdsecConfig::push_name() const
{
    if (push_watch && push_ratelimit)
        return "watch,ratelimit";
    return push_watch ? "watch" : push_ratelimit ? "ratelimit" : "off";
}

std::string read_api_key_file(const std::string &path)
{
    std::string key = read_private_file(path, "API key");
    key = trimmed(key.substr(0, key.find('\n')));
    if (key.empty())
        throw Error(path + ": no API key in it (its first line; make one with `cscli bouncers add NAME`)");
    return key;
}

// The maps and lists the bouncer writes through, kept while the pins name
// them (as the daemon's feed writer).
struct Bouncer::Writer {
    Maps maps;
    Lists lists;
    Writer(Maps m, const StateDir &state) : maps(std::move(m)), lists(maps, state, false) {}
};

Bouncer::Bouncer(const CrowdsecConfig &cfg, std::string pin_dir, StateDir state)
    : cfg_(cfg), pin_dir_(std::move(pin_dir)), state_(std::move(state))
{
    status_ = {{"lapi_url", cfg_.lapi_url},
               {"pid", getpid()},
               {"poll_interval_seconds", double(cfg_.poll_interval.count()) / 1000},
               {"started", unix_now()},
               {"connected", false},
               {"last_poll", 0},
               {"last_success", 0},
               {"last_error", ""},
               {"last_error_at", 0},
               {"consecutive_failures", 0},
               {"polls", 0},
               {"poll_errors", 0},
               {"resyncs", 0},
               {"decisions", 0},
               {"targets", 0},
               {"prefixes", 0},
               {"decisions_added", 0},
               {"decisions_deleted", 0},
               {"decisions_expired", 0},
               {"decisions_ignored", 0},
               {"decisions_refused", 0},
               {"write_errors", 0},
               {"last_write_seconds", 0.0},
               {"source_bit", nullptr},
               {"push", cfg_.push_name()},
               {"pushed", 0},
               {"push_errors", 0},
               {"push_dropped", 0},
               {"last_push_error", ""}};
    LapiLimits limits;
    limits.cancelled = [this] {
        std::lock_guard<std::mutex> g(mu_);
        return stop_;
    };
    client_ = std::make_unique<LapiClient>(cfg_.lapi_url, cfg_.api_key, limits);
    thread_ = std::thread([this] { run(); });
}

Bouncer::~Bouncer()
{
    {
        std::lock_guard<std::mutex> g(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

std::chrono::milliseconds Bouncer::wait_after_poll() const
{
    uint64_t failures = status_["consecutive_failures"].get<uint64_t>();
    std::chrono::milliseconds every = cfg_.poll_interval;
    if (failures == 0)
        return every;
    std::chrono::milliseconds cap = std::min<std::chrono::milliseconds>(every * 10, std::chrono::seconds(30));
    cap = std::max(cap, every);
    std::chrono::milliseconds wait = every;
    for (uint64_t i = 1; i < failures && wait < cap; i++)
        wait *= 2;
    return std::min(wait, cap);
}

void Bouncer::run()
{
    // Held while it runs: crowdsec_status_json() tells a live bouncer's
    // status from one left by a bouncer that is gone.
    Fd lock(::open(state_.file(kLockFile).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (lock.get() >= 0)
        flock(lock.get(), LOCK_EX | LOCK_NB);
    log(LogLevel::notice, "crowdsec: polling " + cfg_.lapi_url + " every " + format_duration(cfg_.poll_interval));
    for (;;) {
        poll();
        auto now = DecisionSet::Clock::now();
        if (size_t n = set_.expire(now)) {
            status_["decisions_expired"] = status_["decisions_expired"].get<uint64_t>() + n;
            dirty_ = true;
        }
        write();
        push();
        save_status();
        auto next = last_poll_ + wait_after_poll();
        if (std::optional<DecisionSet::Clock::time_point> end = set_.next_end(); end && *end < next)
            next = *end;  // a decision ends before the next poll: lift it on time
        std::unique_lock<std::mutex> l(mu_);
        if (cv_.wait_until(l, next, [this] { return stop_ || (!pending_.empty() && !push_failed_); }) && stop_)
            break;
    }
    state_.remove(kStatusFile);
}

void Bouncer::poll()
{
    // Due only when the last poll is an interval (or backoff) old: a wake-up
    // for a decision's end does not poll.
    auto now = DecisionSet::Clock::now();
    if (last_poll_ != DecisionSet::Clock::time_point{} && now - last_poll_ < wait_after_poll())
        return;
    last_poll_ = now;
    status_["polls"] = status_["polls"].get<uint64_t>() + 1;
    status_["last_poll"] = unix_now();
    try {
        bool startup = resync_;
        std::string body = client_->decisions_stream(startup);
        StreamAnswer a = parse_stream_answer(body, cfg_.filter);
        auto got = DecisionSet::Clock::now();
        uint64_t deleted = 0;  // decisions held that a deletion ended (repeats not counted)
        if (startup) {
            set_.replace(a.added, got);
            dirty_ = true;
            status_["resyncs"] = status_["resyncs"].get<uint64_t>() + 1;
        } else {
            for (const Decision &d : a.deleted)
                if (set_.remove(d, got)) {
                    dirty_ = true;
                    deleted++;
                }
            for (const Decision &d : a.added)
                dirty_ |= set_.add(d, got);
        }
        for (const std::string &r : a.refused)
            log(LogLevel::warning, "crowdsec: decision refused: " + r);
        status_["decisions_added"] = status_["decisions_added"].get<uint64_t>() + a.added.size();
        status_["decisions_deleted"] = status_["decisions_deleted"].get<uint64_t>() + deleted;
        status_["decisions_ignored"] = status_["decisions_ignored"].get<uint64_t>() + a.ignored;
        status_["decisions_refused"] = status_["decisions_refused"].get<uint64_t>() + a.refused_count;
        uint64_t failures = status_["consecutive_failures"].get<uint64_t>();
        if (failures > 0)
            log(LogLevel::notice, "crowdsec: " + cfg_.lapi_url + " answers again after " + std::to_string(failures) +
                                      " failed polls; resynced (" + std::to_string(a.added.size()) + " decisions)");
        else if (startup)
            log(LogLevel::notice, "crowdsec: " + std::to_string(a.added.size()) + " decisions from " + cfg_.lapi_url +
                                      (a.ignored ? " (" + std::to_string(a.ignored) + " of other scopes or types ignored)"
                                                 : ""));
        resync_ = false;
        synced_ = true;
        status_["connected"] = true;
        status_["last_success"] = unix_now();
        status_["consecutive_failures"] = 0;
    } catch (const std::exception &e) {
        // Enforcement stays as it is; the next answer that comes is a
        // startup one, which replaces the set as a whole.
        resync_ = true;
        uint64_t failures = status_["consecutive_failures"].get<uint64_t>() + 1;
        if (failures == 1 || status_["last_error"] != e.what())
            log(LogLevel::warning, std::string("crowdsec: poll failed (enforcement kept, retrying with backoff): ") +
                                       e.what());
        status_["connected"] = false;
        status_["last_error"] = e.what();
        status_["last_error_at"] = unix_now();
        status_["consecutive_failures"] = failures;
        status_["poll_errors"] = status_["poll_errors"].get<uint64_t>() + 1;
    }
    status_["decisions"] = set_.decisions();
    status_["targets"] = set_.targets();
}

void Bouncer::write()
{
    Stopwatch watch;
    try {
        Maps pinned = Maps::open(pin_dir_);
        bool force = false;
        if (!writer_ || !writer_->maps.same_maps(pinned)) {
            writer_ = std::make_unique<Writer>(std::move(pinned), state_);
            force = true;
        }
        DirLock lock(pin_dir_);
        bool added = false;
        Feed f = crowdsec_source(writer_->maps, cfg_.lapi_url, cfg_.poll_interval, &added);
        status_["source_bit"] = f.bit;
        // Until the LAPI answered once, what the kernel holds (from a run
        // before) stays as it is: an empty set is not news.
        if (synced_ && (dirty_ || force || added)) {
            auto start = std::chrono::steady_clock::now();
            PrefixSet list = set_.prefixes();
            WriteResult w = writer_->lists.replace(ListKind::block, f.bit, list);
            dirty_ = false;
            status_["prefixes"] = list.size();
            f.raw.prefixes = list.size();
            if (w.upserts || w.deletes) {
                f.raw.last_change = unix_now();
                status_["last_write_seconds"] =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                log(LogLevel::info, "crowdsec: " + std::to_string(set_.decisions()) + " decisions, " +
                                        std::to_string(list.size()) + " prefixes in force (" +
                                        std::to_string(w.upserts) + " entries written, " + std::to_string(w.deletes) +
                                        " removed, " + watch.lap() + ")");
            }
        }
        bool ok = status_["connected"].get<bool>();
        f.raw.last_attempt = status_["last_poll"].get<uint64_t>();
        f.raw.last_success = status_["last_success"].get<uint64_t>();
        f.raw.last_result = ok ? RG_FEED_APPLIED : RG_FEED_FETCH_FAILED;
        std::string msg = std::to_string(set_.decisions()) + " decisions, " + std::to_string(f.raw.prefixes) +
                          " prefixes in force";
        if (!ok)
            msg = status_["last_error"].get<std::string>() + "; enforcement kept: " + msg;
        set_feed_field(f.raw.message, msg);
        put_feed(writer_->maps, f);
    } catch (const std::exception &e) {
        // No maps (detached meanwhile): the next poll writes everything.
        writer_.reset();
        dirty_ = true;
        status_["write_errors"] = status_["write_errors"].get<uint64_t>() + 1;
        log(LogLevel::warning, std::string("crowdsec: cannot write the blocklist (trying again at the next poll): ") +
                                   e.what());
    }
}

void Bouncer::share(const json &watch_event)
{
    if (!cfg_.push_watch)
        return;
    if (std::optional<SharedBan> ban = shared_ban_of(watch_event))
        share(*ban);
}

void Bouncer::share(const SharedBan &ban)
{
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    {
        std::lock_guard<std::mutex> g(mu_);
        if (pending_.size() >= 10000) {
            pending_.erase(pending_.begin());
            push_dropped_++;
        }
        pending_.push_back(ban_alert(ban, host, int64_t(time(nullptr))));
    }
    cv_.notify_all();
}

// Sends the alerts waiting, in one request; after a failure they wait for
// the next poll (the token is fetched again: it may have expired).
void Bouncer::push()
{
    std::vector<json> batch;
    {
        std::lock_guard<std::mutex> g(mu_);
        batch.swap(pending_);
        status_["push_dropped"] = push_dropped_;
    }
    push_failed_ = false;
    if (batch.empty())
        return;
    try {
        if (token_.empty())
            token_ = client_->login(cfg_.machine_login, cfg_.machine_password);
        client_->post_alerts(token_, json(batch).dump());
        status_["pushed"] = status_.value("pushed", uint64_t(0)) + batch.size();
        log(LogLevel::notice, "crowdsec: " + std::to_string(batch.size()) + " ban(s) of the watch sent to " +
                                  cfg_.lapi_url + " as alerts");
    } catch (const std::exception &e) {
        token_.clear();  // log in again: it may have expired
        push_failed_ = true;  // and wait for the next poll
        status_["push_errors"] = status_.value("push_errors", uint64_t(0)) + 1;
        status_["last_push_error"] = e.what();
        log(LogLevel::warning, std::string("crowdsec: cannot send the watch's bans (sent again later): ") + e.what());
        std::lock_guard<std::mutex> g(mu_);
        pending_.insert(pending_.begin(), batch.begin(), batch.end());
    }
}

void Bouncer::save_status()
{
    try {
        status_["updated"] = unix_now();
        state_.write_text(kStatusFile, status_.dump() + "\n");
    } catch (const std::exception &e) {
        log(LogLevel::debug, std::string("crowdsec: cannot write its status: ") + e.what());
    }
}

json crowdsec_status_json(const StateDir &state)
{
    std::optional<std::string> text = state.read_text(kStatusFile);
    json j = text ? json::parse(*text, nullptr, false) : json::object();
    if (!j.is_object())
        j = json::object();
    bool active = false;
    Fd lock(::open(state.file(kLockFile).c_str(), O_RDONLY | O_CLOEXEC));
    if (lock.get() >= 0)
        active = flock(lock.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    j["active"] = active;
    return j;
}

} // namespace rg
