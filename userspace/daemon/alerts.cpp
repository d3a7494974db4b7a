#include "alerts.hpp"

#include "log.hpp"
#include "text.hpp"

#include <unistd.h>

namespace rg {

using nlohmann::json;

namespace {

std::string host_name()
{
    char name[256] = {};
    if (gethostname(name, sizeof(name) - 1) != 0)
        return "";
    return name;
}

std::string joined(const std::set<std::string> &words)
{
    std::string s;
    for (const std::string &w : words)
        s += (s.empty() ? "" : ", ") + w;
    return s;
}

} // namespace

Alerts::Alerts(const AlertsConfig &cfg, Sink sink) : checks_(cfg), sink_(std::move(sink)), host_(host_name())
{
    configure(cfg);
}

void Alerts::configure(const AlertsConfig &cfg)
{
    if (!(cfg == checks_.config()))
        checks_.reconfigure(cfg);
    engine_.set_repeat(cfg.repeat);
    command_.set(cfg.command, cfg.command_timeout);
    std::lock_guard<std::mutex> g(mu_);
    text_ = engine_.prometheus_text(cfg.kinds());
}

void Alerts::tick(const std::string &pin_dir, const std::vector<std::string> &interfaces)
{
    AlertReadings r = read_alert_readings(checks_.config(), pin_dir, interfaces);
    if (r.error != read_error_ && !r.error.empty())
        log(LogLevel::warning, "alerts: cannot check " + joined(r.unknown) + ": " + r.error);
    read_error_ = r.error;
    tick(r);
}

void Alerts::tick(const AlertReadings &r)
{
    std::vector<AlertEvent> events = engine_.update(checks_.evaluate(r), r.unknown, r.wall);
    {
        // Before the reports: whoever hears of an alert finds it in /metrics.
        std::string text = engine_.prometheus_text(checks_.config().kinds());
        std::lock_guard<std::mutex> g(mu_);
        text_ = std::move(text);
    }
    for (const AlertEvent &e : events) {
        bool resolved = e.state == AlertEvent::State::resolved;
        log(resolved ? LogLevel::notice : LogLevel::warning, e.message());
        json j = e.to_json(host_);
        json line = {{"time", j["time_unix"]}, {"event", "alert"}, {"alert", j}};
        if (sink_)
            sink_(line);
        command_.run({.name = e.check.key.name,
                      .state = j["state"].get<std::string>(),
                      .summary = e.message(),
                      .input = json_text(j) + "\n"});
    }
    command_.poll();
}

std::string Alerts::prometheus_text() const
{
    std::lock_guard<std::mutex> g(mu_);
    return text_;
}

} // namespace rg
