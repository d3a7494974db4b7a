#include "frame_gen.hpp"

#include <algorithm>

namespace rg::fuzz {

using model::mask;
using model::U128;

namespace {

constexpr size_t kMinFrame = 14, kMaxFrame = 400;

void put8(Bytes &f, uint8_t v) { f.push_back(v); }
void put16(Bytes &f, uint16_t v)
{
    f.push_back(uint8_t(v >> 8));
    f.push_back(uint8_t(v));
}
void put_addr(Bytes &f, U128 a, int family)
{
    for (int i = 0; i < (family == 4 ? 4 : 16); i++)
        f.push_back(uint8_t(a >> (120 - 8 * i)));
}
void set16(Bytes &f, size_t at, uint16_t v)
{
    f[at] = uint8_t(v >> 8);
    f[at + 1] = uint8_t(v);
}

} // namespace

FrameGen::FrameGen(Rng rng, const RoundSpec &round) : rng_(rng), ports_(round.ports)
{
    for (const model::ListedPrefix &p : round.prefixes)
        targets_[p.prefix.family == 6].push_back(p.prefix);
    for (const RoundBan &b : round.bans)
        bans_[b.prefix.family == 6].push_back(b.prefix);
}

void FrameGen::random_bytes(Bytes &f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        f.push_back(rng_.byte());
}

// In a target prefix (often), at its first or last address or just outside
// it, in the ranges the lists favour, or anywhere.
U128 FrameGen::source(int family)
{
    const std::vector<model::ModelPrefix> &bans = bans_[family == 6];
    const std::vector<model::ModelPrefix> &t = !bans.empty() && rng_.percent(25) ? bans : targets_[family == 6];
    U128 r = U128(rng_.next()) << 64 | rng_.next();
    if (family == 6 && !targets_[0].empty() && rng_.percent(3))  // ::ffff:a.b.c.d of a listed IPv4 prefix
        return (U128(0xffff) << 32) | (source(4) >> 96);
    unsigned pick = unsigned(rng_.below(100));
    U128 a = r;
    if (!t.empty() && pick < 75) {
        const model::ModelPrefix &p = t[rng_.below(t.size())];
        U128 first = p.addr, last = p.addr | ~mask(p.len);
        if (family == 4)
            last &= mask(32);
        U128 unit = family == 4 ? U128(1) << 96 : U128(1);
        switch (pick % 6) {
        case 0: a = first; break;
        case 1: a = last; break;
        case 2: a = first - unit; break;
        case 3: a = last + unit; break;
        default: a = p.addr | (r & ~mask(p.len)); break;
        }
    } else if (pick < 90) {
        a = family == 4 ? (U128(0xc6120000) << 96) | (r & ~mask(15)) : (U128(0x20010db8) << 96) | (r & ~mask(32));
    }
    return family == 4 ? a & mask(32) : a;
}

uint16_t FrameGen::dport()
{
    static const uint16_t kCommon[] = {25, 465, 587, 80, 443, 24, 26, 0, 65535};
    unsigned pick = unsigned(rng_.below(100));
    if (pick < 60 && !ports_.empty())
        return ports_[rng_.below(ports_.size())];
    if (pick < 85)
        return kCommon[rng_.below(9)];
    return uint16_t(rng_.next());
}

void FrameGen::tcp(Bytes &f)
{
    put16(f, uint16_t(rng_.next()));
    put16(f, dport());
    random_bytes(f, 8);  // sequence and acknowledgement numbers
    unsigned opt_words = rng_.percent(70) ? 0 : unsigned(rng_.range(1, 10));
    unsigned doff = rng_.percent(85) ? 5 + opt_words : unsigned(rng_.below(16));
    static const uint8_t kFlags[] = {0x02, 0x02, 0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x06, 0x03};
    put8(f, uint8_t(doff << 4 | rng_.below(16) * rng_.percent(5)));
    put8(f, rng_.percent(80) ? kFlags[rng_.below(10)] : rng_.byte());
    random_bytes(f, 6);  // window, checksum, urgent pointer
    if (rng_.percent(85))
        random_bytes(f, opt_words * 4);
    if (rng_.percent(40))
        random_bytes(f, rng_.range(1, 40));
}

void FrameGen::l4(Bytes &f, uint8_t proto)
{
    if (proto == 6)
        tcp(f);
    else
        random_bytes(f, rng_.range(0, 40));
}

// A last header: TCP mostly, else UDP, ICMP(v6), ESP, no next header, any.
static uint8_t random_proto(Rng &rng, bool v6)
{
    static const uint8_t kOther[] = {17, 1, 58, 50, 59, 47, 132};
    if (rng.percent(85))
        return 6;
    if (rng.percent(80)) {
        uint8_t p = kOther[rng.below(7)];
        return p == 1 && v6 ? 58 : p;
    }
    return rng.byte();
}

void FrameGen::ipv4(Bytes &f)
{
    size_t at = f.size();
    unsigned opt_words = rng_.percent(70) ? 0 : unsigned(rng_.range(1, 10));
    unsigned ihl = rng_.percent(90) ? 5 + opt_words : unsigned(rng_.below(16));
    unsigned version = rng_.percent(95) ? 4 : unsigned(rng_.below(16));
    uint8_t proto = random_proto(rng_, false);
    put8(f, uint8_t(version << 4 | ihl));
    put8(f, rng_.byte());  // DSCP/ECN
    put16(f, 0);           // total length, set below
    put16(f, uint16_t(rng_.next()));
    uint16_t frag = 0;
    switch (rng_.below(10)) {
    case 0: frag = 0x4000; break;                                   // DF
    case 1: frag = 0x2000; break;                                   // first fragment (MF)
    case 2: frag = uint16_t(rng_.range(1, 0x1fff)) | (rng_.percent(50) ? 0x2000 : 0); break;  // a later one
    case 3: frag = uint16_t(rng_.next()); break;
    default: break;
    }
    put16(f, frag);
    put8(f, rng_.byte());  // TTL
    put8(f, proto);
    put16(f, uint16_t(rng_.next()));  // checksum: not read
    put_addr(f, source(4), 4);
    put_addr(f, U128(rng_.next()) << 64, 4);
    if (rng_.percent(90))
        random_bytes(f, opt_words * 4);
    l4(f, proto);
    set16(f, at + 2, rng_.percent(70) ? uint16_t(f.size() - at) : uint16_t(rng_.next()));
}

void FrameGen::ipv6(Bytes &f)
{
    static const uint8_t kExt[] = {0, 43, 60, 44, 51};
    size_t at = f.size();
    unsigned version = rng_.percent(95) ? 6 : unsigned(rng_.below(16));
    put8(f, uint8_t(version << 4 | rng_.below(16)));
    random_bytes(f, 3);  // traffic class, flow label
    put16(f, 0);         // payload length, set below
    size_t next_at = f.size();
    put8(f, 0);          // next header, set below
    put8(f, rng_.byte());
    put_addr(f, source(6), 6);
    put_addr(f, U128(0x20010db8) << 96 | rng_.next(), 6);
    unsigned pick = unsigned(rng_.below(100));
    size_t exts = pick < 45 ? 0 : pick < 75 ? rng_.range(1, 3) : pick < 92 ? rng_.range(4, 8) : rng_.range(9, 10);
    for (size_t i = 0; i < exts; i++) {
        uint8_t kind = kExt[rng_.below(5)];
        f[next_at] = kind;
        next_at = f.size();
        put8(f, 0);
        if (kind == 44) {  // fragment: offset 0 mostly, M either way
            put8(f, rng_.byte() * rng_.percent(10));
            uint16_t off = rng_.percent(75) ? 0 : uint16_t(rng_.range(1, 0x1fff) << 3);
            put16(f, uint16_t(off | rng_.percent(50)));
            random_bytes(f, 4);
            continue;
        }
        uint8_t hlen = rng_.percent(95) ? uint8_t(rng_.below(kind == 51 ? 6 : 4)) : rng_.byte();
        size_t len = kind == 51 ? (size_t(hlen) + 2) * 4 : (size_t(hlen) + 1) * 8;
        put8(f, hlen);
        size_t body = len - 2;
        if (f.size() + body > kMaxFrame || rng_.percent(3))
            body = rng_.below(body);  // a length that runs past the frame
        random_bytes(f, body);
    }
    uint8_t proto = random_proto(rng_, true);
    f[next_at] = proto;
    l4(f, proto);
    set16(f, at + 4, rng_.percent(70) ? uint16_t(f.size() - at - 40) : uint16_t(rng_.next()));
}

void FrameGen::vlan_tags(Bytes &f, uint16_t inner_type)
{
    unsigned pick = unsigned(rng_.below(100));
    unsigned tags = pick < 60 ? 0 : pick < 80 ? 1 : pick < 95 ? 2 : 3;
    for (unsigned i = 0; i < tags; i++) {
        unsigned t = unsigned(rng_.below(100));
        put16(f, t < 55 ? 0x8100 : t < 97 ? 0x88a8 : 0x9100);
        put16(f, uint16_t(rng_.next()));  // TCI
    }
    put16(f, inner_type);
}

Bytes FrameGen::structured()
{
    Bytes f;
    f.reserve(kMaxFrame);
    random_bytes(f, 12);  // MACs
    unsigned pick = unsigned(rng_.below(100));
    if (pick < 46) {
        vlan_tags(f, 0x0800);
        ipv4(f);
    } else if (pick < 92) {
        vlan_tags(f, 0x86dd);
        ipv6(f);
    } else {
        static const uint16_t kOther[] = {0x0806, 0x88cc, 0x0000, 0x05dc, 0x8847, 0x9100};
        vlan_tags(f, rng_.percent(80) ? kOther[rng_.below(6)] : uint16_t(rng_.next()));
        random_bytes(f, rng_.range(0, 60));
    }
    if (f.size() > kMaxFrame)
        f.resize(kMaxFrame);
    return f;
}

Bytes FrameGen::next()
{
    if (!sweep_.empty()) {
        Bytes f = std::move(sweep_.front());
        sweep_.pop_front();
        return f;
    }
    unsigned pick = unsigned(rng_.below(1000));
    if (pick < 40) {  // random bytes, half of them behind an IP or VLAN ethertype
        Bytes f;
        random_bytes(f, rng_.range(kMinFrame, 200));
        static const uint16_t kTypes[] = {0x0800, 0x86dd, 0x8100, 0x88a8};
        if (rng_.percent(50))
            set16(f, 12, kTypes[rng_.below(4)]);
        return f;
    }
    Bytes f = structured();
    if (pick < 41) {  // a truncation sweep: this frame cut at every byte
        for (size_t n = kMinFrame; n <= f.size(); n++)
            sweep_.emplace_back(f.begin(), f.begin() + long(n));
        return next();
    }
    if (pick < 250)  // cut short
        f.resize(rng_.range(kMinFrame, f.size()));
    if (pick >= 200 && pick < 330)  // bytes flipped
        for (uint64_t i = rng_.range(1, 3); i > 0; i--)
            f[rng_.below(f.size())] ^= uint8_t(1u << rng_.below(8)) | (rng_.percent(30) ? rng_.byte() : 0);
    return f;
}

} // namespace rg::fuzz
