// The relayguard binary's input handling, end to end:
//  - errors under --json: a JSON object on stdout ({"error": {...}},
//    docs/json-schema.md), the plain message still on stderr, the exit
//    status as without --json (usage errors are also covered without
//    privileges in test_cli.cpp);
//  - a /0 needs --force; ::ffff:a.b.c.d is taken as IPv4 and so matches
//    IPv4 traffic, from the command line and from a feed; feed names
//    manual and config are reserved.
#include "lab.hpp"
#include "netns_fixture.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

using nlohmann::json;

namespace {

using rg::test::NetnsTest;
using namespace rg::test::netns_lab;

struct Split {
    int status = -1;
    std::string out, err;
};

class CliNetnsTest : public NetnsTest {
protected:
    void SetUp() override
    {
        NetnsTest::SetUp();
        if (IsSkipped() || HasFatalFailure())
            return;
        char tmpl[] = "/tmp/relayguard-clierr.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override
    {
        NetnsTest::TearDown();
        if (!dir_.empty())
            std::filesystem::remove_all(dir_);
    }

    // rg() with stdout and stderr apart (stderr through a file).
    Split rg_split(std::vector<std::string> args)
    {
        std::string err_path = dir_ + "/stderr";
        args.insert(args.begin(), {"sh", "-c", "exec \"$0\" \"$@\" 2>\"$RG_ERR\"", RELAYGUARD_BIN, "--pin-dir",
                                   fs_->pin_dir()});
        auto r = server_->exec(args, {"LIBXDP_BPFFS=" + fs_->root(), "RG_ERR=" + err_path});
        std::ifstream in(err_path);
        std::stringstream err;
        err << in.rdbuf();
        return {r.status, r.output, err.str()};
    }

    // The "error" member of the JSON on stdout, checked for what every error has.
    json error_of(const Split &r, int exit_code)
    {
        EXPECT_EQ(r.status, exit_code) << r.out << r.err;
        json j = json::parse(r.out, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("error")) {
            ADD_FAILURE() << "no JSON error object on stdout: \"" << r.out << "\" (stderr: " << r.err << ")";
            return json::object();
        }
        EXPECT_EQ(j.size(), 1u) << j;
        const json &e = j["error"];
        EXPECT_TRUE(e["message"].is_string()) << j;
        EXPECT_EQ(e["exit_code"], exit_code) << j;
        EXPECT_NE(r.err.find("relayguard: error: "), std::string::npos) << r.err;
        return e;
    }

    std::string dir_;
};

TEST_F(CliNetnsTest, ErrorsUnderJsonAreJsonObjects)
{
    // Nothing attached: every read command says so, as JSON.
    for (std::vector<std::string> args : {std::vector<std::string>{"stats", "--json"}, {"feed", "list", "--json"},
                                         {"block", "list", "--json"}, {"bans", "list", "--json"}}) {
        json e = error_of(rg_split(args), 1);
        EXPECT_NE(e.value("message", "").find("not attached"), std::string::npos) << args[0] << ": " << e;
        EXPECT_EQ(e["concerns"], (json{{"type", "pin_dir"}, {"value", fs_->pin_dir()}})) << args[0] << ": " << e;
    }

    attach();
    json e = error_of(rg_split({"feed", "show", "nosuch", "--json"}), 1);
    EXPECT_NE(e.value("message", "").find("no feed named nosuch"), std::string::npos) << e;
    EXPECT_EQ(e["concerns"], (json{{"type", "feed"}, {"value", "nosuch"}})) << e;

    e = error_of(rg_split({"stats", "--json", "--iface", "lo"}), 1);
    EXPECT_EQ(e["concerns"], (json{{"type", "interface"}, {"value", "lo"}})) << e;

    // A name that is not UTF-8 is quoted in valid JSON.
    e = error_of(rg_split({"feed", "show", "bad\xff", "--json"}), 1);
    EXPECT_EQ(e["concerns"], (json{{"type", "feed"}, {"value", "bad\xef\xbf\xbd"}})) << e;

    // Usage errors of the binary too, with their exit status.
    e = error_of(rg_split({"block", "add", "198.51.100.0/33", "--json"}), 2);
    EXPECT_EQ(e["concerns"], (json{{"type", "argument"}, {"value", "198.51.100.0/33"}})) << e;

    // Success is unchanged, and without --json an error is text on stderr only.
    Split ok = rg_split({"block", "list", "--json"});
    EXPECT_EQ(ok.status, 0) << ok.err;
    EXPECT_EQ(json::parse(ok.out, nullptr, false).value("count", -1), 0) << ok.out;
    Split plain = rg_split({"feed", "show", "nosuch"});
    EXPECT_EQ(plain.status, 1);
    EXPECT_EQ(plain.out, "");
    EXPECT_NE(plain.err.find("relayguard: error: no feed named nosuch"), std::string::npos) << plain.err;
}

TEST_F(CliNetnsTest, SlashZeroNeedsForceAndIpv4MappedMatchesIpv4Traffic)
{
    attach();
    auto r = rg({"block", "add", "0.0.0.0/0"});
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("every IPv4"), std::string::npos) << r.output;
    EXPECT_EQ(rg_json({"block", "list", "--json"})["count"], 0);
    EXPECT_EQ(connect(kClean4, kServer4, 25), ConnectResult::connected);
    rg_ok({"block", "add", "0.0.0.0/0", "--force"});
    EXPECT_EQ(connect(kClean4, kServer4, 25, kBlockedTimeoutMs), ConnectResult::timed_out);
    rg_ok({"block", "del", "0.0.0.0/0"});

    // ::ffff:192.0.2.66 is the IPv4 source 192.0.2.66: blocked, then allowed.
    r = rg({"block", "add", "::ffff:" + kBad4});
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("IPv4-mapped"), std::string::npos) << r.output;
    auto list = rg_json({"block", "list", "--json"});
    ASSERT_EQ(list["count"], 1) << list.dump();
    EXPECT_EQ(list["entries"][0]["cidr"], kBad4 + "/32");
    EXPECT_EQ(connect(kBad4, kServer4, 25, kBlockedTimeoutMs), ConnectResult::timed_out);
    rg_ok({"allow", "add", "::ffff:" + kBad4});
    EXPECT_EQ(connect(kBad4, kServer4, 25), ConnectResult::connected);
    rg_ok({"allow", "del", kBad4});
    rg_ok({"block", "del", kBad4});

    // A feed's ::ffff: entries too.
    std::string path = dir_ + "/mapped.txt";
    std::ofstream(path) << "::ffff:" << kBad4 << "\n::ffff:0:0/96\n";
    r = rg({"feed", "add", "mapped", path});
    ASSERT_EQ(r.status, 0) << r.output;
    list = rg_json({"block", "list", "--all", "--json"});
    ASSERT_EQ(list["count"], 2) << list.dump();
    EXPECT_EQ(list["entries"][0]["cidr"], kBad4 + "/32") << list.dump();
    EXPECT_EQ(list["entries"][1]["cidr"], "::ffff:0.0.0.0/96") << list.dump();
    EXPECT_EQ(connect(kBad4, kServer4, 25, kBlockedTimeoutMs), ConnectResult::timed_out);
    EXPECT_EQ(connect(kClean4, kServer4, 25), ConnectResult::connected);

    // The built-in sources' names are not feed names.
    for (const char *name : {"manual", "Config"}) {
        r = rg({"feed", "add", name, path});
        EXPECT_EQ(r.status, 1) << r.output;
        EXPECT_NE(r.output.find("reserved"), std::string::npos) << r.output;
    }
    EXPECT_EQ(rg_json({"feed", "list", "--json"})["count"], 1);
}

} // namespace
