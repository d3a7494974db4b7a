// Bans as the model sees them: prefixes with an expiry time, at most one
// per prefix (a new ban of the same prefix replaces the old one).
//
// The kernel's rule, repeated on purpose because it is surprising
// (bpf/rate.h ban_find, docs/maps.md): the longest ban containing the source
// decides; if it has expired the next broader one is looked at, and so on,
// but only up to 4 expired bans (RG_BAN_HOPS): behind a 5th expired ban a
// live broader ban is not seen, so the source is not banned. A ban is live
// while now < expires.
#pragma once

#include "prefix_lists.hpp"

#include <cstdint>
#include <vector>

namespace rg::model {

struct ModelBan {
    ModelPrefix prefix;
    uint64_t expires_ns;  // on the model's clock
};

class BanTable {
public:
    static constexpr int kLookups = 5;  // one, plus RG_BAN_HOPS past expired bans

    void put(const ModelBan &b);
    void clear() { bans_.clear(); }
    const std::vector<ModelBan> &bans() const { return bans_; }
    // The ban that drops the source at now, or nullptr.
    const ModelBan *find(int family, U128 addr, uint64_t now) const;

private:
    std::vector<ModelBan> bans_;
};

} // namespace rg::model
