#include "cidr.hpp"

#include "error.hpp"

#include <arpa/inet.h>
#include <charconv>

namespace rg {

namespace {

[[noreturn]] void bad(std::string_view text, const std::string &why)
{
    throw Error("\"" + std::string(text) + "\": " + why);
}

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

} // namespace

ParsedCidr parse_cidr(std::string_view text)
{
    if (text.empty())
        bad(text, "empty address");
    std::string_view addr = text, plen;
    bool has_len = false;
    if (auto slash = text.find('/'); slash != std::string_view::npos) {
        addr = text.substr(0, slash);
        plen = text.substr(slash + 1);
        has_len = true;
    }
    ParsedCidr out;
    Cidr &c = out.cidr;
    std::string a(addr);
    if (a.find(':') != std::string::npos) {
        c.family = 6;
        if (inet_pton(AF_INET6, a.c_str(), c.addr.data()) != 1)
            bad(text, "not a valid IPv6 address");
    } else {
        c.family = 4;
        // inet_pton accepts only dotted quads: no "10.1", no octal, no hex.
        if (inet_pton(AF_INET, a.c_str(), c.addr.data()) != 1)
            bad(text, "not a valid IPv4 address");
    }
    c.len = c.max_len();
    if (has_len) {
        unsigned v = 0;
        auto [end, ec] = std::from_chars(plen.data(), plen.data() + plen.size(), v);
        if (plen.empty() || ec != std::errc() || end != plen.data() + plen.size())
            bad(text, "prefix length \"" + std::string(plen) + "\" is not a number");
        if (plen.size() > 1 && plen[0] == '0')
            bad(text, "prefix length \"" + std::string(plen) + "\" has a leading zero");
        if (v > c.max_len())
            bad(text, "prefix length " + std::to_string(v) + " out of range (0-" +
                          std::to_string(c.max_len()) + " for IPv" + std::to_string(c.family) + ")");
        c.len = uint8_t(v);
    }
    clear_host_bits(c, out.host_bits_cleared);
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
