// Prefix arithmetic on 128-bit integers, shared by feed parsing (ranges) and
// prefix sets (merging, views). An address is read big-endian into the top of
// a 128-bit value, so an IPv4 address fills the top 32 bits and a prefix of
// length L is, for both families, the top L bits.
#pragma once

#include "cidr.hpp"

#include <cstdint>
#include <cstring>

namespace rg::bits {

using U128 = unsigned __int128;

inline U128 from_bytes(const std::array<uint8_t, 16> &a)
{
    uint64_t hi, lo;
    std::memcpy(&hi, a.data(), 8);
    std::memcpy(&lo, a.data() + 8, 8);
    return (U128(__builtin_bswap64(hi)) << 64) | __builtin_bswap64(lo);
}

inline std::array<uint8_t, 16> to_bytes(U128 v)
{
    std::array<uint8_t, 16> a;
    uint64_t hi = __builtin_bswap64(uint64_t(v >> 64)), lo = __builtin_bswap64(uint64_t(v));
    std::memcpy(a.data(), &hi, 8);
    std::memcpy(a.data() + 8, &lo, 8);
    return a;
}

// The top len bits set; len 0..128.
inline U128 mask(unsigned len) { return len == 0 ? U128(0) : ~U128(0) << (128 - len); }

// The lowest bit of a prefix of length len (1..128): the size of its block.
inline U128 unit(unsigned len) { return U128(1) << (128 - len); }

inline Cidr make(uint8_t family, U128 value, unsigned len)
{
    Cidr c;
    c.family = family;
    c.len = uint8_t(len);
    c.addr = to_bytes(value & mask(len));
    return c;
}

// Cidr::contains without the bit loop, for the hot paths.
inline bool contains(const Cidr &outer, const Cidr &inner)
{
    return outer.family == inner.family && outer.len <= inner.len &&
           ((from_bytes(outer.addr) ^ from_bytes(inner.addr)) & mask(outer.len)) == 0;
}

} // namespace rg::bits
