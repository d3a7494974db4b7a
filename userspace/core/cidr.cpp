#include "cidr.hpp"

#include "error.hpp"
#include "log.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <charconv>

namespace rg {

namespace {

void clear_host_bits(Cidr &c, bool &cleared)
{
    for (unsigned bit = c.len; bit < c.max_len(); bit++) {
        uint8_t mask = uint8_t(0x80u >> (bit % 8));
        if (c.addr[bit / 8] & mask) {
            cleared = true;
            c.addr[bit / 8] &= uint8_t(~mask);
        }
    }
}

// A dotted quad as inet_pton(AF_INET) takes it: four decimal parts of one
// to three digits, each at most 255 and without a leading zero, and nothing
// else. Written out because inet_pton (with the copy and strlen it needs)
// was the largest cost of parsing a million-line feed.
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

// ::ffff:0:0/96, the IPv4-mapped IPv6 addresses (RFC 4291 2.5.5.2).
bool in_ipv4_mapped(const std::array<uint8_t, 16> &a)
{
    for (int i = 0; i < 10; i++)
        if (a[i] != 0)
            return false;
    return a[10] == 0xff && a[11] == 0xff;
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
    if (c.family == 6 && c.len > 96 && in_ipv4_mapped(c.addr)) {
        std::array<uint8_t, 16> v4{};
        std::copy(c.addr.begin() + 12, c.addr.end(), v4.begin());
        c.addr = v4;
        c.family = 4;
        c.len = uint8_t(c.len - 96);
        out.ipv4_mapped = true;
    }
    clear_host_bits(c, out.host_bits_cleared);
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

bool Cidr::contains(const Cidr &o) const
{
    if (family != o.family || o.len < len)
        return false;
    for (unsigned bit = 0; bit < len; bit++) {
        uint8_t mask = uint8_t(0x80u >> (bit % 8));
        if ((addr[bit / 8] & mask) != (o.addr[bit / 8] & mask))
            return false;
    }
    return true;
}

} // namespace rg
