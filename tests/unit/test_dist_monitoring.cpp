// The monitoring files of dist/: the Grafana dashboard
// (grafana/relayguard-dashboard.json) and the Prometheus alerting rules
// (prometheus/relayguard-rules.yml) may name only metrics relayguard exports:
// the families of `stats --prometheus` and /metrics, as rendered here by the
// real code (a histogram as its _bucket, _sum and _count series), plus
// Prometheus's own `up`. The dashboard must have the panels the README
// promises. (promtool checks the rules' syntax and behaviour: the ctest
// prometheus_rules.)
#include "daemon_metrics.hpp"
#include "metrics.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

using nlohmann::json;

namespace {

std::string read_file(const std::string &path)
{
    std::ifstream in(path);
    EXPECT_TRUE(in) << path;
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Every series name relayguard exports, from "# TYPE" lines of the text
// of a snapshot that has every kind of family, and of the daemon's own.
std::set<std::string> exported_series()
{
    rg::MetricsSnapshot s;
    s.interfaces.push_back({"eth1", {}, true});
    s.allowlist = s.blocklist = rg::ListSize{};
    s.feeds.push_back({rg::Feed{.bit = 2, .raw = rg::feed_to_kernel({.name = "drop", .source = "/x"})}, {}});
    std::istringstream in(rg::prometheus_text(s) + rg::DaemonMetrics().text());
    std::set<std::string> out{"up"};
    for (std::string line; std::getline(in, line);) {
        std::istringstream l(line);
        std::string hash, word, name, type;
        if (!(l >> hash >> word >> name >> type) || word != "TYPE")
            continue;
        if (type == "histogram")
            for (const char *suffix : {"_bucket", "_sum", "_count"})
                out.insert(name + suffix);
        else
            out.insert(name);
    }
    return out;
}

std::set<std::string> metric_names(const std::string &text)
{
    static const std::regex name(R"(\b(relayguard_[a-z0-9_]+|up)\b)");
    std::set<std::string> out;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), name); it != std::sregex_iterator(); ++it)
        out.insert((*it)[1]);
    return out;
}

TEST(DistMonitoring, DashboardHasThePanelsAndOnlyExportedMetrics)
{
    json d = json::parse(read_file(RG_DIST_DIR "/grafana/relayguard-dashboard.json"));
    ASSERT_TRUE(d["panels"].is_array());
    const std::set<std::string> exported = exported_series();
    std::map<std::string, std::string> queries;  // panel title -> its queries, one per line
    std::set<int> ids;
    for (const json &p : d["panels"]) {
        EXPECT_TRUE(ids.insert(p.at("id").get<int>()).second) << "panel id twice: " << p["id"];
        if (p["type"] == "row")
            continue;
        std::set<std::string> refs;
        for (const json &t : p.at("targets")) {
            EXPECT_TRUE(refs.insert(t.at("refId").get<std::string>()).second) << p["title"];
            EXPECT_EQ(t.at("datasource").at("uid"), "${DS_PROMETHEUS}") << p["title"];
            queries[p.at("title").get<std::string>()] += t.at("expr").get<std::string>() + "\n";
        }
    }
    std::string all;
    for (const auto &[title, q] : queries) {
        all += q;
        for (const std::string &m : metric_names(q))
            EXPECT_TRUE(exported.count(m)) << "panel \"" << title << "\" queries " << m
                                           << ", which relayguard does not export";
    }
    all += d["templating"]["list"][0]["definition"].get<std::string>();
    EXPECT_TRUE(exported.count("relayguard_build_info"));
    EXPECT_NE(all.find("label_values(relayguard_build_info, instance)"), std::string::npos);

    // The panels an operator is promised (README), each by the metric it shows.
    const std::pair<const char *, const char *> promised[] = {
        {"Drops per reason", "rate(relayguard_packets_total{"},
        {"Drops per interface", "sum by (instance, interface) (rate(relayguard_packets_total{"},
        {"Drops per source (feed, manual, config)", "rate(relayguard_source_dropped_packets_total{"},
        {"Bans in force per reason", "relayguard_bans{"},
        {"List sizes", "relayguard_list_prefixes{"},
        {"List sizes", "relayguard_feed_prefixes{"},
        {"Feed freshness (time since last successful sync)", "time() - relayguard_feed_last_success_timestamp_seconds{"},
        {"Feed sync errors", "relayguard_feed_sync_errors_total{"},
        {"Watch rule matches", "rate(relayguard_watch_matches_total{"},
        {"Feed sync duration (daemon)", "histogram_quantile(0.9, sum by (le, feed) (rate(relayguard_feed_sync_duration_seconds_bucket{"},
        {"Filter attached", "relayguard_interface_attached{"},
    };
    for (const auto &[title, expr] : promised) {
        auto it = queries.find(title);
        ASSERT_NE(it, queries.end()) << "no panel \"" << title << "\"";
        EXPECT_NE(it->second.find(expr), std::string::npos) << title << ": " << it->second;
    }
}

TEST(DistMonitoring, RulesNameOnlyExportedMetrics)
{
    const std::string rules = read_file(RG_DIST_DIR "/prometheus/relayguard-rules.yml");
    const std::set<std::string> exported = exported_series();
    std::set<std::string> used = metric_names(rules);
    EXPECT_GE(used.size(), 6u);
    for (const std::string &m : used)
        EXPECT_TRUE(exported.count(m)) << "the rules use " << m << ", which relayguard does not export";

    static const std::regex alert(R"(- alert: (\w+))");
    std::set<std::string> alerts;
    for (auto it = std::sregex_iterator(rules.begin(), rules.end(), alert); it != std::sregex_iterator(); ++it)
        alerts.insert((*it)[1]);
    EXPECT_EQ(alerts, (std::set<std::string>{"RelayguardTargetDown", "RelayguardNotAttached", "RelayguardDropsSurge",
                                             "RelayguardFeedStale", "RelayguardFeedFailing", "RelayguardFeedRefused",
                                             "RelayguardBanStorm"}));
}

} // namespace
