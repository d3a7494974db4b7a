#include "alert_engine.hpp"

#include "metrics.hpp"

#include <ctime>
#include <sstream>

namespace rg {

using nlohmann::json;

std::string AlertKey::text() const { return label.empty() ? name : name + " (" + label + " " + value + ")"; }

std::string utc_text(WallTime t)
{
    time_t s = std::chrono::system_clock::to_time_t(t);
    struct tm tm {};
    gmtime_r(&s, &tm);
    char buf[32];
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

namespace {

const char *state_name(AlertEvent::State s)
{
    return s == AlertEvent::State::resolved ? "resolved" : "firing";
}

int64_t unix_seconds(WallTime t)
{
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

} // namespace

json AlertEvent::to_json(const std::string &host) const
{
    json j = {{"name", check.key.name},
              {"state", state_name(state)},
              {"since", utc_text(since)},
              {"since_unix", unix_seconds(since)},
              {"time", utc_text(at)},
              {"time_unix", unix_seconds(at)},
              {"repeat", state == State::repeat},
              {"host", host},
              {"summary", check.summary},
              {"values", check.values},
              {"threshold", check.threshold}};
    if (!check.key.label.empty())
        j[check.key.label] = check.key.value;
    return j;
}

std::string AlertEvent::message() const
{
    std::string s = "alert " + check.key.text() + " " + state_name(state) + ": " + check.summary;
    if (state == State::repeat)
        s += " (still firing, since " + utc_text(since) + ")";
    if (state == State::resolved)
        s += " (was firing since " + utc_text(since) + ", for " +
             format_duration(std::chrono::seconds(unix_seconds(at) - unix_seconds(since))) + ")";
    return s;
}

std::vector<AlertEvent> AlertEngine::update(const std::vector<AlertCheck> &checks, const std::set<std::string> &unknown,
                                            WallTime now)
{
    std::vector<AlertEvent> events;
    std::map<AlertKey, bool> known;
    for (const AlertCheck &c : checks) {
        known[c.key] = c.firing;
        auto it = active_.find(c.key);
        if (c.firing && it == active_.end()) {
            active_.emplace(c.key, Active{c, now, now});
            fired_[c.key.name]++;
            events.push_back({c, AlertEvent::State::firing, now, now});
        } else if (c.firing) {
            it->second.check = c;
            if (repeat_.count() > 0 && now - it->second.last_sent >= repeat_) {
                it->second.last_sent = now;
                events.push_back({c, AlertEvent::State::repeat, it->second.since, now});
            }
        } else if (it != active_.end()) {
            events.push_back({c, AlertEvent::State::resolved, it->second.since, now});
            active_.erase(it);
        }
    }
    for (auto it = active_.begin(); it != active_.end();) {
        if (known.count(it->first)) {
            ++it;
        } else if (unknown.count(it->first.name)) {
            known[it->first] = true;  // still shown as firing
            ++it;
        } else {
            AlertCheck gone = it->second.check;
            gone.firing = false;
            gone.summary = "no longer checked: the alert" +
                           (it->first.label.empty() ? std::string() : " or its " + it->first.label) +
                           " left the configuration";
            events.push_back({gone, AlertEvent::State::resolved, it->second.since, now});
            it = active_.erase(it);
        }
    }
    known_ = std::move(known);
    return events;
}

std::string AlertEngine::prometheus_text(const std::set<std::string> &kinds) const
{
    std::ostringstream out;
    out << "# HELP relayguard_alert_active 1 while the alert fires, 0 while it is checked and not firing.\n"
           "# TYPE relayguard_alert_active gauge\n";
    for (const auto &[key, firing] : known_) {
        out << "relayguard_alert_active{alert=\"" << prometheus_label_value(key.name) << "\"";
        if (!key.label.empty())
            out << "," << key.label << "=\"" << prometheus_label_value(key.value) << "\"";
        out << "} " << (firing ? 1 : 0) << "\n";
    }
    out << "# HELP relayguard_alerts_total Times each alert started firing since the daemon started.\n"
           "# TYPE relayguard_alerts_total counter\n";
    std::set<std::string> names = kinds;
    for (const auto &[name, n] : fired_)
        names.insert(name);
    for (const std::string &name : names) {
        auto it = fired_.find(name);
        out << "relayguard_alerts_total{alert=\"" << prometheus_label_value(name) << "\"} "
            << (it == fired_.end() ? 0 : it->second) << "\n";
    }
    return out.str();
}

} // namespace rg
