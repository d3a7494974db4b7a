#include "cidr.hpp"

#include "error.hpp"
#include "log.hpp"
#include "prefix.hpp"

#include <arpa/inet.h>
#include <charconv>

namespace rg {

namespace {

// A dotted quad as inet_pton(AF_INET) takes it: four decimal parts of one
// to three digits, each at most 255 and without a leading zero, and nothing
// else. Written out because inet_pton is slow on million-line feeds.
bool parse_dotted_quad(std::string_view s, uint8_t *out)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= s.size() || s[i] != '.')
                return false;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 3)
            v = v * 10 + unsigned(s[i++] - '0');
        if (i == start || v > 255 || (i - start > 1 && s[start] == '0'))
            return false;
        out[part] = uint8_t(v);
    }
    return i == s.size();
}

} // namespace

bool try_parse_cidr(std::string_view text, ParsedCidr &out, std::string &why)
{
    if (text.empty()) {
        why = "empty address";
        return false;
    }
    std::string_view addr = text, plen;
    bool has_len = false;
    if (auto slash = text.find('/'); slash != std::string_view::npos) {
        addr = text.substr(0, slash);
        plen = text.substr(slash + 1);
        has_len = true;
    }
    out = ParsedCidr{};
    Cidr &c = out.cidr;
    c.family = addr.find(':') != std::string_view::npos ? 6 : 4;
    bool ok;
    if (c.family == 4) {
        // Only dotted quads: no "10.1", no octal, no hex (as inet_pton).
        ok = parse_dotted_quad(addr, c.addr.data());
    } else {
        // inet_pton wants a NUL-terminated string: copy into a buffer rather
        // than a std::string, and refuse an embedded NUL, which would end the
        // address early ("::1\0junk" is not ::1).
        char buf[INET6_ADDRSTRLEN + 1];
        ok = addr.size() < sizeof(buf) && addr.find('\0') == std::string_view::npos;
        if (ok) {
            addr.copy(buf, addr.size());
            buf[addr.size()] = '\0';
            ok = inet_pton(AF_INET6, buf, c.addr.data()) == 1;
        }
    }
    if (!ok) {
        why = c.family == 4 ? "not a valid IPv4 address" : "not a valid IPv6 address";
        return false;
    }
    c.len = c.max_len();
    if (has_len) {
        unsigned v = 0;
        auto [end, ec] = std::from_chars(plen.data(), plen.data() + plen.size(), v);
        if (plen.empty() || ec != std::errc() || end != plen.data() + plen.size()) {
            why = "prefix length \"" + std::string(plen) + "\" is not a number";
            return false;
        }
        if (plen.size() > 1 && plen[0] == '0') {
            why = "prefix length \"" + std::string(plen) + "\" has a leading zero";
            return false;
        }
        if (v > c.max_len()) {
            why = "prefix length " + std::to_string(v) + " out of range (0-" + std::to_string(c.max_len()) +
                  " for IPv" + std::to_string(c.family) + ")";
            return false;
        }
        c.len = uint8_t(v);
    }
    // As an integer, so an IPv4 address is the top 32 bits (prefix.hpp).
    U128 a = u128_from_bytes(c.addr);
    // ::ffff:0:0/96, the IPv4-mapped IPv6 addresses (RFC 4291 2.5.5.2).
    if (c.family == 6 && c.len > 96 && (a >> 32) == 0xffff) {
        a <<= 96;
        c.family = 4;
        c.len = uint8_t(c.len - 96);
        out.ipv4_mapped = true;
    }
    U128 net = a & prefix_mask<U128>(c.len);
    out.host_bits_cleared = net != a;
    c.addr = u128_to_bytes(net);
    return true;
}

ParsedCidr parse_cidr(std::string_view text)
{
    ParsedCidr out;
    std::string why;
    if (!try_parse_cidr(text, out, why))
        throw Error("\"" + std::string(text) + "\": " + why);
    if (out.ipv4_mapped)
        log(LogLevel::notice, "note: \"" + std::string(text) +
                                  "\" is IPv4-mapped IPv6, which IPv4 traffic never carries (the filter sees IPv4 "
                                  "packets as IPv4); using " + out.cidr.str());
    return out;
}

std::string Cidr::str() const
{
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(family == 4 ? AF_INET : AF_INET6, addr.data(), buf, sizeof(buf));
    return std::string(buf) + "/" + std::to_string(len);
}

Cidr Cidr::widened(uint8_t to) const
{
    Cidr c = *this;
    c.len = to;
    c.addr = u128_to_bytes(u128_from_bytes(addr) & prefix_mask<U128>(to));
    return c;
}

bool Cidr::contains(const Cidr &o) const
{
    // The top len bits are the prefix in both families (IPv4 uses the first 4 bytes).
    return family == o.family && len <= o.len &&
           ((u128_from_bytes(addr) ^ u128_from_bytes(o.addr)) & prefix_mask<U128>(len)) == 0;
}

} // namespace rg
