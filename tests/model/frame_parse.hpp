// The reference reading of a frame for the differential packet fuzz: what
// bpf/parse.h is meant to extract, written again from the protocol layouts
// (IEEE 802.1Q, RFC 791, RFC 8200, RFC 4302, RFC 9293) and the parser's
// documented limits, with no code shared with it.
//
// Limits and choices of the real parser that the model repeats on purpose
// (they are surprising, so each is named here):
//  - at most 2 VLAN tags (0x8100 or 0x88a8, in any order); a third is
//    "unparsed", and 0x9100 or any other TPID is "not IP";
//  - IPv4 total length and IPv6 payload length are not read: a frame longer
//    or shorter than they say is judged on the headers it has;
//  - IPv4 options are skipped unread, only IHL must fit in the frame;
//  - an IPv4 packet with a non-zero fragment offset is a "fragment" whatever
//    its protocol; offset 0 with MF set is judged like any packet;
//  - IPv6 extension headers (hop-by-hop, routing, destination options,
//    fragment, AH) are followed in any order, at most 8 of them: TCP after 8
//    is parsed, a 9th extension header is "unparsed"; an IPv6 fragment header
//    with offset 0 is skipped, one with a non-zero offset is a "fragment";
//    ESP, no-next-header and anything else end the chain as "not TCP";
//  - the TCP header must be 20 bytes in the frame with a data offset of at
//    least 5; a data offset pointing past the end of the frame is not
//    checked (the ports and flags are in the first 20 bytes);
//  - a SYN is SYN set and ACK clear, other flags ignored.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace rg::model {

enum class Parse { tcp, not_ip, not_tcp, fragment, malformed, unparsed };
const char *parse_name(Parse p);

struct ParsedFrame {
    Parse status = Parse::malformed;
    int family = 0;                  // 4 or 6 once an IP header was read
    std::array<uint8_t, 16> saddr{}; // network order; IPv4 in the first 4 bytes
    uint16_t dport = 0;              // host order; valid when status is tcp
    bool syn = false;
};

ParsedFrame parse_frame(std::span<const uint8_t> frame);

} // namespace rg::model
