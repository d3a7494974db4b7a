// rg::prometheus_text: the exposition format of `stats --prometheus` and the
// daemon's /metrics. The names are a stable interface (README.md), so the
// families and their types are checked here; that the text parses is
// checked by promtool against a real lab (test_netns_metrics.cpp).
#include "daemon_metrics.hpp"
#include "histogram.hpp"
#include "metrics.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iterator>

#include <map>
#include <sstream>
#include <string>

using nlohmann::json;

namespace {

TEST(PrometheusLabelValue, EscapesBackslashQuoteAndNewline)
{
    EXPECT_EQ(rg::prometheus_label_value("plain-name_1.2"), "plain-name_1.2");
    EXPECT_EQ(rg::prometheus_label_value("a\\b"), "a\\\\b");
    EXPECT_EQ(rg::prometheus_label_value("say \"hi\""), "say \\\"hi\\\"");
    EXPECT_EQ(rg::prometheus_label_value("two\nlines"), "two\\nlines");
    EXPECT_EQ(rg::prometheus_label_value("\\\"\n"), "\\\\\\\"\\n");
    EXPECT_EQ(rg::prometheus_label_value(""), "");
    // Other bytes, tabs and UTF-8 included, are written as they are.
    EXPECT_EQ(rg::prometheus_label_value("t\tä"), "t\tä");
}

rg::MetricsSnapshot sample()
{
    rg::MetricsSnapshot s;
    s.version = "9.8.7";
    s.monitor = false;
    rg::MetricsSnapshot::Interface eth{"eth1", {}, true};
    eth.counters[RG_DROP_BLOCKLIST] = {7, 420, 5};
    eth.counters[RG_PASS_CLEAN] = {3, 180, 1};
    s.interfaces.push_back(eth);
    s.interfaces.push_back({"odd\"if", {}});
    s.sources = {
        {"manual", {{"bit", 0}, {"kind", "manual"}, {"shadow", false},
                    {"dropped", {{"packets", 6}, {"syns", 4}}}, {"would_drop", {{"packets", 0}, {"syns", 0}}}}},
        {"drop\\list", {{"bit", 2}, {"kind", "feed"}, {"shadow", true},
                         {"dropped", {{"packets", 0}, {"syns", 0}}}, {"would_drop", {{"packets", 2}, {"syns", 1}}}}},
    };
    s.bans = {{"manual", 1}, {"watch", 2}};
    s.watch = {{"active", true}, {"source", "journal"}, {"lines", 100},
               {"rules", {{"relay-denied", {{"matches", 12}, {"bans", 3}, {"exempt", 1}}}}}};
    s.allowlist = rg::ListSize{1, 0};
    s.blocklist = rg::ListSize{4, 2};
    rg::Feed drop{.bit = 2, .raw = rg::feed_to_kernel({.name = "drop", .source = "/x", .interval = std::chrono::hours(12)})};
    drop.raw.prefixes = 1234;
    drop.raw.last_attempt = 1700000300;
    drop.raw.last_success = 1700000000;
    drop.raw.last_result = RG_FEED_SHRUNK;
    rg::FeedStats stats;
    stats.syncs[RG_FEED_APPLIED] = 5;
    stats.syncs[RG_FEED_SHRUNK] = 2;
    stats.syncs[RG_FEED_FETCH_FAILED] = 1;
    stats.last_seconds = 0.25;
    s.feeds.push_back({drop, stats});
    return s;
}

// Every "# TYPE name type" line, in order of appearance.
std::map<std::string, std::string> types(const std::string &text)
{
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("# TYPE ", 0) != 0)
            continue;
        std::istringstream l(line.substr(7));
        std::string name, type;
        l >> name >> type;
        EXPECT_FALSE(out.count(name)) << "family twice: " << name;
        out[name] = type;
    }
    return out;
}

TEST(PrometheusText, FamiliesTypesAndValues)
{
    std::string text = rg::prometheus_text(sample());
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text.back(), '\n');

    std::map<std::string, std::string> expected = {
        {"relayguard_build_info", "gauge"},
        {"relayguard_monitor_mode", "gauge"},
        {"relayguard_packets_total", "counter"},
        {"relayguard_bytes_total", "counter"},
        {"relayguard_syn_packets_total", "counter"},
        {"relayguard_interface_attached", "gauge"},
        {"relayguard_source_dropped_packets_total", "counter"},
        {"relayguard_source_dropped_syn_packets_total", "counter"},
        {"relayguard_source_would_drop_packets_total", "counter"},
        {"relayguard_source_would_drop_syn_packets_total", "counter"},
        {"relayguard_source_shadow", "gauge"},
        {"relayguard_bans", "gauge"},
        {"relayguard_list_prefixes", "gauge"},
        {"relayguard_watch_active", "gauge"},
        {"relayguard_watch_lines_total", "counter"},
        {"relayguard_watch_matches_total", "counter"},
        {"relayguard_watch_bans_total", "counter"},
        {"relayguard_watch_exempt_total", "counter"},
        {"relayguard_feed_prefixes", "gauge"},
        {"relayguard_feed_interval_seconds", "gauge"},
        {"relayguard_feed_last_attempt_timestamp_seconds", "gauge"},
        {"relayguard_feed_last_success_timestamp_seconds", "gauge"},
        {"relayguard_feed_last_result", "gauge"},
        {"relayguard_feed_syncs_total", "counter"},
        {"relayguard_feed_sync_errors_total", "counter"},
        {"relayguard_feed_last_sync_duration_seconds", "gauge"},
        {"relayguard_egress_syn_packets_total", "counter"},
        {"relayguard_egress_capped_syn_packets_total", "counter"},
        {"relayguard_egress_would_cap_syn_packets_total", "counter"},
        {"relayguard_egress_destination_prefixes", "gauge"},
        {"relayguard_egress_sender_syn_packets_total", "counter"},
        {"relayguard_egress_mode", "gauge"},
    };
    EXPECT_EQ(types(text), expected) << text;
    for (const auto &[name, type] : expected)
        EXPECT_NE(text.find("# HELP " + name + " "), std::string::npos) << name;

    auto has = [&](const std::string &line) {
        EXPECT_NE(text.find("\n" + line + "\n"), std::string::npos) << "missing: " << line << "\n" << text;
    };
    has("relayguard_build_info{version=\"9.8.7\"} 1");
    has("relayguard_monitor_mode 0");
    has("relayguard_packets_total{reason=\"dropped_blocklist\",interface=\"eth1\"} 7");
    has("relayguard_bytes_total{reason=\"dropped_blocklist\",interface=\"eth1\"} 420");
    has("relayguard_syn_packets_total{reason=\"dropped_blocklist\",interface=\"eth1\"} 5");
    has("relayguard_packets_total{reason=\"passed_clean\",interface=\"eth1\"} 3");
    has("relayguard_packets_total{reason=\"dropped_blocklist\",interface=\"odd\\\"if\"} 0");
    has("relayguard_source_dropped_packets_total{source=\"manual\",kind=\"manual\"} 6");
    has("relayguard_source_would_drop_syn_packets_total{source=\"drop\\\\list\",kind=\"feed\"} 1");
    has("relayguard_source_shadow{source=\"drop\\\\list\",kind=\"feed\"} 1");
    has("relayguard_bans{reason=\"watch\"} 2");
    has("relayguard_list_prefixes{list=\"blocklist\",family=\"ipv6\"} 2");
    has("relayguard_watch_active 1");
    has("relayguard_watch_lines_total 100");
    has("relayguard_watch_matches_total{rule=\"relay-denied\"} 12");
    has("relayguard_watch_bans_total{rule=\"relay-denied\"} 3");
    has("relayguard_watch_exempt_total{rule=\"relay-denied\"} 1");
    has("relayguard_interface_attached{interface=\"eth1\"} 1");
    has("relayguard_interface_attached{interface=\"odd\\\"if\"} 0");
    has("relayguard_feed_prefixes{feed=\"drop\"} 1234");
    has("relayguard_feed_interval_seconds{feed=\"drop\"} 43200");
    has("relayguard_feed_last_attempt_timestamp_seconds{feed=\"drop\"} 1700000300");
    has("relayguard_feed_last_success_timestamp_seconds{feed=\"drop\"} 1700000000");
    has("relayguard_feed_last_result{feed=\"drop\",result=\"shrunk\"} 1");
    has("relayguard_feed_last_result{feed=\"drop\",result=\"applied\"} 0");
    has("relayguard_feed_syncs_total{feed=\"drop\"} 8");
    has("relayguard_feed_sync_errors_total{feed=\"drop\",result=\"shrunk\"} 2");
    has("relayguard_feed_sync_errors_total{feed=\"drop\",result=\"fetch_failed\"} 1");
    has("relayguard_feed_sync_errors_total{feed=\"drop\",result=\"empty\"} 0");
    has("relayguard_feed_last_sync_duration_seconds{feed=\"drop\"} 0.25");
    // Only failures and refusals are errors: the results that left the
    // feed current (and "never") have no error series.
    for (const char *ok : {"applied", "unchanged", "not_modified", "same_content", "never"})
        EXPECT_EQ(text.find("relayguard_feed_sync_errors_total{feed=\"drop\",result=\"" + std::string(ok)),
                  std::string::npos)
            << ok;

    // One series per reason and interface; SYN counts only for the reasons
    // that have them (TCP to a protected port; the JSON says 0 for the rest).
    size_t packets = 0, syn = 0, protected_reasons = 0;
    for (uint32_t r = 0; r < RG_REASON_MAX; r++)
        protected_reasons += (rg_reason_info[r].flags & RG_RF_PROTECTED) != 0;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        packets += line.rfind("relayguard_packets_total{", 0) == 0;
        syn += line.rfind("relayguard_syn_packets_total{", 0) == 0;
    }
    EXPECT_EQ(packets, 2u * RG_REASON_MAX);
    EXPECT_EQ(syn, 2u * protected_reasons);
}

TEST(PrometheusText, EmptySnapshotStillNamesEveryFamily)
{
    std::string text = rg::prometheus_text(rg::MetricsSnapshot{});
    EXPECT_NE(text.find("# TYPE relayguard_packets_total counter\n"), std::string::npos) << text;
    EXPECT_NE(text.find("relayguard_watch_lines_total 0\n"), std::string::npos) << text;
    // Without list sizes read, no list family rather than made-up zeros.
    EXPECT_EQ(text.find("relayguard_list_prefixes"), std::string::npos) << text;
}

TEST(PrometheusNumber, ShortestTextAndSpecialValues)
{
    EXPECT_EQ(rg::prometheus_number(0), "0");
    EXPECT_EQ(rg::prometheus_number(0.25), "0.25");
    EXPECT_EQ(rg::prometheus_number(60), "60");
    EXPECT_EQ(rg::prometheus_number(0.001), "0.001");
    EXPECT_EQ(std::stod(rg::prometheus_number(0.1 + 0.2)), 0.1 + 0.2);
    EXPECT_EQ(rg::prometheus_number(INFINITY), "+Inf");
    EXPECT_EQ(rg::prometheus_number(-INFINITY), "-Inf");
    EXPECT_EQ(rg::prometheus_number(NAN), "NaN");
}

TEST(Histogram, CumulativeBucketsSumAndCount)
{
    const double bounds[] = {0.01, 0.1, 1};
    rg::Histogram h(bounds);
    for (double v : {0.005, 0.01, 0.05, 0.5, 0.5, 3.0})  // 0.01 is at its bound: in le="0.01"
        h.observe(v);
    EXPECT_EQ(h.count(), 6u);
    EXPECT_DOUBLE_EQ(h.sum(), 4.065);
    std::string out;
    rg::MetricFamily fam(out, "t_seconds", "histogram", "Test.");
    h.expose(fam, {{"feed", "a"}});
    EXPECT_EQ(out, "# HELP t_seconds Test.\n# TYPE t_seconds histogram\n"
                   "t_seconds_bucket{feed=\"a\",le=\"0.01\"} 2\n"
                   "t_seconds_bucket{feed=\"a\",le=\"0.1\"} 3\n"
                   "t_seconds_bucket{feed=\"a\",le=\"1\"} 5\n"
                   "t_seconds_bucket{feed=\"a\",le=\"+Inf\"} 6\n"
                   "t_seconds_sum{feed=\"a\"} " + rg::prometheus_number(h.sum()) + "\n"
                   "t_seconds_count{feed=\"a\"} 6\n");
}

TEST(Histogram, DurationBoundsSpanAMillisecondToAMinute)
{
    EXPECT_EQ(rg::kDurationBounds[0], 0.001);
    EXPECT_EQ(std::end(rg::kDurationBounds)[-1], 60);
    EXPECT_TRUE(std::is_sorted(std::begin(rg::kDurationBounds), std::end(rg::kDurationBounds)));
}

TEST(DaemonMetrics, HistogramsPerFeedAndSourceAndForget)
{
    rg::DaemonMetrics m;
    std::string empty = m.text();
    // Both families are named even before any observation.
    EXPECT_NE(empty.find("# TYPE relayguard_feed_sync_duration_seconds histogram\n"), std::string::npos) << empty;
    EXPECT_NE(empty.find("# TYPE relayguard_list_write_duration_seconds histogram\n"), std::string::npos) << empty;
    EXPECT_EQ(empty.find("_count"), std::string::npos) << empty;

    m.feed_synced("drop", 0.003);
    m.feed_synced("drop", 2);
    m.list_written("drop", 0.0004);
    m.list_written("config", 0.02);
    std::string text = m.text();
    EXPECT_NE(text.find("\nrelayguard_feed_sync_duration_seconds_bucket{feed=\"drop\",le=\"0.0025\"} 0\n"),
              std::string::npos) << text;
    EXPECT_NE(text.find("\nrelayguard_feed_sync_duration_seconds_bucket{feed=\"drop\",le=\"0.005\"} 1\n"),
              std::string::npos) << text;
    EXPECT_NE(text.find("\nrelayguard_feed_sync_duration_seconds_bucket{feed=\"drop\",le=\"+Inf\"} 2\n"),
              std::string::npos) << text;
    EXPECT_NE(text.find("\nrelayguard_feed_sync_duration_seconds_count{feed=\"drop\"} 2\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\nrelayguard_list_write_duration_seconds_bucket{source=\"drop\",le=\"0.001\"} 1\n"),
              std::string::npos) << text;
    EXPECT_NE(text.find("\nrelayguard_list_write_duration_seconds_count{source=\"config\"} 1\n"), std::string::npos)
        << text;
    m.forget("drop");
    text = m.text();
    EXPECT_EQ(text.find("\"drop\""), std::string::npos) << text;
    EXPECT_NE(text.find("{source=\"config\"}"), std::string::npos) << text;
}

} // namespace
