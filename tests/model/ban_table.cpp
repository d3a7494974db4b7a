#include "ban_table.hpp"

namespace rg::model {

void BanTable::put(const ModelBan &b)
{
    for (ModelBan &old : bans_) {
        if (old.prefix.family == b.prefix.family && old.prefix.len == b.prefix.len && old.prefix.addr == b.prefix.addr) {
            old = b;
            return;
        }
    }
    bans_.push_back(b);
}

const ModelBan *BanTable::find(int family, U128 addr, uint64_t now) const
{
    int longest = family == 4 ? 32 : 128;  // the longest length still eligible
    for (int lookup = 0; lookup < kLookups; lookup++) {
        const ModelBan *best = nullptr;
        for (const ModelBan &b : bans_)
            if (b.prefix.family == family && int(b.prefix.len) <= longest && b.prefix.contains(addr) &&
                (!best || b.prefix.len > best->prefix.len))
                best = &b;
        if (!best)
            return nullptr;
        if (now < best->expires_ns)
            return best;
        if (best->prefix.len == 0)
            return nullptr;
        longest = int(best->prefix.len) - 1;
    }
    return nullptr;
}

} // namespace rg::model
