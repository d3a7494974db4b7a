#include "alert_checks.hpp"

#include "attach.hpp"
#include "egress.hpp"
#include "error.hpp"
#include "feed_registry.hpp"
#include "rate.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <cmath>
#include <unistd.h>

namespace rg {

using nlohmann::json;

namespace {

static_assert(RG_REASON_MAX <= 32, "reason masks are 32 bits");

constexpr uint32_t kCountedFlags = RG_RF_DROP | RG_RF_MONITOR;
constexpr auto kBanStormWindow = std::chrono::minutes(1);

// The reasons a drop_rate name counts, as a bit per reason; 0 for a name
// that is not a drop or would-drop reason.
uint32_t reason_mask(std::string_view name)
{
    uint32_t mask = 0;
    for (uint32_t r = 0; r < RG_REASON_MAX; r++) {
        uint32_t f = rg_reason_info[r].flags;
        if (!(f & kCountedFlags))
            continue;
        if (name == rg_reason_info[r].name || (name == "dropped" && (f & RG_RF_DROP)) ||
            (name == "would_drop" && (f & RG_RF_MONITOR)))
            mask |= 1u << r;
    }
    return mask;
}

std::string valid_reasons()
{
    std::string s = "dropped, would_drop";
    for (uint32_t r = 0; r < RG_REASON_MAX; r++)
        if (rg_reason_info[r].flags & kCountedFlags)
            s += std::string(", ") + rg_reason_info[r].name;
    return s;
}

double round2(double v) { return std::round(v * 100) / 100; }

std::string number_text(double v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%.1f", v);
    return buf;
}

bool refused_by_checks(uint32_t result)
{
    return result == RG_FEED_EMPTY || result == RG_FEED_UNPARSEABLE || result == RG_FEED_SHRUNK;
}

const char *result_name(uint32_t result)
{
    return result < RG_FEED_RESULT_MAX ? rg_feed_result_name[result] : "unknown";
}

WallTime from_unix(int64_t s) { return WallTime(std::chrono::seconds(s)); }

constexpr size_t kTopNames = 5;

// The names whose count grew from `from` to `to`, most first (then by name),
// at most kTopNames; `distinct` gets how many grew at all.
std::vector<EgressTop> top_growth(const std::map<std::string, uint64_t> &from,
                                  const std::map<std::string, uint64_t> &to, size_t *distinct = nullptr)
{
    std::vector<EgressTop> grew;
    for (const auto &[name, n] : to) {
        auto it = from.find(name);
        uint64_t before = it == from.end() || it->second > n ? 0 : it->second;
        if (n > before)
            grew.push_back({name, n - before});
    }
    if (distinct)
        *distinct = grew.size();
    std::ranges::sort(grew, [](const EgressTop &a, const EgressTop &b) {
        return a.connections != b.connections ? a.connections > b.connections : a.name < b.name;
    });
    if (grew.size() > kTopNames)
        grew.resize(kTopNames);
    return grew;
}

json top_json(const std::vector<EgressTop> &top, const char *key)
{
    json a = json::array();
    for (const EgressTop &t : top)
        a.push_back({{key, t.name}, {"connections", t.connections}});
    return a;
}

std::string top_text(const std::vector<EgressTop> &top)
{
    std::string s;
    for (const EgressTop &t : top)
        s += (s.empty() ? "" : ", ") + t.name + " (" + std::to_string(t.connections) + ")";
    return s.empty() ? "none" : s;
}

// The egress snapshot as the surge check counts it: senders by address,
// destinations by prefix, the sketch of the last whole minute.
EgressReading egress_reading(const EgressSnapshot &snap)
{
    EgressReading e;
    e.connections = snap.syns;
    for (const EgressCount &c : snap.sources) {
        std::string a = c.key.str();
        e.senders[a.substr(0, a.rfind('/'))] = c.syns;  // a /32 or /128: the address
    }
    for (const EgressCount &c : snap.destinations)
        e.prefixes[c.key.str()] = c.syns;
    if (snap.minute > 0)
        e.sketch = {{snap.minute - 1, snap.distinct_previous}};
    return e;
}

} // namespace

EgressSample egress_window(const EgressReading &from, const EgressReading &to)
{
    EgressSample s;
    s.connections = to.connections >= from.connections ? to.connections - from.connections : to.connections;
    s.top_senders = top_growth(from.senders, to.senders);
    size_t distinct = 0;
    s.top_prefixes = top_growth(from.prefixes, to.prefixes, &distinct);
    s.destinations = double(distinct);
    return s;
}

std::set<std::string> AlertsConfig::kinds() const
{
    std::set<std::string> k;
    if (!drop_rate.empty())
        k.insert("drop_rate");
    if (feed_stale)
        k.insert("feed_stale");
    if (feed_rejected)
        k.insert("feed_rejected");
    if (ban_storm)
        k.insert("ban_storm");
    if (detached)
        k.insert("detached");
    if (outbound_surge)
        k.insert("outbound_surge");
    return k;
}

DropRateRule parse_drop_rate_rule(std::string_view text)
{
    size_t colon = text.find(':');
    if (colon == std::string_view::npos)
        throw Error("\"" + std::string(text) + "\": expected REASON:N (drops per second), e.g. dropped_blocklist:1000");
    std::string_view reason = text.substr(0, colon), n = text.substr(colon + 1);
    if (!reason_mask(reason))
        throw Error("\"" + std::string(reason) + "\": not a drop reason (valid: " + valid_reasons() + ")");
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
    if (ec != std::errc() || end != n.data() + n.size() || v > 1'000'000'000)
        throw Error("\"" + std::string(n) + "\": not a whole number of drops per second from 0 to 1000000000");
    return {std::string(reason), v};
}

std::vector<std::string> parse_alert_command(std::string_view text)
{
    std::vector<std::string> words;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t'))
            i++;
        if (i == text.size())
            break;
        std::string word;
        while (i < text.size() && text[i] != ' ' && text[i] != '\t') {
            char q = text[i];
            if (q != '\'' && q != '"') {
                word += text[i++];
                continue;
            }
            size_t close = text.find(q, i + 1);
            if (close == std::string_view::npos)
                throw Error(std::string("unclosed ") + q + " in " + std::string(text));
            word += text.substr(i + 1, close - i - 1);
            i = close + 1;
        }
        words.push_back(std::move(word));
    }
    if (words.empty())
        throw Error("no command given");
    if (!words[0].starts_with('/'))
        throw Error("\"" + words[0] + "\": the program must be an absolute path (no shell, no PATH lookup)");
    if (access(words[0].c_str(), X_OK) != 0)
        throw Error("\"" + words[0] + "\": not an executable file: " + std::strerror(errno), errno);
    return words;
}

AlertReadings read_alert_readings(const AlertsConfig &cfg, const std::string &pin_dir,
                                  const std::vector<std::string> &interfaces)
{
    AlertReadings r;
    r.mono = std::chrono::steady_clock::now();
    r.wall = std::chrono::system_clock::now();
    r.boot_ns = boottime_ns();
    std::set<std::string> kinds = cfg.kinds();
    try {
        Maps maps = Maps::open(pin_dir);
        if (kinds.count("drop_rate"))
            r.counters = maps.stats().total;
        if (kinds.count("feed_stale") || kinds.count("feed_rejected"))
            for (const Feed &f : list_feeds(maps))
                r.feeds.push_back({f.name(), f.raw.last_result, feed_field(f.raw.message, sizeof(f.raw.message)),
                                   int64_t(f.raw.added_at), int64_t(f.raw.last_success)});
        if (kinds.count("ban_storm"))
            for (const Ban &b : list_bans(maps))
                r.bans.push_back({b.cidr.str(), b.raw.created_ns});
        if (kinds.count("outbound_surge"))
            r.egress = egress_reading(read_egress(maps));
        if (kinds.count("detached")) {
            for (const std::string &name : interfaces) {
                std::optional<IfaceEntry> e = maps.find_iface(name);
                LiveState live = e ? query_live(*e) : LiveState{};
                r.interfaces.push_back(
                    {name, live.attached,
                     !e             ? "not in the attachment registry (`relayguard detach`?)"
                     : !live.present ? "the interface is gone (removed or renamed)"
                                     : "the filter's XDP program is no longer on the interface"});
            }
        }
    } catch (const NotAttached &) {
        // No maps, so no filter anywhere; the rest cannot be read.
        r = AlertReadings{.mono = r.mono, .wall = r.wall, .boot_ns = r.boot_ns};
        if (kinds.count("detached"))
            for (const std::string &name : interfaces)
                r.interfaces.push_back({name, false, "the pinned maps in " + pin_dir + " are gone"});
        kinds.erase("detached");
        r.unknown = kinds;
        r.error = "the pinned maps in " + pin_dir + " are gone";
    } catch (const std::exception &e) {
        r = AlertReadings{.mono = r.mono, .wall = r.wall, .boot_ns = r.boot_ns};
        r.unknown = kinds;
        r.error = e.what();
    }
    return r;
}

std::vector<AlertCheck> AlertChecks::evaluate(const AlertReadings &r)
{
    std::vector<AlertCheck> out;
    if (!r.unknown.count("drop_rate"))
        drop_rates(r, out);
    feeds(r, out);
    if (!r.unknown.count("ban_storm"))
        ban_storm(r, out);
    if (!r.unknown.count("detached"))
        detached(r, out);
    if (!r.unknown.count("outbound_surge"))
        outbound_surge(r, out);
    return out;
}

void AlertChecks::reconfigure(const AlertsConfig &cfg)
{
    AlertChecks next(cfg);
    Duration window = baseline_.settings().window;
    next.baseline_ = baseline_;
    if (cfg.outbound_surge) {
        next.baseline_.configure(*cfg.outbound_surge);
        if (cfg.outbound_surge->window == window) {
            next.window_start_ = std::move(window_start_);
            next.window_index_ = window_index_;
            next.window_partial_ = window_partial_;
            next.surge_ = std::move(surge_);
        }
    }
    *this = std::move(next);
}

// The rate over the last rate_window: from the newest sample at least that
// old (or the oldest there is, early on) to now.
void AlertChecks::drop_rates(const AlertReadings &r, std::vector<AlertCheck> &out)
{
    if (cfg_.drop_rate.empty() || !r.counters)
        return;
    Sample now{r.mono, {}};
    for (const DropRateRule &rule : cfg_.drop_rate) {
        uint32_t mask = reason_mask(rule.reason);
        uint64_t sum = 0;
        for (uint32_t reason = 0; reason < RG_REASON_MAX; reason++)
            if (mask >> reason & 1)
                sum += (*r.counters)[reason].packets;
        now.packets.push_back(sum);
    }
    // Counters that went back: the maps were made anew; start over.
    bool went_back = false;
    if (!samples_.empty())
        for (size_t i = 0; i < now.packets.size(); i++)
            went_back |= now.packets[i] < samples_.back().packets[i];
    if (went_back)
        samples_.clear();
    samples_.push_back(now);
    while (samples_.size() > 2 && samples_[1].at <= r.mono - cfg_.rate_window)
        samples_.pop_front();
    const Sample &base = samples_.front();
    double seconds = std::chrono::duration<double>(r.mono - base.at).count();
    for (size_t i = 0; i < cfg_.drop_rate.size(); i++) {
        const DropRateRule &rule = cfg_.drop_rate[i];
        uint64_t packets = now.packets[i] - base.packets[i];
        double rate = seconds > 0 ? double(packets) / seconds : 0;
        AlertCheck c{.key = {"drop_rate", "reason", rule.reason}, .firing = seconds > 0 && rate > double(rule.per_second)};
        c.summary = rule.reason + ": " + number_text(rate) + " packets/s over the last " + number_text(seconds) +
                    " s (threshold " + std::to_string(rule.per_second) + "/s)";
        c.values = {{"rate", round2(rate)}, {"packets", packets}, {"seconds", round2(seconds)}};
        c.threshold = rule.per_second;
        out.push_back(std::move(c));
    }
}

void AlertChecks::feeds(const AlertReadings &r, std::vector<AlertCheck> &out) const
{
    int64_t now = std::chrono::duration_cast<std::chrono::seconds>(r.wall.time_since_epoch()).count();
    for (const FeedReading &f : r.feeds) {
        json last = {{"last_result", result_name(f.last_result)}, {"message", f.message}};
        if (cfg_.feed_stale && !r.unknown.count("feed_stale")) {
            int64_t base = f.last_success ? f.last_success : f.added_at;
            int64_t age = std::max<int64_t>(now - base, 0);
            AlertCheck c{.key = {"feed_stale", "feed", f.name}, .firing = age > whole_seconds(*cfg_.feed_stale)};
            std::string ago = format_duration(std::chrono::seconds(age));
            c.summary = f.name + ": " +
                        (f.last_success ? "last successful sync " + ago + " ago (" + utc_text(from_unix(base)) + ")"
                                        : "no successful sync since it was added " + ago + " ago") +
                        "; last attempt: " + result_name(f.last_result) + (f.message.empty() ? "" : ": " + f.message) +
                        " (threshold " + format_duration(*cfg_.feed_stale) + ")";
            c.values = last;
            c.values["seconds_since_success"] = age;
            c.values["last_success"] = f.last_success ? json(utc_text(from_unix(f.last_success))) : json(nullptr);
            c.threshold = whole_seconds(*cfg_.feed_stale);
            out.push_back(std::move(c));
        }
        if (cfg_.feed_rejected && !r.unknown.count("feed_rejected")) {
            AlertCheck c{.key = {"feed_rejected", "feed", f.name}, .firing = refused_by_checks(f.last_result)};
            c.summary = f.name + ": last sync " +
                        (c.firing ? std::string("refused by its safety checks, ") : std::string("")) +
                        result_name(f.last_result) + (f.message.empty() ? "" : ": " + f.message);
            c.values = last;
            out.push_back(std::move(c));
        }
    }
}

void AlertChecks::ban_storm(const AlertReadings &r, std::vector<AlertCheck> &out)
{
    if (!cfg_.ban_storm)
        return;
    uint64_t window = std::chrono::nanoseconds(kBanStormWindow).count();
    uint64_t start = r.boot_ns > window ? r.boot_ns - window : 0;
    // Bans seen within the minute stay counted when they expire or are
    // removed before it ends.
    for (const BanReading &b : r.bans)
        if (b.created_ns > start)
            recent_bans_.insert({b.created_ns, b.prefix});
    while (!recent_bans_.empty() && recent_bans_.begin()->first <= start)
        recent_bans_.erase(recent_bans_.begin());
    size_t n = recent_bans_.size();
    AlertCheck c{.key = {"ban_storm", "", ""}, .firing = n > *cfg_.ban_storm};
    c.summary = std::to_string(n) + " new bans within the last minute (threshold " + std::to_string(*cfg_.ban_storm) +
                ")";
    c.values = {{"new_bans", n}, {"seconds", 60}};
    c.threshold = *cfg_.ban_storm;
    out.push_back(std::move(c));
}

void AlertChecks::detached(const AlertReadings &r, std::vector<AlertCheck> &out) const
{
    if (!cfg_.detached)
        return;
    for (const IfaceReading &i : r.interfaces) {
        AlertCheck c{.key = {"detached", "interface", i.name}, .firing = !i.attached};
        c.summary = i.name + ": " + (i.attached ? "the filter is attached" : i.why);
        c.values = {{"attached", i.attached}};
        if (!i.attached)
            c.values["why"] = i.why;
        out.push_back(std::move(c));
    }
}

// Windows are aligned to CLOCK_BOOTTIME (index boot_ns / window), as the
// kernel's sketch minutes are: a one-minute window's destinations are the
// sketch's estimate of that very minute. A window ends at the first tick
// after its end (within a second); the one the daemon started in, and one
// after ticks were missed, are not judged (they would be partial). The
// verdict is reported at every tick until the next window ends (the engine
// resolves an alert without a check). Before the first window ends: clear.
void AlertChecks::outbound_surge(const AlertReadings &r, std::vector<AlertCheck> &out)
{
    if (!cfg_.outbound_surge || !r.egress)
        return;
    const SurgeSettings &s = baseline_.settings();
    uint64_t window_ns = uint64_t(std::chrono::nanoseconds(s.window).count());
    uint64_t index = r.boot_ns / window_ns;
    // Counters that went back: the maps were made anew; start over.
    if (window_start_ && r.egress->connections < window_start_->connections)
        window_start_.reset();
    if (!window_start_) {
        window_start_ = r.egress;
        window_index_ = index;
        window_partial_ = true;
    }
    if (index != window_index_) {
        if (!window_partial_ && index == window_index_ + 1)
            surge_ = judge(*window_start_, *r.egress, window_index_);
        window_start_ = r.egress;
        window_index_ = index;
        window_partial_ = false;
    }
    if (surge_) {
        out.push_back(*surge_);
    } else {
        AlertCheck c{.key = {"outbound_surge", "", ""}, .firing = false};
        c.summary = "no whole window of " + format_duration(s.window) + " has ended yet";
        out.push_back(std::move(c));
    }
}

AlertCheck AlertChecks::judge(const EgressReading &from, const EgressReading &to, uint64_t index)
{
    const SurgeSettings &s = baseline_.settings();
    EgressSample sample = egress_window(from, to);
    const char *estimate = "table";
    if (s.window == std::chrono::seconds(60) && to.sketch && to.sketch->first == index) {
        sample.destinations = to.sketch->second;
        estimate = "sketch";
    }
    SurgeVerdict v = baseline_.observe(sample);
    AlertCheck c{.key = {"outbound_surge", "", ""}, .firing = v.surge};
    c.summary = std::to_string(sample.connections) + " new outbound SMTP connections in " + format_duration(s.window) +
                " (baseline " + number_text(v.baseline_connections) + ", threshold " +
                number_text(v.threshold_connections) + "), " + number_text(sample.destinations) +
                " destination prefixes (baseline " + number_text(v.baseline_destinations) + ", threshold " +
                number_text(v.threshold_destinations) + ")" + (v.warming_up ? ", baseline warming up" : "") +
                "; top senders: " + top_text(sample.top_senders) + "; top destinations: " + top_text(sample.top_prefixes);
    json by = json::array();
    if (v.by_connections)
        by.push_back("connections");
    if (v.by_destinations)
        by.push_back("destinations");
    c.values = {{"connections", sample.connections},
                {"destinations", round2(sample.destinations)},
                {"destinations_from", estimate},
                {"baseline_connections", round2(v.baseline_connections)},
                {"baseline_destinations", round2(v.baseline_destinations)},
                {"warming_up", v.warming_up},
                {"by", by},
                {"window_seconds", round2(std::chrono::duration<double>(s.window).count())},
                {"top_senders", top_json(sample.top_senders, "address")},
                {"top_destinations", top_json(sample.top_prefixes, "prefix")}};
    c.threshold = {{"connections", round2(v.threshold_connections)},
                   {"destinations", round2(v.threshold_destinations)},
                   {"floor_connections", s.floor_connections},
                   {"floor_destinations", s.floor_destinations},
                   {"multiple", s.multiple}};
    return c;
}

} // namespace rg
