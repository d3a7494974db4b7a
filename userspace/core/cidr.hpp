// IPv4/IPv6 prefixes as the rule maps store them.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace rg {

struct Cidr {
    uint8_t family = 4;  // 4 or 6
    uint8_t len = 0;     // prefix length, 0..32 or 0..128
    std::array<uint8_t, 16> addr{};  // network order; IPv4 uses the first 4 bytes

    uint8_t max_len() const { return family == 4 ? 32 : 128; }
    std::string str() const;
    // True if other lies within this prefix (same family).
    bool contains(const Cidr &other) const;
    // True if the two share an address: one contains the other.
    bool overlaps(const Cidr &other) const { return contains(other) || other.contains(*this); }
    // The prefix of length len (<= this one's) that contains this one.
    Cidr widened(uint8_t len) const;
    auto operator<=>(const Cidr &) const = default;
};

struct ParsedCidr {
    Cidr cidr;
    bool host_bits_cleared = false;  // input had bits set beyond the prefix
    bool ipv4_mapped = false;        // input was ::ffff:a.b.c.d[/n], n > 96: cidr is a.b.c.d/(n-96)
};

// Parses "192.0.2.0/24", "2001:db8::/32", or a bare address (a /32 or /128).
// Host bits beyond the prefix are cleared and reported in host_bits_cleared,
// as ipset and iptables do. An IPv4-mapped IPv6 prefix longer than /96
// (::ffff:192.0.2.9, ::ffff:192.0.2.0/120) is taken as the IPv4 prefix it
// maps (192.0.2.9/32, 192.0.2.0/24) and reported in ipv4_mapped: the XDP
// program sees IPv4 packets as IPv4, so the IPv6 form would never match.
// ::ffff:0:0/96 and shorter prefixes stay IPv6 (mapped, /96 would be /0).
// Throws rg::Error naming the text and the reason.
ParsedCidr parse_cidr(std::string_view text);

// parse_cidr without exceptions, for bulk input such as feeds: on error
// returns false and sets why to the reason alone (without the text). Does not
// allocate on success. parse_cidr logs a note when it maps an IPv4-mapped
// prefix; this does not (one per line of a feed would be noise).
bool try_parse_cidr(std::string_view text, ParsedCidr &out, std::string &why);

} // namespace rg
