#include "packet_builder.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cstdio>
#include <stdexcept>
#include <utility>

namespace rg::test {

namespace {

constexpr uint8_t kProtoHopOpts = 0;
constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoIpip = 4;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIpv6 = 41;
constexpr uint8_t kProtoRouting = 43;
constexpr uint8_t kProtoFragment = 44;
constexpr uint8_t kProtoAh = 51;
constexpr uint8_t kProtoIcmpv6 = 58;
constexpr uint8_t kProtoNone = 59;
constexpr uint8_t kProtoDstOpts = 60;

[[noreturn]] void misuse(const std::string &call, const std::string &why)
{
    throw std::invalid_argument("PacketBuilder::" + call + ": " + why);
}

std::vector<uint8_t> parse_mac(std::string_view text, const char *call)
{
    unsigned v[6];
    char tail;
    std::string s(text);
    if (std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4],
                    &v[5], &tail) != 6)
        misuse(call, "\"" + s + "\" is not a MAC address");
    return {uint8_t(v[0]), uint8_t(v[1]), uint8_t(v[2]), uint8_t(v[3]), uint8_t(v[4]), uint8_t(v[5])};
}

std::vector<uint8_t> parse_ip(int family, std::string_view text, const char *call)
{
    std::vector<uint8_t> out(family == AF_INET ? 4 : 16);
    std::string s(text);
    if (inet_pton(family, s.c_str(), out.data()) != 1)
        misuse(call, "\"" + s + "\" is not an " + (family == AF_INET ? "IPv4" : "IPv6") + " address");
    return out;
}

void put16(std::vector<uint8_t> &b, size_t off, uint16_t v)
{
    b[off] = uint8_t(v >> 8);
    b[off + 1] = uint8_t(v);
}

void put32(std::vector<uint8_t> &b, size_t off, uint32_t v)
{
    put16(b, off, uint16_t(v >> 16));
    put16(b, off + 2, uint16_t(v));
}

void put_bytes(std::vector<uint8_t> &b, size_t off, const std::vector<uint8_t> &src)
{
    std::copy(src.begin(), src.end(), b.begin() + off);
}

uint32_t sum16(const uint8_t *data, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += uint32_t(data[i]) << 8 | data[i + 1];
    if (len & 1)
        sum += uint32_t(data[len - 1]) << 8;
    return sum;
}

} // namespace

const char *hdr_name(Hdr h)
{
    switch (h) {
    case Hdr::eth: return "eth";
    case Hdr::vlan: return "vlan";
    case Hdr::arp: return "arp";
    case Hdr::ipv4: return "ipv4";
    case Hdr::ipv4_options: return "ipv4_options";
    case Hdr::ipv6: return "ipv6";
    case Hdr::hop_by_hop: return "hop_by_hop";
    case Hdr::routing: return "routing";
    case Hdr::dest_opts: return "dest_opts";
    case Hdr::fragment: return "fragment";
    case Hdr::ah: return "ah";
    case Hdr::tcp: return "tcp";
    case Hdr::udp: return "udp";
    case Hdr::icmp: return "icmp";
    case Hdr::raw: return "raw";
    case Hdr::payload: return "payload";
    }
    return "?";
}

uint16_t inet_checksum(const uint8_t *data, size_t len, uint32_t initial)
{
    uint64_t sum = uint64_t(initial) + sum16(data, len);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

// ---- building the layer list ---------------------------------------------

PacketBuilder &PacketBuilder::add(Layer l)
{
    layers_.push_back(std::move(l));
    return *this;
}

PacketBuilder::Layer &PacketBuilder::last(Hdr kind, const char *call)
{
    for (auto it = layers_.rbegin(); it != layers_.rend(); ++it)
        if (it->kind == kind)
            return *it;
    misuse(call, std::string("no ") + hdr_name(kind) + " header to apply to");
}

PacketBuilder::Layer &PacketBuilder::last_ip(const char *call)
{
    for (auto it = layers_.rbegin(); it != layers_.rend(); ++it)
        if (it->kind == Hdr::ipv4 || it->kind == Hdr::ipv6)
            return *it;
    misuse(call, "no IP header to apply to");
}

PacketBuilder &PacketBuilder::eth(std::string_view dst, std::string_view src)
{
    Layer l{.kind = Hdr::eth};
    l.dst = parse_mac(dst, "eth");
    l.src = parse_mac(src, "eth");
    return add(std::move(l));
}

PacketBuilder &PacketBuilder::ethertype(uint16_t type)
{
    for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
        if (it->kind == Hdr::eth || it->kind == Hdr::vlan) {
            it->ethertype = type;
            return *this;
        }
    }
    misuse("ethertype", "no Ethernet or VLAN header to apply to");
}

PacketBuilder &PacketBuilder::vlan(uint16_t vid, uint16_t tpid, uint8_t pcp)
{
    if (vid > 0xfff)
        misuse("vlan", "VLAN id " + std::to_string(vid) + " does not fit in 12 bits");
    if (pcp > 7)
        misuse("vlan", "priority " + std::to_string(pcp) + " does not fit in 3 bits");
    return add(Layer{.kind = Hdr::vlan, .vid = vid, .tpid = tpid, .pcp = pcp});
}

PacketBuilder &PacketBuilder::qinq(uint16_t outer_vid, uint16_t inner_vid)
{
    return vlan(outer_vid, kEthP8021AD).vlan(inner_vid, kEthP8021Q);
}

PacketBuilder &PacketBuilder::arp(std::string_view sender, std::string_view target)
{
    Layer l{.kind = Hdr::arp};
    l.src = parse_ip(AF_INET, sender, "arp");
    l.dst = parse_ip(AF_INET, target, "arp");
    return add(std::move(l));
}

PacketBuilder &PacketBuilder::ipv4(std::string_view src, std::string_view dst)
{
    Layer l{.kind = Hdr::ipv4};
    l.src = parse_ip(AF_INET, src, "ipv4");
    l.dst = parse_ip(AF_INET, dst, "ipv4");
    return add(std::move(l));
}

PacketBuilder &PacketBuilder::ip_options(size_t bytes)
{
    if (bytes % 4 != 0 || bytes > 40)
        misuse("ip_options", std::to_string(bytes) + " bytes: must be a multiple of 4, at most 40");
    last(Hdr::ipv4, "ip_options").options = bytes;
    return *this;
}

PacketBuilder &PacketBuilder::ipv4_fragment(uint32_t offset_bytes, bool more_fragments)
{
    if (offset_bytes % 8 != 0 || offset_bytes / 8 > 0x1fff)
        misuse("ipv4_fragment", "offset " + std::to_string(offset_bytes) +
                                    ": must be a multiple of 8, at most 65528");
    Layer &l = last(Hdr::ipv4, "ipv4_fragment");
    l.frag_offset = offset_bytes;
    l.mf = more_fragments;
    return *this;
}

PacketBuilder &PacketBuilder::dont_fragment(bool df)
{
    last(Hdr::ipv4, "dont_fragment").df = df;
    return *this;
}

PacketBuilder &PacketBuilder::ipv4_id(uint16_t id)
{
    last(Hdr::ipv4, "ipv4_id").ip_id = id;
    return *this;
}

PacketBuilder &PacketBuilder::ipv4_version(uint8_t version)
{
    if (version > 15)
        misuse("ipv4_version", "does not fit in 4 bits");
    last(Hdr::ipv4, "ipv4_version").version = version;
    return *this;
}

PacketBuilder &PacketBuilder::ipv4_ihl(uint8_t ihl)
{
    if (ihl > 15)
        misuse("ipv4_ihl", "does not fit in 4 bits");
    last(Hdr::ipv4, "ipv4_ihl").ihl = ihl;
    return *this;
}

PacketBuilder &PacketBuilder::ttl(uint8_t ttl)
{
    last_ip("ttl").ttl = ttl;
    return *this;
}

PacketBuilder &PacketBuilder::ipv6(std::string_view src, std::string_view dst)
{
    Layer l{.kind = Hdr::ipv6};
    l.src = parse_ip(AF_INET6, src, "ipv6");
    l.dst = parse_ip(AF_INET6, dst, "ipv6");
    return add(std::move(l));
}

PacketBuilder &PacketBuilder::ipv6_version(uint8_t version)
{
    if (version > 15)
        misuse("ipv6_version", "does not fit in 4 bits");
    last(Hdr::ipv6, "ipv6_version").version = version;
    return *this;
}

static void check_ext_len(const char *call, size_t bytes)
{
    // The length field counts 8-octet units beyond the first: 8..2048 bytes.
    if (bytes < 8 || bytes % 8 != 0 || bytes > 2048)
        misuse(call, std::to_string(bytes) + " bytes: must be a multiple of 8 in 8..2048");
}

PacketBuilder &PacketBuilder::hop_by_hop(size_t bytes)
{
    check_ext_len("hop_by_hop", bytes);
    return add(Layer{.kind = Hdr::hop_by_hop, .ext_len = bytes});
}

PacketBuilder &PacketBuilder::routing(size_t bytes, uint8_t type, uint8_t segments_left)
{
    check_ext_len("routing", bytes);
    return add(Layer{.kind = Hdr::routing, .ext_len = bytes, .rt_type = type,
                     .segments_left = segments_left});
}

PacketBuilder &PacketBuilder::dest_opts(size_t bytes)
{
    check_ext_len("dest_opts", bytes);
    return add(Layer{.kind = Hdr::dest_opts, .ext_len = bytes});
}

PacketBuilder &PacketBuilder::fragment(uint32_t offset_bytes, bool more_fragments, uint32_t id)
{
    if (offset_bytes % 8 != 0 || offset_bytes / 8 > 0x1fff)
        misuse("fragment", "offset " + std::to_string(offset_bytes) +
                               ": must be a multiple of 8, at most 65528");
    return add(Layer{.kind = Hdr::fragment, .mf = more_fragments, .frag_offset = offset_bytes,
                     .ext_len = 8, .id = id});
}

PacketBuilder &PacketBuilder::ah(size_t icv_bytes, uint32_t spi)
{
    // The length field counts 4-octet units minus 2: 12 + ICV in 8..1028.
    size_t total = 12 + icv_bytes;
    if (total % 4 != 0 || total > 1028)
        misuse("ah", "ICV of " + std::to_string(icv_bytes) +
                         " bytes: header length must be a multiple of 4, at most 1028");
    return add(Layer{.kind = Hdr::ah, .ext_len = total, .id = spi});
}

PacketBuilder &PacketBuilder::tcp(uint16_t sport, uint16_t dport)
{
    return add(Layer{.kind = Hdr::tcp, .sport = sport, .dport = dport,
                     .tcp_flags = tcp_flags::SYN, .seq = 1000});
}

PacketBuilder &PacketBuilder::flags(uint8_t flags)
{
    last(Hdr::tcp, "flags").tcp_flags = flags;
    return *this;
}

PacketBuilder &PacketBuilder::seq(uint32_t seq, uint32_t ack)
{
    Layer &l = last(Hdr::tcp, "seq");
    l.seq = seq;
    l.ack = ack;
    return *this;
}

PacketBuilder &PacketBuilder::tcp_options(size_t bytes)
{
    if (bytes % 4 != 0 || bytes > 40)
        misuse("tcp_options", std::to_string(bytes) + " bytes: must be a multiple of 4, at most 40");
    last(Hdr::tcp, "tcp_options").options = bytes;
    return *this;
}

PacketBuilder &PacketBuilder::tcp_doff(uint8_t doff)
{
    if (doff > 15)
        misuse("tcp_doff", "does not fit in 4 bits");
    last(Hdr::tcp, "tcp_doff").doff = doff;
    return *this;
}

PacketBuilder &PacketBuilder::udp(uint16_t sport, uint16_t dport)
{
    return add(Layer{.kind = Hdr::udp, .sport = sport, .dport = dport});
}

PacketBuilder &PacketBuilder::icmp(std::optional<uint8_t> type, uint8_t code)
{
    last_ip("icmp");  // the IP family decides between ICMP and ICMPv6
    return add(Layer{.kind = Hdr::icmp, .icmp_type = type, .icmp_code = code});
}

PacketBuilder &PacketBuilder::raw(uint8_t protocol, size_t bytes)
{
    Layer l{.kind = Hdr::raw, .protocol = protocol};
    l.body.resize(bytes);
    for (size_t i = 0; i < bytes; i++)
        l.body[i] = uint8_t(0xa0 + i);
    return add(std::move(l));
}

PacketBuilder &PacketBuilder::payload(size_t n)
{
    std::vector<uint8_t> bytes(n);
    for (size_t i = 0; i < n; i++)
        bytes[i] = uint8_t(i);
    return payload(std::move(bytes));
}

PacketBuilder &PacketBuilder::payload(std::vector<uint8_t> bytes)
{
    Layer l{.kind = Hdr::payload};
    l.body = std::move(bytes);
    return add(std::move(l));
}

PacketBuilder &PacketBuilder::truncate(size_t n)
{
    truncate_ = n;
    return *this;
}

// ---- serialising ------------------------------------------------------------

PacketBuilder::Built PacketBuilder::serialize() const
{
    const size_t n = layers_.size();

    // Pass 1: where each layer starts and how long it is.
    std::vector<size_t> off(n + 1, 0), len(n, 0);
    for (size_t i = 0; i < n; i++) {
        const Layer &l = layers_[i];
        switch (l.kind) {
        case Hdr::eth: len[i] = 14; break;
        case Hdr::vlan: len[i] = 4; break;
        case Hdr::arp: len[i] = 28; break;
        case Hdr::ipv4: len[i] = 20 + l.options; break;
        case Hdr::ipv6: len[i] = 40; break;
        case Hdr::tcp: len[i] = 20 + l.options; break;
        case Hdr::udp:
        case Hdr::icmp: len[i] = 8; break;
        case Hdr::raw:
        case Hdr::payload: len[i] = l.body.size(); break;
        default: len[i] = l.ext_len; break;  // IPv6 extension headers
        }
        off[i + 1] = off[i] + len[i];
    }
    const size_t total = off[n];

    // The IP header a layer belongs to (for ICMP's family and pseudo headers).
    auto enclosing_ip = [&](size_t i) -> const Layer * {
        for (size_t j = i; j-- > 0;)
            if (layers_[j].kind == Hdr::ipv4 || layers_[j].kind == Hdr::ipv6)
                return &layers_[j];
        return nullptr;
    };
    auto ip_proto_of = [&](size_t i) -> uint8_t {
        if (i >= n)
            return kProtoNone;
        switch (layers_[i].kind) {
        case Hdr::ipv4: return kProtoIpip;
        case Hdr::ipv6: return kProtoIpv6;
        case Hdr::hop_by_hop: return kProtoHopOpts;
        case Hdr::routing: return kProtoRouting;
        case Hdr::dest_opts: return kProtoDstOpts;
        case Hdr::fragment: return kProtoFragment;
        case Hdr::ah: return kProtoAh;
        case Hdr::tcp: return kProtoTcp;
        case Hdr::udp: return kProtoUdp;
        case Hdr::icmp: {
            const Layer *ip = enclosing_ip(i);
            return ip && ip->kind == Hdr::ipv6 ? kProtoIcmpv6 : kProtoIcmp;
        }
        case Hdr::raw: return layers_[i].protocol;
        default: return kProtoNone;
        }
    };
    auto ethertype_of = [&](size_t i) -> uint16_t {
        if (i >= n)
            return kEthPExperimental;
        switch (layers_[i].kind) {
        case Hdr::vlan: return layers_[i].tpid;
        case Hdr::arp: return kEthPARP;
        case Hdr::ipv4: return kEthPIPv4;
        case Hdr::ipv6: return kEthPIPv6;
        default: return kEthPExperimental;
        }
    };

    Built out;
    std::vector<uint8_t> &b = out.bytes;
    b.assign(total, 0);

    // Pass 2: every field but the transport checksums.
    for (size_t i = 0; i < n; i++) {
        const Layer &l = layers_[i];
        const size_t o = off[i];
        out.spans.push_back({l.kind, o, len[i]});
        switch (l.kind) {
        case Hdr::eth:
            put_bytes(b, o, l.dst);
            put_bytes(b, o + 6, l.src);
            put16(b, o + 12, l.ethertype.value_or(ethertype_of(i + 1)));
            break;
        case Hdr::vlan:
            put16(b, o, uint16_t(l.pcp << 13 | l.vid));
            put16(b, o + 2, l.ethertype.value_or(ethertype_of(i + 1)));
            break;
        case Hdr::arp: {
            std::vector<uint8_t> sha{0x02, 0, 0, 0, 0, 0x01};
            for (size_t j = i; j-- > 0;)
                if (layers_[j].kind == Hdr::eth) {
                    sha = layers_[j].src;
                    break;
                }
            put16(b, o, 1);            // hardware: Ethernet
            put16(b, o + 2, kEthPIPv4);
            b[o + 4] = 6;
            b[o + 5] = 4;
            put16(b, o + 6, 1);        // request
            put_bytes(b, o + 8, sha);
            put_bytes(b, o + 14, l.src);
            put_bytes(b, o + 24, l.dst);  // target hardware address stays zero
            break;
        }
        case Hdr::ipv4: {
            size_t hlen = len[i];
            b[o] = uint8_t(l.version.value_or(4) << 4 | l.ihl.value_or(uint8_t(hlen / 4)));
            put16(b, o + 2, uint16_t(total - o));
            put16(b, o + 4, l.ip_id);
            put16(b, o + 6, uint16_t((l.df ? 0x4000 : 0) | (l.mf ? 0x2000 : 0) | l.frag_offset / 8));
            b[o + 8] = l.ttl;
            b[o + 9] = ip_proto_of(i + 1);
            put_bytes(b, o + 12, l.src);
            put_bytes(b, o + 16, l.dst);
            if (l.options) {
                std::fill(b.begin() + o + 20, b.begin() + o + hlen - 1, 0x01);  // NOP
                b[o + hlen - 1] = 0x00;                                          // end of list
                out.spans.push_back({Hdr::ipv4_options, o + 20, l.options});
            }
            put16(b, o + 10, inet_checksum(&b[o], hlen));
            break;
        }
        case Hdr::ipv6:
            put32(b, o, uint32_t(l.version.value_or(6)) << 28);
            put16(b, o + 4, uint16_t(total - o - 40));
            b[o + 6] = ip_proto_of(i + 1);
            b[o + 7] = l.ttl;
            put_bytes(b, o + 8, l.src);
            put_bytes(b, o + 24, l.dst);
            break;
        case Hdr::hop_by_hop:
        case Hdr::dest_opts:
            b[o] = ip_proto_of(i + 1);
            b[o + 1] = uint8_t(l.ext_len / 8 - 1);
            b[o + 2] = 1;  // PadN over the rest (ext_len >= 8 leaves >= 6 bytes)
            b[o + 3] = uint8_t(l.ext_len - 4);
            break;
        case Hdr::routing:
            b[o] = ip_proto_of(i + 1);
            b[o + 1] = uint8_t(l.ext_len / 8 - 1);
            b[o + 2] = l.rt_type;
            b[o + 3] = l.segments_left;
            break;
        case Hdr::fragment:
            b[o] = ip_proto_of(i + 1);
            put16(b, o + 2, uint16_t(l.frag_offset | (l.mf ? 1 : 0)));
            put32(b, o + 4, l.id);
            break;
        case Hdr::ah:
            b[o] = ip_proto_of(i + 1);
            b[o + 1] = uint8_t(l.ext_len / 4 - 2);
            put32(b, o + 4, l.id);
            put32(b, o + 8, 1);  // sequence number
            break;
        case Hdr::tcp: {
            put16(b, o, l.sport);
            put16(b, o + 2, l.dport);
            put32(b, o + 4, l.seq);
            put32(b, o + 8, l.ack);
            b[o + 12] = uint8_t(l.doff.value_or(uint8_t(len[i] / 4)) << 4);
            b[o + 13] = l.tcp_flags;
            put16(b, o + 14, 64240);  // window
            std::fill(b.begin() + o + 20, b.begin() + o + len[i], 0x01);  // NOP options
            break;
        }
        case Hdr::udp:
            put16(b, o, l.sport);
            put16(b, o + 2, l.dport);
            put16(b, o + 4, uint16_t(total - o));
            break;
        case Hdr::icmp: {
            const bool v6 = enclosing_ip(i)->kind == Hdr::ipv6;
            b[o] = l.icmp_type.value_or(v6 ? 128 : 8);  // echo request
            b[o + 1] = l.icmp_code;
            put16(b, o + 4, 0x1234);  // identifier
            put16(b, o + 6, 1);       // sequence
            break;
        }
        case Hdr::raw:
        case Hdr::payload:
            put_bytes(b, o, l.body);
            break;
        case Hdr::ipv4_options:
            break;  // never a layer of its own
        }
    }

    // Pass 3: transport checksums over everything that follows them, once
    // the payload is in place.
    for (size_t i = 0; i < n; i++) {
        const Layer &l = layers_[i];
        if (l.kind != Hdr::tcp && l.kind != Hdr::udp && l.kind != Hdr::icmp)
            continue;
        const Layer *ip = enclosing_ip(i);
        if (!ip)
            continue;  // a bare transport header: no pseudo header to sum
        const size_t o = off[i];
        const size_t seg = total - o;
        const uint8_t proto = ip_proto_of(i);
        uint32_t pseudo = 0;
        if (ip->kind == Hdr::ipv4) {
            if (proto != kProtoIcmp)
                pseudo = sum16(ip->src.data(), 4) + sum16(ip->dst.data(), 4) + proto + uint32_t(seg);
        } else {
            pseudo = sum16(ip->src.data(), 16) + sum16(ip->dst.data(), 16) + proto + uint32_t(seg);
        }
        const size_t csum_at = l.kind == Hdr::tcp ? o + 16 : l.kind == Hdr::udp ? o + 6 : o + 2;
        uint16_t csum = inet_checksum(&b[o], seg, pseudo);
        if (l.kind == Hdr::udp && csum == 0)
            csum = 0xffff;  // zero means "no checksum" in UDP
        put16(b, csum_at, csum);
    }
    return out;
}

std::vector<uint8_t> PacketBuilder::build() const
{
    std::vector<uint8_t> bytes = serialize().bytes;
    if (truncate_ && *truncate_ < bytes.size())
        bytes.resize(*truncate_);
    return bytes;
}

std::vector<HeaderSpan> PacketBuilder::layout() const
{
    return serialize().spans;
}

HeaderSpan PacketBuilder::span(Hdr kind, size_t nth) const
{
    size_t seen = 0;
    for (const HeaderSpan &s : layout())
        if (s.kind == kind && seen++ == nth)
            return s;
    misuse("span", std::string("no ") + hdr_name(kind) + " header #" + std::to_string(nth));
}

std::vector<uint8_t> PacketBuilder::build_truncated_at(Hdr kind, size_t keep, size_t nth) const
{
    HeaderSpan s = span(kind, nth);
    if (keep > s.length)
        misuse("build_truncated_at", "keep " + std::to_string(keep) + " bytes of a " +
                                         std::to_string(s.length) + "-byte " + hdr_name(kind) + " header");
    std::vector<uint8_t> bytes = build();
    bytes.resize(std::min(bytes.size(), s.offset + keep));
    return bytes;
}

} // namespace rg::test
