#include "prefix_lists.hpp"

#include <algorithm>
#include <arpa/inet.h>

namespace rg::model {

U128 mask(unsigned len) { return len == 0 ? U128(0) : ~U128(0) << (128 - len); }

U128 address_of(int family, const std::array<uint8_t, 16> &b)
{
    U128 v = 0;
    for (int i = 0; i < (family == 4 ? 4 : 16); i++)
        v |= U128(b[i]) << (120 - 8 * i);
    return v;
}

std::string ModelPrefix::str() const
{
    std::array<uint8_t, 16> b{};
    for (int i = 0; i < 16; i++)
        b[i] = uint8_t(addr >> (120 - 8 * i));
    char text[INET6_ADDRSTRLEN] = "?";
    inet_ntop(family == 4 ? AF_INET : AF_INET6, b.data(), text, sizeof text);
    return std::string(text) + "/" + std::to_string(len);
}

bool ModelPrefix::contains(U128 a) const { return ((a ^ addr) & mask(len)) == 0; }

size_t PrefixLists::KeyHash::operator()(const Key &k) const
{
    uint64_t x = uint64_t(k.addr >> 64) * 0x9e3779b97f4a7c15ull ^ uint64_t(k.addr) ^ (uint64_t(k.len) << 56) ^
                 uint64_t(k.family);
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    return size_t(x ^ (x >> 29));
}

void PrefixLists::add(const ListedPrefix &p)
{
    entries_.push_back(p);
    Sources &s = index_[Key{p.prefix.addr, p.prefix.len, p.prefix.family}];
    (p.list == List::allow ? s.allow : s.block) |= uint64_t(1) << p.bit;
    std::vector<unsigned> &lens = lengths_[p.prefix.family == 6];
    if (std::find(lens.begin(), lens.end(), p.prefix.len) == lens.end())
        lens.push_back(p.prefix.len);
}

void PrefixLists::clear()
{
    entries_.clear();
    index_.clear();
    lengths_[0].clear();
    lengths_[1].clear();
}

Sources PrefixLists::lookup(int family, U128 addr) const
{
    Sources out;
    for (unsigned len : lengths_[family == 6]) {
        auto it = index_.find(Key{addr & mask(len), len, family});
        if (it != index_.end()) {
            out.allow |= it->second.allow;
            out.block |= it->second.block;
        }
    }
    return out;
}

Sources PrefixLists::lookup_linear(int family, U128 addr) const
{
    Sources out;
    for (const ListedPrefix &p : entries_)
        if (p.prefix.family == family && p.prefix.contains(addr))
            (p.list == List::allow ? out.allow : out.block) |= uint64_t(1) << p.bit;
    return out;
}

std::vector<ListedPrefix> PrefixLists::containing(int family, U128 addr) const
{
    std::vector<ListedPrefix> out;
    for (const ListedPrefix &p : entries_)
        if (p.prefix.family == family && p.prefix.contains(addr))
            out.push_back(p);
    return out;
}

} // namespace rg::model
