// A fluent builder of Ethernet frames for BPF_PROG_RUN and raw-socket tests.
//
//   auto frame = PacketBuilder().eth().qinq(100, 200)
//                    .ipv4("192.0.2.1", "198.51.100.1").ip_options(8)
//                    .tcp(40000, 25).flags(tcp_flags::SYN).payload(10).build();
//
// Headers are appended in wire order; each call after a header sets fields of
// the header just added (ip_options, ttl, flags, ...). build() fills in what
// follows from the whole packet, so the layers cannot disagree:
//  - every "next protocol" field (ethertype, VLAN encapsulated type, IPv4
//    protocol, IPv6 next header of the fixed and extension headers) names the
//    header that follows it; an IPv6 header with nothing after it says 59
//    (no next header);
//  - lengths: IPv4 IHL and total length, IPv6 payload length, extension
//    header length fields, TCP data offset, UDP length;
//  - checksums: IPv4 header, TCP, UDP, ICMP, ICMPv6.
// Deliberate lies go through explicit overrides (ethertype, ipv4_version,
// ipv4_ihl, tcp_doff). Truncation (truncate, build_truncated_at) cuts the
// finished frame, so length fields still describe the packet as sent, as a
// frame cut short on the wire would.
//
// Misuse (a field setter with no header to apply to, a length that cannot be
// encoded, a malformed address) throws std::invalid_argument naming the call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rg::test {

namespace tcp_flags {
inline constexpr uint8_t FIN = 0x01;
inline constexpr uint8_t SYN = 0x02;
inline constexpr uint8_t RST = 0x04;
inline constexpr uint8_t PSH = 0x08;
inline constexpr uint8_t ACK = 0x10;
inline constexpr uint8_t URG = 0x20;
} // namespace tcp_flags

inline constexpr uint16_t kEthPIPv4 = 0x0800;
inline constexpr uint16_t kEthPARP = 0x0806;
inline constexpr uint16_t kEthP8021Q = 0x8100;
inline constexpr uint16_t kEthP8021AD = 0x88a8;
inline constexpr uint16_t kEthPIPv6 = 0x86dd;
// IEEE 802 local experimental ethertype: used when nothing follows Ethernet
// and no ethertype was given.
inline constexpr uint16_t kEthPExperimental = 0x88b5;

// The kinds of header the builder emits; HeaderSpan and build_truncated_at
// refer to them. A vlan span is the 4 bytes after the TPID that announced it
// (TCI and the encapsulated ethertype), as a parser reads a tag. ipv4_options
// is the options part of the IPv4 header before it (inside the ipv4 span).
enum class Hdr {
    eth,
    vlan,
    arp,
    ipv4,
    ipv4_options,
    ipv6,
    hop_by_hop,
    routing,
    dest_opts,
    fragment,
    ah,
    tcp,
    udp,
    icmp,
    raw,
    payload,
};
const char *hdr_name(Hdr h);

// Where one header lies in the built (untruncated) frame.
struct HeaderSpan {
    Hdr kind;
    size_t offset;
    size_t length;
};

class PacketBuilder {
public:
    // Ethernet II. MACs as "aa:bb:cc:dd:ee:ff".
    PacketBuilder &eth(std::string_view dst = "02:00:00:00:00:02",
                       std::string_view src = "02:00:00:00:00:01");
    // The ethertype of the innermost Ethernet/VLAN header, instead of the
    // one derived from the next header (e.g. 0x0806 before a raw body).
    PacketBuilder &ethertype(uint16_t type);

    // One VLAN tag, appended in wire order (outermost first). tpid is the
    // ethertype announcing this tag, written into the header before it:
    // 0x8100 (802.1Q) or 0x88a8 (802.1ad service tag).
    PacketBuilder &vlan(uint16_t vid, uint16_t tpid = kEthP8021Q, uint8_t pcp = 0);
    // 802.1ad service tag outside an 802.1Q customer tag.
    PacketBuilder &qinq(uint16_t outer_vid, uint16_t inner_vid);

    // An ARP request (28 bytes, Ethernet/IPv4) for target from sender.
    PacketBuilder &arp(std::string_view sender = "192.0.2.1", std::string_view target = "192.0.2.2");

    // IPv4 header; the setters below change the last one added.
    PacketBuilder &ipv4(std::string_view src, std::string_view dst);
    // Options of `bytes` bytes (multiple of 4, at most 40): NOPs ending with
    // an end-of-list option. IHL becomes 5 + bytes / 4.
    PacketBuilder &ip_options(size_t bytes);
    // Fragment offset in bytes (multiple of 8) and the MF flag.
    PacketBuilder &ipv4_fragment(uint32_t offset_bytes, bool more_fragments);
    PacketBuilder &dont_fragment(bool df = true);
    PacketBuilder &ipv4_id(uint16_t id);
    PacketBuilder &ipv4_version(uint8_t version);  // override, 0..15
    PacketBuilder &ipv4_ihl(uint8_t ihl);          // override, 0..15
    // TTL of the last IPv4 header or hop limit of the last IPv6 header.
    PacketBuilder &ttl(uint8_t ttl);

    // IPv6 header and extension headers. Extension headers take their total
    // length in bytes, a multiple of 8 (AH: of 4), the length field is
    // derived. Options headers are filled with PadN.
    PacketBuilder &ipv6(std::string_view src, std::string_view dst);
    PacketBuilder &ipv6_version(uint8_t version);  // override, 0..15
    PacketBuilder &hop_by_hop(size_t bytes = 8);
    PacketBuilder &routing(size_t bytes = 8, uint8_t type = 4, uint8_t segments_left = 0);
    PacketBuilder &dest_opts(size_t bytes = 8);
    // Offset in bytes (multiple of 8), the M flag, and the identification.
    PacketBuilder &fragment(uint32_t offset_bytes, bool more_fragments, uint32_t id = 0x12345678);
    // Authentication header: 12 fixed bytes plus an ICV of icv_bytes.
    PacketBuilder &ah(size_t icv_bytes = 12, uint32_t spi = 0x100);

    // Transport. tcp() starts as a bare SYN with a 20-byte header.
    PacketBuilder &tcp(uint16_t sport, uint16_t dport);
    PacketBuilder &flags(uint8_t tcp_flags);           // replaces the flags
    PacketBuilder &seq(uint32_t seq, uint32_t ack = 0);
    PacketBuilder &tcp_options(size_t bytes);          // NOPs, multiple of 4, at most 40
    PacketBuilder &tcp_doff(uint8_t doff);             // override, 0..15
    PacketBuilder &udp(uint16_t sport, uint16_t dport);
    // ICMP after IPv4, ICMPv6 after IPv6; without a type, an echo request.
    PacketBuilder &icmp(std::optional<uint8_t> type = std::nullopt, uint8_t code = 0);
    // Any other next protocol (ESP 50, GRE 47, ...) with `bytes` of body.
    PacketBuilder &raw(uint8_t protocol, size_t bytes);

    // Bytes after the last header: n bytes counting up from 0, or given ones.
    PacketBuilder &payload(size_t n);
    PacketBuilder &payload(std::vector<uint8_t> bytes);

    // Cut the finished frame to at most n bytes.
    PacketBuilder &truncate(size_t n);

    std::vector<uint8_t> build() const;
    // The frame cut `keep` bytes into the nth header of that kind (0 = the
    // first): keep 0 ends the frame just before the header.
    std::vector<uint8_t> build_truncated_at(Hdr kind, size_t keep = 0, size_t nth = 0) const;
    // The headers of the untruncated frame, in wire order.
    std::vector<HeaderSpan> layout() const;
    // The span of the nth header of a kind; throws if there is none.
    HeaderSpan span(Hdr kind, size_t nth = 0) const;

private:
    // One header as the caller described it; build() derives the rest.
    struct Layer {
        Hdr kind = Hdr::payload;
        std::vector<uint8_t> src{}, dst{};  // MACs (eth) or addresses (IP, ARP)
        std::vector<uint8_t> body{};    // payload, raw body
        std::optional<uint16_t> ethertype{};          // eth, vlan
        uint16_t vid = 0, tpid = 0;                    // vlan
        uint8_t pcp = 0;
        uint8_t ttl = 64;                              // ipv4, ipv6
        uint16_t ip_id = 0;                            // ipv4
        bool df = false, mf = false;                   // ipv4 flags, fragment M
        uint32_t frag_offset = 0;                      // ipv4, fragment (bytes)
        size_t options = 0;                            // ipv4, tcp option bytes
        std::optional<uint8_t> version{}, ihl{}, doff{};  // overrides
        size_t ext_len = 0;                            // extension headers
        uint8_t rt_type = 0, segments_left = 0;        // routing
        uint32_t id = 0;                               // fragment id, AH SPI
        uint16_t sport = 0, dport = 0;                 // tcp, udp
        uint8_t tcp_flags = 0;
        uint32_t seq = 0, ack = 0;
        uint8_t protocol = 0;                          // raw
        std::optional<uint8_t> icmp_type{};
        uint8_t icmp_code = 0;
    };
    struct Built {
        std::vector<uint8_t> bytes;
        std::vector<HeaderSpan> spans;
    };
    Built serialize() const;
    Layer &last(Hdr kind, const char *call);
    Layer &last_ip(const char *call);
    PacketBuilder &add(Layer l);

    std::vector<Layer> layers_;
    std::optional<size_t> truncate_;
};

// The 16-bit one's complement of the one's complement sum of data (RFC 1071),
// with `initial` added in (a pseudo-header sum).
uint16_t inet_checksum(const uint8_t *data, size_t len, uint32_t initial = 0);

} // namespace rg::test
