// The integration-test lab: the relayguard binary attached to a veth pair
// between two network namespaces, a real TCP listener behind it, clients in
// the other namespace.
//
// Each test builds its own lab (namespaces named rgtS<pid>/rgtC<pid>, or
// another prefix set in ns_prefix_, after $RELAYGUARD_TEST_NETNS_PREFIX when
// that is set; a private bpffs for relayguard's pins and libxdp's dispatcher
// state) and tears it down in destructors, so nothing survives a failing test.
// RELAYGUARD_BIN is defined by the test target.
#pragma once

#include "lab.hpp"
#include "privileged.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace rg::test {

namespace netns_lab {

using nlohmann::json;
using rg::lab::ConnectResult;

constexpr int kBlockedTimeoutMs = 1500;  // a dropped SYN is never answered
constexpr int kCleanTimeoutMs = 5000;

const std::string kServer4 = "192.0.2.1", kClean4 = "192.0.2.10", kBad4 = "192.0.2.66",
                  kBadNeighbour4 = "192.0.2.67";
const std::string kServer6 = "2001:db8:25::1", kClean6 = "2001:db8:25::10", kBad6 = "2001:db8:25::66";

} // namespace netns_lab

using namespace netns_lab;

class NetnsTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        RG_REQUIRE_PRIVILEGED();
        // Set: put before every name, to tell one run's namespaces from another's.
        if (const char *outer = getenv("RELAYGUARD_TEST_NETNS_PREFIX"))
            ns_prefix_ = outer + ns_prefix_;
        rg::lab::cleanup_stale(ns_prefix_ + "S");
        rg::lab::cleanup_stale(ns_prefix_ + "C");
        const std::string pid = std::to_string(getpid());
        fs_ = std::make_unique<rg::test::PrivateBpffs>();
        server_ = std::make_unique<rg::lab::Netns>(ns_prefix_ + "S" + pid);
        client_ = std::make_unique<rg::lab::Netns>(ns_prefix_ + "C" + pid);
        iface_ = (ns_prefix_ + "S" + pid).substr(0, 15);
        client_iface_ = (ns_prefix_ + "C" + pid).substr(0, 15);
        rg::lab::make_veth(*server_, iface_, {kServer4 + "/24", kServer6 + "/64"}, *client_,
                           client_iface_,
                           {kClean4 + "/24", kBad4 + "/24", kBadNeighbour4 + "/24", kClean6 + "/64",
                            kBad6 + "/64"});
        sink_ = std::make_unique<rg::lab::SmtpSink>(*server_, std::vector<uint16_t>{25, 2525, 587});
    }

    void TearDown() override
    {
        if (attached_)
            rg({"detach", iface_});
        // Reverse order of creation: listener threads, namespaces, bpffs.
        sink_.reset();
        client_.reset();
        server_.reset();
        fs_.reset();
    }

    // Runs the relayguard binary inside the server namespace.
    rg::lab::CmdResult rg(std::vector<std::string> args)
    {
        args.insert(args.begin(), global_args_.begin(), global_args_.end());
        args.insert(args.begin(), {RELAYGUARD_BIN, "--pin-dir", fs_->pin_dir()});
        return server_->exec(args, {"LIBXDP_BPFFS=" + fs_->root()});
    }

    void rg_ok(const std::vector<std::string> &args)
    {
        auto r = rg(args);
        ASSERT_EQ(r.status, 0) << r.output;
    }

    void attach(std::vector<std::string> extra = {})
    {
        std::vector<std::string> args{"attach", iface_};
        args.insert(args.end(), extra.begin(), extra.end());
        auto r = rg(args);
        ASSERT_EQ(r.status, 0) << r.output;
        attached_ = true;
    }

    nlohmann::json rg_json(const std::vector<std::string> &args)
    {
        auto r = rg(args);
        EXPECT_EQ(r.status, 0) << r.output;
        return nlohmann::json::parse(r.output);
    }

    // The counters document (docs/json-schema.md, schema 2).
    nlohmann::json stats() { return rg_json({"stats", "--json"}); }
    // A verdict reason's count over all interfaces: "packets", "bytes" or "syns".
    uint64_t reason_count(const std::string &reason, const std::string &count = "packets")
    {
        nlohmann::json j = stats();
        EXPECT_TRUE(j["reasons"].contains(reason)) << j.dump();
        return j["reasons"][reason].value(count, uint64_t(0));
    }

    ConnectResult connect(const std::string &src, const std::string &dst, uint16_t port,
                          int timeout_ms = kCleanTimeoutMs)
    {
        std::string greeting;
        auto r = rg::lab::connect_tcp(*client_, src, dst, port, timeout_ms, &greeting);
        if (r == ConnectResult::connected) {
            EXPECT_EQ(greeting.rfind("220 ", 0), 0u) << "no SMTP greeting: " << greeting;
        }
        return r;
    }

    // A connection attempt that relayguard should drop; returns the SYNs the
    // client's TCP stack sent for it (first SYN plus retransmissions).
    uint64_t blocked_attempt(const std::string &src, const std::string &dst, uint16_t port)
    {
        uint64_t before = syns_sent();
        EXPECT_EQ(connect(src, dst, port, kBlockedTimeoutMs), ConnectResult::timed_out)
            << src << " -> " << dst << ":" << port << " should have been dropped";
        return syns_sent() - before;
    }

    uint64_t syns_sent()
    {
        // A SYN counts in OutSegs when first sent and in RetransSegs when
        // repeated; the client namespace has no other TCP traffic meanwhile.
        return rg::lab::tcp_snmp(*client_, "OutSegs") + rg::lab::tcp_snmp(*client_, "RetransSegs");
    }

    std::string xdp_on_iface()
    {
        return rg::lab::run({"ip", "-n", server_->name(), "-d", "link", "show", "dev", iface_}).output;
    }

    std::unique_ptr<rg::test::PrivateBpffs> fs_;
    std::unique_ptr<rg::lab::Netns> server_, client_;
    std::unique_ptr<rg::lab::SmtpSink> sink_;
    std::string iface_;         // server side: relayguard attaches here
    std::string client_iface_;  // client side of the veth pair
    bool attached_ = false;
    std::vector<std::string> global_args_;  // after --pin-dir (e.g. --state-dir)
    // Namespaces are ns_prefix_ + "S"/"C" + pid; a derived fixture may set
    // its own in its constructor (e.g. to tell its leftovers apart).
    std::string ns_prefix_ = "rgt";
};


} // namespace rg::test
