#include "watch_state.hpp"

#include "error.hpp"
#include "log.hpp"
#include "text.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

namespace rg {

using nlohmann::json;

json to_json(const WatchState &s)
{
    json rules = json::object(), bans = json::array(), offenders = json::array();
    for (const auto &[name, c] : s.rules)
        rules[name] = {{"matches", c.matches}, {"bans", c.bans}, {"exempt", c.exempt}};
    for (const auto &[prefix, b] : s.bans)
        bans.push_back({{"prefix", prefix.str()}, {"rule", b.rule}, {"matches", b.matches}, {"offence", b.offence},
                        {"escalation", b.escalation}, {"banned_at", b.banned_at}, {"expires_at", b.expires_at},
                        {"lines", b.lines}});
    for (const auto &[source, o] : s.offenders)
        offenders.push_back({{"source", source.str()}, {"bans", o.bans}, {"last_ban", o.last_ban}});
    return {{"source", s.source}, {"lines", s.lines}, {"rules", rules}, {"bans", bans}, {"offenders", offenders}};
}

WatchState watch_state_from_json(const json &j)
{
    WatchState s;
    s.source = j.at("source").get<std::string>();
    s.lines = j.at("lines").get<uint64_t>();
    for (const auto &[name, c] : j.at("rules").items())
        s.rules[name] = {c.at("matches").get<uint64_t>(), c.at("bans").get<uint64_t>(), c.at("exempt").get<uint64_t>()};
    for (const json &b : j.at("bans"))
        s.bans[parse_cidr(b.at("prefix").get<std::string>()).cidr] =
            WatchBan{b.at("rule").get<std::string>(),      b.at("matches").get<unsigned>(),
                     b.at("offence").get<unsigned>(),      b.at("escalation").get<bool>(),
                     b.at("banned_at").get<int64_t>(),     b.at("expires_at").get<int64_t>(),
                     b.at("lines").get<std::vector<std::string>>()};
    for (const json &o : j.at("offenders"))
        s.offenders[parse_cidr(o.at("source").get<std::string>()).cidr] =
            RepeatOffender{o.at("bans").get<unsigned>(), o.at("last_ban").get<int64_t>()};
    return s;
}

void save_watch_state(const StateDir &dir, const WatchState &s)
{
    // json_text: a log line kept as evidence need not be UTF-8.
    dir.write_text(kWatchStateFile, json_text(to_json(s)) + "\n");
}

std::optional<WatchState> load_watch_state(const StateDir &dir)
{
    std::optional<std::string> text = dir.read_text(kWatchStateFile);
    if (!text)
        return std::nullopt;
    try {
        return watch_state_from_json(json::parse(*text));
    } catch (const std::exception &e) {
        log(LogLevel::warning, dir.file(kWatchStateFile) + ": ignored, not a watch state file: " + e.what());
        return std::nullopt;
    }
}

} // namespace rg

namespace rg {

json watch_stats_json(const StateDir &dir)
{
    WatchState s = load_watch_state(dir).value_or(WatchState{});
    json j = to_json(s);
    j.erase("bans");
    j.erase("offenders");
    j["active"] = watch_running(dir);
    return j;
}

bool watch_running(const StateDir &dir)
{
    Fd fd(open(dir.file("watch.lock").c_str(), O_RDONLY | O_CLOEXEC));
    return fd.get() >= 0 && flock(fd.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

Fd lock_watch(const StateDir &dir)
{
    if (mkdir(dir.path().c_str(), 0700) != 0 && errno != EEXIST)
        throw_errno("cannot create " + dir.path(), errno);
    std::string path = dir.file("watch.lock");
    Fd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (fd.get() < 0)
        throw_errno("cannot open " + path, errno);
    if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            throw Error("another relayguard watch (or a daemon with [watch]) is running for this pin directory: " +
                        path + " is held");
        throw_errno("cannot lock " + path, errno);
    }
    return fd;
}

} // namespace rg
