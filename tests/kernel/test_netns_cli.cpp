// The relayguard binary's errors under --json, end to end: with --json an
// error is a JSON object on stdout ({"error": {...}}, docs/json-schema.md)
// and the plain message still goes to stderr; the exit status is as without
// --json. Usage errors are covered without privileges in test_cli.cpp.
#include "lab.hpp"
#include "netns_fixture.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unistd.h>

using nlohmann::json;

namespace {

using rg::test::NetnsTest;

struct Split {
    int status = -1;
    std::string out, err;
};

class CliErrorTest : public NetnsTest {
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

TEST_F(CliErrorTest, ErrorsUnderJsonAreJsonObjects)
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

} // namespace
