#include "watch_state.hpp"

#include "error.hpp"
#include "log.hpp"
#include "text.hpp"

#include <cerrno>
#include <limits>
#include <type_traits>
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

namespace {

// A count or a time as written: a whole number in T's range, else the file
// is not one this code wrote (nlohmann's get<> of 1e52 or -1 as an unsigned
// is undefined behaviour, not an error).
template <class T> T whole(const json &j, const char *key)
{
    const json &v = j.at(key);
    bool fits = false;
    if (v.is_number_unsigned())
        fits = v.get<uint64_t>() <= uint64_t(std::numeric_limits<T>::max());
    else if (v.is_number_integer())
        fits = std::is_signed_v<T> && v.get<int64_t>() >= int64_t(std::numeric_limits<T>::min());
    if (!fits)
        throw Error(std::string("\"") + key + "\" is not a whole number in range: " + json_text(v));
    return v.is_number_unsigned() ? T(v.get<uint64_t>()) : T(v.get<int64_t>());
}

} // namespace

WatchState watch_state_from_json(const json &j)
{
    WatchState s;
    s.source = j.at("source").get<std::string>();
    s.lines = whole<uint64_t>(j, "lines");
    for (const auto &[name, c] : j.at("rules").items())
        s.rules[name] = {whole<uint64_t>(c, "matches"), whole<uint64_t>(c, "bans"), whole<uint64_t>(c, "exempt")};
    for (const json &b : j.at("bans"))
        s.bans[parse_cidr(b.at("prefix").get<std::string>()).cidr] =
            WatchBan{b.at("rule").get<std::string>(),  whole<unsigned>(b, "matches"),
                     whole<unsigned>(b, "offence"),    b.at("escalation").get<bool>(),
                     whole<int64_t>(b, "banned_at"),   whole<int64_t>(b, "expires_at"),
                     b.at("lines").get<std::vector<std::string>>()};
    for (const json &o : j.at("offenders"))
        s.offenders[parse_cidr(o.at("source").get<std::string>()).cidr] =
            RepeatOffender{whole<unsigned>(o, "bans"), whole<int64_t>(o, "last_ban")};
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
