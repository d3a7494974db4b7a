// Privileges (issue 21, security): the pin directory and the state files are
// the owner's alone, and an unprivileged user's command fails with an error
// naming the capabilities it lacks, changing nothing.
#include "netns_fixture.hpp"
#include "state_dir.hpp"

#include <filesystem>
#include <gtest/gtest.h>
#include <sys/stat.h>

namespace rg::test {
namespace {

namespace fs = std::filesystem;

class PrivilegesTest : public NetnsTest {
protected:
    PrivilegesTest() { ns_prefix_ = "rgup"; }

    // The relayguard binary as user nobody, without capabilities.
    rg::lab::CmdResult rg_nobody(const std::vector<std::string> &args)
    {
        std::vector<std::string> argv{"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                      RELAYGUARD_BIN, "--pin-dir", fs_->pin_dir()};
        argv.insert(argv.end(), args.begin(), args.end());
        return server_->exec(argv, {"LIBXDP_BPFFS=" + fs_->root()});
    }

    static unsigned mode_of(const std::string &path)
    {
        struct stat st {};
        EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
        return st.st_mode & 07777;
    }
};

TEST_F(PrivilegesTest, PinAndStateAreTheOwnersAlone)
{
    attach();
    rg_ok({"block", "add", "198.51.100.0/24"});
    EXPECT_EQ(mode_of(fs_->pin_dir()), 0700u);
    size_t pins = 0;
    for (const auto &e : fs::directory_iterator(fs_->pin_dir())) {
        EXPECT_EQ(mode_of(e.path()), 0600u) << e.path();
        pins++;
    }
    EXPECT_GT(pins, 0u);
    std::string state = rg::default_state_dir(fs_->pin_dir());
    EXPECT_EQ(mode_of(state), 0700u);
    size_t files = 0;
    for (const auto &e : fs::recursive_directory_iterator(state)) {
        EXPECT_EQ(mode_of(e.path()), e.is_directory() ? 0700u : 0600u) << e.path();
        files += e.is_regular_file();
    }
    EXPECT_GT(files, 0u) << "block add wrote no state file";
}

TEST_F(PrivilegesTest, UnprivilegedCommandsNameTheMissingCapabilities)
{
    attach();
    rg_ok({"block", "add", "198.51.100.0/24"});
    for (const std::vector<std::string> &args :
         std::vector<std::vector<std::string>>{{"status"},
                                               {"stats"},
                                               {"block", "list"},
                                               {"block", "add", "203.0.113.0/24"},
                                               {"allow", "add", "198.51.100.7"},
                                               {"attach", iface_},
                                               {"detach", iface_},
                                               {"upgrade", iface_},
                                               {"bans", "list"},
                                               {"feed", "list"}}) {
        auto r = rg_nobody(args);
        EXPECT_EQ(r.status, 1) << args[0] << ": " << r.output;
        EXPECT_NE(r.output.find("lacks CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN"), std::string::npos)
            << args[0] << ": " << r.output;
    }
    // Nothing changed: still attached, the same lists.
    auto st = rg_json({"status", "--json"});
    EXPECT_EQ(st["interfaces"][0]["attached"], true) << st.dump();
    EXPECT_EQ(st["blocklist"]["total"], 1) << st.dump();
    EXPECT_EQ(st["allowlist"]["total"], 0) << st.dump();
}

} // namespace
} // namespace rg::test
