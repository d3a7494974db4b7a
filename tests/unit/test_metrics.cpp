// rg::prometheus_text: the exposition format of `stats --prometheus` and the
// daemon's /metrics. The names are a stable interface (README.md), so the
// families and their types are checked here; that the text parses is
// checked by promtool against a real lab (test_netns_metrics.cpp).
#include "metrics.hpp"

#include <gtest/gtest.h>

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
    rg::MetricsSnapshot::Interface eth{"eth1", {}};
    eth.counters[RG_DROP_BLOCKLIST] = {7, 420, 5};
    eth.counters[RG_PASS_CLEAN] = {3, 180, 1};
    s.interfaces.push_back(eth);
    s.interfaces.push_back({"odd\"if", {}});
    s.sources = json::array({
        {{"name", "manual"}, {"bit", 0}, {"kind", "manual"}, {"shadow", false},
         {"counters", {{"dropped", 6}, {"dropped_syn", 4}, {"would_drop", 0}, {"would_drop_syn", 0}}}},
        {{"name", "drop\\list"}, {"bit", 2}, {"kind", "feed"}, {"shadow", true},
         {"counters", {{"dropped", 0}, {"dropped_syn", 0}, {"would_drop", 2}, {"would_drop_syn", 1}}}},
    });
    s.bans = {{"manual", 1}, {"watch", 2}};
    s.watch = {{"active", true}, {"source", "journal"}, {"lines", 100},
               {"rules", {{"relay-denied", {{"matches", 12}, {"bans", 3}, {"exempt", 1}}}}}};
    s.allowlist = rg::ListSize{1, 0};
    s.blocklist = rg::ListSize{4, 2};
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

    // One series per reason and interface; SYN counts only for the reasons
    // that have them (TCP to a protected port), as in counters_json.
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

} // namespace
