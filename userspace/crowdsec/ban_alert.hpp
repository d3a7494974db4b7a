// relayguard's own bans shared with a CrowdSec fleet ([crowdsec] push): a
// ban of `relayguard watch` as the alert a CrowdSec agent would send the
// Local API (POST /v1/alerts), with one ban decision for the source (scope
// Ip for an address, Range for an escalated prefix), the watch rule as its
// scenario ("relayguard/relay-denied") and the ban's duration. Every
// bouncer of the fleet then drops the source.
#pragma once

#include "cidr.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace rg {

struct SharedBan {
    Cidr prefix;
    std::string rule;
    std::chrono::seconds bantime{0};
    uint64_t matches = 0;
};

// The ban a watch decision event reports (watcher.hpp), or nothing for one
// that is not a ban made (an exemption, a dry run).
std::optional<SharedBan> shared_ban_of(const nlohmann::json &watch_event);

// The alert for the LAPI; `host` names the machine in its message, `now`
// (Unix seconds) is its start and stop.
nlohmann::json ban_alert(const SharedBan &ban, const std::string &host, int64_t now);

} // namespace rg
