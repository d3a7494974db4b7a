// The relayguard command line, parsed but never run: every handler needs
// root and BPF, so these tests only check that parsing refuses bad input
// with a message naming it, and that good input fills Options and selects a
// handler. o.action is compared and tested for presence, never called.
// relayguard_cli does not export userspace/cli as an include directory.
#include "commands.hpp"
#include "common.hpp"
#include "log.hpp"
#include "maps.hpp"
#include "ports.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <initializer_list>
#include <net/if.h>
#include <set>
#include <string>
#include <vector>

using rg::cli::Options;

namespace {

using Handler = int (*)(Options &);

bool contains(const std::string &haystack, const std::string &needle)
{
    return haystack.find(needle) != std::string::npos;
}

// One parser over one Options, as rg::cli::run builds them. Not movable:
// the parser holds references into o.
class Cli {
public:
    Options o;
    std::unique_ptr<CLI::App> app = rg::cli::make_app(o);

    Cli() = default;
    Cli(const Cli &) = delete;

    // Parses "relayguard <args...>"; throws what CLI11 throws.
    void parse(std::vector<std::string> args)
    {
        args.insert(args.begin(), "relayguard");
        std::vector<const char *> argv;
        for (const std::string &a : args)
            argv.push_back(a.c_str());
        app->parse(int(argv.size()), argv.data());
    }

    // The ParseError message, or "" if parsing succeeded.
    std::string error(const std::vector<std::string> &args)
    {
        try {
            parse(args);
        } catch (const CLI::ParseError &e) {
            return e.what();
        }
        return "";
    }

    // True if the subcommand path (e.g. {"block", "add"}) was selected.
    bool selected(std::initializer_list<const char *> path) const
    {
        CLI::App *at = app.get();
        for (const char *name : path) {
            if (!at->got_subcommand(name))
                return false;
            at = at->get_subcommand(name);
        }
        return true;
    }

    // The handler when it is a plain function (attach, detach, ports set,
    // mode, status, stats), else nullptr.
    Handler handler() const
    {
        const Handler *h = o.action.target<Handler>();
        return h ? *h : nullptr;
    }
};

std::vector<std::string> numbers(unsigned first, unsigned count)
{
    std::vector<std::string> v;
    for (unsigned i = 0; i < count; i++)
        v.push_back(std::to_string(first + i));
    return v;
}

std::string join(const std::vector<std::string> &v)
{
    std::string out;
    for (const std::string &s : v)
        out += (out.empty() ? "" : ",") + s;
    return out;
}

} // namespace

// ---- rules --------------------------------------------------------------

TEST(CliRules, BlockAddMalformedCidrNamedWithReason)
{
    Cli c;
    std::string msg = c.error({"block", "add", "1.2.3.4/33"});
    ASSERT_FALSE(msg.empty());
    EXPECT_TRUE(contains(msg, "1.2.3.4/33")) << msg;
    EXPECT_TRUE(contains(msg, "out of range")) << msg;
    EXPECT_FALSE(c.o.action) << "a handler was selected for refused input";
}

TEST(CliRules, BlockAddRefusesIfAnyCidrIsBad)
{
    Cli c;
    std::string msg = c.error({"block", "add", "192.0.2.0/24", "300.1.1.1", "2001:db8::/32"});
    ASSERT_FALSE(msg.empty());
    EXPECT_TRUE(contains(msg, "300.1.1.1")) << msg;
    EXPECT_TRUE(contains(msg, "IPv4")) << msg;
    EXPECT_FALSE(c.o.action);
}

TEST(CliRules, BlockAddGarbagePrefixLength)
{
    Cli c;
    std::string msg = c.error({"block", "add", "2001:db8::/x"});
    EXPECT_TRUE(contains(msg, "2001:db8::/x")) << msg;
    EXPECT_TRUE(contains(msg, "not a number")) << msg;
}

TEST(CliRules, BlockAddSeveral)
{
    Cli c;
    const std::vector<std::string> cidrs = {"192.0.2.0/24", "2001:db8::/32", "198.51.100.7"};
    std::vector<std::string> args = {"block", "add"};
    args.insert(args.end(), cidrs.begin(), cidrs.end());
    ASSERT_NO_THROW(c.parse(args));
    EXPECT_EQ(c.o.cidrs, cidrs);
    EXPECT_TRUE(c.selected({"block", "add"}));
    EXPECT_FALSE(c.selected({"allow"}));
    EXPECT_TRUE(c.o.action);
}

TEST(CliRules, AllowDel)
{
    Cli c;
    ASSERT_NO_THROW(c.parse({"allow", "del", "203.0.113.0/24"}));
    EXPECT_EQ(c.o.cidrs, (std::vector<std::string>{"203.0.113.0/24"}));
    EXPECT_TRUE(c.selected({"allow", "del"}));
    EXPECT_FALSE(c.selected({"allow", "add"}));
    EXPECT_FALSE(c.selected({"block"}));
    EXPECT_TRUE(c.o.action);
}

TEST(CliRules, AllowDelMalformed)
{
    Cli c;
    std::string msg = c.error({"allow", "del", "1.2.3.4/024"});
    EXPECT_TRUE(contains(msg, "1.2.3.4/024")) << msg;
}

TEST(CliRules, HostBitsAreNotAParseError)
{
    // Cleared with a note by the handler, as ipset does; not refused.
    Cli c;
    EXPECT_NO_THROW(c.parse({"block", "add", "192.0.2.77/24"}));
    EXPECT_EQ(c.o.cidrs, (std::vector<std::string>{"192.0.2.77/24"}));
}

TEST(CliRules, AddNeedsACidr)
{
    Cli c;
    EXPECT_THROW(c.parse({"block", "add"}), CLI::RequiredError);
}

TEST(CliRules, ListNeedsAVerb)
{
    Cli c;
    EXPECT_THROW(c.parse({"block"}), CLI::ParseError);
    EXPECT_FALSE(c.o.action);
}

TEST(CliRules, ListJson)
{
    Cli c;
    ASSERT_NO_THROW(c.parse({"allow", "list", "--json"}));
    EXPECT_TRUE(c.o.json);
    EXPECT_TRUE(c.selected({"allow", "list"}));
    EXPECT_TRUE(c.o.action);
}

// ---- ports ----------------------------------------------------------------

TEST(CliPorts, SetList)
{
    Cli c;
    ASSERT_NO_THROW(c.parse({"ports", "set", "25,465,587"}));
    EXPECT_TRUE(c.selected({"ports", "set"}));
    EXPECT_EQ(rg::parse_ports(c.o.ports), (std::vector<uint16_t>{25, 465, 587}));
    EXPECT_NE(c.handler(), nullptr);
}

TEST(CliPorts, SetSeparateArgs)
{
    Cli c;
    ASSERT_NO_THROW(c.parse({"ports", "set", "587", "25"}));
    EXPECT_EQ(rg::parse_ports(c.o.ports), (std::vector<uint16_t>{25, 587}));
}

TEST(CliPorts, SetZeroRefused)
{
    Cli c;
    std::string msg = c.error({"ports", "set", "0"});
    EXPECT_TRUE(contains(msg, "\"0\"")) << msg;
    EXPECT_TRUE(contains(msg, "out of range")) << msg;
    EXPECT_FALSE(c.o.action);
}

TEST(CliPorts, SetTooLargeRefused)
{
    Cli c;
    std::string msg = c.error({"ports", "set", "25,70000"});
    EXPECT_TRUE(contains(msg, "70000")) << msg;
    EXPECT_TRUE(contains(msg, "out of range")) << msg;
}

TEST(CliPorts, SetNotANumberRefused)
{
    Cli c;
    std::string msg = c.error({"ports", "set", "smtp"});
    EXPECT_TRUE(contains(msg, "smtp")) << msg;
}

TEST(CliPorts, SetSeventeenInOneListRefused)
{
    Cli c;
    std::string msg = c.error({"ports", "set", join(numbers(1, RG_MAX_PORTS + 1))});
    ASSERT_FALSE(msg.empty());
    EXPECT_TRUE(contains(msg, std::to_string(RG_MAX_PORTS + 1))) << msg;
    EXPECT_TRUE(contains(msg, std::to_string(RG_MAX_PORTS))) << msg;
}

TEST(CliPorts, SetSeventeenAsSeparateArgsRefused)
{
    // "Validation happens while parsing, so a handler only ever sees checked
    // input" (commands.hpp): the limit is on the whole set, not per argument.
    std::vector<std::string> args = {"ports", "set"};
    for (const std::string &p : numbers(1, RG_MAX_PORTS + 1))
        args.push_back(p);
    Cli c;
    std::string msg = c.error(args);
    EXPECT_FALSE(msg.empty()) << "17 ports accepted at parse time: " << c.o.ports.size() << " values";
    EXPECT_TRUE(contains(msg, std::to_string(RG_MAX_PORTS))) << msg;
}

TEST(CliPorts, SetSixteenAccepted)
{
    std::vector<std::string> args = {"ports", "set"};
    for (const std::string &p : numbers(100, RG_MAX_PORTS))
        args.push_back(p);
    Cli c;
    ASSERT_NO_THROW(c.parse(args));
    EXPECT_EQ(rg::parse_ports(c.o.ports).size(), size_t(RG_MAX_PORTS));
}

TEST(CliPorts, SetNeedsAPort)
{
    Cli c;
    EXPECT_THROW(c.parse({"ports", "set"}), CLI::RequiredError);
}

// ---- attach / detach ----------------------------------------------------------

TEST(CliAttach, MissingInterfaceRefusedAtParseTime)
{
    Cli c;
    std::string msg = c.error({"attach", "rgt-nosuchif0"});
    ASSERT_FALSE(msg.empty());
    EXPECT_TRUE(contains(msg, "rgt-nosuchif0")) << msg;
    EXPECT_TRUE(contains(msg, "no such interface")) << msg;
    EXPECT_FALSE(c.o.action);
}

TEST(CliAttach, OverlongInterfaceNameRefused)
{
    Cli c;
    const std::string name(IF_NAMESIZE, 'x');  // one more than fits with the NUL
    std::string msg = c.error({"attach", name});
    ASSERT_FALSE(msg.empty());
    EXPECT_TRUE(contains(msg, name)) << msg;
}

TEST(CliAttach, NeedsAnInterface)
{
    Cli c;
    EXPECT_THROW(c.parse({"attach"}), CLI::RequiredError);
}

TEST(CliAttach, LoWithEverything)
{
    Cli c;
    ASSERT_NO_THROW(c.parse({"attach", "lo", "--mode", "skb", "--ports", "25,587", "--monitor"}));
    EXPECT_TRUE(c.selected({"attach"}));
    EXPECT_EQ(c.o.iface, "lo");
    EXPECT_EQ(c.o.mode, "skb");
    EXPECT_TRUE(c.o.monitor);
    EXPECT_EQ(rg::parse_ports(c.o.ports), (std::vector<uint16_t>{25, 587}));
    EXPECT_NE(c.handler(), nullptr);
}

TEST(CliAttach, LoDefaults)
{
    Cli c;
    ASSERT_NO_THROW(c.parse({"attach", "lo"}));
    EXPECT_EQ(c.o.iface, "lo");
    EXPECT_EQ(c.o.mode, "native");
    EXPECT_FALSE(c.o.monitor);
    EXPECT_TRUE(c.o.ports.empty());  // the handler then keeps or defaults the ports
    EXPECT_NE(c.handler(), nullptr);
}

TEST(CliAttach, BogusModeRefused)
{
    Cli c;
    std::string msg = c.error({"attach", "lo", "--mode", "bogus"});
    ASSERT_FALSE(msg.empty());
    EXPECT_TRUE(contains(msg, "bogus")) << msg;
    EXPECT_FALSE(c.o.action);
}

TEST(CliAttach, BadPortRefused)
{
    Cli c;
    std::string msg = c.error({"attach", "lo", "--ports", "25,0"});
    ASSERT_FALSE(msg.empty());
    EXPECT_TRUE(contains(msg, "\"0\"")) << msg;
}

TEST(CliAttach, SeventeenPortsRefused)
{
    Cli c;
    std::string msg = c.error({"attach", "lo", "--ports", join(numbers(1, RG_MAX_PORTS + 1))});
    EXPECT_FALSE(msg.empty()) << "17 ports accepted at parse time: " << c.o.ports.size() << " values";
    EXPECT_TRUE(contains(msg, std::to_string(RG_MAX_PORTS))) << msg;
}

TEST(CliDetach, NeedsAnInterface)
{
    Cli c;
    std::string msg = c.error({"detach"});
    ASSERT_FALSE(msg.empty());
    EXPECT_TRUE(contains(msg, "iface")) << msg;
    EXPECT_FALSE(c.o.action);
}

TEST(CliDetach, InterfaceThatIsGoneIsAccepted)
{
    // Detaching must work after the interface was deleted, to clean up its slot.
    Cli c;
    ASSERT_NO_THROW(c.parse({"detach", "rgt-nosuchif0", "--keep-maps"}));
    EXPECT_EQ(c.o.iface, "rgt-nosuchif0");
    EXPECT_TRUE(c.o.keep_maps);
    EXPECT_TRUE(c.selected({"detach"}));
    EXPECT_NE(c.handler(), nullptr);
}

// ---- mode -------------------------------------------------------------------

TEST(CliMode, EnforceAndMonitor)
{
    for (const char *m : {"enforce", "monitor"}) {
        Cli c;
        ASSERT_NO_THROW(c.parse({"mode", m}));
        EXPECT_EQ(c.o.filter_mode, m);
        EXPECT_TRUE(c.selected({"mode"}));
        EXPECT_NE(c.handler(), nullptr);
    }
}

TEST(CliMode, BadModeRefused)
{
    Cli c;
    std::string msg = c.error({"mode", "drop"});
    ASSERT_FALSE(msg.empty());
    EXPECT_TRUE(contains(msg, "drop")) << msg;
    EXPECT_FALSE(c.o.action);
}

TEST(CliMode, NeedsAMode)
{
    Cli c;
    EXPECT_THROW(c.parse({"mode"}), CLI::RequiredError);
}

// ---- read-only commands ---------------------------------------------------------

TEST(CliStats, JsonAndIface)
{
    Cli c;
    ASSERT_NO_THROW(c.parse({"stats", "--json", "--iface", "X"}));
    EXPECT_TRUE(c.o.json);
    EXPECT_EQ(c.o.iface, "X");
    EXPECT_TRUE(c.selected({"stats"}));
    EXPECT_NE(c.handler(), nullptr);
}

TEST(CliStats, Defaults)
{
    Cli c;
    ASSERT_NO_THROW(c.parse({"stats"}));
    EXPECT_FALSE(c.o.json);
    EXPECT_TRUE(c.o.iface.empty());
}

TEST(CliStatus, Json)
{
    Cli c;
    ASSERT_NO_THROW(c.parse({"status", "--json"}));
    EXPECT_TRUE(c.o.json);
    EXPECT_TRUE(c.selected({"status"}));
    EXPECT_FALSE(c.selected({"stats"}));
    EXPECT_NE(c.handler(), nullptr);
}

TEST(CliHandlers, EachSubcommandHasItsOwn)
{
    const std::vector<std::vector<std::string>> commands = {
        {"attach", "lo"}, {"detach", "lo"}, {"ports", "set", "25"}, {"mode", "enforce"}, {"status"}, {"stats"}};
    std::set<Handler> seen;
    for (const auto &args : commands) {
        Cli c;
        ASSERT_NO_THROW(c.parse(args)) << args[0];
        Handler h = c.handler();
        ASSERT_NE(h, nullptr) << args[0];
        EXPECT_TRUE(seen.insert(h).second) << args[0] << " shares a handler";
    }
    // And the same command selects the same handler again.
    Cli a, b;
    a.parse({"status"});
    b.parse({"status", "--json"});
    EXPECT_EQ(a.handler(), b.handler());
}

// ---- rate, bans, top, run -------------------------------------------------

TEST(CliRate, SetFillsOptions)
{
    Cli c;
    ASSERT_EQ(c.error({"rate", "set", "--rate", "0.5/s", "--burst", "5", "--prefix4", "24", "--prefix6", "48",
                       "--ban-after", "3", "--ban-ttl", "10m", "--escalate-after", "4", "--escalate-window",
                       "1h"}),
              "");
    EXPECT_TRUE(c.selected({"rate", "set"}));
    EXPECT_EQ(c.o.rate, "0.5/s");
    EXPECT_EQ(c.o.burst, 5u);
    EXPECT_EQ(c.o.prefix4, 24);
    EXPECT_EQ(c.o.prefix6, 48);
    EXPECT_EQ(c.o.ban_after, 3u);
    EXPECT_EQ(c.o.ban_ttl, "10m");
    EXPECT_EQ(c.o.escalate_after, 4u);
    EXPECT_EQ(c.o.escalate_window, "1h");
    EXPECT_NE(c.handler(), nullptr);
}

TEST(CliRate, SetDefaults)
{
    Cli c;
    ASSERT_EQ(c.error({"rate", "set", "--rate", "2", "--burst", "1"}), "");
    EXPECT_EQ(c.o.prefix4, 32);
    EXPECT_EQ(c.o.prefix6, 64);
    EXPECT_EQ(c.o.ban_ttl, "");
    EXPECT_EQ(c.o.escalate_after, 0u);
}

TEST(CliRate, SetNeedsRateAndBurst)
{
    EXPECT_TRUE(contains(Cli().error({"rate", "set", "--burst", "5"}), "--rate"));
    EXPECT_TRUE(contains(Cli().error({"rate", "set", "--rate", "5"}), "--burst"));
}

TEST(CliRate, BadValuesRefusedWithTheReason)
{
    EXPECT_TRUE(contains(Cli().error({"rate", "set", "--rate", "0", "--burst", "5"}), "0"));
    EXPECT_TRUE(contains(Cli().error({"rate", "set", "--rate", "fast", "--burst", "5"}), "fast"));
    EXPECT_NE(Cli().error({"rate", "set", "--rate", "5", "--burst", "0"}), "");
    EXPECT_NE(Cli().error({"rate", "set", "--rate", "5", "--burst", "5", "--prefix4", "33"}), "");
    EXPECT_NE(Cli().error({"rate", "set", "--rate", "5", "--burst", "5", "--prefix6", "0"}), "");
    std::string e = Cli().error({"rate", "set", "--rate", "5", "--burst", "5", "--ban-after", "1", "--ban-ttl", "10"});
    EXPECT_TRUE(contains(e, "missing unit")) << e;
}

TEST(CliRate, BanAfterAndTtlGoTogether)
{
    EXPECT_TRUE(contains(Cli().error({"rate", "set", "--rate", "5", "--burst", "5", "--ban-after", "3"}), "ban-ttl"));
    Cli ttl_alone;  // as in the config file: bans on the first SYN over budget
    EXPECT_EQ(ttl_alone.error({"rate", "set", "--rate", "5", "--burst", "5", "--ban-ttl", "1m"}), "");
    EXPECT_EQ(ttl_alone.o.ban_after, 0u);
    EXPECT_TRUE(contains(Cli().error({"rate", "set", "--rate", "5", "--burst", "5", "--ban-after", "1", "--ban-ttl",
                                      "1m", "--escalate-after", "3"}),
                         "escalate-window"));
    EXPECT_NE(Cli().error({"rate", "set", "--rate", "5", "--burst", "5", "--escalate-after", "3",
                           "--escalate-window", "1m"}),
              "");  // escalation without bans
}

TEST(CliRate, ShowAndOff)
{
    Cli show, off;
    ASSERT_EQ(show.error({"rate", "show", "--json"}), "");
    EXPECT_TRUE(show.o.json);
    ASSERT_EQ(off.error({"rate", "off"}), "");
    EXPECT_NE(show.handler(), off.handler());
    EXPECT_NE(Cli().error({"rate"}), "");
}

TEST(CliBans, AddNeedsCidrAndTtl)
{
    Cli c;
    ASSERT_EQ(c.error({"bans", "add", "192.0.2.0/24", "2001:db8::/48", "--ttl", "1h30m"}), "");
    EXPECT_EQ(c.o.cidrs, (std::vector<std::string>{"192.0.2.0/24", "2001:db8::/48"}));
    EXPECT_EQ(c.o.ttl, "1h30m");
    EXPECT_TRUE(contains(Cli().error({"bans", "add", "192.0.2.0/24"}), "--ttl"));
    EXPECT_TRUE(contains(Cli().error({"bans", "add", "192.0.2.0/33", "--ttl", "1m"}), "192.0.2.0/33"));
    EXPECT_TRUE(contains(Cli().error({"bans", "add", "192.0.2.1", "--ttl", "soon"}), "soon"));
}

TEST(CliBans, ListDelFlush)
{
    Cli ls, del, flush;
    ASSERT_EQ(ls.error({"bans", "list", "--json", "--all"}), "");
    EXPECT_TRUE(ls.o.json);
    EXPECT_TRUE(ls.o.all);
    ASSERT_EQ(del.error({"bans", "del", "192.0.2.1"}), "");
    ASSERT_EQ(flush.error({"bans", "flush"}), "");
    std::set<Handler> handlers{ls.handler(), del.handler(), flush.handler()};
    EXPECT_EQ(handlers.size(), 3u);
    EXPECT_NE(Cli().error({"bans", "del"}), "");
}

TEST(CliTop, Options)
{
    Cli c;
    ASSERT_EQ(c.error({"top", "--json", "-n", "5", "--sample", "2s"}), "");
    EXPECT_EQ(c.o.top_n, 5u);
    EXPECT_EQ(c.o.sample, "2s");
    Cli d;
    ASSERT_EQ(d.error({"top"}), "");
    EXPECT_EQ(d.o.top_n, 20u);
    EXPECT_NE(Cli().error({"top", "-n", "0"}), "");
    EXPECT_NE(Cli().error({"top", "--sample", "2"}), "");
}

TEST(CliRunCommand, NeedsAnExistingConfig)
{
    EXPECT_TRUE(contains(Cli().error({"run"}), "--config"));
    EXPECT_NE(Cli().error({"run", "--config", "/nonexistent/relayguard.conf"}), "");
    Cli c;
    ASSERT_EQ(c.error({"run", "--config", RG_EXAMPLE_CONFIG, "--keep-enforcing"}), "");
    EXPECT_EQ(c.o.config, RG_EXAMPLE_CONFIG);
    EXPECT_TRUE(c.o.keep_enforcing);
    EXPECT_TRUE(static_cast<bool>(c.o.action));
}

// ---- global options ---------------------------------------------------------------

TEST(CliGlobal, PinDir)
{
    Cli c;
    ASSERT_NO_THROW(c.parse({"--pin-dir", "/tmp/rgt-pins", "status"}));
    EXPECT_EQ(c.o.pin_dir, "/tmp/rgt-pins");

    Cli d;
    ASSERT_NO_THROW(d.parse({"status"}));
    EXPECT_EQ(d.o.pin_dir, rg::kDefaultPinDir);
    EXPECT_FALSE(d.o.pin_dir.empty());
}

TEST(CliGlobal, Verbose)
{
    Cli c;
    ASSERT_NO_THROW(c.parse({"-vv", "status"}));
    EXPECT_EQ(c.o.verbose, 2);
    Cli d;
    ASSERT_NO_THROW(d.parse({"status"}));
    EXPECT_EQ(d.o.verbose, 0);
}

TEST(CliGlobal, MissingSubcommandRefused)
{
    Cli c;
    EXPECT_THROW(c.parse({}), CLI::ParseError);
    EXPECT_FALSE(c.o.action);
    Cli d;
    EXPECT_THROW(d.parse({"--pin-dir", "/tmp/x"}), CLI::ParseError);
    EXPECT_FALSE(d.o.action);
}

TEST(CliGlobal, UnknownSubcommandOrOptionRefused)
{
    // Refused, though CLI11 reports the missing subcommand before the
    // unexpected word, so this message does not name "frobnicate".
    Cli c;
    EXPECT_THROW(c.parse({"frobnicate"}), CLI::ParseError);
    EXPECT_FALSE(c.o.action);
    Cli d;
    std::string msg = d.error({"status", "--bogus"});
    ASSERT_FALSE(msg.empty());
    EXPECT_TRUE(contains(msg, "--bogus")) << msg;
}

// ---- run(): exit status for usage errors ------------------------------------------

namespace {

// rg::cli::run on "relayguard <args...>". Only for arguments that fail to
// parse (or ask for help): anything else would run a privileged handler.
int run(std::vector<std::string> args)
{
    args.insert(args.begin(), "relayguard");
    std::vector<char *> argv;
    for (std::string &a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    return rg::cli::run(int(args.size()), argv.data());
}

} // namespace

TEST(CliRun, UsageErrorsExitTwo)
{
    const std::vector<std::vector<std::string>> bad = {
        {},
        {"frobnicate"},
        {"block", "add", "1.2.3.4/33"},
        {"block", "add"},
        {"allow"},
        {"ports", "set", "0"},
        {"ports", "set", "70000"},
        {"attach", "rgt-nosuchif0"},
        {"attach", "lo", "--mode", "bogus"},
        {"mode", "bogus"},
        {"detach"},
        {"status", "--bogus"},
    };
    for (const auto &args : bad) {
        std::string line;
        for (const std::string &a : args)
            line += " " + a;
        EXPECT_EQ(run(args), 2) << "relayguard" << line;
    }
}

TEST(CliRun, HelpAndVersionExitZero)
{
    ::testing::internal::CaptureStdout();
    int help = run({"--help"});
    std::string help_text = ::testing::internal::GetCapturedStdout();
    EXPECT_EQ(help, 0);
    EXPECT_TRUE(contains(help_text, "attach")) << help_text;

    ::testing::internal::CaptureStdout();
    int version = run({"--version"});
    std::string version_text = ::testing::internal::GetCapturedStdout();
    EXPECT_EQ(version, 0);
    EXPECT_TRUE(contains(version_text, "relayguard")) << version_text;
}

// ---- diagnostics go through rg::log ------------------------------------------------

namespace {

// The syslog prefix rg::log puts before each line under systemd.
std::string journal_prefix(rg::LogLevel level)
{
    return std::getenv("JOURNAL_STREAM") ? "<" + std::to_string(3 + int(level)) + ">" : "";
}

} // namespace

TEST(CliLog, HostBitsNoteIsALogNotice)
{
    ::testing::internal::CaptureStderr();
    std::vector<rg::Cidr> cidrs = rg::cli::parse_cidr_args({"192.0.2.77/24", "2001:db8::/32"});
    std::string err = ::testing::internal::GetCapturedStderr();
    ASSERT_EQ(cidrs.size(), 2u);
    EXPECT_EQ(cidrs[0].str(), "192.0.2.0/24");
    EXPECT_EQ(err, journal_prefix(rg::LogLevel::notice) +
                       "relayguard: note: \"192.0.2.77/24\" has host bits set; using 192.0.2.0/24\n");

    // Below the notice level, notes are not shown.
    rg::LogLevel saved = rg::log_level();
    rg::set_log_level(rg::LogLevel::warning);
    ::testing::internal::CaptureStderr();
    rg::cli::parse_cidr_args({"192.0.2.77/24"});
    err = ::testing::internal::GetCapturedStderr();
    rg::set_log_level(saved);
    EXPECT_EQ(err, "") << "a note was shown at log level warning";
}

TEST(CliLog, UsageErrorIsALogError)
{
    ::testing::internal::CaptureStderr();
    int status = run({"block", "add", "1.2.3.4/33"});
    std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(status, 2);
    EXPECT_EQ(err, journal_prefix(rg::LogLevel::error) +
                       "relayguard: error: cidr: \"1.2.3.4/33\": prefix length 33 out of range (0-32 for IPv4)\n" +
                       journal_prefix(rg::LogLevel::notice) + "relayguard: Run with --help for usage.\n");
}

// ---- errors under --json ------------------------------------------------------------

namespace {

struct RunOutput {
    int status;
    std::string out, err;
};

RunOutput run_captured(const std::vector<std::string> &args)
{
    ::testing::internal::CaptureStdout();
    ::testing::internal::CaptureStderr();
    int status = run(args);
    std::string err = ::testing::internal::GetCapturedStderr();
    std::string out = ::testing::internal::GetCapturedStdout();
    return {status, out, err};
}

// The error object on stdout, checked for the fields every error has.
nlohmann::json error_object(const RunOutput &r, int exit_code)
{
    EXPECT_EQ(r.status, exit_code) << r.out << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("error")) {
        ADD_FAILURE() << "no JSON error object on stdout: \"" << r.out << "\" (stderr: " << r.err << ")";
        return nlohmann::json::object();
    }
    const auto &e = j["error"];
    EXPECT_TRUE(e["message"].is_string()) << j;
    EXPECT_EQ(e["exit_code"], exit_code) << j;
    // The plain message still goes to stderr.
    EXPECT_NE(r.err.find("relayguard: error: " + e["message"].get<std::string>()), std::string::npos) << r.err;
    return e;
}

} // namespace

TEST(CliJsonErrors, BadCidrIsAnErrorObject)
{
    auto e = error_object(run_captured({"block", "add", "1.2.3.4/33", "--json"}), 2);
    EXPECT_NE(e.value("message", "").find("1.2.3.4/33"), std::string::npos) << e;
    EXPECT_EQ(e["concerns"], (nlohmann::json{{"type", "argument"}, {"value", "1.2.3.4/33"}})) << e;
}

TEST(CliJsonErrors, MissingInterfaceConcernsTheInterface)
{
    auto e = error_object(run_captured({"attach", "rgt-nosuchif0", "--json"}), 2);
    EXPECT_EQ(e["concerns"], (nlohmann::json{{"type", "interface"}, {"value", "rgt-nosuchif0"}})) << e;
}

TEST(CliJsonErrors, BadDurationOfAReadCommand)
{
    auto e = error_object(run_captured({"top", "--json", "--sample", "2"}), 2);
    EXPECT_NE(e.value("message", "").find("missing unit"), std::string::npos) << e;
    EXPECT_EQ(e["concerns"], (nlohmann::json{{"type", "argument"}, {"value", "2"}})) << e;
}

TEST(CliJsonErrors, UnknownOptionHasNoConcern)
{
    auto e = error_object(run_captured({"stats", "--json", "--bogus"}), 2);
    EXPECT_NE(e.value("message", "").find("--bogus"), std::string::npos) << e;
    EXPECT_FALSE(e.contains("concerns")) << e;
    // Refused once, a value is not reported again as the next error's concern.
    auto again = error_object(run_captured({"feed", "show", "--json"}), 2);
    EXPECT_FALSE(again.contains("concerns")) << again;
}

TEST(CliJsonErrors, TextOutWithoutJson)
{
    RunOutput r = run_captured({"block", "add", "1.2.3.4/33"});
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("1.2.3.4/33"), std::string::npos) << r.err;
}

// ---- /0 needs --force ----------------------------------------------------------------

TEST(CliSlashZero, RefusedWithWhatItWouldDo)
{
    struct Case {
        std::vector<std::string> args;
        std::string what;
    };
    const std::vector<Case> cases = {
        {{"block", "add", "0.0.0.0/0"}, "drop every IPv4 packet to the protected ports"},
        {{"block", "add", "192.0.2.0/24", "::/0"}, "drop every IPv6 packet to the protected ports"},
        {{"allow", "add", "0.0.0.0/0"}, "turn filtering off for IPv4"},
        {{"allow", "add", "::/0"}, "turn filtering off for IPv6"},
        {{"bans", "add", "::/0", "--ttl", "1h"}, "drop every IPv6 packet to the protected ports for 1h"},
        {{"bans", "add", "0.0.0.0/0", "--ttl", "10m"}, "every IPv4"},
    };
    for (const Case &k : cases) {
        std::string line;
        for (const std::string &a : k.args)
            line += " " + a;
        Cli c;
        std::string msg = c.error(k.args);
        EXPECT_TRUE(contains(msg, k.what)) << "relayguard" << line << ": " << msg;
        EXPECT_TRUE(contains(msg, "--force")) << "relayguard" << line << ": " << msg;
        EXPECT_FALSE(c.o.action) << "relayguard" << line;
        // Should parsing let it through, the handler finds no pin directory.
        std::vector<std::string> safe = k.args;
        safe.insert(safe.end(), {"--pin-dir", "/nonexistent/relayguard-unit-test"});
        EXPECT_EQ(run(safe), 2) << "relayguard" << line;

        std::vector<std::string> forced = k.args;
        forced.push_back("--force");
        Cli f;
        EXPECT_EQ(f.error(forced), "") << "relayguard" << line << " --force";
        EXPECT_TRUE(f.o.force);
        EXPECT_TRUE(f.o.action);
    }
}

TEST(CliSlashZero, NarrowerPrefixesAndRemovalNeedNoForce)
{
    for (std::vector<std::string> args :
         {std::vector<std::string>{"block", "add", "0.0.0.0/1"}, {"allow", "add", "::ffff:0:0/96"},
          {"block", "del", "0.0.0.0/0"}, {"allow", "del", "::/0"}, {"bans", "del", "::/0"}}) {
        Cli c;
        EXPECT_EQ(c.error(args), "") << args[0] << " " << args[1] << " " << args[2];
        EXPECT_FALSE(c.o.force);
    }
}

TEST(CliSlashZero, MappedIpv4IsAcceptedAsIpv4)
{
    Cli c;
    ASSERT_EQ(c.error({"block", "add", "::ffff:192.0.2.9"}), "");
    ::testing::internal::CaptureStderr();
    std::vector<rg::Cidr> cidrs = rg::cli::parse_cidr_args(c.o.cidrs);
    std::string err = ::testing::internal::GetCapturedStderr();
    ASSERT_EQ(cidrs.size(), 1u);
    EXPECT_EQ(cidrs[0].str(), "192.0.2.9/32");
    EXPECT_TRUE(contains(err, "IPv4-mapped")) << err;
    // Mapped, ::ffff:0.0.0.0/97 is no /0; ::ffff:0:0/96 stays IPv6 (no /0 either).
    EXPECT_EQ(Cli().error({"block", "add", "::ffff:0.0.0.0/97"}), "");
}
