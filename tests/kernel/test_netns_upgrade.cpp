// Upgrades under load (issue 21): `relayguard upgrade` puts a new program in
// place of the running one while listed-source SYNs flood the interface.
// None may reach the receiver's TCP stack at any moment, the counters carry
// over, and a program with another map layout is refused, naming the map.
#include "attach.hpp"
#include "lab.hpp"
#include "netns_fixture.hpp"
#include "packet_builder.hpp"

#include <atomic>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <chrono>
#include <cstdio>
#include <gtest/gtest.h>
#include <thread>

namespace rg::test {
namespace {

using rg::test::PacketBuilder;

class UpgradeTest : public NetnsTest {
protected:
    UpgradeTest() { ns_prefix_ = "rgup"; }

    uint32_t prog_id() { return rg_json({"status", "--json"})["interfaces"][0]["prog_id"].get<uint32_t>(); }

    // The receiver's TCP stack: every segment that got past XDP counts here.
    uint64_t tcp_in() { return rg::lab::tcp_snmp(*server_, "InSegs"); }

    // Listed-source SYNs to port 25, sent as fast as the client namespace can
    // until stop(); sent() counts the frames handed to the veth.
    void start_flood()
    {
        auto mac = rg::lab::mac_address(*server_, iface_);
        char macs[18];
        std::snprintf(macs, sizeof(macs), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                      mac[5]);
        frames_.assign(256, PacketBuilder().eth(macs).ipv4(kBad4, kServer4).tcp(41000, 25)
                                .flags(rg::test::tcp_flags::SYN).build());
        sender_ = std::thread([this] {
            while (sending_)
                sent_ += rg::lab::send_frames(*client_, client_iface_, frames_);
        });
    }
    void stop_flood()
    {
        sending_ = false;
        if (sender_.joinable())
            sender_.join();
    }
    void TearDown() override
    {
        stop_flood();
        NetnsTest::TearDown();
    }

    // Frames the client's veth could not queue to its peer.
    uint64_t tx_dropped()
    {
        auto r = rg::lab::run({"ip", "-n", client_->name(), "-s", "-j", "link", "show", "dev", client_iface_});
        return nlohmann::json::parse(r.output)[0]["stats64"]["tx"]["dropped"].get<uint64_t>();
    }

    // Waits until the blocklist drop counter passes `over` (the flood is on).
    uint64_t await_drops_over(uint64_t over)
    {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        uint64_t n;
        while ((n = reason_count("dropped_blocklist", "syns")) <= over &&
               std::chrono::steady_clock::now() < deadline)
            std::this_thread::yield();
        return n;
    }

    std::vector<std::vector<uint8_t>> frames_;
    std::thread sender_;
    std::atomic<bool> sending_{true};
    std::atomic<size_t> sent_{0};
};

TEST_F(UpgradeTest, SwapUnderFloodLetsNoListedSynThroughAndKeepsCounters)
{
    attach();
    rg_ok({"block", "add", kBad4 + "/32"});
    uint32_t id = prog_id();
    uint64_t tcp_before = tcp_in();
    uint64_t dropped = reason_count("dropped_blocklist", "syns");

    start_flood();
    for (int round = 0; round < 3; round++) {
        // The flood is running: the counter moves before each swap.
        uint64_t now = await_drops_over(dropped);
        ASSERT_GT(now, dropped) << "the flood does not reach the filter";
        auto r = rg({"upgrade", iface_});
        ASSERT_EQ(r.status, 0) << r.output;
        uint32_t next = prog_id();
        EXPECT_NE(next, id) << "upgrade kept the old program";
        EXPECT_NE(r.output.find(std::to_string(id) + " -> " + std::to_string(next)), std::string::npos) << r.output;
        id = next;
        uint64_t after = reason_count("dropped_blocklist", "syns");
        EXPECT_GE(after, now) << "the counters went back after the swap";
        dropped = after;
    }
    uint64_t sent_during = sent_;
    stop_flood();

    EXPECT_GT(sent_during, 0u);
    // Every frame sent was dropped by one of the programs and counted, or
    // refused by the veth when its queue was full (tx_dropped): none is left
    // unaccounted for once the queue has drained.
    auto accounted = [&] { return reason_count("dropped_blocklist", "syns") + tx_dropped(); };
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (accounted() < sent_ && std::chrono::steady_clock::now() < deadline)
        std::this_thread::yield();
    EXPECT_EQ(accounted(), uint64_t(sent_));
    EXPECT_EQ(tcp_in(), tcp_before) << "listed-source SYNs reached the receiver's TCP stack during the swaps";
    EXPECT_EQ(reason_count("passed_clean", "syns"), 0u);
    // Still enforcing, with the last program.
    EXPECT_EQ(blocked_attempt(kBad4, kServer4, 25) > 0, true);
    EXPECT_EQ(connect(kClean4, kServer4, 25), ConnectResult::connected);
}

TEST_F(UpgradeTest, ProgramWithAnotherMapLayoutIsRefusedNamingTheMap)
{
    attach();
    rg_ok({"block", "add", kBad4 + "/32"});
    uint32_t id = prog_id();
    struct bpf_object *obj = bpf_object__open_file(XDP_ABI_CHANGED_OBJ, nullptr);
    ASSERT_EQ(libbpf_get_error(obj), 0) << XDP_ABI_CHANGED_OBJ;
    std::string error;
    server_->run([&] {
        try {
            rg::replace(fs_->pin_dir(), iface_, obj, "rgt_abi_changed");
        } catch (const std::exception &e) {
            error = e.what();
        }
    });
    bpf_object__close(obj);
    EXPECT_NE(error.find("rg_config"), std::string::npos) << error;
    EXPECT_NE(error.find("value size"), std::string::npos) << error;
    EXPECT_EQ(prog_id(), id) << "the refused program replaced the running one";
    EXPECT_GT(blocked_attempt(kBad4, kServer4, 25), 0u);
}

TEST_F(UpgradeTest, MapsOfAnotherAbiVersionAreRefused)
{
    attach();
    uint32_t id = prog_id();
    // Stamp the maps as made by the previous ABI version, as an older build would have.
    int fd = bpf_obj_get((fs_->pin_dir() + "/rg_config").c_str());
    ASSERT_GE(fd, 0);
    struct rg_config cfg {};
    uint32_t zero = 0;
    ASSERT_EQ(bpf_map_lookup_elem(fd, &zero, &cfg), 0);
    struct rg_config old = cfg;
    old.abi_version = RG_ABI_VERSION - 1;
    ASSERT_EQ(bpf_map_update_elem(fd, &zero, &old, BPF_ANY), 0);

    auto r = rg({"upgrade", iface_});
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find("ABI version " + std::to_string(RG_ABI_VERSION - 1)), std::string::npos) << r.output;
    EXPECT_EQ(bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY), 0);  // back, so that the teardown can detach
    close(fd);
    EXPECT_EQ(prog_id(), id);
}

TEST_F(UpgradeTest, NotAttachedInterfaceIsAnError)
{
    attach();
    auto r = rg({"upgrade", "rgupnosuch0"});
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find("rgupnosuch0"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("not attached"), std::string::npos) << r.output;
}

} // namespace
} // namespace rg::test
