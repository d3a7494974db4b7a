#include "ports.hpp"

#include "error.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace rg {

std::vector<uint16_t> parse_ports(const std::vector<std::string> &args)
{
    std::vector<uint16_t> ports;
    for (const std::string &arg : args) {
        size_t start = 0;
        while (start <= arg.size()) {
            size_t comma = arg.find(',', start);
            if (comma == std::string::npos)
                comma = arg.size();
            std::string_view item(arg.data() + start, comma - start);
            unsigned v = 0;
            auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
            if (item.empty() || ec == std::errc::invalid_argument || end != item.data() + item.size())
                throw Error("port \"" + std::string(item) + "\": not a number");
            if (ec == std::errc::result_out_of_range || v < 1 || v > 65535)
                throw Error("port \"" + std::string(item) + "\": out of range (1-65535)");
            ports.push_back(uint16_t(v));
            start = comma + 1;
        }
    }
    std::sort(ports.begin(), ports.end());
    ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
    if (ports.empty())
        throw Error("no port given");
    if (ports.size() > RG_MAX_PORTS)
        throw Error(std::to_string(ports.size()) + " ports given, at most " +
                    std::to_string(RG_MAX_PORTS) + " can be protected");
    return ports;
}

void ports_to_bitmap(const std::vector<uint16_t> &ports, PortBitmap &bitmap)
{
    std::memset(bitmap, 0, sizeof(bitmap));
    for (uint16_t p : ports)
        bitmap[p >> 6] |= 1ull << (p & 63);
}

std::vector<uint16_t> ports_from_bitmap(const PortBitmap &bitmap)
{
    std::vector<uint16_t> ports;
    for (unsigned w = 0; w < RG_PORT_WORDS; w++)
        for (unsigned b = 0; b < 64; b++)
            if ((bitmap[w] >> b) & 1)
                ports.push_back(uint16_t(w * 64 + b));
    return ports;
}

} // namespace rg
