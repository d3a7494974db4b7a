// The ABI header as data: the reason table every JSON name comes from, the
// flag bits the aggregates are derived from, and the struct layouts the
// kernel side shares. The header asserts layouts at compile time; these
// tests repeat them at run time field by field, so a failure says which
// field moved rather than only "rg_iface layout".
#include "relayguard_abi.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <net/if.h>
#include <set>
#include <string>

namespace {

bool is_snake_case(const std::string &s)
{
    if (s.empty() || s.front() < 'a' || s.front() > 'z' || s.back() == '_')
        return false;
    for (size_t i = 0; i < s.size(); i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok || (c == '_' && s[i + 1] == '_'))
            return false;
    }
    return true;
}

bool has(uint32_t flags, uint32_t bit) { return (flags & bit) == bit; }

constexpr uint32_t kAllFlags = RG_RF_PROTECTED | RG_RF_DROP | RG_RF_MONITOR | RG_RF_EGRESS;

} // namespace

TEST(AbiReasons, RowIndexEqualsReason)
{
    for (uint32_t i = 0; i < RG_REASON_MAX; i++)
        EXPECT_EQ(rg_reason_info[i].reason, i) << "row " << i << " (" << rg_reason_info[i].name << ")";
}

TEST(AbiReasons, TableHasOneRowPerReason)
{
    EXPECT_EQ(sizeof(rg_reason_info) / sizeof(rg_reason_info[0]), size_t(RG_REASON_MAX));
    // A row left out of the initializer would be zero-filled: null name.
    for (uint32_t i = 0; i < RG_REASON_MAX; i++)
        EXPECT_NE(rg_reason_info[i].name, nullptr) << "row " << i;
}

TEST(AbiReasons, NamesAreUniqueNonEmptySnakeCase)
{
    std::set<std::string> seen;
    for (uint32_t i = 0; i < RG_REASON_MAX; i++) {
        ASSERT_NE(rg_reason_info[i].name, nullptr) << "row " << i;
        std::string name = rg_reason_info[i].name;
        EXPECT_FALSE(name.empty()) << "row " << i;
        EXPECT_TRUE(is_snake_case(name)) << "row " << i << ": \"" << name << "\"";
        EXPECT_TRUE(seen.insert(name).second) << "row " << i << ": duplicate name \"" << name << "\"";
    }
}

TEST(AbiReasons, SnakeCaseCheckerRejectsBadNames)
{
    // The checker above must be able to fail, or the test using it proves nothing.
    EXPECT_TRUE(is_snake_case("passed_not_ip"));
    EXPECT_FALSE(is_snake_case(""));
    EXPECT_FALSE(is_snake_case("Passed"));
    EXPECT_FALSE(is_snake_case("passed-clean"));
    EXPECT_FALSE(is_snake_case("passed__clean"));
    EXPECT_FALSE(is_snake_case("_passed"));
    EXPECT_FALSE(is_snake_case("passed_"));
    EXPECT_FALSE(is_snake_case("passed clean"));
}

TEST(AbiReasons, NumbersAreStable)
{
    // Append-only ABI: counters pinned by an older build are indexed by these
    // numbers, so renumbering silently moves counts between reasons.
    EXPECT_EQ(RG_PASS_NOT_IP, 0);
    EXPECT_EQ(RG_PASS_NOT_TCP, 1);
    EXPECT_EQ(RG_PASS_FRAGMENT, 2);
    EXPECT_EQ(RG_PASS_UNPROTECTED, 3);
    EXPECT_EQ(RG_PASS_CLEAN, 4);
    EXPECT_EQ(RG_PASS_ALLOWLIST, 5);
    EXPECT_EQ(RG_DROP_BLOCKLIST, 6);
    EXPECT_EQ(RG_WOULD_DROP_BLOCKLIST, 7);
    EXPECT_EQ(RG_PASS_MALFORMED, 8);
    EXPECT_EQ(RG_PASS_UNPARSED, 9);
    EXPECT_EQ(RG_DROP_RATELIMIT, 10);
    EXPECT_EQ(RG_WOULD_DROP_RATELIMIT, 11);
    EXPECT_EQ(RG_DROP_BANNED, 12);
    EXPECT_EQ(RG_WOULD_DROP_BANNED, 13);
    EXPECT_EQ(RG_DROP_EGRESS_CAPPED, 14);
    EXPECT_EQ(RG_WOULD_DROP_EGRESS_CAPPED, 15);
    EXPECT_GE(RG_REASON_MAX, 16);
}

TEST(AbiReasons, FitInStatsStride)
{
    EXPECT_LE(RG_REASON_MAX, RG_REASON_STRIDE);
    EXPECT_EQ(RG_STATS_ENTRIES, RG_MAX_IFACES * RG_REASON_STRIDE);
}

TEST(AbiFlags, FlagBitsAreDistinctSingleBits)
{
    for (uint32_t f : {RG_RF_PROTECTED, RG_RF_DROP, RG_RF_MONITOR, RG_RF_EGRESS}) {
        EXPECT_NE(f, 0u);
        EXPECT_EQ(f & (f - 1), 0u) << f << " is not a single bit";
    }
    EXPECT_EQ(RG_RF_EGRESS & (RG_RF_PROTECTED | RG_RF_DROP | RG_RF_MONITOR), 0u);
    EXPECT_EQ(RG_RF_PROTECTED & RG_RF_DROP, 0u);
    EXPECT_EQ(RG_RF_PROTECTED & RG_RF_MONITOR, 0u);
    EXPECT_EQ(RG_RF_DROP & RG_RF_MONITOR, 0u);
}

TEST(AbiFlags, NoUnknownBits)
{
    for (uint32_t i = 0; i < RG_REASON_MAX; i++)
        EXPECT_EQ(rg_reason_info[i].flags & ~kAllFlags, 0u) << rg_reason_info[i].name;
}

TEST(AbiFlags, OnlyBlocklistBanRateLimitAndEgressCapDrop)
{
    const std::set<uint32_t> drops = {RG_DROP_BLOCKLIST, RG_DROP_BANNED, RG_DROP_RATELIMIT, RG_DROP_EGRESS_CAPPED};
    for (uint32_t i = 0; i < RG_REASON_MAX; i++)
        EXPECT_EQ(has(rg_reason_info[i].flags, RG_RF_DROP), drops.count(i) == 1) << rg_reason_info[i].name;
}

TEST(AbiFlags, OnlyWouldDropsAreMonitor)
{
    const std::set<uint32_t> monitor = {RG_WOULD_DROP_BLOCKLIST, RG_WOULD_DROP_BANNED, RG_WOULD_DROP_RATELIMIT,
                                        RG_WOULD_DROP_EGRESS_CAPPED};
    for (uint32_t i = 0; i < RG_REASON_MAX; i++)
        EXPECT_EQ(has(rg_reason_info[i].flags, RG_RF_MONITOR), monitor.count(i) == 1) << rg_reason_info[i].name;
}

TEST(AbiFlags, DropAndMonitorAreExclusiveAndProtected)
{
    for (uint32_t i = 0; i < RG_REASON_MAX; i++) {
        uint32_t f = rg_reason_info[i].flags;
        const char *name = rg_reason_info[i].name;
        // A monitor verdict passes the packet: it must not count as dropped.
        EXPECT_FALSE(has(f, RG_RF_DROP) && has(f, RG_RF_MONITOR)) << name;
        // Only traffic to a protected port (egress: a watched port) is ever
        // dropped or would be.
        if (has(f, RG_RF_DROP) || has(f, RG_RF_MONITOR)) {
            EXPECT_TRUE(has(f, RG_RF_PROTECTED)) << name;
        }
    }
}

TEST(AbiFlags, ProtectedExactlyForTcpToProtectedPorts)
{
    // From the enum's comments: these are "protected port" verdicts;
    // everything else is decided before the port is known to be protected.
    const std::set<uint32_t> protected_reasons = {
        RG_PASS_CLEAN,     RG_PASS_ALLOWLIST,       RG_DROP_BLOCKLIST, RG_WOULD_DROP_BLOCKLIST,
        RG_DROP_RATELIMIT, RG_WOULD_DROP_RATELIMIT, RG_DROP_BANNED,    RG_WOULD_DROP_BANNED,
        RG_DROP_EGRESS_CAPPED, RG_WOULD_DROP_EGRESS_CAPPED};  // egress: SYNs to a watched port
    for (uint32_t i = 0; i < RG_REASON_MAX; i++)
        EXPECT_EQ(has(rg_reason_info[i].flags, RG_RF_PROTECTED), protected_reasons.count(i) == 1)
            << rg_reason_info[i].name;
}

TEST(AbiFlags, NamesAgreeWithVerdicts)
{
    for (uint32_t i = 0; i < RG_REASON_MAX; i++) {
        std::string name = rg_reason_info[i].name;
        uint32_t f = rg_reason_info[i].flags;
        // The egress drop is "egress_capped", as issue 19 names it.
        bool says_dropped = name.rfind("dropped_", 0) == 0 || name == "egress_capped";
        bool says_would = name.rfind("would_drop_", 0) == 0;
        EXPECT_EQ(says_dropped, has(f, RG_RF_DROP)) << name;
        EXPECT_EQ(says_would, has(f, RG_RF_MONITOR)) << name;
        if (!says_dropped && !says_would) {
            EXPECT_TRUE(name.rfind("passed_", 0) == 0 || name == "malformed") << name;
        }
    }
}

TEST(AbiNames, MapNamesFitAndAreDistinct)
{
    const std::string names[] = {RG_STR(RG_MAP_CONFIG), RG_STR(RG_MAP_TBL24), RG_STR(RG_MAP_PFX4),
                                 RG_STR(RG_MAP_PFX6),   RG_STR(RG_MAP_SLOTS6), RG_STR(RG_MAP_CLASSES), RG_STR(RG_MAP_STATS),
                                 RG_STR(RG_MAP_IFACES), RG_STR(RG_MAP_RATE),  RG_STR(RG_MAP_BANS4),
                                 RG_STR(RG_MAP_BANS6),  RG_STR(RG_MAP_ESC),   RG_STR(RG_MAP_FEEDS),
                                 RG_STR(RG_MAP_SRCSTATS), RG_STR(RG_MAP_LCACHE), RG_STR(RG_MAP_EVENTS),
                                 RG_STR(RG_MAP_EVSRC),  RG_STR(RG_MAP_EVSTATS), RG_STR(RG_MAP_EGCONFIG),
                                 RG_STR(RG_MAP_EGSTATE), RG_STR(RG_MAP_EGSTATS), RG_STR(RG_MAP_EGSRC),
                                 RG_STR(RG_MAP_EGDST),  RG_STR(RG_MAP_EGHLL)};
    std::set<std::string> seen;
    for (const std::string &n : names) {
        EXPECT_FALSE(n.empty());
        EXPECT_LE(n.size(), 15u) << n << " exceeds BPF_OBJ_NAME_LEN - 1";
        EXPECT_EQ(n.rfind("rg_", 0), 0u) << n;
        EXPECT_TRUE(is_snake_case(n)) << n;
        EXPECT_TRUE(seen.insert(n).second) << "duplicate map name " << n;
    }
    // RG_STR must expand the macro, not stringify its name.
    EXPECT_STREQ(RG_STR(RG_MAP_STATS), "rg_stats");
}

TEST(AbiSizes, Constants)
{
    EXPECT_EQ(RG_PORT_WORDS * 64, 65536);
    EXPECT_EQ(RG_IFNAMSIZ, IF_NAMESIZE);
    EXPECT_EQ(size_t(RG_MAX_SOURCES), 8 * sizeof(rg_class::block));
    EXPECT_LT(RG_SOURCE_MANUAL, RG_MAX_SOURCES);
    EXPECT_GT(RG_MAX_PORTS, 0);
    EXPECT_GE(RG_MAX_IFACES, 2);  // slot 0 is reserved
    EXPECT_EQ(RG_CFG_MONITOR & (RG_CFG_MONITOR - 1), 0u);
    EXPECT_EQ(RG_IFACE_USED & RG_IFACE_LEGACY, 0u);
}

// Offsets follow from the field types with no implicit padding anywhere:
// each field starts where the previous one ends, and the struct ends at the
// last field's end. That is what makes the layout the same for clang -target
// bpf and g++.
TEST(AbiSizes, RgConfig)
{
    EXPECT_EQ(offsetof(rg_config, abi_version), 0u);
    EXPECT_EQ(offsetof(rg_config, flags), sizeof(__u32));
    EXPECT_EQ(offsetof(rg_config, rate), 2 * sizeof(__u32));
    EXPECT_EQ(offsetof(rg_config, shadow_sources), 2 * sizeof(__u32) + sizeof(rg_rate_config));
    EXPECT_EQ(offsetof(rg_config, port_bitmap), 2 * sizeof(__u32) + sizeof(rg_rate_config) + sizeof(__u64));
    EXPECT_EQ(sizeof(rg_config::port_bitmap), size_t(RG_PORT_WORDS) * sizeof(__u64));
    size_t lists_gen = 2 * sizeof(__u32) + sizeof(rg_rate_config) + sizeof(__u64) + sizeof(rg_config::port_bitmap);
    EXPECT_EQ(offsetof(rg_config, lists_gen), lists_gen);
    EXPECT_EQ(offsetof(rg_config, events), lists_gen + sizeof(__u64));
    EXPECT_EQ(sizeof(rg_config), lists_gen + sizeof(__u64) + sizeof(rg_event_config));
}

TEST(AbiSizes, Events)
{
    EXPECT_EQ(offsetof(rg_event_config, interval_ns), 0u);
    EXPECT_EQ(offsetof(rg_event_config, per_second), 8u);
    EXPECT_EQ(sizeof(rg_event_config), 16u);
    EXPECT_EQ(offsetof(rg_event, time_ns), 0u);
    EXPECT_EQ(offsetof(rg_event, addr), 8u);
    EXPECT_EQ(offsetof(rg_event, family), 24u);
    EXPECT_EQ(offsetof(rg_event, kind), 25u);
    EXPECT_EQ(offsetof(rg_event, prefixlen), 26u);
    EXPECT_EQ(offsetof(rg_event, reason), 28u);
    EXPECT_EQ(offsetof(rg_event, sources), 32u);
    EXPECT_EQ(offsetof(rg_event, ifindex), 40u);
    EXPECT_EQ(offsetof(rg_event, dport), 44u);
    EXPECT_EQ(offsetof(rg_event, expires_ns), 48u);
    EXPECT_EQ(sizeof(rg_event), 56u);
    // A record in the ring is the event and an 8-byte header: 64 bytes.
    EXPECT_EQ(RG_EVENTS_BYTES / (sizeof(rg_event) + 8), 4096u);
    EXPECT_EQ(sizeof(rg_evsrc_set), 64u);
    EXPECT_EQ(sizeof(rg_evcap), sizeof(rg_evsrc_set));
    EXPECT_EQ(sizeof(rg_event_stats), 32u);
}

TEST(AbiSizes, SourceCounters)
{
    EXPECT_EQ(offsetof(rg_source_counter, dropped), 0u);
    EXPECT_EQ(offsetof(rg_source_counter, dropped_syn), 8u);
    EXPECT_EQ(offsetof(rg_source_counter, would_drop), 16u);
    EXPECT_EQ(offsetof(rg_source_counter, would_drop_syn), 24u);
    EXPECT_EQ(sizeof(rg_source_stats), RG_MAX_SOURCES * sizeof(rg_source_counter));
}

TEST(AbiSizes, RateAndBanValues)
{
    EXPECT_EQ(offsetof(rg_rate_config, interval_ns), 0u);
    EXPECT_EQ(offsetof(rg_rate_config, burst), 4 * sizeof(__u64));
    EXPECT_EQ(offsetof(rg_rate_config, esc_prefix6), sizeof(rg_rate_config) - 1);
    EXPECT_EQ(offsetof(rg_src_key, addr), 4u);
    EXPECT_EQ(sizeof(rg_src_key::addr), 16u);
    EXPECT_EQ(offsetof(rg_rate_entry, key), 3 * sizeof(__u64));
    EXPECT_EQ(offsetof(rg_rate_entry, over), 3 * sizeof(__u64) + sizeof(rg_src_key));
    EXPECT_EQ(sizeof(rg_rate_entry), 64u);
    EXPECT_EQ(offsetof(rg_rate_set, tat), size_t(RG_RATE_WAYS) * sizeof(__u64));
    EXPECT_EQ(offsetof(rg_rate_set, way), 2 * size_t(RG_RATE_WAYS) * sizeof(__u64));
    EXPECT_EQ(sizeof(rg_rate_set), offsetof(rg_rate_set, way) + size_t(RG_RATE_WAYS) * sizeof(rg_rate_entry));
    EXPECT_EQ(sizeof(rg_rate_header), sizeof(rg_rate_set));
    EXPECT_EQ(size_t(RG_RATE_MAX_ENTRIES), size_t(RG_RATE_SETS) * RG_RATE_WAYS);
    EXPECT_EQ(offsetof(rg_ban, reason), 3 * sizeof(__u64));
    EXPECT_EQ(offsetof(rg_ban, prefixlen), 3 * sizeof(__u64) + sizeof(__u32));
    EXPECT_EQ(sizeof(rg_ban_reason_name) / sizeof(rg_ban_reason_name[0]), size_t(RG_BAN_WATCH) + 1);
}

TEST(AbiSizes, LpmKeys)
{
    EXPECT_EQ(offsetof(rg_lpm4_key, prefixlen), 0u);
    EXPECT_EQ(offsetof(rg_lpm4_key, addr), sizeof(__u32));
    EXPECT_EQ(sizeof(rg_lpm4_key::addr), 4u);
    EXPECT_EQ(sizeof(rg_lpm4_key), sizeof(__u32) + 4);

    EXPECT_EQ(offsetof(rg_lpm6_key, prefixlen), 0u);
    EXPECT_EQ(offsetof(rg_lpm6_key, addr), sizeof(__u32));
    EXPECT_EQ(sizeof(rg_lpm6_key::addr), 16u);
    EXPECT_EQ(sizeof(rg_lpm6_key), sizeof(__u32) + 16);
}

TEST(AbiSizes, RuleAndCounter)
{
    EXPECT_EQ(sizeof(rg_class), 2 * sizeof(__u64));
    EXPECT_EQ(offsetof(rg_counter, packets), 0u);
    EXPECT_EQ(offsetof(rg_counter, bytes), sizeof(__u64));
    EXPECT_EQ(offsetof(rg_counter, syn), 2 * sizeof(__u64));
    EXPECT_EQ(sizeof(rg_counter), 3 * sizeof(__u64));
}

TEST(AbiSizes, RgIface)
{
    EXPECT_EQ(offsetof(rg_iface, flags), 0u);
    EXPECT_EQ(offsetof(rg_iface, ifindex), 4u);
    EXPECT_EQ(offsetof(rg_iface, prog_id), 8u);
    EXPECT_EQ(offsetof(rg_iface, attach_mode), 12u);
    EXPECT_EQ(offsetof(rg_iface, attached_at), 16u);
    EXPECT_EQ(offsetof(rg_iface, name), 16u + sizeof(__u64));
    EXPECT_EQ(sizeof(rg_iface::name), size_t(RG_IFNAMSIZ));
    // ABI 10: the egress program's attachment, after the name.
    const size_t egress = 16u + sizeof(__u64) + RG_IFNAMSIZ;
    EXPECT_EQ(offsetof(rg_iface, egress_prog_id), egress);
    EXPECT_EQ(offsetof(rg_iface, egress_mode), egress + 4);
    EXPECT_EQ(offsetof(rg_iface, egress_handle), egress + 8);
    EXPECT_EQ(offsetof(rg_iface, egress_prio), egress + 12);
    EXPECT_EQ(offsetof(rg_iface, egress_flags), egress + 14);
    EXPECT_EQ(offsetof(rg_iface, pad), egress + 15);
    EXPECT_EQ(sizeof(rg_iface), egress + 16);
}

TEST(AbiSizes, RgFeed)
{
    EXPECT_EQ(offsetof(rg_feed, flags), 0u);
    EXPECT_EQ(offsetof(rg_feed, max_shrink), 4u);
    EXPECT_EQ(offsetof(rg_feed, interval_ms), 8u);
    EXPECT_EQ(offsetof(rg_feed, min_prefix4), 16u);
    EXPECT_EQ(offsetof(rg_feed, min_prefix6), 17u);
    EXPECT_EQ(offsetof(rg_feed, last_result), 20u);
    EXPECT_EQ(offsetof(rg_feed, http_status), 24u);
    EXPECT_EQ(offsetof(rg_feed, added_at), 32u);
    EXPECT_EQ(offsetof(rg_feed, bytes), 32u + 9 * sizeof(__u64));
    EXPECT_EQ(offsetof(rg_feed, entries), 32u + 10 * sizeof(__u64));
    EXPECT_EQ(offsetof(rg_feed, cover4), 32u + 11 * sizeof(__u64));
    EXPECT_EQ(offsetof(rg_feed, cover6), 32u + 12 * sizeof(__u64));
    EXPECT_EQ(offsetof(rg_feed, pad3), 32u + 13 * sizeof(__u64));
    EXPECT_EQ(offsetof(rg_feed, content_hash), 32u + 14 * sizeof(__u64));
    EXPECT_EQ(sizeof(rg_feed::content_hash), size_t(RG_FEED_HASH_LEN));
    EXPECT_EQ(offsetof(rg_feed, name), offsetof(rg_feed, content_hash) + RG_FEED_HASH_LEN);
    EXPECT_EQ(offsetof(rg_feed, source), offsetof(rg_feed, name) + RG_FEED_NAME_LEN);
    EXPECT_EQ(offsetof(rg_feed, format), offsetof(rg_feed, source) + RG_FEED_SOURCE_LEN);
    EXPECT_EQ(offsetof(rg_feed, etag), offsetof(rg_feed, format) + RG_FEED_FORMAT_LEN);
    EXPECT_EQ(offsetof(rg_feed, last_modified), offsetof(rg_feed, etag) + RG_FEED_ETAG_LEN);
    EXPECT_EQ(offsetof(rg_feed, message), offsetof(rg_feed, last_modified) + RG_FEED_LASTMOD_LEN);
    EXPECT_EQ(sizeof(rg_feed), offsetof(rg_feed, message) + RG_FEED_MESSAGE_LEN);
}

TEST(AbiFeeds, ResultNamesAndSourceBits)
{
    EXPECT_EQ(sizeof(rg_feed_result_name) / sizeof(rg_feed_result_name[0]), size_t(RG_FEED_RESULT_MAX));
    std::set<std::string> seen;
    for (uint32_t i = 0; i < RG_FEED_RESULT_MAX; i++) {
        ASSERT_NE(rg_feed_result_name[i], nullptr) << i;
        EXPECT_TRUE(is_snake_case(rg_feed_result_name[i])) << rg_feed_result_name[i];
        EXPECT_TRUE(seen.insert(rg_feed_result_name[i]).second) << rg_feed_result_name[i];
    }
    EXPECT_EQ(RG_FEED_NEVER, 0);  // a zeroed registry entry reads "never"
    EXPECT_GT(RG_FIRST_FEED_SOURCE, RG_SOURCE_MANUAL);
    EXPECT_GT(RG_FIRST_FEED_SOURCE, RG_SOURCE_CONFIG);
    EXPECT_LT(RG_FIRST_FEED_SOURCE, RG_MAX_SOURCES);
    // Feed names of the config file (1..32 characters) fit with their NUL.
    EXPECT_GT(RG_FEED_NAME_LEN, 32);
}
