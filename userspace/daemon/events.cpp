#include "events.hpp"

#include "cidr.hpp"
#include "error.hpp"
#include "rate.hpp"
#include "text.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <net/if.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

using nlohmann::json;

namespace rg {

namespace {

int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string iface_name(const EventNames &names, uint32_t ifindex)
{
    for (const IfaceEntry &e : names.ifaces)
        if (e.raw.ifindex == ifindex)
            return e.name();
    char buf[IF_NAMESIZE];
    return if_indextoname(ifindex, buf) ? std::string(buf) : "if" + std::to_string(ifindex);
}

double unix_seconds(uint64_t boot_ns, const EventNames &names)
{
    return double(int64_t(boot_ns) + names.boot_to_real_ns) / 1e9;
}

std::string str_or(const json &j, const char *key)
{
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string feeds_text(const json &event)
{
    std::string out;
    for (const json &f : event.value("feeds", json::array()))
        out += (out.empty() ? "" : ",") + f.get<std::string>();
    return out;
}

// Creates the state directory (0700) when it is not there yet.
void ensure_dir(const StateDir &dir)
{
    std::error_code ec;
    std::filesystem::create_directories(dir.path(), ec);
    if (ec)
        throw Error("cannot create state directory " + dir.path() + ": " + ec.message());
    chmod(dir.path().c_str(), 0700);
}

} // namespace

EventNames EventNames::read(const Maps &maps)
{
    return {.feeds = list_feeds(maps),
            .ifaces = maps.ifaces(),
            .boot_to_real_ns = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME)};
}

json event_json(const struct rg_event &e, const EventNames &names)
{
    Cidr src;
    src.family = e.family == 6 ? 6 : 4;
    src.len = std::min<uint8_t>(e.prefixlen, src.max_len());
    std::memcpy(src.addr.data(), e.addr, src.family == 4 ? 4 : 16);
    bool ban = e.kind == RG_EVENT_BAN;
    std::string text = src.str();
    if (!ban)
        text = text.substr(0, text.find('/'));  // a drop's source is one address
    json feeds = json::array();
    for (unsigned bit = 0; bit < RG_MAX_SOURCES; bit++)
        if (e.sources >> bit & 1)
            feeds.push_back(source_name(names.feeds, bit));
    const char *reason = ban ? ban_reason_name(e.reason)
                             : e.reason < RG_REASON_MAX ? rg_reason_info[e.reason].name : "unknown";
    json j = {{"time", unix_seconds(e.time_ns, names)},
              {"event", ban ? "ban" : "drop"},
              {"source", text},
              {"family", src.family == 4 ? "ipv4" : "ipv6"},
              {"reason", reason},
              {"feeds", feeds},
              {"interface", iface_name(names, e.ifindex)},
              {"ifindex", e.ifindex},
              {"port", e.dport}};
    if (ban)
        j["expires"] = unix_seconds(e.expires_ns, names);
    return j;
}

std::string describe_event(const json &event)
{
    std::string feeds = feeds_text(event);
    std::string out = str_or(event, "event") + " " + str_or(event, "source") + " " + str_or(event, "reason");
    if (!feeds.empty())
        out += " (" + feeds + ")";
    if (event.contains("expires") && event.contains("time"))
        out += " for " + format_duration(Duration(int64_t((event["expires"].get<double>() -
                                                             event["time"].get<double>()) * 1000)));
    return out + " on " + str_or(event, "interface") + " port " + std::to_string(event.value("port", 0));
}

std::vector<LogField> event_fields(const json &event)
{
    return {{"RELAYGUARD_EVENT", str_or(event, "event")},
            {"SOURCE", str_or(event, "source")},
            {"REASON", str_or(event, "reason")},
            {"FEED", feeds_text(event)},
            {"INTERFACE", str_or(event, "interface")},
            {"PORT", std::to_string(event.value("port", 0))}};
}

json event_counters_json(const Maps &maps)
{
    struct rg_event_stats c = event_counters(maps);
    return {{"emitted", c.emitted}, {"capped", c.capped}, {"lost", c.lost}};
}

void EventFile::append(const json &event)
{
    ensure_dir(dir_);
    std::string path = dir_.file(kEventFile);
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && uint64_t(st.st_size) >= kEventFileMax &&
        rename(path.c_str(), dir_.file(kEventFileOld).c_str()) != 0)
        throw_errno("cannot rotate " + path, errno);
    std::string line = json_text(event) + "\n";
    Fd fd(open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
    if (fd.get() < 0 || write(fd.get(), line.data(), line.size()) != ssize_t(line.size()))
        throw_errno("cannot write " + path, errno);
}

std::vector<json> EventFile::read(const char *name) const
{
    std::vector<json> out;
    std::string path = dir_.file(name);
    std::ifstream in(path);
    std::string line;
    for (size_t n = 1; std::getline(in, line); n++) {
        json j = json::parse(line, nullptr, false);
        if (j.is_object())
            out.push_back(std::move(j));
        else
            log(LogLevel::warning, path + ":" + std::to_string(n) + ": not an event (JSON object), skipped");
    }
    return out;
}

std::vector<json> EventFile::read_all() const
{
    std::vector<json> out = read(kEventFileOld);
    for (json &j : read(kEventFile))
        out.push_back(std::move(j));
    return out;
}

std::unique_ptr<EventConsumer> EventConsumer::try_open(const Maps &maps, const StateDir &dir, Handler on_event,
                                                       long *holder)
{
    ensure_dir(dir);
    std::string path = dir.file(kEventLock);
    Fd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd.get() < 0)
        throw_errno("cannot open " + path, errno);
    if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK)
            throw_errno("cannot lock " + path, errno);
        if (holder) {
            char buf[32] = {};
            *holder = pread(fd.get(), buf, sizeof(buf) - 1, 0) > 0 ? strtol(buf, nullptr, 10) : 0;
        }
        return nullptr;
    }
    std::string pid = std::to_string(getpid()) + "\n";
    if (ftruncate(fd.get(), 0) != 0 || pwrite(fd.get(), pid.data(), pid.size(), 0) != ssize_t(pid.size()))
        log(LogLevel::warning, "cannot write the pid into " + path + ": " + strerror(errno));
    return std::unique_ptr<EventConsumer>(new EventConsumer(std::move(fd), maps, dir, std::move(on_event)));
}

EventConsumer::EventConsumer(Fd lock, const Maps &maps, const StateDir &dir, Handler on_event)
    : lock_(std::move(lock)), maps_(Maps::open(maps.pin_dir())), file_(dir), on_event_(std::move(on_event)),
      ring_(maps_, [this](const struct rg_event &e) { batch_.push_back(e); })
{
}

size_t EventConsumer::drain()
{
    batch_.clear();
    ring_.consume();
    if (batch_.empty())
        return 0;
    EventNames names = EventNames::read(maps_);
    for (const struct rg_event &e : batch_) {
        json j = event_json(e, names);
        file_.append(j);
        on_event_(j);
    }
    return batch_.size();
}

EventTail::EventTail(const StateDir &dir, bool from_start) : dir_(dir)
{
    ensure_dir(dir_);
    inotify_ = Fd(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (inotify_.get() < 0 ||
        inotify_add_watch(inotify_.get(), dir_.path().c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0)
        throw_errno("cannot watch " + dir_.path(), errno);
    reopen();
    if (file_.get() >= 0 && !from_start)
        lseek(file_.get(), 0, SEEK_END);
}

void EventTail::reopen()
{
    file_ = Fd(open(dir_.file(kEventFile).c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st;
    ino_ = file_.get() >= 0 && fstat(file_.get(), &st) == 0 ? st.st_ino : 0;
    partial_.clear();
}

std::vector<json> EventTail::read()
{
    char ev[4096];
    while (::read(inotify_.get(), ev, sizeof(ev)) > 0) {
    }
    std::vector<json> out;
    for (int round = 0; round < 2; round++) {
        char buf[65536];
        ssize_t n;
        while (file_.get() >= 0 && (n = ::read(file_.get(), buf, sizeof(buf))) > 0) {
            partial_.append(buf, size_t(n));
            size_t nl;
            while ((nl = partial_.find('\n')) != std::string::npos) {
                json j = json::parse(partial_.substr(0, nl), nullptr, false);
                if (j.is_object())
                    out.push_back(std::move(j));
                partial_.erase(0, nl + 1);
            }
        }
        // Rotated (or made): what was left in the old file is read above,
        // the new one from its start.
        struct stat st;
        if (stat(dir_.file(kEventFile).c_str(), &st) != 0 || st.st_ino == ino_)
            break;
        reopen();
    }
    return out;
}

} // namespace rg
