// Prefixes as integers: the form every list, prefix set and kernel table
// entry uses. An IPv4 prefix is its address as a host-order uint32_t, an
// IPv6 prefix its address as an unsigned 128-bit integer; host bits are
// clear. Cidr (cidr.hpp) is the form people read and write.
#pragma once

#include "cidr.hpp"

#include <cstdint>
#include <cstring>

namespace rg {

using U128 = unsigned __int128;

template <class A> struct Prefix {
    A addr;
    uint8_t len;
    static constexpr unsigned width = sizeof(A) * 8;
};
using Prefix4 = Prefix<uint32_t>;
using Prefix6 = Prefix<U128>;

// The top len bits of an address of type A.
template <class A> inline A prefix_mask(unsigned len)
{
    return len == 0 ? A(0) : A(~A(0) << (Prefix<A>::width - len));
}

template <class A> inline bool operator==(const Prefix<A> &a, const Prefix<A> &b)
{
    return a.addr == b.addr && a.len == b.len;
}

// Prefix order: address, then length. A prefix comes before every prefix
// it contains, and what it contains follows it without a gap.
template <class A> inline bool prefix_less(const Prefix<A> &a, const Prefix<A> &b)
{
    return a.addr != b.addr ? a.addr < b.addr : a.len < b.len;
}

template <class A> inline bool contains(const Prefix<A> &outer, const Prefix<A> &inner)
{
    return outer.len <= inner.len && ((outer.addr ^ inner.addr) & prefix_mask<A>(outer.len)) == 0;
}

// The last address a prefix covers.
template <class A> inline A last_address(const Prefix<A> &p) { return p.addr | A(~prefix_mask<A>(p.len)); }

// An address in network byte order as an integer (IPv4 in the first 4 bytes).
inline U128 u128_from_bytes(const std::array<uint8_t, 16> &a)
{
    uint64_t hi, lo;
    std::memcpy(&hi, a.data(), 8);
    std::memcpy(&lo, a.data() + 8, 8);
    return (U128(__builtin_bswap64(hi)) << 64) | __builtin_bswap64(lo);
}

inline std::array<uint8_t, 16> u128_to_bytes(U128 v)
{
    std::array<uint8_t, 16> a;
    uint64_t hi = __builtin_bswap64(uint64_t(v >> 64)), lo = __builtin_bswap64(uint64_t(v));
    std::memcpy(a.data(), &hi, 8);
    std::memcpy(a.data() + 8, &lo, 8);
    return a;
}

inline Prefix4 to_prefix4(const Cidr &c) { return {uint32_t(u128_from_bytes(c.addr) >> 96), c.len}; }
inline Prefix6 to_prefix6(const Cidr &c) { return {u128_from_bytes(c.addr), c.len}; }

inline Cidr to_cidr(const Prefix4 &p) { return {4, p.len, u128_to_bytes(U128(p.addr) << 96)}; }
inline Cidr to_cidr(const Prefix6 &p) { return {6, p.len, u128_to_bytes(p.addr)}; }

} // namespace rg
