// [crowdsec] push = ratelimit: the bans the kernel's rate limiter made
// (rg_bans4/6 entries with reason ratelimit or escalation), each shared
// once. The daemon looks at the ban tries every second; a ban is new when
// its prefix and end were not seen before (a renewed ban is new again).
// The bans there when the daemon starts were shared by the run before.
#pragma once

#include "ban_alert.hpp"
#include "rate.hpp"

#include <cstdint>
#include <set>
#include <utility>
#include <vector>

namespace rg {

class KernelBans {
public:
    // Takes the bans there now as already shared.
    explicit KernelBans(const std::vector<Ban> &now_listed, uint64_t now_ns);
    // The rate limiter's bans of `listed` not seen before, as bans to share
    // (rule "syn-rate" or "syn-rate-escalation", the time left as bantime);
    // forgets the ones that ended.
    std::vector<SharedBan> fresh(const std::vector<Ban> &listed, uint64_t now_ns);

private:
    std::set<std::pair<Cidr, uint64_t>> seen_;  // prefix, expires_ns
};

} // namespace rg
