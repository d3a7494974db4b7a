#include "feed_stats.hpp"

#include "log.hpp"

#include <nlohmann/json.hpp>

namespace rg {

using nlohmann::json;

uint64_t FeedStats::total() const
{
    uint64_t n = 0;
    for (uint64_t c : syncs)
        n += c;
    return n;
}

bool feed_result_ok(uint32_t result)
{
    return result == RG_FEED_APPLIED || result == RG_FEED_UNCHANGED || result == RG_FEED_NOT_MODIFIED ||
           result == RG_FEED_SAME_CONTENT;
}

std::string feed_stats_file(const std::string &feed)
{
    return "feed-" + feed + ".stats";
}

// The file: {"syncs": {RESULT: N, ...}, "last_seconds": S}, results by
// their JSON names (so that the append-only enum can grow).
FeedStats load_feed_stats(const StateDir &state, const std::string &feed)
{
    FeedStats s;
    std::optional<std::string> text = state.read_text(feed_stats_file(feed));
    if (!text)
        return s;
    json j = json::parse(*text, nullptr, false);
    if (!j.is_object()) {
        log(LogLevel::warning, state.file(feed_stats_file(feed)) + ": not a JSON object, counting from zero");
        return s;
    }
    const json &syncs = j.contains("syncs") && j["syncs"].is_object() ? j["syncs"] : json::object();
    for (uint32_t r = 0; r < RG_FEED_RESULT_MAX; r++)
        if (auto it = syncs.find(rg_feed_result_name[r]); it != syncs.end() && it->is_number_unsigned())
            s.syncs[r] = it->get<uint64_t>();
    if (auto it = j.find("last_seconds"); it != j.end() && it->is_number())
        s.last_seconds = it->get<double>();
    return s;
}

void count_feed_sync(const StateDir &state, const std::string &feed, uint32_t result, double seconds)
{
    FeedStats s = load_feed_stats(state, feed);
    if (result < RG_FEED_RESULT_MAX)
        s.syncs[result]++;
    s.last_seconds = seconds;
    json syncs = json::object();
    for (uint32_t r = 0; r < RG_FEED_RESULT_MAX; r++)
        if (s.syncs[r])
            syncs[rg_feed_result_name[r]] = s.syncs[r];
    try {
        state.write_text(feed_stats_file(feed), json{{"syncs", syncs}, {"last_seconds", seconds}}.dump() + "\n");
    } catch (const std::exception &e) {
        log(LogLevel::warning, "feed " + feed + ": cannot count this sync: " + e.what());
    }
}

} // namespace rg
