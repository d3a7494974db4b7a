// The egress program with real traffic: relayguard attached with --egress in
// the "server" namespace, whose own TCP stack connects out through the veth
// to listeners in the "client" namespace (a mail host sending to MXs). The
// program sits on the server side's clsact egress.
#include "netns_fixture.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <string>

namespace {

using rg::lab::ConnectResult;
using namespace rg::test::netns_lab;

class EgressNetnsTest : public rg::test::NetnsTest {
protected:
    EgressNetnsTest() { ns_prefix_ = "rgeg"; }

    void SetUp() override
    {
        NetnsTest::SetUp();
        if (HasFatalFailure() || IsSkipped())
            return;
        mx_ = std::make_unique<rg::lab::SmtpSink>(*client_, std::vector<uint16_t>{25, 2525});
    }

    void TearDown() override
    {
        mx_.reset();
        NetnsTest::TearDown();
    }

    // The mail host (server namespace) connects out to an MX (client namespace).
    ConnectResult send_out(uint16_t port, int timeout_ms = kCleanTimeoutMs)
    {
        return rg::lab::connect_tcp(*server_, kServer4, kClean4, port, timeout_ms);
    }

    std::string tc(const std::vector<std::string> &what)
    {
        std::vector<std::string> argv{"tc", "-n", server_->name()};
        argv.insert(argv.end(), what.begin(), what.end());
        return rg::lab::run(argv).output;
    }

    nlohmann::json egress() { return rg_json({"egress", "show", "--json"}); }

    std::unique_ptr<rg::lab::SmtpSink> mx_;
};

TEST_F(EgressNetnsTest, WatchCountsOutboundSmtpBySenderAndDestination)
{
    attach({"--egress", "watch"});
    EXPECT_NE(tc({"filter", "show", "dev", iface_, "egress"}).find(" bpf "), std::string::npos)
        << tc({"filter", "show", "dev", iface_, "egress"});
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(send_out(25), ConnectResult::connected);
    ASSERT_EQ(send_out(2525), ConnectResult::connected);  // not a watched port
    EXPECT_EQ(mx_->accepted(25), 5u);

    nlohmann::json e = egress();
    EXPECT_EQ(e["syns"], 5u) << e.dump();
    EXPECT_EQ(e["capped"], 0u);
    EXPECT_EQ(e["would_cap"], 0u);
    EXPECT_EQ(e["interfaces"][iface_]["mode"], "watch");
    EXPECT_EQ(e["interfaces"][iface_]["attached"], true);
    ASSERT_EQ(e["sources"].size(), 1u) << e.dump();
    EXPECT_EQ(e["sources"][0]["source"], kServer4);
    EXPECT_EQ(e["sources"][0]["syns"], 5u);
    ASSERT_EQ(e["destinations"].size(), 1u);
    EXPECT_EQ(e["destinations"][0]["prefix"], "192.0.2.0/24");
    // One /24 this minute (or, if the minute turned meanwhile, split over two).
    EXPECT_EQ(e["distinct_destinations"]["current_minute"].get<int>() +
                  e["distinct_destinations"]["previous_minute"].get<int>(),
              e["distinct_destinations"]["previous_minute"] == 0 ? 1 : 2);

    nlohmann::json s = stats();
    EXPECT_EQ(s["egress"]["syns"], 5u);
    EXPECT_EQ(s["reasons"]["would_drop_egress_capped"]["packets"], 0u);
    nlohmann::json top = rg_json({"top", "--egress", "--json"});
    EXPECT_EQ(top["sources"][0]["source"], kServer4);
    EXPECT_EQ(top["destinations"][0]["prefix"], "192.0.2.0/24");
    std::string prom = rg({"stats", "--prometheus"}).output;
    EXPECT_NE(prom.find("relayguard_egress_syn_packets_total 5\n"), std::string::npos) << prom;
    EXPECT_NE(prom.find("relayguard_egress_sender_syn_packets_total{source=\"" + kServer4 + "\"} 5\n"),
              std::string::npos)
        << prom;

    // Inbound is the XDP program's, as before: the client connects in.
    EXPECT_EQ(connect(kClean4, kServer4, 25), ConnectResult::connected);
    EXPECT_EQ(egress()["syns"], 5u);
}

TEST_F(EgressNetnsTest, CapHoldsOutboundSynsAtTheBudget)
{
    attach({"--egress", "cap"});
    // 1 a minute with 3 back to back: no token comes back during the test.
    rg_ok({"egress", "set", "--budget", "1/m", "--burst", "3"});
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(send_out(25), ConnectResult::connected) << "connection " << i << " is within the burst";
    EXPECT_EQ(send_out(25, kBlockedTimeoutMs), ConnectResult::timed_out);
    EXPECT_EQ(send_out(25, kBlockedTimeoutMs), ConnectResult::timed_out);
    // Other ports are not capped.
    EXPECT_EQ(send_out(2525), ConnectResult::connected);
    EXPECT_EQ(mx_->accepted(25), 3u);

    nlohmann::json e = egress();
    uint64_t syns = e["syns"], capped = e["capped"];
    EXPECT_GE(capped, 2u) << e.dump();         // each refused attempt, with any retransmission
    EXPECT_EQ(syns - capped, 3u) << e.dump();  // exactly the burst got out
    EXPECT_EQ(e["would_cap"], 0u);
    EXPECT_EQ(reason_count("egress_capped"), capped);
    EXPECT_EQ(reason_count("egress_capped", "syns"), capped);

    // Budget off: nothing is over it, the next connection goes out.
    rg_ok({"egress", "set", "--budget", "off"});
    EXPECT_EQ(send_out(25), ConnectResult::connected);
    // The handshake is done on the client's side before the sink's accept
    // returns and counts it: look until it has, for at most 2 s.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (mx_->accepted(25) < 4 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(mx_->accepted(25), 4u);
}

TEST_F(EgressNetnsTest, WatchModeCountsWouldCapAndDropsNothing)
{
    attach({"--egress", "watch"});
    rg_ok({"egress", "set", "--budget", "1/m", "--burst", "2"});
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(send_out(25), ConnectResult::connected);
    nlohmann::json e = egress();
    EXPECT_EQ(e["syns"], 4u);
    EXPECT_EQ(e["would_cap"], 2u);
    EXPECT_EQ(e["capped"], 0u);
    EXPECT_EQ(reason_count("would_drop_egress_capped"), 2u);
}

TEST_F(EgressNetnsTest, DetachRemovesTheProgramAndTheClsactItMade)
{
    attach({"--egress", "watch"});
    ASSERT_NE(tc({"qdisc", "show", "dev", iface_}).find("clsact"), std::string::npos);
    rg_ok({"detach", iface_});
    attached_ = false;
    EXPECT_EQ(tc({"filter", "show", "dev", iface_, "egress"}), "");
    EXPECT_EQ(tc({"qdisc", "show", "dev", iface_}).find("clsact"), std::string::npos)
        << tc({"qdisc", "show", "dev", iface_});
}

TEST_F(EgressNetnsTest, CoexistsWithAnotherTcFilterAndLeavesItsClsact)
{
    // Someone else's clsact and egress filter, there before relayguard: a u32
    // classifier (this kernel has neither matchall nor TC actions) for a
    // destination the test never sends to, so classification goes on to ours.
    rg::lab::run({"tc", "-n", server_->name(), "qdisc", "add", "dev", iface_, "clsact"});
    auto added = rg::lab::run({"tc", "-n", server_->name(), "filter", "add", "dev", iface_, "egress", "prio", "100",
                               "protocol", "ip", "u32", "match", "ip", "dst", "203.0.113.99/32", "classid", "1:1"});
    ASSERT_EQ(added.status, 0) << added.output;
    attach({"--egress", "watch"});
    ASSERT_EQ(send_out(25), ConnectResult::connected);
    EXPECT_EQ(egress()["syns"], 1u);
    std::string filters = tc({"filter", "show", "dev", iface_, "egress"});
    EXPECT_NE(filters.find(" u32 "), std::string::npos) << filters;
    EXPECT_NE(filters.find(" bpf "), std::string::npos) << filters;

    rg_ok({"detach", iface_});
    attached_ = false;
    filters = tc({"filter", "show", "dev", iface_, "egress"});
    EXPECT_NE(filters.find(" u32 "), std::string::npos) << filters;
    EXPECT_EQ(filters.find(" bpf "), std::string::npos) << filters;
    EXPECT_NE(tc({"qdisc", "show", "dev", iface_}).find("clsact"), std::string::npos);
}

TEST_F(EgressNetnsTest, UpgradeReplacesTheEgressProgramKeepingModeCountersAndBudget)
{
    attach({"--egress", "cap"});
    rg_ok({"egress", "set", "--budget", "1/m", "--burst", "3"});
    for (int i = 0; i < 2; i++)
        ASSERT_EQ(send_out(25), ConnectResult::connected);
    uint32_t old_id = egress()["interfaces"][iface_]["prog_id"];

    auto r = rg({"upgrade", iface_});
    ASSERT_EQ(r.status, 0) << r.output;
    nlohmann::json e = egress();
    uint32_t new_id = e["interfaces"][iface_]["prog_id"];
    EXPECT_NE(new_id, old_id) << "the egress program was not replaced";
    EXPECT_NE(r.output.find("egress program id " + std::to_string(old_id) + " -> " + std::to_string(new_id)),
              std::string::npos)
        << r.output;
    EXPECT_EQ(e["interfaces"][iface_]["attached"], true) << e.dump();
    EXPECT_EQ(e["interfaces"][iface_]["mode"], "cap");
    EXPECT_EQ(e["syns"], 2u) << "the counters went back";
    // One filter on the hook, the new program: replaced, not added.
    std::string filters = tc({"filter", "show", "dev", iface_, "egress"});
    EXPECT_EQ(filters.find("direct-action"), filters.rfind("direct-action")) << filters;
    EXPECT_NE(filters.find(" id " + std::to_string(new_id) + " "), std::string::npos) << filters;

    // The bucket carried over: one token of the burst is left, then the cap.
    EXPECT_EQ(send_out(25), ConnectResult::connected);
    EXPECT_EQ(send_out(25, kBlockedTimeoutMs), ConnectResult::timed_out);
    EXPECT_EQ(mx_->accepted(25), 3u);
    EXPECT_GE(egress()["capped"], 1u);
}

} // namespace
