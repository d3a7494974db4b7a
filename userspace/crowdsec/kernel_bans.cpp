#include "kernel_bans.hpp"

namespace rg {

namespace {

bool made_by_rate_limiter(const Ban &b)
{
    return b.raw.reason == RG_BAN_RATELIMIT || b.raw.reason == RG_BAN_ESCALATION;
}

} // namespace

KernelBans::KernelBans(const std::vector<Ban> &now_listed, uint64_t now_ns)
{
    fresh(now_listed, now_ns);
}

std::vector<SharedBan> KernelBans::fresh(const std::vector<Ban> &listed, uint64_t now_ns)
{
    std::erase_if(seen_, [&](const auto &s) { return s.second <= now_ns; });
    std::vector<SharedBan> out;
    for (const Ban &b : listed) {
        if (!made_by_rate_limiter(b) || b.expired(now_ns) || !seen_.emplace(b.cidr, b.raw.expires_ns).second)
            continue;
        SharedBan s;
        s.prefix = b.cidr;
        s.rule = b.raw.reason == RG_BAN_ESCALATION ? "syn-rate-escalation" : "syn-rate";
        s.bantime = std::chrono::seconds((b.raw.expires_ns - now_ns + 999'999'999) / 1'000'000'000);
        s.matches = b.raw.hits;
        out.push_back(s);
    }
    return out;
}

} // namespace rg
