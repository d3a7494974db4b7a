#include "ban_alert.hpp"

#include <ctime>

namespace rg {

using nlohmann::json;

std::optional<SharedBan> shared_ban_of(const json &e)
{
    if (!e.is_object() || e.value("event", "") != "ban" || e.value("dry_run", false))
        return std::nullopt;
    ParsedCidr p;
    std::string why;
    if (!try_parse_cidr(e.value("prefix", ""), p, why))
        return std::nullopt;
    SharedBan b;
    b.prefix = p.cidr;
    b.rule = e.value("rule", "watch");
    b.bantime = std::chrono::seconds(e.value("bantime_s", int64_t(0)));
    b.matches = e.value("matches", uint64_t(0));
    if (b.bantime.count() <= 0)
        return std::nullopt;
    return b;
}

json ban_alert(const SharedBan &ban, const std::string &host, int64_t now)
{
    char at[32];
    time_t t = time_t(now);
    struct tm tm {};
    gmtime_r(&t, &tm);
    strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
    bool single = ban.prefix.len == ban.prefix.max_len();
    std::string value = single ? ban.prefix.str().substr(0, ban.prefix.str().find('/')) : ban.prefix.str();
    std::string scope = single ? "Ip" : "Range";
    std::string scenario = "relayguard/" + ban.rule;
    json source = {{"scope", scope}, {"value", value}};
    if (single)
        source["ip"] = value;
    else
        source["range"] = value;
    return {{"scenario", scenario},
            {"scenario_hash", ""},
            {"scenario_version", ""},
            {"message", "relayguard on " + host + ": ban " + ban.prefix.str() + " for " +
                            std::to_string(ban.bantime.count()) + "s (" + ban.rule + ", " +
                            std::to_string(ban.matches) + " matches)"},
            {"events_count", ban.matches},
            {"events", json::array()},
            {"start_at", at},
            {"stop_at", at},
            {"capacity", 0},
            {"leakspeed", "0"},
            {"simulated", false},
            {"source", source},
            {"decisions",
             json::array({{{"duration", std::to_string(ban.bantime.count()) + "s"},
                           {"origin", "relayguard"},
                           {"scenario", scenario},
                           {"scope", scope},
                           {"type", "ban"},
                           {"value", value}}})}};
}

} // namespace rg
