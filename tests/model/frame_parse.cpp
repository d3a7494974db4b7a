#include "frame_parse.hpp"

namespace rg::model {

namespace {

constexpr uint16_t kIPv4 = 0x0800, kIPv6 = 0x86dd, kCTag = 0x8100, kSTag = 0x88a8;
constexpr uint8_t kTcp = 6, kHopByHop = 0, kRouting = 43, kFragment = 44, kAh = 51, kDestOpts = 60;
constexpr int kMaxTags = 2, kMaxExtHeaders = 8;

uint16_t be16(std::span<const uint8_t> f, size_t at) { return uint16_t(f[at] << 8 | f[at + 1]); }

// Bytes [at, at + n) lie inside the frame.
bool fits(std::span<const uint8_t> f, size_t at, size_t n) { return at + n <= f.size(); }

ParsedFrame with(ParsedFrame p, Parse s)
{
    p.status = s;
    return p;
}

ParsedFrame tcp(std::span<const uint8_t> f, size_t at, ParsedFrame p)
{
    if (!fits(f, at, 20) || (f[at + 12] >> 4) < 5)
        return with(p, Parse::malformed);
    p.dport = be16(f, at + 2);
    uint8_t flags = f[at + 13];
    p.syn = (flags & 0x02) && !(flags & 0x10);
    return with(p, Parse::tcp);
}

ParsedFrame ipv4(std::span<const uint8_t> f, size_t at)
{
    ParsedFrame p;
    if (!fits(f, at, 20) || (f[at] >> 4) != 4 || (f[at] & 15) < 5)
        return with(p, Parse::malformed);
    size_t ihl = size_t(f[at] & 15) * 4;
    if (!fits(f, at, ihl))
        return with(p, Parse::malformed);
    if (be16(f, at + 6) & 0x1fff)
        return with(p, Parse::fragment);
    if (f[at + 9] != kTcp)
        return with(p, Parse::not_tcp);
    p.family = 4;
    for (int i = 0; i < 4; i++)
        p.saddr[i] = f[at + 12 + i];
    return tcp(f, at + ihl, p);
}

bool is_ext_header(uint8_t nh)
{
    return nh == kHopByHop || nh == kRouting || nh == kDestOpts || nh == kAh || nh == kFragment;
}

ParsedFrame ipv6(std::span<const uint8_t> f, size_t at)
{
    ParsedFrame p;
    if (!fits(f, at, 40) || (f[at] >> 4) != 6)
        return with(p, Parse::malformed);
    p.family = 6;
    for (int i = 0; i < 16; i++)
        p.saddr[i] = f[at + 8 + i];
    uint8_t nh = f[at + 6];
    at += 40;
    for (int seen = 0; seen < kMaxExtHeaders; seen++) {
        if (nh == kTcp)
            return tcp(f, at, p);
        if (nh == kFragment) {
            if (!fits(f, at, 8))
                return with(p, Parse::malformed);
            if (be16(f, at + 2) >> 3)  // fragment offset, in 8-octet units
                return with(p, Parse::fragment);
            nh = f[at];
            at += 8;
        } else if (is_ext_header(nh)) {
            if (!fits(f, at, 2))
                return with(p, Parse::malformed);
            // AH: length in 4-octet units minus 2; the others: 8-octet units minus 1.
            size_t len = nh == kAh ? (size_t(f[at + 1]) + 2) * 4 : (size_t(f[at + 1]) + 1) * 8;
            if (!fits(f, at, len))
                return with(p, Parse::malformed);
            nh = f[at];
            at += len;
        } else {
            return with(p, Parse::not_tcp);
        }
    }
    if (nh == kTcp)
        return tcp(f, at, p);
    return with(p, is_ext_header(nh) ? Parse::unparsed : Parse::not_tcp);
}

} // namespace

const char *parse_name(Parse p)
{
    switch (p) {
    case Parse::tcp: return "tcp";
    case Parse::not_ip: return "not_ip";
    case Parse::not_tcp: return "not_tcp";
    case Parse::fragment: return "fragment";
    case Parse::malformed: return "malformed";
    case Parse::unparsed: return "unparsed";
    }
    return "?";
}

ParsedFrame parse_frame(std::span<const uint8_t> f)
{
    if (!fits(f, 0, 14))
        return with(ParsedFrame{}, Parse::malformed);
    uint16_t type = be16(f, 12);
    size_t at = 14;
    for (int tags = 0; tags < kMaxTags && (type == kCTag || type == kSTag); tags++) {
        if (!fits(f, at, 4))
            return with(ParsedFrame{}, Parse::malformed);
        type = be16(f, at + 2);  // the TCI comes first, then the inner type
        at += 4;
    }
    if (type == kIPv4)
        return ipv4(f, at);
    if (type == kIPv6)
        return ipv6(f, at);
    if (type == kCTag || type == kSTag)
        return with(ParsedFrame{}, Parse::unparsed);
    return with(ParsedFrame{}, Parse::not_ip);
}

} // namespace rg::model
