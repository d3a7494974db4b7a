// The pinned-map contract: creation, reuse, refusal of incompatible or
// incomplete pin directories, rule bookkeeping and counter lifetime.
#include "error.hpp"
#include "feed_registry.hpp"
#include "lists.hpp"
#include "maps.hpp"
#include "privileged.hpp"

#include <gtest/gtest.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cstring>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace {

class MapsTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        RG_REQUIRE_PRIVILEGED();
        fs_ = std::make_unique<rg::test::PrivateBpffs>();
        ASSERT_EQ(mkdir(fs_->pin_dir().c_str(), 0700), 0);
    }
    std::string pin(const char *name) const { return fs_->pin_dir() + "/" + name; }
    rg::StateDir state() const { return rg::StateDir(rg::default_state_dir(fs_->pin_dir())); }
    std::unique_ptr<rg::test::PrivateBpffs> fs_;
};

rg::PrefixSet set(const std::vector<std::string> &cidrs)
{
    std::vector<rg::Cidr> c;
    for (const std::string &t : cidrs)
        c.push_back(rg::parse_cidr(t).cidr);
    return rg::to_prefix_set(c);
}

TEST_F(MapsTest, OpenWithoutPinsSaysNotAttached)
{
    EXPECT_THROW(rg::Maps::open(fs_->pin_dir()), rg::NotAttached);
}

TEST_F(MapsTest, CreateMakesEveryMapWithDefaultsAndReopenReusesThem)
{
    bool created = false;
    {
        rg::Maps m = rg::Maps::open_or_create(fs_->pin_dir(), &created);
        EXPECT_TRUE(created);
        EXPECT_EQ(m.ports(), std::vector<uint16_t>{25});
        EXPECT_FALSE(m.monitor());
        EXPECT_EQ(m.config().abi_version, uint32_t(RG_ABI_VERSION));
        rg::Lists lists(m, state());
        lists.replace(rg::ListKind::block, RG_SOURCE_MANUAL, set({"192.0.2.0/24"}));
    }
    for (const char *name : {RG_STR(RG_MAP_CONFIG), RG_STR(RG_MAP_TBL24), RG_STR(RG_MAP_PFX4),
                             RG_STR(RG_MAP_PFX6), RG_STR(RG_MAP_SLOTS6), RG_STR(RG_MAP_CLASSES), RG_STR(RG_MAP_STATS),
                             RG_STR(RG_MAP_IFACES), RG_STR(RG_MAP_FEEDS)})
        EXPECT_TRUE(std::filesystem::exists(pin(name))) << name;
    rg::Maps again = rg::Maps::open_or_create(fs_->pin_dir(), &created);
    EXPECT_FALSE(created);
    rg::Lists lists(again, state());
    EXPECT_EQ(lists.source_list(rg::ListKind::block, RG_SOURCE_MANUAL), set({"192.0.2.0/24"}));
}

TEST_F(MapsTest, IncompatiblePinnedMapIsRefusedByName)
{
    { rg::Maps::open_or_create(fs_->pin_dir()); }
    // Replace the IPv4 prefix table with a map of another value size, as an
    // incompatible build would have pinned it.
    ASSERT_EQ(unlink(pin(RG_STR(RG_MAP_PFX4)).c_str()), 0);
    LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
    int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "rg_pfx4", sizeof(__u32), 16, RG_PFX4_BUCKETS, &opts);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(bpf_obj_pin(fd, pin(RG_STR(RG_MAP_PFX4)).c_str()), 0);
    close(fd);
    try {
        rg::Maps::open(fs_->pin_dir());
        FAIL() << "an incompatible map was accepted";
    } catch (const rg::Error &e) {
        std::string msg = e.what();
        EXPECT_NE(msg.find("rg_pfx4"), std::string::npos) << msg;
        EXPECT_NE(msg.find("value size 16"), std::string::npos) << msg;
        EXPECT_NE(msg.find("incompatible"), std::string::npos) << msg;
    }
}

TEST_F(MapsTest, OtherAbiVersionIsRefused)
{
    {
        rg::Maps m = rg::Maps::open_or_create(fs_->pin_dir());
        rg_config cfg = m.config();
        cfg.abi_version = RG_ABI_VERSION + 1;
        uint32_t zero = 0;
        ASSERT_EQ(bpf_map_update_elem(m.fd(RG_STR(RG_MAP_CONFIG)), &zero, &cfg, BPF_ANY), 0);
    }
    try {
        rg::Maps::open(fs_->pin_dir());
        FAIL() << "maps from another ABI version were accepted";
    } catch (const rg::Error &e) {
        EXPECT_NE(std::string(e.what()).find("ABI version " + std::to_string(RG_ABI_VERSION + 1)),
                  std::string::npos)
            << e.what();
    }
}

TEST_F(MapsTest, IncompletePinDirectoryIsRefused)
{
    { rg::Maps::open_or_create(fs_->pin_dir()); }
    ASSERT_EQ(unlink(pin(RG_STR(RG_MAP_STATS)).c_str()), 0);
    try {
        rg::Maps::open_or_create(fs_->pin_dir());
        FAIL() << "an incomplete set was accepted";
    } catch (const rg::Error &e) {
        EXPECT_NE(std::string(e.what()).find("rg_stats"), std::string::npos) << e.what();
    }
}

// Sources that list the same prefix share one entry; each keeps its own
// list, and the two lists are independent.
TEST_F(MapsTest, SourcesShareEntriesAndListsAreIndependent)
{
    rg::Maps m = rg::Maps::open_or_create(fs_->pin_dir());
    rg::Lists lists(m, state());
    const rg::PrefixSet p = set({"2001:db8::/32"});
    EXPECT_EQ(lists.replace(rg::ListKind::block, RG_SOURCE_MANUAL, p).added, 1u);
    EXPECT_EQ(lists.replace(rg::ListKind::block, RG_SOURCE_MANUAL, p).added, 0u) << "the same list again changed something";
    lists.replace(rg::ListKind::block, 3, p);
    EXPECT_EQ(lists.size(rg::ListKind::block).v6, 1u) << "one entry for both sources";
    EXPECT_EQ(lists.sources_listed().block, (1ull << RG_SOURCE_MANUAL) | (1ull << 3));
    // Removing one source keeps the entry for the other.
    lists.replace(rg::ListKind::block, RG_SOURCE_MANUAL, {});
    EXPECT_EQ(lists.source_list(rg::ListKind::block, 3), p);
    EXPECT_EQ(lists.size(rg::ListKind::block).v6, 1u);
    lists.replace(rg::ListKind::block, 3, {});
    EXPECT_EQ(lists.size(rg::ListKind::block).v6, 0u);
    // The allowlist is its own.
    lists.replace(rg::ListKind::allow, RG_SOURCE_MANUAL, set({"192.0.2.0/24", "198.51.100.0/24"}));
    EXPECT_EQ(lists.source_list(rg::ListKind::allow, RG_SOURCE_MANUAL), set({"192.0.2.0/24", "198.51.100.0/24"}));
    EXPECT_EQ(lists.size(rg::ListKind::block).v4, 0u);
}

TEST_F(MapsTest, ReleasingASlotKeepsTotalsMonotonic)
{
    rg::Maps m = rg::Maps::open_or_create(fs_->pin_dir());
    rg_iface entry{};
    entry.flags = RG_IFACE_USED;
    entry.ifindex = 1;
    std::strncpy(entry.name, "lo", sizeof(entry.name));
    uint32_t slot = m.free_slot();
    m.put_iface(slot, entry);
    // Count packets in the slot as the program would.
    int ncpus = libbpf_num_possible_cpus();
    std::vector<rg_counter> vals(static_cast<size_t>(ncpus));
    vals[0].packets = 5;
    vals[0].bytes = 300;
    uint32_t key = slot * RG_REASON_STRIDE + RG_DROP_BLOCKLIST;
    ASSERT_EQ(bpf_map_update_elem(m.fd(RG_STR(RG_MAP_STATS)), &key, vals.data(), BPF_ANY), 0);
    EXPECT_EQ(m.stats().total[RG_DROP_BLOCKLIST].packets, 5u);
    EXPECT_EQ(m.stats().slots.at(slot)[RG_DROP_BLOCKLIST].packets, 5u);

    m.release_iface(slot);
    rg::StatsSnapshot after = m.stats();
    EXPECT_EQ(after.total[RG_DROP_BLOCKLIST].packets, 5u);
    EXPECT_EQ(after.total[RG_DROP_BLOCKLIST].bytes, 300u);
    EXPECT_TRUE(after.slots.empty());
    // A new interface in the same slot starts from zero.
    EXPECT_EQ(m.free_slot(), slot);
    m.put_iface(slot, entry);
    EXPECT_EQ(m.stats().slots.at(slot)[RG_DROP_BLOCKLIST].packets, 0u);
}

TEST_F(MapsTest, RemovePinsLeavesNothing)
{
    rg::Maps m = rg::Maps::open_or_create(fs_->pin_dir());
    m.remove_pins();
    EXPECT_FALSE(std::filesystem::exists(fs_->pin_dir()));
}

} // namespace

TEST_F(MapsTest, FeedRegistryRoundTripsDefinitions)
{
    rg::Maps m = rg::Maps::open_or_create(fs_->pin_dir());
    EXPECT_TRUE(rg::list_feeds(m).empty());
    rg::FeedDef def;
    def.name = "example-drop";
    def.source = "https://lists.example.net/drop.txt";
    def.format = "spamhaus";
    def.interval = std::chrono::minutes(90);
    def.shadow = true;
    def.max_shrink = 20;
    def.min_prefix4 = 12;
    def.min_prefix6 = 24;
    rg::validate_feed_def(def);
    rg::Feed f{RG_FIRST_FEED_SOURCE + 3, rg::feed_to_kernel(def)};
    rg::put_feed(m, f);

    rg::Maps again = rg::Maps::open(fs_->pin_dir());
    auto feeds = rg::list_feeds(again);
    ASSERT_EQ(feeds.size(), 1u);
    EXPECT_EQ(feeds[0].bit, RG_FIRST_FEED_SOURCE + 3u);
    EXPECT_EQ(feeds[0].def(), def);
    EXPECT_STREQ(feeds[0].result_name(), "never");
    ASSERT_TRUE(rg::find_feed(again, "example-drop"));
    EXPECT_FALSE(rg::find_feed(again, "example"));
    EXPECT_EQ(rg::source_name(feeds, RG_FIRST_FEED_SOURCE + 3), "example-drop");
    EXPECT_EQ(rg::source_name(feeds, RG_SOURCE_MANUAL), "manual");
    EXPECT_EQ(rg::source_name(feeds, 40), "source40");
}
