// Protected destination ports.
#pragma once

#include "relayguard_abi.h"

#include <cstdint>
#include <string>
#include <vector>

namespace rg {

// Parses port arguments; each may be a single port or a comma-separated list
// ("25,465,587"). Returns sorted unique ports. Throws rg::Error on a value
// that is not 1-65535, or on more than RG_MAX_PORTS ports.
std::vector<uint16_t> parse_ports(const std::vector<std::string> &args);

// A port bitmap (rg_config's protected ports, rg_egress_config's watched
// ports): bit p of the RG_PORT_WORDS words is port p.
using PortBitmap = __u64[RG_PORT_WORDS];
void ports_to_bitmap(const std::vector<uint16_t> &ports, PortBitmap &bitmap);
std::vector<uint16_t> ports_from_bitmap(const PortBitmap &bitmap);
inline void ports_to_bitmap(const std::vector<uint16_t> &ports, struct rg_config &cfg)
{
    ports_to_bitmap(ports, cfg.port_bitmap);
}
inline std::vector<uint16_t> ports_from_bitmap(const struct rg_config &cfg) { return ports_from_bitmap(cfg.port_bitmap); }

} // namespace rg
