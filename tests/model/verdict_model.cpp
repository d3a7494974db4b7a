#include "verdict_model.hpp"

namespace rg::model {

namespace {

enum rg_reason parse_reason(Parse p)
{
    switch (p) {
    case Parse::not_ip: return RG_PASS_NOT_IP;
    case Parse::not_tcp: return RG_PASS_NOT_TCP;
    case Parse::fragment: return RG_PASS_FRAGMENT;
    case Parse::unparsed: return RG_PASS_UNPARSED;
    case Parse::malformed:
    case Parse::tcp: break;
    }
    return RG_PASS_MALFORMED;
}

} // namespace

Verdict verdict(std::span<const uint8_t> frame, const PrefixLists &lists, const BanTable &bans, const Policy &policy)
{
    Verdict v;
    v.parsed = parse_frame(frame);
    const ParsedFrame &p = v.parsed;
    if (p.status != Parse::tcp) {
        v.reason = parse_reason(p.status);
        return v;
    }
    if (!policy.ports[p.dport]) {
        v.reason = RG_PASS_UNPROTECTED;
        return v;
    }
    v.syn = p.syn;
    U128 addr = address_of(p.family, p.saddr);
    Sources s = lists.lookup(p.family, addr);
    if (s.allow) {
        v.reason = RG_PASS_ALLOWLIST;
        return v;
    }
    if (s.block) {
        bool enforced = (s.block & ~policy.shadow) != 0;
        v.block_sources = s.block;
        v.sources_dropped = enforced && !policy.monitor ? s.block & ~policy.shadow : 0;
        if (enforced) {
            v.reason = policy.monitor ? RG_WOULD_DROP_BLOCKLIST : RG_DROP_BLOCKLIST;
            v.drop = !policy.monitor;
            return v;
        }
    }
    if (bans.find(p.family, addr, policy.now_ns)) {
        v.reason = policy.monitor ? RG_WOULD_DROP_BANNED : RG_DROP_BANNED;
        v.drop = !policy.monitor;
        return v;
    }
    v.reason = RG_PASS_CLEAN;
    return v;
}

} // namespace rg::model
