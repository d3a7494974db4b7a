// Random and mutated Ethernet frames for the packet fuzz, in every shape the
// parser knows and many it must refuse:
//  - Ethernet with 0 to 3 VLAN tags (802.1Q, 802.1ad, and a TPID the parser
//    does not know), ARP, other ethertypes;
//  - IPv4 with options, any IHL (also below 5 and past the frame), any
//    version, fragments (first, later, DF), total lengths true or not, TCP,
//    UDP, ICMP, other protocols;
//  - IPv6 with chains of 0 to 10 extension headers (hop-by-hop, routing,
//    destination options, fragment, AH) in any order and with any length
//    field, fragments, ESP, no next header;
//  - TCP with any flags, data offsets from 0 to 15, options present or not;
// then mutated: cut at a random byte, bytes flipped; also frames of random
// bytes, and sweeps that send one frame cut at every byte from 14 to its
// end (one frame in 1,000 starts one). Source addresses are drawn mostly in, at the edges of, and just
// outside the round's listed and banned prefixes (and now and then an
// IPv4-mapped IPv6 address of a listed IPv4 prefix, which IPv4 entries must
// not match); destination ports mostly among the protected ones.
#pragma once

#include "prefix_lists.hpp"
#include "rng.hpp"
#include "round_spec.hpp"

#include <cstdint>
#include <deque>
#include <vector>

namespace rg::fuzz {

using Bytes = std::vector<uint8_t>;

class FrameGen {
public:
    FrameGen(Rng rng, const RoundSpec &round);
    // The next frame, at least 14 bytes (BPF_PROG_RUN's minimum) and at
    // most 400.
    Bytes next();

private:
    Bytes structured();
    void vlan_tags(Bytes &f, uint16_t inner_type);
    void ipv4(Bytes &f);
    void ipv6(Bytes &f);
    void l4(Bytes &f, uint8_t proto);
    void tcp(Bytes &f);
    void random_bytes(Bytes &f, size_t n);
    model::U128 source(int family);
    uint16_t dport();

    Rng rng_;
    std::vector<model::ModelPrefix> targets_[2], bans_[2];  // listed, banned; per family
    std::vector<uint16_t> ports_;
    std::deque<Bytes> sweep_;  // the rest of a truncation sweep
};

} // namespace rg::fuzz
