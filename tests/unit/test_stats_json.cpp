// The counters document of `stats --json` (schema 2): every verdict counter
// is {"packets", "bytes", "syns"}, the totals are sums over the reasons, and
// the key set is pinned by tests/golden/stats-keys.txt and validated against
// docs/stats.schema.json.
//
// Inputs give each reason its own bit in packets, bytes and syn, so any sum
// shows exactly which reasons went into it. Expected totals come from the
// verdict semantics written out below, not from the flags the
// implementation reads, so a wrong flag in the table is caught too.
#include "stats.hpp"
#include "stats_schema.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <vector>
#include <functional>
#include <algorithm>
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

// The verdict groups as the enum documents them. The egress program's two
// reasons count outbound SYNs to a watched port (protected) over the budget:
// dropped in cap mode, would-drop in watch mode.
const std::set<uint32_t> kDropped = {RG_DROP_BLOCKLIST, RG_DROP_RATELIMIT, RG_DROP_BANNED, RG_DROP_EGRESS_CAPPED};
const std::set<uint32_t> kWouldDrop = {RG_WOULD_DROP_BLOCKLIST, RG_WOULD_DROP_RATELIMIT, RG_WOULD_DROP_BANNED,
                                       RG_WOULD_DROP_EGRESS_CAPPED};
const std::set<uint32_t> kProtected = {RG_PASS_CLEAN,           RG_PASS_ALLOWLIST,       RG_DROP_BLOCKLIST,
                                       RG_WOULD_DROP_BLOCKLIST, RG_DROP_RATELIMIT,       RG_WOULD_DROP_RATELIMIT,
                                       RG_DROP_BANNED,          RG_WOULD_DROP_BANNED,    RG_DROP_EGRESS_CAPPED,
                                       RG_WOULD_DROP_EGRESS_CAPPED};

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

uint64_t u64(const json &j, const std::string &key)
{
    EXPECT_TRUE(j.contains(key)) << "missing key " << key;
    if (!j.contains(key))
        return ~0ull;
    EXPECT_TRUE(j.at(key).is_number_unsigned()) << key << " is " << j.at(key).type_name();
    return j.at(key).get<uint64_t>();
}

// One counter object: exactly packets, bytes and syns.
Sum counter_of(const json &j, const std::string &what)
{
    EXPECT_TRUE(j.is_object()) << what << " is " << j.type_name();
    if (!j.is_object())
        return {~0ull, ~0ull, ~0ull};
    std::set<std::string> keys;
    for (auto &[k, v] : j.items())
        keys.insert(k);
    EXPECT_EQ(keys, (std::set<std::string>{"packets", "bytes", "syns"})) << what;
    return {u64(j, "packets"), u64(j, "bytes"), u64(j, "syns")};
}

void expect_sum(const json &j, const std::string &what, const Sum &want)
{
    Sum got = counter_of(j, what);
    EXPECT_EQ(got.packets, want.packets) << what;
    EXPECT_EQ(got.bytes, want.bytes) << what;
    EXPECT_EQ(got.syn, want.syn) << what;
}

} // namespace

TEST(StatsTotals, KeysAreTheFiveTotalsEachACounter)
{
    json j = rg::totals_json(distinct_counters());
    std::set<std::string> keys;
    for (auto &[k, v] : j.items()) {
        keys.insert(k);
        counter_of(v, k);
    }
    EXPECT_EQ(keys, (std::set<std::string>{"all", "protected", "passed", "dropped", "would_drop"}));
}

TEST(StatsTotals, AllIsEveryReason)
{
    rg::ReasonCounters c = distinct_counters();
    expect_sum(rg::totals_json(c)["all"], "all", sum_over(c, all_reasons()));
}

TEST(StatsTotals, Protected)
{
    rg::ReasonCounters c = distinct_counters();
    // SYNs are counted for protected-port traffic only, so all.syns and
    // protected.syns differ only by what the kernel never counts.
    expect_sum(rg::totals_json(c)["protected"], "protected", sum_over(c, kProtected));
}

TEST(StatsTotals, PassedIsEverythingNotDropped)
{
    rg::ReasonCounters c = distinct_counters();
    json j = rg::totals_json(c);
    expect_sum(j["passed"], "passed", sum_over(c, passed_reasons()));
    // Monitor-mode verdicts pass the packet.
    EXPECT_NE(u64(j["passed"], "packets") & c[RG_WOULD_DROP_BLOCKLIST].packets, 0u);
    EXPECT_EQ(u64(j["passed"], "packets") & c[RG_DROP_BLOCKLIST].packets, 0u);
}

TEST(StatsTotals, DroppedAndWouldDrop)
{
    rg::ReasonCounters c = distinct_counters();
    json j = rg::totals_json(c);
    expect_sum(j["dropped"], "dropped", sum_over(c, kDropped));
    expect_sum(j["would_drop"], "would_drop", sum_over(c, kWouldDrop));
}

TEST(StatsTotals, PassedPlusDroppedIsAll)
{
    rg::ReasonCounters c = distinct_counters();
    json j = rg::totals_json(c);
    for (const char *k : {"packets", "bytes", "syns"})
        EXPECT_EQ(u64(j["passed"], k) + u64(j["dropped"], k), u64(j["all"], k)) << k;
}

TEST(StatsReasons, EveryReasonIsACounterUnderItsDocumentedName)
{
    rg::ReasonCounters c = distinct_counters();
    json j = rg::reasons_json(c);
    EXPECT_EQ(j.size(), size_t(RG_REASON_MAX));
    for (uint32_t r = 0; r < RG_REASON_MAX; r++)
        expect_sum(j[rg_reason_info[r].name], rg_reason_info[r].name, {c[r].packets, c[r].bytes, c[r].syn});
    // A few names as docs/json-schema.md spells them.
    EXPECT_EQ(u64(j["passed_allowlist"], "syns"), c[RG_PASS_ALLOWLIST].syn);
    EXPECT_EQ(u64(j["dropped_blocklist"], "bytes"), c[RG_DROP_BLOCKLIST].bytes);
    EXPECT_EQ(u64(j["would_drop_blocklist"], "packets"), c[RG_WOULD_DROP_BLOCKLIST].packets);
    EXPECT_EQ(u64(j["malformed"], "packets"), c[RG_PASS_MALFORMED].packets);
    EXPECT_EQ(u64(j["passed_not_ip"], "packets"), c[RG_PASS_NOT_IP].packets);
}

TEST(StatsReasons, ValuesAboveInt64Stay64BitUnsigned)
{
    const uint64_t big = std::numeric_limits<uint64_t>::max() - 7;  // > INT64_MAX
    rg::ReasonCounters c{};
    c[RG_DROP_BLOCKLIST] = {big, big - 1, big - 2};
    json j = {{"reasons", rg::reasons_json(c)}, {"total", rg::totals_json(c)}};
    EXPECT_EQ(u64(j["reasons"]["dropped_blocklist"], "packets"), big);
    EXPECT_EQ(u64(j["total"]["dropped"], "packets"), big);
    EXPECT_EQ(u64(j["total"]["all"], "bytes"), big - 1);
    EXPECT_EQ(u64(j["total"]["protected"], "syns"), big - 2);
    EXPECT_EQ(u64(j["total"]["passed"], "packets"), 0u);
    // And through text, as `stats --json` prints it.
    json back = json::parse(j.dump());
    EXPECT_EQ(u64(back["reasons"]["dropped_blocklist"], "packets"), big);
    EXPECT_EQ(back, j);
}

// ---- the whole document -------------------------------------------------------

namespace {

rg::Feed feed(const std::string &name, unsigned bit, uint32_t result, const std::string &message)
{
    rg::FeedDef d;
    d.name = name;
    d.source = "https://feeds.example/" + name + ".txt";
    d.interval = std::chrono::hours(12);
    rg::Feed f;
    f.bit = bit;
    f.raw = rg::feed_to_kernel(d);
    f.raw.last_result = result;
    rg::set_feed_field(f.raw.message, message);
    f.raw.last_attempt = 1795478400;
    f.raw.last_success = 1795435200;
    f.raw.last_change = 1795392000;
    f.raw.http_status = 200;
    return f;
}

// Every name-keyed map non-empty: two interfaces, manual, config and two
// feeds (one shadow, one whose last sync failed), bans, a watch rule.
rg::StatsReport full_report()
{
    rg::StatsReport r;
    r.time = 1795392000;
    r.counters = distinct_counters();
    rg::ReasonCounters eth1{}, eth2{};
    eth1[RG_DROP_BLOCKLIST] = {5, 300, 4};
    eth2[RG_PASS_CLEAN] = {7, 420, 2};
    r.interfaces = {{"eth1", 3, eth1}, {"eth2", 4, eth2}};
    r.feeds = {feed("drop", 2, RG_FEED_APPLIED, "1432 prefixes in force"),
               feed("edrop", 3, RG_FEED_FETCH_FAILED, "HTTP 503 from feeds.example")};
    r.shadow_sources = uint64_t(1) << 3;
    r.source_hits[RG_SOURCE_MANUAL] = {6, 4, 0, 0};
    r.source_hits[2] = {5, 4, 0, 0};
    r.source_hits[3] = {0, 0, 5, 4};
    r.allowlist = {1, 1};
    r.blocklist = {1434, 1};
    r.allow_by_source[RG_SOURCE_MANUAL] = {1, 0};
    r.allow_by_source[RG_SOURCE_CONFIG] = {0, 1};
    r.block_by_source[RG_SOURCE_MANUAL] = {2, 1};
    r.block_by_source[2] = {1432, 0};
    r.block_by_source[3] = {10, 0};
    r.bans = {{"manual", 1}, {"ratelimit", 2}, {"escalation", 0}, {"watch", 3}};
    r.watch = {{"active", true}, {"source", "/var/log/mail.log"}, {"lines", 1200},
               {"rules", {{"relay-denied", {{"matches", 3}, {"bans", 1}, {"exempt", 0}}}}}};
    return r;
}

} // namespace

// The golden file pins the key set: a key added, renamed or lost fails here
// (and must change tests/golden/stats-keys.txt, docs/json-schema.md and
// docs/stats.schema.json with it).
TEST(StatsDocument, KeyPathsAreTheGoldenOnes)
{
    EXPECT_EQ(rg::test::golden_stats_key_paths_diff(rg::test::stats_key_paths(rg::stats_json(full_report()))), "");
}

TEST(StatsDocument, ValidatesAgainstTheJsonSchema)
{
    RG_EXPECT_SCHEMA_VALID(rg::test::check_stats_schema(rg::stats_json(full_report())));
    // Nothing attached, no feed, no watch ever ran, no ban: empty maps.
    rg::StatsReport empty;
    empty.bans = {{"manual", 0}, {"ratelimit", 0}, {"escalation", 0}, {"watch", 0}};
    empty.watch = {{"active", false}, {"source", ""}, {"lines", 0}, {"rules", json::object()}};
    RG_EXPECT_SCHEMA_VALID(rg::test::check_stats_schema(rg::stats_json(empty)));
}

// The schema is strict where the key set is fixed: each of these breaks it.
TEST(StatsDocument, TheSchemaRefusesWhatSchema2IsNot)
{
    const json good = rg::stats_json(full_report());
    std::vector<std::pair<std::string, json>> bad;
    auto with = [&](const std::string &what, const std::function<void(json &)> &change) {
        json j = good;
        change(j);
        bad.emplace_back(what, j);
    };
    with("no schema key (the flat layout)", [](json &j) { j.erase("schema"); });
    with("schema 1", [](json &j) { j["schema"] = 1; });
    with("a counter with an extra key", [](json &j) { j["reasons"]["malformed"]["syn"] = 0; });
    with("a counter without bytes", [](json &j) { j["total"]["all"].erase("bytes"); });
    with("a negative count", [](json &j) { j["reasons"]["passed_clean"]["packets"] = -1; });
    with("a count as a string", [](json &j) { j["interfaces"]["eth1"]["total"]["dropped"]["packets"] = "5"; });
    with("an unknown reason", [](json &j) { j["reasons"]["dropped_other"] = j["reasons"]["malformed"]; });
    with("a missing reason", [](json &j) { j["reasons"].erase("dropped_banned"); });
    with("the old flat counters object", [](json &j) { j["counters"] = {{"packets", 1}}; });
    with("a source without kind", [](json &j) { j["sources"]["drop"].erase("kind"); });
    with("a feed with an unknown result", [](json &j) { j["feeds"]["drop"]["last_result"] = "fine"; });
    with("no manual source", [](json &j) { j["sources"].erase("manual"); });
    with("a daemon's event without generation", [](json &j) { j["event"] = "stats"; });
    for (const auto &[what, j] : bad) {
        rg::test::SchemaCheck c = rg::test::check_stats_schema(j);
        if (c.status == 77 && !rg::test::privileged_required())
            GTEST_SKIP() << c.output;
        EXPECT_EQ(c.status, 1) << what << ": " << c.output;
    }
    // And the daemon's line is the document plus event and generation.
    json line = good;
    line["event"] = "stats";
    line["generation"] = 2;
    RG_EXPECT_SCHEMA_VALID(rg::test::check_stats_schema(line));
}

TEST(StatsDocument, SourcesFeedsListsAndBans)
{
    json j = rg::stats_json(full_report());
    EXPECT_EQ(j["schema"], 2);
    EXPECT_EQ(j["scope"], "all");
    EXPECT_EQ(j["mode"], "enforce");
    // Sources by name, with their kind, hits and what they list.
    EXPECT_EQ(j["sources"]["manual"]["kind"], "manual");
    EXPECT_EQ(j["sources"]["manual"]["dropped"], json({{"packets", 6}, {"syns", 4}}));
    EXPECT_EQ(j["sources"]["config"]["listed"]["allowlist"], json({{"ipv4", 0}, {"ipv6", 1}, {"total", 1}}));
    EXPECT_EQ(j["sources"]["manual"]["listed"]["blocklist"]["total"], 3);
    EXPECT_EQ(j["sources"]["drop"]["kind"], "feed");
    EXPECT_EQ(j["sources"]["drop"]["bit"], 2);
    EXPECT_EQ(j["sources"]["drop"]["listed"]["blocklist"]["ipv4"], 1432);
    EXPECT_EQ(j["sources"]["edrop"]["shadow"], true);
    EXPECT_EQ(j["sources"]["edrop"]["would_drop"], json({{"packets", 5}, {"syns", 4}}));
    EXPECT_EQ(j["lists"]["blocklist"], json({{"ipv4", 1434}, {"ipv6", 1}, {"total", 1435}}));
    // Feed state: the error is there only while the last attempt failed.
    EXPECT_EQ(j["feeds"]["drop"]["last_result"], "applied");
    EXPECT_EQ(j["feeds"]["drop"]["last_error"], "");
    EXPECT_EQ(j["feeds"]["drop"]["last_success"], 1795435200);
    EXPECT_EQ(j["feeds"]["drop"]["interval_seconds"], 43200.0);
    EXPECT_EQ(j["feeds"]["edrop"]["last_result"], "fetch_failed");
    EXPECT_EQ(j["feeds"]["edrop"]["last_error"], "HTTP 503 from feeds.example");
    EXPECT_EQ(j["bans"]["active"], 6);
    EXPECT_EQ(j["bans"]["reasons"]["watch"], 3);
    EXPECT_EQ(j["watch"]["rules"]["relay-denied"]["matches"], 3);
    // Interfaces by name; the scope's counters are the report's.
    EXPECT_EQ(j["interfaces"]["eth1"]["ifindex"], 3);
    EXPECT_EQ(j["interfaces"]["eth1"]["reasons"]["dropped_blocklist"],
              json({{"packets", 5}, {"bytes", 300}, {"syns", 4}}));
    EXPECT_EQ(j["interfaces"]["eth2"]["total"]["passed"]["packets"], 7);
    EXPECT_EQ(j["reasons"], rg::reasons_json(distinct_counters()));
}

TEST(StatsDocument, NarrowKeepsOneInterfaceAndMakesItTheScope)
{
    rg::StatsReport r = full_report();
    EXPECT_FALSE(r.narrow("lo"));
    EXPECT_EQ(r.interfaces.size(), 2u) << "a failed narrow changed the report";
    ASSERT_TRUE(r.narrow("eth2"));
    json j = rg::stats_json(r);
    EXPECT_EQ(j["scope"], "eth2");
    EXPECT_EQ(j["interfaces"].size(), 1u);
    EXPECT_EQ(j["total"], j["interfaces"]["eth2"]["total"]);
    EXPECT_EQ(j["reasons"], j["interfaces"]["eth2"]["reasons"]);
    // What is kept for all interfaces together stays.
    EXPECT_EQ(j["sources"]["manual"]["dropped"]["packets"], 6);
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
