// rg::counters_json / counters_text: the "counters" object of `stats --json`
// is a stable schema, so every key and every aggregate is checked here.
//
// Inputs give each reason its own bit in packets, bytes and syn, so any sum
// shows exactly which reasons went into it. Expected aggregates come from
// the verdict semantics written out below, not from the flags the
// implementation reads, so a wrong flag in the table is caught too.
#include "stats.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>

using nlohmann::json;

namespace {

constexpr unsigned kBytesShift = 20;
constexpr unsigned kSynShift = 40;

rg::ReasonCounters distinct_counters()
{
    static_assert(RG_REASON_MAX + kSynShift < 64 && RG_REASON_MAX <= kBytesShift, "bits overlap");
    rg::ReasonCounters c{};
    for (uint32_t r = 0; r < RG_REASON_MAX; r++) {
        c[r].packets = 1ull << r;
        c[r].bytes = 1ull << (r + kBytesShift);
        c[r].syn = 1ull << (r + kSynShift);
    }
    return c;
}

// The verdict groups as the enum documents them.
const std::set<uint32_t> kDropped = {RG_DROP_BLOCKLIST, RG_DROP_RATELIMIT, RG_DROP_BANNED};
const std::set<uint32_t> kWouldDrop = {RG_WOULD_DROP_BLOCKLIST, RG_WOULD_DROP_RATELIMIT, RG_WOULD_DROP_BANNED};
const std::set<uint32_t> kProtected = {RG_PASS_CLEAN,     RG_PASS_ALLOWLIST,       RG_DROP_BLOCKLIST,
                                       RG_WOULD_DROP_BLOCKLIST, RG_DROP_RATELIMIT, RG_WOULD_DROP_RATELIMIT,
                                       RG_DROP_BANNED,    RG_WOULD_DROP_BANNED};

std::set<uint32_t> all_reasons()
{
    std::set<uint32_t> s;
    for (uint32_t r = 0; r < RG_REASON_MAX; r++)
        s.insert(r);
    return s;
}

std::set<uint32_t> passed_reasons()
{
    std::set<uint32_t> s = all_reasons();
    for (uint32_t r : kDropped)
        s.erase(r);
    return s;
}

struct Sum {
    uint64_t packets = 0, bytes = 0, syn = 0;
};

Sum sum_over(const rg::ReasonCounters &c, const std::set<uint32_t> &reasons)
{
    Sum s;
    for (uint32_t r : reasons) {
        s.packets += c[r].packets;
        s.bytes += c[r].bytes;
        s.syn += c[r].syn;
    }
    return s;
}

const std::set<std::string> kAggregateKeys = {"packets", "bytes", "protected", "protected_bytes",
                                              "syn", "passed", "passed_bytes", "dropped",
                                              "dropped_bytes", "would_drop", "would_drop_bytes"};

// The schema's key set, checked in (tests/golden/counters-keys.txt), not
// derived from the reason table the code reads.
std::set<std::string> expected_keys()
{
    std::ifstream in(RG_GOLDEN_DIR "/counters-keys.txt");
    EXPECT_TRUE(in.good()) << "cannot read " RG_GOLDEN_DIR "/counters-keys.txt";
    std::set<std::string> keys;
    for (std::string line; std::getline(in, line);)
        if (!line.empty() && line[0] != '#')
            keys.insert(line);
    return keys;
}

uint64_t u64(const json &j, const std::string &key)
{
    EXPECT_TRUE(j.contains(key)) << "missing key " << key;
    if (!j.contains(key))
        return ~0ull;
    EXPECT_TRUE(j.at(key).is_number_unsigned()) << key << " is " << j.at(key).type_name();
    return j.at(key).get<uint64_t>();
}

} // namespace

TEST(CountersJson, IsAnObjectOfUnsignedIntegers)
{
    json j = rg::counters_json(distinct_counters());
    ASSERT_TRUE(j.is_object());
    for (auto &[key, value] : j.items())
        EXPECT_TRUE(value.is_number_unsigned()) << key << " is " << value.type_name();
}

TEST(CountersJson, KeySetIsExactlyTheSchema)
{
    json j = rg::counters_json(distinct_counters());
    std::set<std::string> got;
    for (auto &[key, value] : j.items())
        got.insert(key);
    std::set<std::string> want = expected_keys();
    EXPECT_EQ(got, want);
    // No two fields may land on the same key (e.g. a reason named "passed").
    EXPECT_EQ(want.size(), kAggregateKeys.size() + 2 * size_t(RG_REASON_MAX) + kProtected.size());
}

TEST(CountersJson, KeysPresentEvenWhenZero)
{
    json j = rg::counters_json(rg::ReasonCounters{});
    std::set<std::string> got;
    for (auto &[key, value] : j.items()) {
        got.insert(key);
        EXPECT_EQ(value, 0u) << key;
    }
    EXPECT_EQ(got, expected_keys());
}

TEST(CountersJson, AllPackets)
{
    rg::ReasonCounters c = distinct_counters();
    json j = rg::counters_json(c);
    Sum all = sum_over(c, all_reasons());
    EXPECT_EQ(u64(j, "packets"), all.packets);
    EXPECT_EQ(u64(j, "bytes"), all.bytes);
}

TEST(CountersJson, Protected)
{
    rg::ReasonCounters c = distinct_counters();
    json j = rg::counters_json(c);
    Sum p = sum_over(c, kProtected);
    EXPECT_EQ(u64(j, "protected"), p.packets);
    EXPECT_EQ(u64(j, "protected_bytes"), p.bytes);
    // SYNs are counted for protected-port traffic only.
    EXPECT_EQ(u64(j, "syn"), p.syn);
}

TEST(CountersJson, PassedIsEverythingNotDropped)
{
    rg::ReasonCounters c = distinct_counters();
    json j = rg::counters_json(c);
    Sum p = sum_over(c, passed_reasons());
    EXPECT_EQ(u64(j, "passed"), p.packets);
    EXPECT_EQ(u64(j, "passed_bytes"), p.bytes);
    // Monitor-mode verdicts pass the packet.
    EXPECT_NE(u64(j, "passed") & c[RG_WOULD_DROP_BLOCKLIST].packets, 0u);
    EXPECT_EQ(u64(j, "passed") & c[RG_DROP_BLOCKLIST].packets, 0u);
}

TEST(CountersJson, Dropped)
{
    rg::ReasonCounters c = distinct_counters();
    json j = rg::counters_json(c);
    Sum d = sum_over(c, kDropped);
    EXPECT_EQ(u64(j, "dropped"), d.packets);
    EXPECT_EQ(u64(j, "dropped_bytes"), d.bytes);
}

TEST(CountersJson, WouldDrop)
{
    rg::ReasonCounters c = distinct_counters();
    json j = rg::counters_json(c);
    Sum w = sum_over(c, kWouldDrop);
    EXPECT_EQ(u64(j, "would_drop"), w.packets);
    EXPECT_EQ(u64(j, "would_drop_bytes"), w.bytes);
}

TEST(CountersJson, PassedPlusDroppedIsPackets)
{
    rg::ReasonCounters c = distinct_counters();
    json j = rg::counters_json(c);
    EXPECT_EQ(u64(j, "passed") + u64(j, "dropped"), u64(j, "packets"));
    EXPECT_EQ(u64(j, "passed_bytes") + u64(j, "dropped_bytes"), u64(j, "bytes"));
}

TEST(CountersJson, EveryReasonHasItsOwnFields)
{
    rg::ReasonCounters c = distinct_counters();
    json j = rg::counters_json(c);
    for (uint32_t r = 0; r < RG_REASON_MAX; r++) {
        std::string name = rg_reason_info[r].name;
        EXPECT_EQ(u64(j, name), c[r].packets) << name;
        EXPECT_EQ(u64(j, name + "_bytes"), c[r].bytes) << name;
        if (kProtected.count(r)) {
            EXPECT_EQ(u64(j, name + "_syn"), c[r].syn) << name;
        } else {
            EXPECT_FALSE(j.contains(name + "_syn")) << name;
        }
    }
}

TEST(CountersJson, DocumentedReasonNames)
{
    rg::ReasonCounters c = distinct_counters();
    json j = rg::counters_json(c);
    EXPECT_EQ(u64(j, "passed_allowlist"), c[RG_PASS_ALLOWLIST].packets);
    EXPECT_EQ(u64(j, "passed_allowlist_syn"), c[RG_PASS_ALLOWLIST].syn);
    EXPECT_EQ(u64(j, "dropped_blocklist"), c[RG_DROP_BLOCKLIST].packets);
    EXPECT_EQ(u64(j, "dropped_blocklist_bytes"), c[RG_DROP_BLOCKLIST].bytes);
    EXPECT_EQ(u64(j, "would_drop_blocklist"), c[RG_WOULD_DROP_BLOCKLIST].packets);
    EXPECT_EQ(u64(j, "passed_clean_syn"), c[RG_PASS_CLEAN].syn);
    EXPECT_EQ(u64(j, "malformed"), c[RG_PASS_MALFORMED].packets);
    EXPECT_EQ(u64(j, "malformed_bytes"), c[RG_PASS_MALFORMED].bytes);
    EXPECT_EQ(u64(j, "passed_not_ip"), c[RG_PASS_NOT_IP].packets);
    EXPECT_FALSE(j.contains("malformed_syn"));
}

TEST(CountersJson, ValuesAboveInt64Stay64BitUnsigned)
{
    const uint64_t big = std::numeric_limits<uint64_t>::max() - 7;  // > INT64_MAX
    rg::ReasonCounters c{};
    c[RG_DROP_BLOCKLIST] = {big, big - 1, big - 2};
    json j = rg::counters_json(c);
    EXPECT_EQ(u64(j, "dropped_blocklist"), big);
    EXPECT_EQ(u64(j, "dropped"), big);
    EXPECT_EQ(u64(j, "packets"), big);
    EXPECT_EQ(u64(j, "dropped_blocklist_bytes"), big - 1);
    EXPECT_EQ(u64(j, "syn"), big - 2);
    EXPECT_EQ(u64(j, "passed"), 0u);
    // And through text, as `stats --json` prints it.
    json back = json::parse(j.dump());
    EXPECT_EQ(u64(back, "dropped_blocklist"), big);
    EXPECT_EQ(back, j);
}

// ---- text ------------------------------------------------------------------

namespace {

struct Row {
    uint64_t packets = 0, bytes = 0, syn = 0;
    bool has_syn = false;
};

// Parses "<indent><name> <N> pkts  <N> bytes[  <N> syn]" lines.
std::map<std::string, Row> parse_text(const std::string &text, const std::string &indent)
{
    std::map<std::string, Row> rows;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        EXPECT_EQ(line.rfind(indent, 0), 0u) << "line without indent: " << line;
        std::istringstream ls(line);
        std::string name, w1, w2, w3;
        Row row;
        ls >> name >> row.packets >> w1 >> row.bytes >> w2;
        EXPECT_FALSE(ls.fail()) << "unparsable line: " << line;
        EXPECT_EQ(w1, "pkts") << line;
        EXPECT_EQ(w2, "bytes") << line;
        if (ls >> row.syn >> w3) {
            row.has_syn = true;
            EXPECT_EQ(w3, "syn") << line;
        }
        EXPECT_TRUE(rows.emplace(name, row).second) << "duplicate row " << name;
    }
    return rows;
}

} // namespace

TEST(CountersText, AggregatesAndNonZeroReasons)
{
    rg::ReasonCounters c{};
    c[RG_PASS_CLEAN] = {3, 300, 2};
    c[RG_DROP_BLOCKLIST] = {5, 700, 4};
    c[RG_PASS_NOT_TCP] = {11, 1100, 0};
    const std::string indent = "    ";
    auto rows = parse_text(rg::counters_text(c, indent), indent);

    const std::set<uint32_t> used = {RG_PASS_CLEAN, RG_DROP_BLOCKLIST, RG_PASS_NOT_TCP};
    struct {
        const char *name;
        Sum want;
    } aggregates[] = {
        {"packets", sum_over(c, all_reasons())},  {"protected", sum_over(c, kProtected)},
        {"passed", sum_over(c, passed_reasons())}, {"dropped", sum_over(c, kDropped)},
        {"would_drop", sum_over(c, kWouldDrop)},
    };
    for (auto &a : aggregates) {
        ASSERT_TRUE(rows.count(a.name)) << "no row " << a.name;
        EXPECT_EQ(rows[a.name].packets, a.want.packets) << a.name;
        EXPECT_EQ(rows[a.name].bytes, a.want.bytes) << a.name;
    }
    ASSERT_TRUE(rows["protected"].has_syn);
    EXPECT_EQ(rows["protected"].syn, sum_over(c, kProtected).syn);

    for (uint32_t r = 0; r < RG_REASON_MAX; r++) {
        std::string name = rg_reason_info[r].name;
        if (!used.count(r)) {
            EXPECT_FALSE(rows.count(name)) << "zero reason printed: " << name;
            continue;
        }
        ASSERT_TRUE(rows.count(name)) << "no row " << name;
        EXPECT_EQ(rows[name].packets, c[r].packets) << name;
        EXPECT_EQ(rows[name].bytes, c[r].bytes) << name;
        EXPECT_EQ(rows[name].has_syn, kProtected.count(r) == 1) << name;
        if (rows[name].has_syn) {
            EXPECT_EQ(rows[name].syn, c[r].syn) << name;
        }
    }
    EXPECT_EQ(rows.size(), std::size(aggregates) + used.size());
}

TEST(CountersText, DefaultIndentAndLongNames)
{
    rg::ReasonCounters c = distinct_counters();
    std::string text = rg::counters_text(c);
    auto rows = parse_text(text, "  ");
    EXPECT_EQ(rows.size(), 5u + RG_REASON_MAX);
    // Name and number never run together, however long the name.
    for (uint32_t r = 0; r < RG_REASON_MAX; r++)
        EXPECT_EQ(rows[rg_reason_info[r].name].packets, c[r].packets) << rg_reason_info[r].name;
}
