// rg::parse_ports and the port bitmap in rg_config: what `--ports` and
// `ports set` accept, and how the set reaches the XDP program.
#include "error.hpp"
#include "ports.hpp"

#include <gtest/gtest.h>

#include <bitset>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Ports = std::vector<uint16_t>;

std::string parse_error(const std::vector<std::string> &args)
{
    try {
        rg::parse_ports(args);
    } catch (const rg::Error &e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string &haystack, const std::string &needle)
{
    return haystack.find(needle) != std::string::npos;
}

std::string join(const std::vector<std::string> &v, const char *sep)
{
    std::string out;
    for (const std::string &s : v)
        out += (out.empty() ? "" : sep) + s;
    return out;
}

// "first", "first+1", ... as strings.
std::vector<std::string> port_range(unsigned first, unsigned count)
{
    std::vector<std::string> v;
    for (unsigned i = 0; i < count; i++)
        v.push_back(std::to_string(first + i));
    return v;
}

size_t bits_set(const rg_config &cfg)
{
    size_t n = 0;
    for (uint64_t w : cfg.port_bitmap)
        n += std::bitset<64>(w).count();
    return n;
}

bool bit(const rg_config &cfg, unsigned port) { return (cfg.port_bitmap[port / 64] >> (port % 64)) & 1; }

} // namespace

// ---- parse_ports ---------------------------------------------------------

TEST(ParsePorts, Single)
{
    EXPECT_EQ(rg::parse_ports({"25"}), (Ports{25}));
    EXPECT_EQ(rg::parse_ports({"1"}), (Ports{1}));
    EXPECT_EQ(rg::parse_ports({"65535"}), (Ports{65535}));
}

TEST(ParsePorts, CommaListIsSorted)
{
    EXPECT_EQ(rg::parse_ports({"587,25,465"}), (Ports{25, 465, 587}));
}

TEST(ParsePorts, SeparateArgsAndListsMix)
{
    EXPECT_EQ(rg::parse_ports({"587", "25,2525", "465"}), (Ports{25, 465, 587, 2525}));
}

TEST(ParsePorts, Dedupes)
{
    EXPECT_EQ(rg::parse_ports({"25,25", "25", "587,25"}), (Ports{25, 587}));
}

TEST(ParsePorts, ExactlyMaxAccepted)
{
    Ports want;
    for (unsigned p = 1; p <= RG_MAX_PORTS; p++)
        want.push_back(uint16_t(p));
    EXPECT_EQ(rg::parse_ports({join(port_range(1, RG_MAX_PORTS), ",")}), want);
    EXPECT_EQ(rg::parse_ports(port_range(1, RG_MAX_PORTS)), want);
}

TEST(ParsePorts, DuplicatesDoNotCountTowardsTheLimit)
{
    std::vector<std::string> args = port_range(1, RG_MAX_PORTS);
    args.push_back("1");
    args.push_back(std::to_string(RG_MAX_PORTS));
    EXPECT_EQ(rg::parse_ports(args).size(), size_t(RG_MAX_PORTS));
}

TEST(ParsePorts, MoreThanMaxRefused)
{
    const std::string over = std::to_string(RG_MAX_PORTS + 1);
    const std::string max = std::to_string(RG_MAX_PORTS);

    std::string msg = parse_error({join(port_range(1, RG_MAX_PORTS + 1), ",")});
    ASSERT_FALSE(msg.empty()) << "17 ports in one list accepted";
    EXPECT_TRUE(contains(msg, over)) << msg;
    EXPECT_TRUE(contains(msg, max)) << msg;

    msg = parse_error(port_range(1, RG_MAX_PORTS + 1));
    ASSERT_FALSE(msg.empty()) << "17 ports as separate args accepted";
    EXPECT_TRUE(contains(msg, over)) << msg;

    // Spread over lists that are each within the limit.
    msg = parse_error({join(port_range(1, 10), ","), join(port_range(11, RG_MAX_PORTS - 9), ",")});
    EXPECT_FALSE(msg.empty()) << "17 ports over two lists accepted";
}

TEST(ParsePorts, NothingRefused)
{
    EXPECT_FALSE(parse_error({}).empty());
    EXPECT_THROW(rg::parse_ports({}), rg::Error);
}

struct BadPort {
    std::vector<std::string> args;
    const char *item;  // the item the message must quote
    const char *why;
};

class PortErrors : public ::testing::TestWithParam<BadPort> {};

TEST_P(PortErrors, RefusedNamingItemAndReason)
{
    const BadPort &b = GetParam();
    std::string msg = parse_error(b.args);
    ASSERT_FALSE(msg.empty()) << "accepted: " << join(b.args, " ");
    EXPECT_TRUE(contains(msg, "\"" + std::string(b.item) + "\"")) << msg;
    EXPECT_TRUE(contains(msg, b.why)) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Inputs, PortErrors,
    ::testing::Values(BadPort{{"0"}, "0", "out of range"},
                      BadPort{{"65536"}, "65536", "out of range"},
                      BadPort{{"70000"}, "70000", "out of range"},
                      BadPort{{"99999999999"}, "99999999999", "out of range"},
                      BadPort{{"-1"}, "-1", "not a number"},
                      BadPort{{"abc"}, "abc", "not a number"},
                      BadPort{{"25x"}, "25x", "not a number"},
                      BadPort{{"0x19"}, "0x19", "not a number"},
                      BadPort{{" 25"}, " 25", "not a number"},
                      BadPort{{"+25"}, "+25", "not a number"},
                      BadPort{{""}, "", "not a number"},
                      BadPort{{"25,"}, "", "not a number"},
                      BadPort{{",25"}, "", "not a number"},
                      BadPort{{"25,,587"}, "", "not a number"},
                      BadPort{{"25", "587,0"}, "0", "out of range"},
                      BadPort{{"25;587"}, "25;587", "not a number"}));

TEST(ParsePortErrors, OutOfRangeStatesTheRange)
{
    EXPECT_TRUE(contains(parse_error({"0"}), "65535"));
    EXPECT_TRUE(contains(parse_error({"65536"}), "65535"));
}

// ---- bitmap ------------------------------------------------------------------

TEST(PortBitmap, BitPositions)
{
    rg_config cfg{};
    rg::ports_to_bitmap({1, 63, 64, 65535}, cfg);
    EXPECT_EQ(cfg.port_bitmap[0], (1ull << 1) | (1ull << 63));
    EXPECT_EQ(cfg.port_bitmap[1], 1ull);
    EXPECT_EQ(cfg.port_bitmap[RG_PORT_WORDS - 1], 1ull << 63);
    EXPECT_EQ(bits_set(cfg), 4u);
}

TEST(PortBitmap, RoundTrip)
{
    for (const Ports &ports : {Ports{25}, Ports{1, 63, 64, 65535}, Ports{25, 465, 587, 2525},
                               Ports{127, 128, 129, 4095, 4096, 65472, 65534}}) {
        rg_config cfg{};
        rg::ports_to_bitmap(ports, cfg);
        EXPECT_EQ(bits_set(cfg), ports.size());
        for (uint16_t p : ports)
            EXPECT_TRUE(bit(cfg, p)) << p;
        EXPECT_EQ(rg::ports_from_bitmap(cfg), ports);
    }
}

TEST(PortBitmap, FromParsedPortsRoundTrip)
{
    Ports parsed = rg::parse_ports({"65535,1", "64", "63"});
    rg_config cfg{};
    rg::ports_to_bitmap(parsed, cfg);
    EXPECT_EQ(rg::ports_from_bitmap(cfg), parsed);
}

TEST(PortBitmap, ReplacesPreviousPortsAndKeepsOtherFields)
{
    rg_config cfg;
    std::memset(&cfg, 0xff, sizeof(cfg));
    cfg.abi_version = RG_ABI_VERSION;
    cfg.flags = RG_CFG_MONITOR;
    rg::ports_to_bitmap({25, 587}, cfg);
    EXPECT_EQ(rg::ports_from_bitmap(cfg), (Ports{25, 587}));
    EXPECT_EQ(bits_set(cfg), 2u);
    EXPECT_EQ(cfg.abi_version, unsigned(RG_ABI_VERSION));
    EXPECT_EQ(cfg.flags, RG_CFG_MONITOR);
}

TEST(PortBitmap, EmptyIsEmpty)
{
    rg_config cfg{};
    EXPECT_TRUE(rg::ports_from_bitmap(cfg).empty());
    cfg.port_bitmap[3] = 1;
    rg::ports_to_bitmap({}, cfg);
    EXPECT_EQ(bits_set(cfg), 0u);
    EXPECT_TRUE(rg::ports_from_bitmap(cfg).empty());
}

TEST(PortBitmap, FromBitmapIsSortedAndComplete)
{
    // Bits set directly, in no particular order of words.
    rg_config cfg{};
    cfg.port_bitmap[1023] = 1ull << 63;  // 65535
    cfg.port_bitmap[0] = 1ull << 25;     // 25
    cfg.port_bitmap[9] = 1ull << 11;     // 9*64+11 = 587
    cfg.port_bitmap[7] = 1ull << 17;     // 7*64+17 = 465
    EXPECT_EQ(rg::ports_from_bitmap(cfg), (Ports{25, 465, 587, 65535}));
}
