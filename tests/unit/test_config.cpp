// rg::parse_config/load_config: the daemon's config file. Every key, every
// way a file can be wrong (each message must say file:line, section and
// key), list files next to the config, and the shipped example
// dist/relayguard.conf (RG_EXAMPLE_CONFIG).
#include "config.hpp"
#include "error.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string kPath = "/etc/relayguard/test.conf";
const std::string kFilter = "[filter]\ninterfaces = eth0\n";  // the least a config needs

bool contains(const std::string &haystack, const std::string &needle)
{
    return haystack.find(needle) != std::string::npos;
}

rg::Config parse(const std::string &text) { return rg::parse_config(text, kPath); }

// The message fn throws, or "" if it did not throw.
template <typename Fn>
std::string error_of(Fn fn)
{
    try {
        fn();
    } catch (const rg::Error &e) {
        return e.what();
    }
    return "";
}

std::string error(const std::string &text)
{
    return error_of([&] { parse(text); });
}
std::string load_error(const std::string &path)
{
    return error_of([&] { rg::load_config(path); });
}

// Expects text to be refused with a message starting "test.conf:LINE: WHERE: "
// (WHERE being e.g. "[rate] burst"; just "test.conf:LINE: " if empty) and
// containing why.
void expect_error(const std::string &text, int line, const std::string &where, const std::string &why)
{
    std::string msg = error(text);
    ASSERT_FALSE(msg.empty()) << "accepted:\n" << text;
    std::string prefix = kPath + ":" + std::to_string(line) + ": " + (where.empty() ? "" : where + ": ");
    EXPECT_EQ(msg.substr(0, prefix.size()), prefix) << msg;
    EXPECT_TRUE(contains(msg, why)) << msg;
}

rg::Cidr cidr(const std::string &text) { return rg::parse_cidr(text).cidr; }

std::string read_text(const std::string &path)
{
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A private directory for config and list files, removed afterwards.
class ConfigFiles : public ::testing::Test {
protected:
    fs::path dir;

    void SetUp() override
    {
        std::string tmpl = (fs::temp_directory_path() / "rg-config-XXXXXX").string();
        ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
        dir = tmpl;
    }
    void TearDown() override { fs::remove_all(dir); }

    std::string write(const std::string &name, const std::string &text)
    {
        fs::path p = dir / name;
        fs::create_directories(p.parent_path());
        std::ofstream(p) << text;
        return p.string();
    }
};

} // namespace

// ---- defaults and the [filter] section -------------------------------------

TEST(ConfigParse, MinimalGivesDefaults)
{
    rg::Config c = parse(kFilter);
    EXPECT_EQ(c.path, kPath);
    EXPECT_EQ(c.interfaces, (std::vector<std::string>{"eth0"}));
    EXPECT_EQ(c.xdp_mode, rg::XdpMode::native);
    EXPECT_EQ(c.ports, (std::vector<uint16_t>{25}));
    EXPECT_FALSE(c.monitor);
    EXPECT_TRUE(c.allow.empty());
    EXPECT_TRUE(c.block.empty());
    EXPECT_EQ(c.rate, rg::RateSettings{});
    EXPECT_FALSE(c.rate.enabled);
    EXPECT_EQ(c.pin_dir, "/sys/fs/bpf/relayguard");
    EXPECT_EQ(c.state_dir, "/var/lib/relayguard/sys-fs-bpf-relayguard");
    EXPECT_EQ(c.stats_interval, 60s);
    EXPECT_EQ(c.stats_output, "-");
    EXPECT_FALSE(c.keep_on_exit);
    EXPECT_TRUE(c.feeds.empty());
}

TEST(ConfigFilter, Interfaces)
{
    EXPECT_EQ(parse("[filter]\ninterfaces = eth0, eth1 bond0.100\n").interfaces,
              (std::vector<std::string>{"eth0", "eth1", "bond0.100"}));
    EXPECT_EQ(parse("[filter]\ninterfaces = abcdefghijklmno\n").interfaces,
              (std::vector<std::string>{"abcdefghijklmno"}));  // 15 characters, the kernel's limit
    // Not checked against the system: the daemon does that when attaching.
    EXPECT_EQ(parse("[filter]\ninterfaces = nosuchif0\n").interfaces,
              (std::vector<std::string>{"nosuchif0"}));
}

TEST(ConfigFilter, InterfaceErrors)
{
    expect_error("[filter]\ninterfaces = eth0 eth1,eth0\n", 2, "[filter] interfaces",
                 "\"eth0\": listed twice");
    expect_error("[filter]\ninterfaces = abcdefghijklmnop\n", 2, "[filter] interfaces",
                 "\"abcdefghijklmnop\": longer than 15 characters");
    expect_error("[filter]\ninterfaces = eth0/1\n", 2, "[filter] interfaces", "\"eth0/1\": not a valid");
    expect_error("[filter]\ninterfaces = eth0:1\n", 2, "[filter] interfaces", "\"eth0:1\": not a valid");
    expect_error("[filter]\ninterfaces = ..\n", 2, "[filter] interfaces", "not a valid");
    expect_error("[filter]\ninterfaces = ,\n", 2, "[filter] interfaces", "no interface");
}

TEST(ConfigFilter, MissingInterfacesIsAFileLevelError)
{
    for (const std::string &text : {std::string(""), std::string("# nothing\n"), std::string("[filter]\n"),
                                    std::string("[filter]\nports = 25\n[daemon]\n")}) {
        std::string msg = error(text);
        std::string head = kPath + ": [filter] interfaces: ";
        EXPECT_EQ(msg.substr(0, head.size()), head) << msg;
        EXPECT_TRUE(contains(msg, "interfaces = eth0")) << msg;  // says how to fix it
    }
}

TEST(ConfigFilter, XdpMode)
{
    EXPECT_EQ(parse(kFilter + "xdp_mode = skb\n").xdp_mode, rg::XdpMode::skb);
    EXPECT_EQ(parse(kFilter + "xdp_mode = native\n").xdp_mode, rg::XdpMode::native);
    expect_error(kFilter + "xdp_mode = generic\n", 3, "[filter] xdp_mode",
                 "\"generic\": not one of native, skb");
    expect_error(kFilter + "xdp_mode = SKB\n", 3, "[filter] xdp_mode", "not one of");
}

TEST(ConfigFilter, Ports)
{
    EXPECT_EQ(parse(kFilter + "ports = 587, 25 465\n").ports, (std::vector<uint16_t>{25, 465, 587}));
    EXPECT_EQ(parse(kFilter + "ports = 2525\n").ports, (std::vector<uint16_t>{2525}));
    EXPECT_EQ(parse(kFilter + "ports = 25,25\n").ports, (std::vector<uint16_t>{25}));
    expect_error(kFilter + "ports = 25 0\n", 3, "[filter] ports", "\"0\": out of range");
    expect_error(kFilter + "ports = smtp\n", 3, "[filter] ports", "\"smtp\": not a number");
    expect_error(kFilter + "ports = 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n", 3, "[filter] ports",
                 "at most 16");
}

TEST(ConfigFilter, Mode)
{
    EXPECT_TRUE(parse(kFilter + "mode = monitor\n").monitor);
    EXPECT_FALSE(parse(kFilter + "mode = enforce\n").monitor);
    expect_error(kFilter + "mode = drop\n", 3, "[filter] mode", "\"drop\": not one of enforce, monitor");
}

TEST(ConfigFilter, AllowAndBlockAccumulateSortedAndUnique)
{
    rg::Config c = parse(kFilter + "allow = 192.0.2.0/24, 10.0.0.0/8\n"
                                   "block = 2001:db8::/32\n"
                                   "allow = 10.0.0.0/8 198.51.100.7\n"
                                   "block = 203.0.113.0/24\n");
    std::vector<rg::Cidr> allow{cidr("10.0.0.0/8"), cidr("192.0.2.0/24"), cidr("198.51.100.7")};
    std::sort(allow.begin(), allow.end());
    std::vector<rg::Cidr> block{cidr("203.0.113.0/24"), cidr("2001:db8::/32")};
    std::sort(block.begin(), block.end());
    EXPECT_EQ(c.allow, allow);
    EXPECT_EQ(c.block, block);
}

TEST(ConfigFilter, HostBitsAreClearedLikeParseCidr)
{
    rg::Config c = parse(kFilter + "allow = 192.0.2.77/24 192.0.2.0/24\nblock = 2001:db8::1/32\n");
    EXPECT_EQ(c.allow, (std::vector<rg::Cidr>{cidr("192.0.2.0/24")}));  // one entry once normalised
    ASSERT_EQ(c.block.size(), 1u);
    EXPECT_EQ(c.block[0].str(), "2001:db8::/32");
}

TEST(ConfigFilter, BadPrefix)
{
    expect_error(kFilter + "allow = 192.0.2.0/24 192.0.2.0/33\n", 3, "[filter] allow",
                 "\"192.0.2.0/33\": prefix length");
    expect_error(kFilter + "block = example.com\n", 3, "[filter] block", "\"example.com\": not a valid");
    expect_error(kFilter + "block = ,\n", 3, "[filter] block", "no prefix");
}

// ---- syntax ----------------------------------------------------------------

TEST(ConfigSyntax, CommentsAndBlankLines)
{
    rg::Config c = parse("# a comment\n"
                         "\n"
                         "   \t\n"
                         "   # indented comment\n"
                         "[filter]   # after a header\n"
                         "interfaces = eth0 # after a value\n"
                         "ports = 465\t# after a tab\n"
                         "#ports = 587\n");
    EXPECT_EQ(c.interfaces, (std::vector<std::string>{"eth0"}));
    EXPECT_EQ(c.ports, (std::vector<uint16_t>{465}));
}

TEST(ConfigSyntax, HashWithoutSpaceBeforeItIsPartOfTheValue)
{
    expect_error(kFilter + "ports = 25#587\n", 3, "[filter] ports", "\"25#587\": not a number");
    rg::Config c = parse(kFilter + "[feed a]\nsource = https://lists.example.net/drop.txt#v4 # comment\n");
    ASSERT_EQ(c.feeds.size(), 1u);
    EXPECT_EQ(c.feeds[0].source, "https://lists.example.net/drop.txt#v4");
}

TEST(ConfigSyntax, WhitespaceAndLineEndings)
{
    rg::Config c =
        parse("  [filter]  \r\n\tinterfaces=eth0\r\n  ports   =   587  \r\n[ daemon ]\non_exit\t=\tkeep");
    EXPECT_EQ(c.interfaces, (std::vector<std::string>{"eth0"}));
    EXPECT_EQ(c.ports, (std::vector<uint16_t>{587}));
    EXPECT_TRUE(c.keep_on_exit);  // last line without a newline
}

TEST(ConfigSyntax, ValueMayContainEquals)
{
    rg::Config c = parse(kFilter + "[feed q]\nsource = https://example.net/list?fmt=plain&v=4\n");
    EXPECT_EQ(c.feeds.at(0).source, "https://example.net/list?fmt=plain&v=4");
}

TEST(ConfigSyntax, KeyOutsideASection)
{
    expect_error("interfaces = eth0\n[filter]\n", 1, "interfaces", "key outside a section");
    expect_error("# comment\n\nports = 25\n", 3, "ports", "key outside a section");
}

TEST(ConfigSyntax, UnknownSection)
{
    expect_error(kFilter + "[filtre]\n", 3, "[filtre]", "unknown section");
    std::string msg = error(kFilter + "[Rate]\n");
    EXPECT_TRUE(contains(msg, "[filter], [rate], [daemon], [feed NAME]")) << msg;
    expect_error(kFilter + "[feeds x]\n", 3, "[feeds x]", "unknown section");
}

TEST(ConfigSyntax, UnknownKeyListsTheValidOnes)
{
    expect_error(
        kFilter + "interface = eth1\n", 3, "[filter] interface",
        "unknown key (valid keys: interfaces, xdp_mode, ports, mode, egress, allow, block, allow_file, block_file)");
    expect_error(
        kFilter + "[rate]\nrate = off\nbursts = 5\n", 5, "[rate] bursts",
        "unknown key (valid keys: rate, burst, prefix4, prefix6, ban_after, ban_ttl, escalate_after, "
        "escalate_window, escalate_prefix4, escalate_prefix6)");
    expect_error(kFilter + "[daemon]\npindir = /x\n", 4, "[daemon] pindir",
                 "unknown key (valid keys: pin_dir, state_dir, stats_interval, stats_output, on_exit)");
    expect_error(kFilter + "[feed x]\nurl = http://x\n", 4, "[feed x] url",
                 "unknown key (valid keys: source, format, interval, shadow, max_shrink, min_prefix4, min_prefix6)");
    // A key belongs to its section only.
    expect_error(kFilter + "[daemon]\nports = 25\n", 4, "[daemon] ports", "unknown key");
}

TEST(ConfigSyntax, NonRepeatableKeyTwiceNamesTheFirstLine)
{
    expect_error(kFilter + "\nports = 25\nports = 587\n", 5, "[filter] ports", "already set at line 4");
    expect_error("[filter]\ninterfaces = eth0\ninterfaces = eth1\n", 3, "[filter] interfaces",
                 "already set at line 2");
    expect_error(kFilter + "[rate]\nrate = off\nrate = 5/s\n", 5, "[rate] rate", "already set at line 4");
    expect_error(kFilter + "[daemon]\non_exit = keep\n#\non_exit = keep\n", 6, "[daemon] on_exit",
                 "already set at line 4");
    expect_error(kFilter + "[feed a]\nsource = /x\nsource = /y\n", 5, "[feed a] source",
                 "already set at line 4");
}

// Every key but the repeatable allow, block, allow_file and block_file.
TEST(ConfigSyntax, EveryOtherKeyOnlyOnce)
{
    struct Section {
        std::string name;
        std::vector<std::string> needs;  // lines the section needs to be valid
        std::vector<std::string> keys;   // a valid line for each key
    };
    const Section sections[] = {
        {"filter",
         {"interfaces = eth0"},
         {"interfaces = eth1", "xdp_mode = skb", "ports = 587", "mode = monitor"}},
        {"rate",
         {"rate = 1/s", "burst = 5", "ban_ttl = 1h", "escalate_after = 2", "escalate_window = 1m"},
         {"rate = 2/s", "burst = 3", "prefix4 = 30", "prefix6 = 60", "ban_after = 1", "ban_ttl = 2h",
          "escalate_after = 3", "escalate_window = 2m", "escalate_prefix4 = 20", "escalate_prefix6 = 40"}},
        {"daemon", {}, {"pin_dir = /x", "state_dir = /y", "stats_interval = 1s", "stats_output = -", "on_exit = keep"}},
        {"feed f",
         {"source = /x"},
         {"source = /y", "format = plain", "interval = 1m", "shadow = no", "max_shrink = 5"}},
    };
    int checked = 0;
    for (const Section &sec : sections) {
        for (const std::string &line : sec.keys) {
            std::string key = line.substr(0, line.find(' '));
            std::string head = (sec.name == "filter" ? "" : kFilter) + "[" + sec.name + "]\n";
            for (const std::string &need : sec.needs)
                if (!need.starts_with(key + " "))
                    head += need + "\n";
            int n = int(std::count(head.begin(), head.end(), '\n')) + 1;  // of the first occurrence
            EXPECT_NO_THROW(parse(head + line + "\n")) << line;
            expect_error(head + line + "\n" + line + "\n", n + 1, "[" + sec.name + "] " + key,
                         "already set at line " + std::to_string(n));
            checked++;
        }
    }
    EXPECT_EQ(checked, 4 + 10 + 5 + 5);
}

TEST(ConfigSyntax, SectionOnlyOnce)
{
    expect_error(kFilter + "[daemon]\n[filter]\n", 4, "[filter]", "already given at line 1");
    expect_error(kFilter + "[rate]\nrate = off\n[daemon]\n[rate]\n", 6, "[rate]", "already given at line 3");
    expect_error(kFilter + "[feed a]\nsource = /x\n[feed b]\nsource = /y\n[feed a]\n", 7, "[feed a]",
                 "already given at line 3");
}

TEST(ConfigSyntax, MalformedLines)
{
    expect_error(kFilter + "ports 25\n", 3, "[filter]", "expected \"key = value\", got \"ports 25\"");
    expect_error(kFilter + "= 25\n", 3, "[filter]", "no key before '='");
    expect_error(kFilter + "ports =\n", 3, "[filter] ports", "no value");
    expect_error(kFilter + "ports = # none\n", 3, "[filter] ports", "no value");
    expect_error(kFilter + "[daemon\n", 3, "", "malformed section header \"[daemon\"");
    expect_error(kFilter + "[]\n", 3, "", "empty section header");
    expect_error("hello\n", 1, "", "expected \"key = value\", got \"hello\"");
}

// ---- [rate] ----------------------------------------------------------------

TEST(ConfigRate, EveryKey)
{
    rg::Config c = parse(kFilter + "[rate]\n"
                                   "rate = 30/m\n"
                                   "burst = 5\n"
                                   "prefix4 = 28\n"
                                   "prefix6 = 56\n"
                                   "ban_after = 3\n"
                                   "ban_ttl = 1h\n"
                                   "escalate_after = 4\n"
                                   "escalate_window = 10m\n"
                                   "escalate_prefix4 = 16\n"
                                   "escalate_prefix6 = 40\n");
    rg::RateSettings want;
    want.enabled = true;
    want.interval_ns = 2'000'000'000;
    want.burst = 5;
    want.prefix4 = 28;
    want.prefix6 = 56;
    want.ban_after = 3;
    want.ban_ttl = 1h;
    want.escalate_after = 4;
    want.escalate_window = 10min;
    want.escalate_prefix4 = 16;
    want.escalate_prefix6 = 40;
    EXPECT_EQ(c.rate, want);
}

TEST(ConfigRate, MinimalSectionKeepsDefaults)
{
    rg::RateSettings r = parse(kFilter + "[rate]\nrate = 2\nburst = 1\n").rate;
    EXPECT_TRUE(r.enabled);
    EXPECT_EQ(r.interval_ns, 500'000'000u);
    EXPECT_EQ(r.burst, 1u);
    EXPECT_EQ(r.prefix4, 32);
    EXPECT_EQ(r.prefix6, 64);
    EXPECT_EQ(r.ban_after, 0u);
    EXPECT_EQ(r.ban_ttl, 0ms);
    EXPECT_EQ(r.escalate_after, 0u);
    EXPECT_EQ(r.escalate_prefix4, 24);
    EXPECT_EQ(r.escalate_prefix6, 48);
}

TEST(ConfigRate, OffNeedsNoBurst)
{
    rg::RateSettings r = parse(kFilter + "[rate]\nrate = off\n").rate;
    EXPECT_FALSE(r.enabled);
    EXPECT_EQ(r.interval_ns, 0u);
    // Settings may stay in place while the limiter is off.
    r = parse(kFilter + "[rate]\nrate = off\nburst = 20\nprefix6 = 48\n").rate;
    EXPECT_FALSE(r.enabled);
    EXPECT_EQ(r.burst, 20u);
    EXPECT_EQ(r.prefix6, 48);
}

TEST(ConfigRate, RateIsRequiredInTheSection)
{
    expect_error(kFilter + "[rate]\nburst = 5\n[daemon]\n", 3, "[rate]", "rate is required");
    expect_error(kFilter + "[rate]\n", 3, "[rate]", "rate is required");
}

TEST(ConfigRate, BurstIsRequiredUnlessOff)
{
    expect_error(kFilter + "[rate]\nrate = 10/s\n", 3, "[rate]", "burst is required");
}

TEST(ConfigRate, BadValues)
{
    const std::string sec = kFilter + "[rate]\nrate = 1/s\nburst = 5\n";  // the next line is 6
    expect_error(kFilter + "[rate]\nrate = 0/s\n", 4, "[rate] rate", "rate \"0/s\": must be above zero");
    expect_error(kFilter + "[rate]\nrate = fast\n", 4, "[rate] rate", "rate \"fast\": not a number");
    expect_error(kFilter + "[rate]\nrate = 10/s\nburst = 0\n", 5, "[rate] burst",
                 "\"0\": out of range 1..1000000");
    expect_error(kFilter + "[rate]\nrate = 10/s\nburst = 1000001\n", 5, "[rate] burst",
                 "out of range 1..1000000");
    expect_error(kFilter + "[rate]\nrate = 10/s\nburst = 5x\n", 5, "[rate] burst",
                 "\"5x\": not a whole number");
    expect_error(kFilter + "[rate]\nrate = 10/s\nburst = -5\n", 5, "[rate] burst", "not a whole number");
    expect_error(kFilter + "[rate]\nrate = 10/s\nburst = +5\n", 5, "[rate] burst", "not a whole number");
    expect_error(kFilter + "[rate]\nrate = 10/s\nburst = 0x10\n", 5, "[rate] burst", "not a whole number");
    expect_error(kFilter + "[rate]\nrate = 10/s\nburst = 99999999999999999999\n", 5, "[rate] burst",
                 "out of range");
    expect_error(sec + "prefix4 = 0\n", 6, "[rate] prefix4", "out of range 1..32");
    expect_error(sec + "prefix4 = 33\n", 6, "[rate] prefix4", "out of range 1..32");
    expect_error(sec + "prefix6 = 129\n", 6, "[rate] prefix6", "out of range 1..128");
    expect_error(sec + "ban_after = 1000001\n", 6, "[rate] ban_after", "out of range 0..1000000");
    expect_error(sec + "ban_ttl = 10\n", 6, "[rate] ban_ttl", "duration \"10\": missing unit");
    expect_error(sec + "escalate_after = 65536\n", 6, "[rate] escalate_after", "out of range 0..65535");
    expect_error(sec + "escalate_window = 1 h\n", 6, "[rate] escalate_window", "duration \"1 h\"");
    expect_error(sec + "escalate_prefix4 = 33\n", 6, "[rate] escalate_prefix4", "out of range 1..32");
    expect_error(sec + "escalate_prefix6 = 0\n", 6, "[rate] escalate_prefix6", "out of range 1..128");
}

TEST(ConfigRate, PrefixBounds)
{
    const std::string sec = kFilter + "[rate]\nrate = 1/s\nburst = 5\n";
    rg::RateSettings r =
        parse(sec + "prefix4 = 1\nprefix6 = 128\nban_after = 1000000\nban_ttl = 365d\n").rate;
    EXPECT_EQ(r.prefix4, 1);
    EXPECT_EQ(r.prefix6, 128);
    EXPECT_EQ(r.ban_after, 1000000u);
    EXPECT_EQ(r.ban_ttl, 365 * 24h);
}

TEST(ConfigRate, BanAfterNeedsBanTtl)
{
    const std::string sec = kFilter + "[rate]\nrate = 1/s\nburst = 5\n";
    expect_error(sec + "ban_after = 3\n", 6, "[rate] ban_after", "ban_ttl");
    expect_error(sec + "ban_after = 0\n", 6, "[rate] ban_after", "ban_ttl");
    expect_error(sec + "ban_ttl = 0s\nban_after = 3\n", 7, "[rate] ban_after", "ban_ttl");
    EXPECT_EQ(parse(sec + "ban_after = 3\nban_ttl = 10m\n").rate.ban_ttl, 10min);
    // A ban_ttl alone bans on the first excess.
    rg::RateSettings r = parse(sec + "ban_ttl = 10m\n").rate;
    EXPECT_EQ(r.ban_after, 0u);
    EXPECT_EQ(r.ban_ttl, 10min);
}

TEST(ConfigRate, EscalationNeedsWindowAndBans)
{
    const std::string sec = kFilter + "[rate]\nrate = 1/s\nburst = 5\n";
    expect_error(sec + "ban_ttl = 1h\nescalate_after = 3\n", 7, "[rate] escalate_after", "escalate_window");
    expect_error(sec + "ban_ttl = 1h\nescalate_after = 3\nescalate_window = 0s\n", 7, "[rate] escalate_after",
                 "escalate_window");
    expect_error(sec + "escalate_after = 3\nescalate_window = 10m\n", 6, "[rate] escalate_after", "ban_ttl");
    // Off: the other escalation keys may stay.
    rg::RateSettings r = parse(sec + "escalate_after = 0\nescalate_window = 10m\n").rate;
    EXPECT_EQ(r.escalate_after, 0u);
    EXPECT_EQ(r.escalate_window, 10min);
}

TEST(ConfigRate, EscalationPrefixMustBeBroader)
{
    const std::string sec = kFilter + "[rate]\nrate = 1/s\nburst = 5\nban_ttl = 1h\nescalate_after = 3\n"
                                      "escalate_window = 10m\n";  // the next line is 9
    expect_error(sec + "escalate_prefix4 = 32\n", 9, "[rate] escalate_prefix4", "means nothing");
    expect_error(sec + "prefix4 = 24\n", 9, "[rate] prefix4", "must be shorter than prefix4 /24");
    expect_error(sec + "prefix6 = 48\n", 9, "[rate] prefix6", "escalate_prefix6 /48 must be shorter");
    expect_error(sec + "prefix6 = 56\nescalate_prefix6 = 64\n", 10, "[rate] escalate_prefix6",
                 "means nothing");
    rg::RateSettings r =
        parse(sec + "prefix4 = 24\nescalate_prefix4 = 23\nprefix6 = 48\nescalate_prefix6 = 47\n").rate;
    EXPECT_EQ(r.escalate_prefix4, 23);
    EXPECT_EQ(r.escalate_prefix6, 47);
    // Without escalation the relation does not matter.
    EXPECT_NO_THROW(parse(kFilter + "[rate]\nrate = 1/s\nburst = 5\nprefix4 = 16\n"));
}

// ---- [daemon] --------------------------------------------------------------

TEST(ConfigDaemon, EveryKey)
{
    rg::Config c = parse(kFilter + "[daemon]\n"
                                   "pin_dir = /sys/fs/bpf/rg-test\n"
                                   "state_dir = /var/lib/rg-test\n"
                                   "stats_interval = 5m\n"
                                   "stats_output = /var/log/relayguard.json\n"
                                   "on_exit = keep\n");
    EXPECT_EQ(c.pin_dir, "/sys/fs/bpf/rg-test");
    EXPECT_EQ(c.state_dir, "/var/lib/rg-test");
    EXPECT_EQ(c.stats_interval, 5min);
    EXPECT_EQ(c.stats_output, "/var/log/relayguard.json");
    EXPECT_TRUE(c.keep_on_exit);
    EXPECT_FALSE(parse(kFilter + "[daemon]\non_exit = detach\n").keep_on_exit);
    EXPECT_EQ(parse(kFilter + "[daemon]\nstats_interval = 0s\n").stats_interval, 0ms);
    EXPECT_EQ(parse(kFilter + "[daemon]\nstats_output = -\n").stats_output, "-");
}

// The state directory (daemon.lock: one daemon per pin directory) follows
// the pin directory unless given, wherever pin_dir appears in the section;
// a relative one is relative to the config's directory.
TEST(ConfigDaemon, StateDirFollowsThePinDirectory)
{
    EXPECT_EQ(parse(kFilter + "[daemon]\npin_dir = /sys/fs/bpf/relayguard\n").state_dir,
              "/var/lib/relayguard/sys-fs-bpf-relayguard");
    EXPECT_EQ(parse(kFilter + "[daemon]\npin_dir = /tmp/x/relayguard\n").state_dir,
              "/var/lib/relayguard/tmp-x-relayguard");
    EXPECT_EQ(parse(kFilter + "[daemon]\nstate_dir = /run/rg\npin_dir = /tmp/x/relayguard\n").state_dir, "/run/rg");
    EXPECT_EQ(parse(kFilter + "[daemon]\nstate_dir = state\n").state_dir, "/etc/relayguard/state");
}

TEST(ConfigDaemon, StatsOutputRelativeToTheConfigDirectory)
{
    EXPECT_EQ(parse(kFilter + "[daemon]\nstats_output = stats/out.json\n").stats_output,
              "/etc/relayguard/stats/out.json");
    EXPECT_EQ(parse(kFilter + "[daemon]\nstats_output = ../../var/out.json\n").stats_output, "/var/out.json");
    // A config named relative to the working directory still gives an absolute path.
    std::string out =
        rg::parse_config(kFilter + "[daemon]\nstats_output = out.json\n", "conf/r.conf").stats_output;
    EXPECT_EQ(out, (fs::current_path() / "conf/out.json").lexically_normal().string());
}

TEST(ConfigDaemon, BadValues)
{
    expect_error(kFilter + "[daemon]\npin_dir = bpf/relayguard\n", 4, "[daemon] pin_dir",
                 "\"bpf/relayguard\": not an absolute path");
    expect_error(kFilter + "[daemon]\nstats_interval = 60\n", 4, "[daemon] stats_interval", "missing unit");
    expect_error(kFilter + "[daemon]\nstats_interval = -1s\n", 4, "[daemon] stats_interval", "negative");
    expect_error(kFilter + "[daemon]\non_exit = stay\n", 4, "[daemon] on_exit",
                 "\"stay\": not one of detach, keep");
}

// ---- [feed NAME] -----------------------------------------------------------

TEST(ConfigFeed, EveryKeyAndFileOrder)
{
    rg::Config c = parse(kFilter + "[feed spamhaus-drop]\n"  // line 3
                                   "source = https://lists.example.net/drop.txt\n"
                                   "format = spamhaus\n"
                                   "interval = 12h\n"
                                   "shadow = yes\n"
                                   "max_shrink = 10\n"
                                   "[daemon]\n"
                                   "[feed Local_list.v4]\n"  // line 10
                                   "source = /var/lib/relayguard/local.txt\n");
    ASSERT_EQ(c.feeds.size(), 2u);
    const rg::FeedConfig &a = c.feeds[0];
    EXPECT_EQ(a.name, "spamhaus-drop");
    EXPECT_EQ(a.source, "https://lists.example.net/drop.txt");
    EXPECT_EQ(a.format, "spamhaus");
    EXPECT_EQ(a.interval, 12h);
    EXPECT_TRUE(a.shadow);
    EXPECT_EQ(a.max_shrink, 10u);
    EXPECT_EQ(a.line, 3);

    rg::FeedConfig b;  // defaults
    b.name = "Local_list.v4";
    b.source = "/var/lib/relayguard/local.txt";
    b.line = 10;
    EXPECT_EQ(c.feeds[1], b);
    EXPECT_EQ(b.format, "auto");
    EXPECT_EQ(b.interval, 1h);
    EXPECT_FALSE(b.shadow);
    EXPECT_EQ(b.max_shrink, 50u);
}

TEST(ConfigFeed, Sources)
{
    auto source = [](const std::string &v) {
        return parse(kFilter + "[feed f]\nsource = " + v + "\n").feeds.at(0).source;
    };
    EXPECT_EQ(source("http://example.net/a.txt"), "http://example.net/a.txt");
    EXPECT_EQ(source("https://example.net/a.txt"), "https://example.net/a.txt");
    EXPECT_EQ(source("/srv/lists/a.txt"), "/srv/lists/a.txt");
    EXPECT_EQ(source("lists/a.txt"), "/etc/relayguard/lists/a.txt");
    EXPECT_EQ(source("./a.txt"), "/etc/relayguard/a.txt");
    expect_error(kFilter + "[feed f]\nsource = -\n", 4, "[feed f] source", "no stdin");
    expect_error(kFilter + "[feed f]\nsource = ftp://example.net/a.txt\n", 4, "[feed f] source",
                 "unsupported URL scheme");
}

TEST(ConfigFeed, Values)
{
    auto feed = [](const std::string &line) {
        return parse(kFilter + "[feed f]\nsource = /x\n" + line + "\n").feeds.at(0);
    };
    for (const char *f : {"auto", "plain", "spamhaus", "netset", "ipset", "json", "range"})
        EXPECT_EQ(feed(std::string("format = ") + f).format, f);
    EXPECT_TRUE(feed("shadow = true").shadow);
    EXPECT_TRUE(feed("shadow = yes").shadow);
    EXPECT_FALSE(feed("shadow = false").shadow);
    EXPECT_FALSE(feed("shadow = no").shadow);
    EXPECT_EQ(feed("interval = 1s").interval, 1s);
    EXPECT_EQ(feed("interval = 1d").interval, 24h);
    EXPECT_EQ(feed("max_shrink = 0").max_shrink, 0u);
    EXPECT_EQ(feed("max_shrink = 100").max_shrink, 100u);
}

TEST(ConfigFeed, BadValues)
{
    const std::string sec = kFilter + "[feed f]\nsource = /x\n";  // the next line is 5
    expect_error(sec + "format = csv\n", 5, "[feed f] format",
                 "\"csv\": not one of auto, plain, spamhaus, netset, ipset, json, range");
    expect_error(sec + "interval = 999ms\n", 5, "[feed f] interval", "\"999ms\": shorter than 1s");
    expect_error(sec + "interval = 0s\n", 5, "[feed f] interval", "shorter than 1s");
    expect_error(sec + "interval = 1\n", 5, "[feed f] interval", "missing unit");
    expect_error(sec + "shadow = on\n", 5, "[feed f] shadow", "\"on\": not one of");
    expect_error(sec + "max_shrink = 101\n", 5, "[feed f] max_shrink", "out of range 0..100");
    expect_error(sec + "max_shrink = 50%\n", 5, "[feed f] max_shrink", "not a whole number");
}

TEST(ConfigFeed, SourceIsRequired)
{
    expect_error(kFilter + "[feed f]\nformat = plain\n[daemon]\n", 3, "[feed f]", "source is required");
    expect_error(kFilter + "[feed f]\n", 3, "[feed f]", "source is required");
}

TEST(ConfigFeed, Names)
{
    std::string name32(32, 'n');
    EXPECT_EQ(parse(kFilter + "[feed " + name32 + "]\nsource = /x\n").feeds.at(0).name, name32);
    EXPECT_EQ(parse(kFilter + "[feed   spaced ]\nsource = /x\n").feeds.at(0).name, "spaced");
    expect_error(kFilter + "[feed " + name32 + "x]\n", 3, "[feed " + name32 + "x]", "1 to 32");
    expect_error(kFilter + "[feed a/b]\n", 3, "[feed a/b]", "1 to 32 of the characters");
    expect_error(kFilter + "[feed a b]\n", 3, "[feed a b]", "1 to 32 of the characters");
    expect_error(kFilter + "[feed]\n", 3, "[feed]", "needs a name");
}

// ---- allow_file / block_file -----------------------------------------------

TEST_F(ConfigFiles, ListFilesRelativeToTheConfigAndMerged)
{
    write("allow.txt",
          "# trusted relays\n"
          "\n"
          "192.0.2.0/24\n"
          "  10.0.0.1   # our MX\n"
          "10.0.0.1 ; again\n"
          "; spamhaus-style comment\n"
          "2001:db8::5/64\n");  // host bits: normalised
    write("lists/block.txt", "203.0.113.0/24\n198.51.100.0/24\n");
    write("lists/more.txt", "198.51.100.0/24\n");
    std::string conf = write("relayguard.conf", "[filter]\n"
                                                "interfaces = eth0\n"
                                                "allow = 10.0.0.1\n"
                                                "allow_file = allow.txt\n"
                                                "block_file = lists/block.txt\n"
                                                "block_file = " +
                                                    (dir / "lists/more.txt").string() +
                                                    "\n"
                                                    "block = 198.18.0.0/15\n");
    rg::Config c = rg::load_config(conf);
    EXPECT_EQ(c.path, conf);
    std::vector<rg::Cidr> allow{cidr("192.0.2.0/24"), cidr("10.0.0.1"), cidr("2001:db8::/64")};
    std::sort(allow.begin(), allow.end());
    std::vector<rg::Cidr> block{cidr("203.0.113.0/24"), cidr("198.51.100.0/24"), cidr("198.18.0.0/15")};
    std::sort(block.begin(), block.end());
    EXPECT_EQ(c.allow, allow);
    EXPECT_EQ(c.block, block);
}

TEST_F(ConfigFiles, BadLineNamesTheListFileAndTheConfigLine)
{
    std::string list = write("allow.txt", "192.0.2.0/24\n\n198.51.100.300\n");
    std::string conf = write("r.conf", "[filter]\ninterfaces = eth0\n\nallow_file = allow.txt\n");
    std::string msg = load_error(conf);
    std::string head = list + ":3: \"198.51.100.300\": ";
    EXPECT_EQ(msg.substr(0, head.size()), head) << msg;
    EXPECT_TRUE(contains(msg, "not a valid IPv4 address")) << msg;
    EXPECT_TRUE(contains(msg, conf + ":4: [filter] allow_file")) << msg;
}

TEST_F(ConfigFiles, MissingListFile)
{
    std::string conf = write("r.conf", "[filter]\ninterfaces = eth0\nblock_file = nope.txt\n");
    std::string msg = load_error(conf);
    std::string head = conf + ":3: [filter] block_file: " + (dir / "nope.txt").string() + ": cannot read: ";
    EXPECT_EQ(msg.substr(0, head.size()), head) << msg;
    EXPECT_TRUE(contains(msg, "No such file")) << msg;
}

TEST_F(ConfigFiles, ListFileThatIsADirectory)
{
    fs::create_directories(dir / "d");
    std::string conf = write("r.conf", "[filter]\ninterfaces = eth0\nallow_file = d\n");
    std::string msg = load_error(conf);
    EXPECT_TRUE(contains(msg, conf + ":3: [filter] allow_file: " + (dir / "d").string() + ": cannot read: "))
        << msg;
}

TEST_F(ConfigFiles, EmptyListFileIsFine)
{
    write("empty.txt", "# nothing yet\n");
    std::string conf = write("r.conf", "[filter]\ninterfaces = eth0\nblock_file = empty.txt\n");
    EXPECT_TRUE(rg::load_config(conf).block.empty());
}

// The daemon's check before each load: others may neither read nor write the
// file, its group may not write it.
TEST_F(ConfigFiles, ConfigOthersMayReadOrGroupMayWriteIsRefused)
{
    std::string conf = write("mode.conf", "[filter]\ninterfaces = eth0\n");
    for (auto [mode, refused] : {std::pair{0600, false}, {0640, false}, {0400, false}, {0644, true}, {0660, true},
                                 {0604, true}, {0602, true}}) {
        ASSERT_EQ(chmod(conf.c_str(), mode_t(mode)), 0);
        char octal[8];
        std::snprintf(octal, sizeof(octal), "%04o", unsigned(mode));
        std::string msg = error_of([&] { rg::check_config_mode(conf); });
        if (!refused) {
            EXPECT_EQ(msg, "") << octal;
            continue;
        }
        EXPECT_TRUE(msg.starts_with(conf + ": mode " + octal + ": ")) << msg;
        EXPECT_NE(msg.find("chmod 600 " + conf), std::string::npos) << msg;
    }
    EXPECT_EQ(error_of([&] { rg::check_config_mode((dir / "missing.conf").string()); }), "")
        << "a missing file is load_config's to report";
}

TEST_F(ConfigFiles, UnreadableConfigIsAFileLevelError)
{
    std::string missing = (dir / "missing.conf").string();
    try {
        rg::load_config(missing);
        ADD_FAILURE() << "a missing file was read";
    } catch (const rg::Error &e) {
        EXPECT_EQ(std::string(e.what()), missing + ": cannot read: No such file or directory");
        EXPECT_EQ(e.err(), ENOENT);
    }
    std::string msg = load_error(dir.string());
    EXPECT_TRUE(msg.starts_with(dir.string() + ": cannot read: ")) << msg;
}

TEST_F(ConfigFiles, ErrorsNameTheFileAsGiven)
{
    std::string conf = write("r.conf", "[filter]\ninterfaces = eth0\nmode = both\n");
    std::string msg = load_error(conf);
    EXPECT_TRUE(msg.starts_with(conf + ":3: [filter] mode: ")) << msg;
}

// ---- the shipped example ---------------------------------------------------

// dist/relayguard.conf parses, and as shipped means the defaults on eth0.
TEST(ConfigExample, ParsesToTheDefaults)
{
    rg::Config example = rg::load_config(RG_EXAMPLE_CONFIG);
    rg::Config defaults = parse(kFilter);
    EXPECT_EQ(example.interfaces, (std::vector<std::string>{"eth0"}));
    EXPECT_EQ(example.xdp_mode, defaults.xdp_mode);
    EXPECT_EQ(example.ports, defaults.ports);
    EXPECT_EQ(example.monitor, defaults.monitor);
    EXPECT_EQ(example.allow, defaults.allow);
    EXPECT_EQ(example.block, defaults.block);
    EXPECT_EQ(example.rate, defaults.rate);
    EXPECT_EQ(example.pin_dir, defaults.pin_dir);
    EXPECT_EQ(example.state_dir, defaults.state_dir);
    EXPECT_EQ(example.stats_interval, defaults.stats_interval);
    EXPECT_EQ(example.stats_output, defaults.stats_output);
    EXPECT_EQ(example.keep_on_exit, defaults.keep_on_exit);
    EXPECT_TRUE(example.feeds.empty());
    EXPECT_EQ(example.metrics_listen, "");
    EXPECT_EQ(example.alerts, defaults.alerts);
    EXPECT_EQ(example.events, defaults.events);
    EXPECT_EQ(example.egress_mode, defaults.egress_mode);
    EXPECT_EQ(example.egress, defaults.egress);
}

// Every key the parser knows (as its unknown-key messages list them) is
// shown in the example, set or commented out.
TEST(ConfigExample, DocumentsEveryKey)
{
    std::string text = read_text(RG_EXAMPLE_CONFIG);
    ASSERT_FALSE(text.empty());
    const std::string marker = "valid keys: ";
    size_t total = 0;
    for (const std::string &head :
         {std::string("[filter]\n"), kFilter + "[rate]\n", kFilter + "[daemon]\n", kFilter + "[feed x]\n",
          kFilter + "[watch]\n", kFilter + "[watch-rule relay-denied]\n", kFilter + "[metrics]\n",
          kFilter + "[alerts]\n", kFilter + "[events]\n", kFilter + "[crowdsec]\n", kFilter + "[egress]\n"}) {
        std::string msg = error(head + "no_such_key = 1\n");
        size_t at = msg.find(marker);
        ASSERT_NE(at, std::string::npos) << msg;
        std::string list = msg.substr(at + marker.size());
        list = list.substr(0, list.find(')'));
        std::stringstream ss(list);
        std::string key;
        while (std::getline(ss, key, ',')) {
            key.erase(0, key.find_first_not_of(' '));
            total++;
            EXPECT_TRUE(contains(text, "\n#" + key + " = ") || contains(text, "\n" + key + " = "))
                << key << " is not shown in " << RG_EXAMPLE_CONFIG;
        }
    }
    EXPECT_EQ(total, 9u + 10u + 5u + 7u + 6u + 7u + 1u + 9u + 2u + 9u + 3u + 5u);
}

// The commented [watch] example, uncommented, parses; its relay-denied
// section shows that rule's real defaults, and its own rule compiles.
TEST(ConfigExample, WatchExampleParsesWithTheBuiltinDefaults)
{
    std::string text = read_text(RG_EXAMPLE_CONFIG);
    text = text.substr(0, text.find("\n#[crowdsec]"));  // its key file is checked below
    size_t at = text.find("\n#[watch]");
    ASSERT_NE(at, std::string::npos);
    std::string section;
    std::stringstream ss(text.substr(at + 1));
    for (std::string l; std::getline(ss, l);)
        if (l.starts_with("#[") || (l.starts_with("#") && !l.starts_with("# ") && l.find(" = ") != std::string::npos))
            section += l.substr(1) + "\n";
    rg::Config c = parse(kFilter + section);
    EXPECT_EQ(c.watch.log, "/var/log/mail.log");
    ASSERT_EQ(c.watch.rules.size(), rg::builtin_log_rules().size() + 1);
    EXPECT_EQ(c.watch.rules[0], rg::builtin_log_rules()[0]);  // relay-denied as shipped
    EXPECT_EQ(c.watch.rules.back().name, "dovecot-auth");
}

// Uncommenting a "#key = value" line that shows a default changes nothing:
// the documented defaults are the real ones.
TEST(ConfigExample, DocumentedDefaultsAreTheDefaults)
{
    std::string text = read_text(RG_EXAMPLE_CONFIG);
    rg::Config shipped = rg::parse_config(text, RG_EXAMPLE_CONFIG);
    // Examples rather than defaults; ban_after alone is refused by design.
    const std::set<std::string> examples{"allow", "block", "allow_file", "block_file", "burst", "ban_after"};
    std::vector<std::string> lines;
    std::stringstream ss(text);
    for (std::string l; std::getline(ss, l);)
        lines.push_back(l);
    int tried = 0;
    for (size_t i = 0; i < lines.size(); i++) {
        if (lines[i].starts_with("#[feed"))
            break;  // the feed example is checked below
        size_t eq = lines[i].find(" = ");
        if (!lines[i].starts_with("#") || lines[i].starts_with("# ") || eq == std::string::npos)
            continue;
        std::string key = lines[i].substr(1, eq - 1);
        if (examples.count(key))
            continue;
        std::vector<std::string> changed = lines;
        changed[i] = lines[i].substr(1);
        std::string out;
        for (const std::string &l : changed)
            out += l + "\n";
        rg::Config c;
        ASSERT_NO_THROW(c = rg::parse_config(out, RG_EXAMPLE_CONFIG)) << changed[i];
        EXPECT_EQ(c.ports, shipped.ports) << changed[i];
        EXPECT_EQ(c.xdp_mode, shipped.xdp_mode) << changed[i];
        EXPECT_EQ(c.monitor, shipped.monitor) << changed[i];
        EXPECT_EQ(c.rate, shipped.rate) << changed[i];
        EXPECT_EQ(c.pin_dir, shipped.pin_dir) << changed[i];
        EXPECT_EQ(c.state_dir, shipped.state_dir) << changed[i];
        EXPECT_EQ(c.stats_interval, shipped.stats_interval) << changed[i];
        EXPECT_EQ(c.stats_output, shipped.stats_output) << changed[i];
        EXPECT_EQ(c.keep_on_exit, shipped.keep_on_exit) << changed[i];
        tried++;
    }
    EXPECT_GE(tried, 15) << "fewer default lines found than expected";
}

// The commented feed example, uncommented, is a valid feed with the defaults.
TEST(ConfigExample, FeedExampleParsesWithDefaults)
{
    std::string text = read_text(RG_EXAMPLE_CONFIG);
    text = text.substr(0, text.find("\n#[crowdsec]"));  // its key file is checked below
    size_t at = text.find("\n#[feed ");
    ASSERT_NE(at, std::string::npos);
    std::string out = text.substr(0, at + 1);
    std::stringstream ss(text.substr(at + 1));
    for (std::string l; std::getline(ss, l);) {
        if (l.starts_with("#") && !l.starts_with("# ") && l != "#")
            l = l.substr(1);
        out += l + "\n";
    }
    rg::Config c = rg::parse_config(out, RG_EXAMPLE_CONFIG);
    ASSERT_EQ(c.feeds.size(), 1u);
    rg::FeedConfig want;
    want.name = c.feeds[0].name;
    want.source = c.feeds[0].source;
    want.line = c.feeds[0].line;
    EXPECT_EQ(c.feeds[0], want);
    EXPECT_TRUE(c.feeds[0].source.starts_with("https://")) << c.feeds[0].source;
}

// ---- nonsense refused: /0, reserved feed names ---------------------------------

TEST(ConfigFilter, SlashZeroIsRefused)
{
    // The whole address family: the blocklist would drop all of it, the
    // allowlist would turn filtering off. There is no --force in a file.
    expect_error(kFilter + "block = 0.0.0.0/0\n", 3, "[filter] block", "\"0.0.0.0/0\": covers every IPv4 address");
    expect_error(kFilter + "block = 192.0.2.0/24 ::/0\n", 3, "[filter] block", "\"::/0\": covers every IPv6 address");
    expect_error(kFilter + "\nallow = ::/0\n", 4, "[filter] allow", "every IPv6 address");
    EXPECT_TRUE(contains(error(kFilter + "block = 0.0.0.0/0\n"), "drop")) << error(kFilter + "block = 0.0.0.0/0\n");
    EXPECT_TRUE(contains(error(kFilter + "allow = 0.0.0.0/0\n"), "off")) << error(kFilter + "allow = 0.0.0.0/0\n");
    EXPECT_NO_THROW(parse(kFilter + "block = 0.0.0.0/1 ::ffff:0:0/96\n"));
}

TEST_F(ConfigFiles, SlashZeroInAListFileNamesItsLine)
{
    std::string list = write("block.txt", "192.0.2.0/24\n0.0.0.0/0\n");
    std::string conf = write("r.conf", "[filter]\ninterfaces = eth0\nblock_file = block.txt\n");
    std::string msg = load_error(conf);
    std::string head = list + ":2: \"0.0.0.0/0\": covers every IPv4 address";
    EXPECT_EQ(msg.substr(0, head.size()), head) << msg;
    EXPECT_TRUE(contains(msg, conf + ":3: [filter] block_file")) << msg;
}

TEST(ConfigFeed, BuiltInSourceNamesAreReserved)
{
    expect_error(kFilter + "[feed manual]\nsource = /x\n", 3, "[feed manual]", "reserved");
    expect_error(kFilter + "[feed Config]\nsource = /x\n", 3, "[feed Config]", "reserved");
}

// [metrics] listen: off when absent; ADDRESS:PORT with a numeric address.
TEST(ConfigMetrics, ListenIsOffByDefaultAndValidated)
{
    EXPECT_EQ(parse(kFilter).metrics_listen, "");
    EXPECT_EQ(parse(kFilter + "[metrics]\n").metrics_listen, "");
    EXPECT_EQ(parse(kFilter + "[metrics]\nlisten = 127.0.0.1:9468\n").metrics_listen, "127.0.0.1:9468");
    EXPECT_EQ(parse(kFilter + "[metrics]\nlisten = [::1]:9468\n").metrics_listen, "[::1]:9468");
    expect_error(kFilter + "[metrics]\nlisten = 127.0.0.1\n", 4, "[metrics] listen", "expected ADDRESS:PORT");
    expect_error(kFilter + "[metrics]\nlisten = 127.0.0.1:0\n", 4, "[metrics] listen", "");
    expect_error(kFilter + "[metrics]\nlisten = 127.0.0.1:65536\n", 4, "[metrics] listen", "");
    expect_error(kFilter + "[metrics]\nlisten = localhost:9468\n", 4, "[metrics] listen", "numeric");
    expect_error(kFilter + "[metrics]\nlisten = ::1:9468\n", 4, "[metrics] listen", "bracketed IPv6");
    expect_error(kFilter + "[metrics]\nlisten = 127.0.0.1:1\nlisten = 127.0.0.1:2\n", 5, "[metrics] listen", "");
    expect_error(kFilter + "[metrics]\nport = 1\n", 4, "[metrics] port", "unknown key");
}

TEST(ConfigEvents, DefaultsSettingsAndLimits)
{
    rg::EventSettings d = parse(kFilter).events;
    EXPECT_TRUE(d.enabled);
    EXPECT_EQ(d.interval, std::chrono::minutes(1));
    EXPECT_EQ(d.per_second, 100u);
    rg::EventSettings s = parse(kFilter + "[events]\ninterval = 30s\nper_second = 5\n").events;
    EXPECT_EQ(s, (rg::EventSettings{.enabled = true, .interval = std::chrono::seconds(30), .per_second = 5}));
    EXPECT_FALSE(parse(kFilter + "[events]\nper_second = off\n").events.enabled);
    expect_error(kFilter + "[events]\ninterval = 500ms\n", 4, "[events] interval", "");
    expect_error(kFilter + "[events]\ninterval = 2d\n", 4, "[events] interval", "out of range");
    expect_error(kFilter + "[events]\nper_second = 0\n", 4, "[events] per_second", "");
    expect_error(kFilter + "[events]\nper_second = 1000001\n", 4, "[events] per_second", "");
}

// ---- egress ([filter] egress, [egress]) -------------------------------------

TEST(ConfigEgress, DefaultsSettingsAndLimits)
{
    rg::Config d = parse(kFilter);
    EXPECT_EQ(d.egress_mode, uint32_t(RG_EGRESS_OFF));
    EXPECT_EQ(d.egress, rg::EgressSettings{});
    EXPECT_EQ(d.egress.ports, (std::vector<uint16_t>{25}));
    EXPECT_EQ(d.egress.interval_ns, 0u);

    rg::Config c = parse("[filter]\ninterfaces = eth0\negress = cap\n"
                         "[egress]\nports = 25, 587\nbudget = 120/m\nburst = 30\n");
    EXPECT_EQ(c.egress_mode, uint32_t(RG_EGRESS_CAP));
    EXPECT_EQ(c.egress.ports, (std::vector<uint16_t>{25, 587}));
    EXPECT_EQ(c.egress.interval_ns, 500000000u);
    EXPECT_EQ(c.egress.burst, 30u);
    EXPECT_EQ(parse(kFilter + "[egress]\nbudget = off\n").egress.interval_ns, 0u);
    EXPECT_EQ(parse("[filter]\ninterfaces = eth0\negress = watch\n").egress_mode, uint32_t(RG_EGRESS_WATCH));

    expect_error("[filter]\ninterfaces = eth0\negress = drop\n", 3, "[filter] egress", "expected watch or cap or off");
    expect_error("[filter]\ninterfaces = eth0\negress = cap\n", 3, "[filter] egress", "cap needs a budget");
    expect_error(kFilter + "[egress]\nbudget = 120/m\n", 4, "[egress] budget", "needs burst");
    expect_error(kFilter + "[egress]\nburst = 5\n", 4, "[egress] burst", "has no effect without budget");
    expect_error(kFilter + "[egress]\nbudget = 5000/s\nburst = 5\n", 4, "[egress] budget", "out of range");
    expect_error(kFilter + "[egress]\nburst = 0\n", 4, "[egress] burst", "");
    expect_error(kFilter + "[egress]\nports = 0\n", 4, "[egress] ports", "");
    expect_error(kFilter + "[egress]\nno_such_key = 3\n", 4, "[egress] no_such_key", "unknown key");
}

// ---- [crowdsec] ------------------------------------------------------------

TEST_F(ConfigFiles, CrowdsecSection)
{
    std::string key = write("cs.key", "0123abcd\n");
    chmod(key.c_str(), 0600);
    std::string conf = write("r.conf", kFilter + "[crowdsec]\nlapi_url = http://127.0.0.1:8080/\napi_key_file = cs.key\n");
    rg::Config c = rg::load_config(conf);
    EXPECT_TRUE(c.crowdsec.enabled());
    EXPECT_EQ(c.crowdsec.lapi_url, "http://127.0.0.1:8080/");
    EXPECT_EQ(c.crowdsec.api_key_file, key);  // relative to the config's directory
    EXPECT_EQ(c.crowdsec.api_key, "0123abcd");
    rg::CrowdsecConfig defaults;
    EXPECT_EQ(c.crowdsec.poll_interval, defaults.poll_interval);
    EXPECT_EQ(c.crowdsec.filter, defaults.filter);
    EXPECT_FALSE(parse(kFilter).crowdsec.enabled());

    conf = write("r.conf", kFilter + "[crowdsec]\nlapi_url = https://lapi.example:8080\napi_key_file = cs.key\n"
                                     "poll_interval = 200ms\nscopes = ip\ntypes = ban, captcha\nmin_prefix4 = 16\n"
                                     "min_prefix6 = 32\n");
    c = rg::load_config(conf);
    EXPECT_EQ(c.crowdsec.poll_interval, std::chrono::milliseconds(200));
    EXPECT_TRUE(c.crowdsec.filter.ip);
    EXPECT_FALSE(c.crowdsec.filter.range);
    EXPECT_EQ(c.crowdsec.filter.types, (std::vector<std::string>{"ban", "captcha"}));
    EXPECT_EQ(c.crowdsec.filter.min_prefix4, 16);
    EXPECT_EQ(c.crowdsec.filter.min_prefix6, 32);
}

TEST_F(ConfigFiles, CrowdsecErrorsNameFileLineAndKey)
{
    std::string key = write("cs.key", "0123abcd\n");
    chmod(key.c_str(), 0644);
    std::string conf = write("r.conf", kFilter + "[crowdsec]\nlapi_url = http://127.0.0.1:8080\napi_key_file = cs.key\n");
    EXPECT_EQ(load_error(conf), conf + ":5: [crowdsec] api_key_file: " + key +
                                    ": mode 0644: the API key file must not be readable by group or others "
                                    "(chmod 600 " + key + ")");
    chmod(key.c_str(), 0600);
    expect_error(kFilter + "[crowdsec]\napi_key_file = " + key + "\n", 3, "[crowdsec]", "lapi_url is required");
    expect_error(kFilter + "[crowdsec]\nlapi_url = http://127.0.0.1:8080\n", 3, "[crowdsec]",
                 "api_key_file is required");
    expect_error(kFilter + "[crowdsec]\nlapi_url = 127.0.0.1:8080\n", 4, "[crowdsec] lapi_url",
                 "not an http:// or https:// URL");
    expect_error(kFilter + "[crowdsec]\npoll_interval = 10ms\n", 4, "[crowdsec] poll_interval",
                 "out of range 100ms..1h");
    expect_error(kFilter + "[crowdsec]\nscopes = ip, country\n", 4, "[crowdsec] scopes", "\"country\": not one of ip, range");
    expect_error(kFilter + "[crowdsec]\ntypes = Ban\n", 4, "[crowdsec] types", "\"Ban\": a decision type is");
    expect_error(kFilter + "[crowdsec]\nlapi_url = http://127.0.0.1:8080\napi_key_file = " + key + "\npush = watch\n", 6,
                 "[crowdsec] push", "needs machine_credentials");
    expect_error(kFilter + "[crowdsec]\nlapi_url = http://127.0.0.1:8080\napi_key_file = " + key + "\npush = ratelimit\n",
                 6, "[crowdsec] push", "needs machine_credentials");
    expect_error(kFilter + "[crowdsec]\npush = watch, bans\n", 4, "[crowdsec] push", "\"bans\": not one of watch, ratelimit");
    expect_error(kFilter + "[crowdsec]\npush = ,\n", 4, "[crowdsec] push", "empty: off, or watch and/or ratelimit");
    std::string machine = write("machine.yaml", "url: http://127.0.0.1:8080\n");
    chmod(machine.c_str(), 0600);
    expect_error(kFilter + "[crowdsec]\nmachine_credentials = " + machine + "\n", 4, "[crowdsec] machine_credentials",
                 machine + ": no login and password in it");
    chmod(machine.c_str(), 0644);
    expect_error(kFilter + "[crowdsec]\nmachine_credentials = " + machine + "\n", 4, "[crowdsec] machine_credentials",
                 machine + ": mode 0644: the machine credentials file must not be readable by group or others");
}

// The commented [crowdsec] example, uncommented (with a key file that
// exists), parses to the defaults it documents.
TEST_F(ConfigFiles, CrowdsecExampleParsesWithDefaults)
{
    std::string key = write("cs.key", "0123abcd\n");
    chmod(key.c_str(), 0600);
    std::string machine = write("machine.yaml", "url: http://127.0.0.1:8080\nlogin: mx1\npassword: secret\n");
    chmod(machine.c_str(), 0600);
    std::string text = read_text(RG_EXAMPLE_CONFIG);
    size_t at = text.find("\n#[crowdsec]");
    ASSERT_NE(at, std::string::npos);
    std::string out = text.substr(0, at + 1);
    std::stringstream ss(text.substr(at + 1));
    bool section = false;  // the sections after [crowdsec] stay commented out
    for (std::string l; std::getline(ss, l);) {
        if (l.starts_with("#["))
            section = !section && l == "#[crowdsec]";
        if (section && l.starts_with("#") && !l.starts_with("# ") && l != "#")
            l = l.substr(1);
        if (l.starts_with("api_key_file = "))
            l = "api_key_file = " + key;
        if (l.starts_with("machine_credentials = "))
            l = "machine_credentials = " + machine;
        out += l + "\n";
    }
    rg::Config c = rg::parse_config(out, RG_EXAMPLE_CONFIG);
    rg::CrowdsecConfig want;
    want.lapi_url = "http://127.0.0.1:8080";
    want.api_key_file = key;
    want.api_key = "0123abcd";
    want.machine_credentials = machine;
    want.machine_login = "mx1";
    want.machine_password = "secret";
    EXPECT_EQ(c.crowdsec, want);  // push = off: the default
    EXPECT_EQ(c.crowdsec.push_name(), "off");
}

// push takes watch, ratelimit or both, in any order.
TEST_F(ConfigFiles, CrowdsecPushTakesWatchAndRatelimit)
{
    std::string key = write("cs.key", "0123abcd\n");
    chmod(key.c_str(), 0600);
    std::string machine = write("machine.yaml", "url: http://127.0.0.1:8080\nlogin: mx1\npassword: secret\n");
    chmod(machine.c_str(), 0600);
    for (auto [push, watch, ratelimit, name] :
         std::vector<std::tuple<std::string, bool, bool, std::string>>{{"off", false, false, "off"},
                                                                       {"watch", true, false, "watch"},
                                                                       {"ratelimit", false, true, "ratelimit"},
                                                                       {"ratelimit, watch", true, true, "watch,ratelimit"}}) {
        rg::Config c = rg::parse_config(kFilter + "[crowdsec]\nlapi_url = http://127.0.0.1:8080\napi_key_file = " + key +
                                            "\nmachine_credentials = " + machine + "\npush = " + push + "\n",
                                        "x.conf");
        EXPECT_EQ(c.crowdsec.push_watch, watch) << push;
        EXPECT_EQ(c.crowdsec.push_ratelimit, ratelimit) << push;
        EXPECT_EQ(c.crowdsec.push_name(), name);
    }
}
